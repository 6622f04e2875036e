"""Names in the frames of working text that the earlier name probes did not cover (issue 18, sixth pass): e-mail
headers, meeting invites, chat logs, tickets, forms, CSV-like rows, reported speech, names after prepositions
and at a sentence's end, initials, and names with particles, apostrophes and hyphens from 15 locales.

Round 1 was written for this pass before the code was changed; round 2 after round 1's cues were made, before
any result on it was seen (then developed on); round 3 after round 2's cues, scored once and not developed on.
The frames are how people write, not the public templates.
Names come from Faker's providers (first and last names drawn apart, seeded); the detector holds no list of
names. Each negative frame puts a team, a company, a product or a bot where a name would stand. A name counts as
found when an applied PERSON finding overlaps it, and as whole when the findings cover every character of it
("Charlotte van Vliet" found as "Charlotte" is found, not whole).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/pii_name_frames.py [--repeats 6] [--misses /tmp/frames.txt]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections import Counter
from pathlib import Path

from faker import Faker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _pii_people import person_finder  # noqa: E402

from gateway.pii.normalize import normalize  # noqa: E402

LOCALES = ("en_US", "en_GB", "en_IE", "ga_IE", "nl_NL", "de_DE", "fr_FR", "es_ES", "it_IT", "pl_PL", "pt_BR",
           "tr_TR", "sv_SE", "cs_CZ", "vi_VN")  # fmt: skip
# {n} {m} {k}: full names; {f} {g}: first names; {l}: a last name; {i}: an initial ("J."); {e}: the address of {n}.
FRAMES: dict[str, tuple[str, ...]] = {
    "mail header": (
        "From: {n} <{e}>\nTo: {m}\nSubject: Q3 accruals", "From: {n}\nSent: Tuesday, March 4, 2025 10:12 AM\nTo: {m}",
        "To: {n}; {m}\nCc: {k}\nSubject: RE: invoice 4411", "On Tue, Mar 4, 2025 at 10:12 AM {n} <{e}> wrote:",
        "-----Original Message-----\nFrom: {n}\nSent: Monday, May 5, 2025 9:01 AM", "Reply-To: {n} <{e}>",
    ),
    "invite": (
        "Organizer: {n}\nAttendees: {m}, {k}", "Meeting invite from {n}: Q3 planning, Room 4B",
        "{n} has invited you to: Budget review @ Thu 2pm", "{n} accepted this invitation.",
        "Required: {n}; {m}\nOptional: {k}", "Invitation: 1:1 {f} / {g} @ Wed 10am",
    ),
    "chat": (
        "[10:32] {f}: can you send the deck?", "[10:32 AM] {n}: running late, start without me",
        "{n}  9:14 AM\nlooks good to me", "<{f}> anyone seen the build?", "{f} joined the channel.",
        "[09:02] {f}: morning\n[09:03] {g}: morning! coffee?",
    ),
    "ticket": (
        "Assigned to: {n}\nStatus: Open", "Assignee: {n} | Priority: High", "Reporter: {n}\nComponent: Billing",
        "Ticket #4411 assigned to {n}", "Reassigned to {n} by {m}", "Opened by {n} on 2025-03-04",
        "Owner changed from {n} to {m}", "Requested by {n}, due Friday",
    ),
    "form": (
        "First name: {f}\nLast name: {l}", "Name (as on passport): {n}", "Full name | {n}", "Employee: {l}, {f}",
        "Emergency contact: {n} (sister)", "Cardholder name {n}", "NAME: {n}\nDOB: 04/11/1988",
    ),
    "csv": (
        "{l},{f},{e},2025-03-04", "id,name,email\n1041,{n},{e}", "1041\t{n}\tSales\t2023-01-05",
        "\"{l}, {f}\",Marketing,Active", "4411;{n};Accounts;approved",
    ),
    "reported": (
        "According to {n}, the deadline moved.", "{n} mentioned that the vendor had called.",
        "As {n} put it, we are out of time.", "{n} confirmed the numbers on Friday.",
        "I spoke with {f} yesterday and she agreed.", "{f} told me the wire cleared.",
        "{n} argued that the fee was too high.", "{f} thinks we should wait.",
    ),
    "preposition": (
        "The report was written with {n}.", "A note from {n}: please call back.", "I bought the tickets for {f}.",
        "Dinner with {f} and {g} tonight.", "Got a message from {f} about the lease.",
        "Thanks for covering for {f} this week.", "The draft is with {n} for comments.",
    ),
    "sentence end": (
        "The file was signed off by {n}.", "Please give the keys to {f}.", "The best pitch came from {n}.",
        "Everyone is waiting for {f}.", "This one goes to {n}.", "We still owe money to {n}.",
    ),
    "initials": (
        "Signed, {i} {l}", "cc {i} {l}", "Prepared by {i} {l}, CPA", "Contact: {i} {l}", "{l}, {i}, Finance",
        "Minutes: {i} {l}", "{i} {l} will chair the call.",
    ),
}
# Round 2, written after round 1's cues were made and before any result on these frames was seen.
FRAMES_2: dict[str, tuple[str, ...]] = {
    "chat export": (
        "12/03/2025, 10:32 - {n}: see you there", "[12/03/25, 10:32:01] {f}: ok, booked",
        "10:32:01 From {n} to Everyone: can you hear me?", "From {n} to Everyone: slides please",
        "@{f} can you check the totals?", "thanks @{n} for the fix", "{n} (Guest) joined the meeting",
        "Recording started by {n}.", "{n} is presenting.",
    ),
    "records": (
        "BEGIN:VCARD\nFN:{n}\nN:{l};{f};;;\nEND:VCARD", "Author: {n} <{e}>", "Signed-off-by: {n} <{e}>",
        "Co-authored-by: {n} <{e}>", "Last modified by {n}", "Created by {n} on 3/4/2025",
        "{l}, {f} - ext. 4410", "{n} (she/her)\nSenior Analyst",
    ),
    "csv header": (
        "first_name,last_name,email\n{f},{l},{e}", "Employee Name;Department;Start\n{n};Sales;2023-01-05",
        "Name\tTitle\tExt\n{n}\tAnalyst\t4410", "customer,amount\n{n},120.00",
    ),
    "social": (
        "{n} commented on your post.", "{n} liked your photo.", "{n} mentioned you in a comment.",
        "Sent from {f}'s iPhone", "Hi team, {f} here.", "{n} shared a document with you.",
    ),
}
NEGATIVES_2 = (
    "12/03/2025, 10:32 - {c}: your order shipped", "Recording started by {p}.", "From {g} to Everyone: hello",
    "@channel can you check the totals?", "thanks @here", "{g} (Guest) joined the meeting", "FN:{c} Support",
    "Author: {p} <support@{d}.com>", "Signed-off-by: {p}", "Last modified by {p}", "customer,amount\n{c},120.00",
    "{p} commented on your post.", "{c} shared a document with you.", "Sent from my iPhone", "Hi team, {g} here.",
    "{p} is presenting.",
)  # fmt: skip
# Round 3, written after round 2's cues were made, scored once on the final code and not developed on.
FRAMES_3: dict[str, tuple[str, ...]] = {
    "support chat": (
        "Agent {f} has joined the chat.", "You are now chatting with {f}.", "{f} (Support Agent): how can I help?",
        "Chat transcript with {n}", "Transferred to {n} in Billing.",
    ),
    "crm notes": (
        "Spoke to {n} re renewal.", "Left VM for {f}.", "Cust {n} called re: fee", "Callback requested by {n}",
        "Met {f} at the expo, follow up in May.",
    ),
    "payroll": (
        "Payee: {n}", "Pay to: {n}", "Employee #4411 - {n}", "Timesheet for {n}, week 12", "Expense claim - {n}",
    ),
    "letters": (
        "Dear Mr. and Mrs. {l},", "Attn. {n}, Accounts", "Yours truly,\n{n}", "Kind regards\n{f}",
        "With best wishes from {f} and the team",
    ),
    "bylines": (
        "Photo: {n}/Reuters", "By {n} | March 4, 2025", "Reporting by {n}; Editing by {m}",
        "Story by {n}, staff writer",
    ),
    "lists": ("1. {n}\n2. {m}", "- {n} (lead)\n- {m}", "Winners: {n} & {m}", "Speakers: {n}, {m} and {k}"),
}
NEGATIVES_3 = (
    "You are now chatting with {g}.", "Chat transcript with {p}", "Transferred to {g} in Billing.",
    "Spoke to {c} re renewal.", "Left VM for {g}.", "Callback requested by {c}", "Payee: {c}", "Pay to: {c}",
    "Expense claim - {p}", "Attn. {g}, Accounts", "Kind regards\n{g}", "Photo: Getty Images/Reuters",
    "By Reuters Staff | March 4, 2025", "1. {g}\n2. {G}", "- {p} (lead)\n- {c}", "Winners: {c} & {p}",
)  # fmt: skip
GROUPS = ("Finance", "Treasury", "Payroll", "Accounts Payable", "IT Support", "Billing Team", "Customer Service")
COMPANIES = ("Contoso", "Northwind", "Fabrikam", "Acme Corp", "Globex Inc", "Initech LLC")
PRODUCTS = ("Salesforce", "Jira", "Outlook", "Workday", "GitHub", "Dependabot", "Jenkins CI")
NEGATIVES = (
    "From: {G} <billing@{d}.com>\nTo: {g}\nSubject: Q3 accruals", "To: {g}; {c}\nCc: {G}",
    "On Tue, Mar 4, 2025 at 10:12 AM {c} <noreply@{d}.com> wrote:", "Organizer: {c} Events\nAttendees: {g}, {G}",
    "Meeting invite from {g}: Q3 planning, Room 4B", "{p} has invited you to: Budget review @ Thu 2pm",
    "[10:32] {p}: build 4411 failed", "<{p}> deploy finished", "{p} joined the channel.",
    "Assigned to: {g}\nStatus: Open", "Assignee: {g} | Priority: High", "Ticket #4411 assigned to {g}",
    "Reassigned to {g} by {p}", "Opened by {p} on 2025-03-04", "Owner changed from {g} to {G}",
    "Requested by {g}, due Friday", "Company name: {c}", "Department | {g}", "Vendor: {c}, {p}",
    "SKU-4411,{p},Blue,12.50", "id,name,type\n1041,{c},vendor", "1041\t{c}\tSales\t2023-01-05",
    "According to {c}, spending rose.", "{c} mentioned that prices would rise.", "{c} confirmed the order on Friday.",
    "I spoke with {g} yesterday and they agreed.", "{p} thinks the file is corrupt.", "A note from {g}: read this.",
    "Dinner with {g} tonight.", "Got a message from {p} about the lease.", "The draft is with {g} for comments.",
    "The file was signed off by {g}.", "Please give the keys to {g}.", "The best pitch came from {c}.",
    "We still owe money to {c}.", "Everyone is waiting for {p}.", "cc {g}", "Contact: {g}", "{c} will chair the call.",
)  # fmt: skip
_SLOT = re.compile(r"\{(\w)\}")


def _fill(template: str, values: dict[str, str]) -> tuple[str, list[tuple[int, int]]]:
    """The text and the [start, end) of every name placeholder in it (not the e-mail address)."""
    out, spans, pos = [], [], 0
    for m in _SLOT.finditer(template):
        out.append(normalize(template[pos : m.start()]))
        start = sum(map(len, out))
        out.append(normalize(values[m.group(1)]))
        if m.group(1) != "e":
            spans.append((start, start + len(out[-1])))
        pos = m.end()
    out.append(normalize(template[pos:]))
    return "".join(out), spans


def positives(
    repeats: int, frames: dict[str, tuple[str, ...]] = FRAMES, seed: int = 6
) -> list[tuple[str, str, list[tuple[int, int]]]]:
    """(frame kind, text, name spans): every frame ``repeats`` times, each fill from a random locale."""
    rng = random.Random(seed)
    fakes = [Faker(locale) for locale in LOCALES]
    for i, fake in enumerate(fakes):
        fake.seed_instance(600 + i)

    def person() -> tuple[str, str]:
        fake = rng.choice(fakes)
        return str(fake.first_name()), str(fake.last_name())

    out = []
    for _ in range(repeats):
        for kind, templates in frames.items():
            for template in templates:
                (f, last), (g, l2), (h, l3) = person(), person(), person()
                local = re.sub(r"[^a-z.]", "", f"{f}.{last}".lower()) or "someone"
                values = {"n": f"{f} {last}", "m": f"{g} {l2}", "k": f"{h} {l3}", "f": f, "g": g, "l": last,
                          "i": f[0] + ".", "e": f"{local}@example.com"}  # fmt: skip
                out.append((kind, *_fill(template, values)))
    return out


def negatives(repeats: int, frames: tuple[str, ...] = NEGATIVES, seed: int = 4) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(repeats):
        for template in frames:
            g, c, p = rng.choice(GROUPS), rng.choice(COMPANIES), rng.choice(PRODUCTS)
            g2 = rng.choice([x for x in GROUPS if x != g])
            out.append(normalize(template.format(g=g, G=g2, c=c, p=p, d=c.split()[0].lower())))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=6, help="fills per frame")
    parser.add_argument("--policy", type=Path, default=ROOT / "policy" / "gateway.yaml")
    parser.add_argument("--misses", type=Path, help="write the missed names and the false findings here")
    args = parser.parse_args()
    people = person_finder(args.policy)

    misses: list[str] = []
    rounds = ((FRAMES, NEGATIVES), (FRAMES_2, NEGATIVES_2), (FRAMES_3, NEGATIVES_3))
    for round_no, (frames, negative_frames) in enumerate(rounds, 1):
        rows = positives(args.repeats, frames)
        score(f"round {round_no}", frames, rows, people([r[1] for r in rows]), misses)
        texts = negatives(3, negative_frames)
        flagged = [(t, s) for t, s in zip(texts, people(texts), strict=True) if s]
        print(f"  negatives with a false PERSON finding: {len(flagged) / len(texts):.3f} ({len(flagged)} of "
              f"{len(texts)})")  # fmt: skip
        misses += [f"[negative {round_no}] {t!r} got {[t[s:e] for s, e in spans]}" for t, spans in flagged]
    if args.misses:
        args.misses.write_text("\n".join(misses) + "\n", encoding="utf-8")


def score(
    title: str,
    frames: dict[str, tuple[str, ...]],
    rows: list[tuple[str, str, list[tuple[int, int]]]],
    found_spans: list[list[tuple[int, int]]],
    misses: list[str],
) -> None:
    """Print found and whole recall per kind of frame; append each name not covered whole to ``misses``."""
    found: Counter[str] = Counter()
    whole: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for (kind, text, gold), spans in zip(rows, found_spans, strict=True):
        for start, end in gold:
            total[kind] += 1
            hit = any(s < end and start < e for s, e in spans)
            found[kind] += hit
            covered = all(any(s <= i < e for s, e in spans) for i in range(start, end) if not text[i].isspace())
            whole[kind] += covered
            if not covered:
                misses.append(f"[{kind}{'' if not hit else ', part'}] {text[start:end]!r} in {text!r} got "
                              f"{[text[s:e] for s, e in spans]}")  # fmt: skip
    print(f"PERSON on names in working-text frames, {title} ({len(rows)} texts):")
    print(f"  {'frame':13} {'found':>14} {'whole':>14}")
    for kind in [*frames, "all"]:
        n = sum(total.values()) if kind == "all" else total[kind]
        hits = sum(found.values()) if kind == "all" else found[kind]
        full = sum(whole.values()) if kind == "all" else whole[kind]
        print(f"  {kind:13} {hits / n:.3f} ({hits:>4}) {full / n:.3f} ({full:>4})  of {n}")

if __name__ == "__main__":
    main()
