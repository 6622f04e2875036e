"""Name cues on text written here, apart from the public templates: PERSON recall of names as written, in
capitals and in lower case, and false PERSON findings where a team, a label or a product stands in a cue's place.

The sentences below were written for this check after the cues were developed on other sentences (the probes of
issue 18's third pass), so they measure the cues on wording they were not fitted to. Names are drawn from Faker's
providers of eight locales (accents, hyphens, particles), seeded; the detector holds no list of names. Negatives:
``NEGATIVES`` (a department, a company or a product where a name would stand, and form labels) and the PII-free
prose of ``_pii_prose`` written all in capitals.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/pii_name_cues.py [--repeats 4]
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from pathlib import Path

from faker import Faker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _pii_people import person_finder  # noqa: E402
from _pii_prose import build_prose  # noqa: E402

from gateway.pii.normalize import normalize  # noqa: E402

LOCALES = ("en_US", "en_GB", "en_IN", "es_ES", "de_DE", "fr_FR", "it_IT", "en_CA")
# {n} full name, {f} first name, {l} last name, {e} an address made from the name.
POSITIVES = (
    "Warm wishes,\n{n}", "Respectfully,\n{n}\nBranch Manager", "All the best,\n{f}", "Many thanks,\n{n}",
    "Dear Dr {l}, your results are in.", "Dear {f}, thanks for the update.", "Attention: {n}, Payroll",
    "Customer {n} called twice about the fee.", "Client: {n}", "Applicant name - {n}", "Authorized by: {n}",
    "Please let {f} know the meeting moved.", "I had coffee with {n} this morning.", "Ping {f} when it is done.",
    "{n}, Senior Underwriter", "{n} | Treasury Analyst", "{n} <{e}> wrote the memo.", "Reply to {n} ({e}).",
    "Welcome aboard, {f}!", "Good afternoon {f}, the file is attached.", "{f}'s passport expired in May.",
    "We need {n}'s signature on page two.", "Witness: {n}", "Policyholder: {n}", "Ms. {l} phoned about the loan.",
    "Prof {l} will review the thesis.", "Forwarded to {n} for approval.", "Escalated to {n} on Monday.",
    "Interviewed with {n} last week.", "RE: call with {n}", "From {n}'s desk: the report is late.",
    "Sincerely yours,\n{n}", "-- \n{n}\nRelationship Manager", "The guarantor, {n}, co-signed.",
)  # fmt: skip
GROUPS = ("Finance", "Treasury", "Payroll", "Compliance", "Procurement", "Legal", "Security", "Accounts Payable",
          "Customer Service", "Reception", "Facilities", "the Board", "IT Support", "Human Resources")  # fmt: skip
PRODUCTS = ("Salesforce", "Kubernetes", "Excel", "Jira", "Workday", "Outlook", "Tableau")
COMPANIES = ("Contoso", "Northwind", "Fabrikam", "Acme Corp", "Globex Inc", "Initech LLC")
NEGATIVES = (
    "Dear customer, your statement is ready.", "Dear valued customer,\nthank you.", "dear hiring manager, I apply.",
    "Dear Sir or Madam,", "Dear colleagues, the office is closed.", "Dear all, welcome.", "Regards,\nThe {g} Team",
    "Thanks,\n{g}", "Kind regards,\n{c}", "Attn: {g}", "ATTN: {G}", "c/o {c}\n12 Mill Lane", "c/o {g}",
    "Contact {g} at extension 4410.", "Contact support at help@{d}.com", "{g} <{d}@example.com>",
    "From: {g} <noreply@{d}.com>", "From: billing@{d}.com", "Billing Team <billing.team@{d}.com>",
    "Prepared by: {g}", "Approved by {g}", "Reviewed by {g}, Compliance", "Owner: {g}", "Assigned to {g}",
    "Beneficiary: {c}", "Customer: {c}", "Call {g} tomorrow.", "Email {g} the contract.", "Let {g} know.",
    "Per {g}, the deadline is Friday.", "Welcome {p} to the stack!", "Congratulations to {g} on the audit!",
    "Good morning {g},", "{g}, Head of Risk", "{c} | Product Manager listing", "-- \n{c}\nLondon",
    "\u2014 {g}", "{p}'s laptop agent was updated.", "{c}'s home page moved.", "Interview with {c}",
    "Lunch with {g} today", "cc: {g}", "Bcc: {g}", "Pay to the order of {c}", "In memory of {p} 2019",
    "PLEASE READ THE ATTACHED {G} POLICY BEFORE FRIDAY.", "IMPORTANT NOTICE: {G} CHANGES", "Order Number: 4411",
    "Invoice Number: 88123", "Status: approved", "my name is not important", "mr. clean is a product",
    "dr. appointment at 3", "CONFIDENTIAL - {G} ONLY", "The SSN field and the ATM PIN are masked.",
    "Call HR or IT today.", "Thanks,\nthe team", "Best,\nfinance", "THANKS,\nACCOUNTS TEAM",
    "{g}'s salary review is in {p}.",
)  # fmt: skip


def positives(repeats: int, seed: int = 5) -> list[tuple[str, str, list[tuple[int, int]]]]:
    """(how written, text, gold spans): each template ``repeats`` times, as written, in capitals, in lower case."""
    rng = random.Random(seed)
    fakes = [Faker(locale) for locale in LOCALES]
    for i, fake in enumerate(fakes):
        fake.seed_instance(100 + i)
    out = []
    for _ in range(repeats):
        for template in POSITIVES:
            fake = rng.choice(fakes)
            first, last = str(fake.first_name()), str(fake.last_name())
            email = f"{first}.{last}@example.com".lower().replace(" ", "")
            values = {"n": f"{first} {last}", "f": first, "l": last, "e": email}
            for how in ("as written", "capitals", "lower case"):
                shown = {k: v.upper() if how == "capitals" and k != "e" else v.lower() if how == "lower case" else v
                         for k, v in values.items()}  # fmt: skip
                text = normalize(template.format(**shown))
                gold = []
                for key in ("n", "f", "l"):
                    if "{" + key + "}" in template:
                        start = text.find(shown[key])
                        gold.append((start, start + len(shown[key])))
                out.append((how, text, gold))
    return out


def negatives(repeats: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(repeats):
        for template in NEGATIVES:
            g, c, p = rng.choice(GROUPS), rng.choice(COMPANIES), rng.choice(PRODUCTS)
            out.append(normalize(template.format(g=g, G=g.upper(), c=c, p=p, d=c.split()[0].lower())))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=4, help="fills per positive template")
    parser.add_argument("--policy", type=Path, default=ROOT / "policy" / "gateway.yaml")
    args = parser.parse_args()
    people = person_finder(args.policy)

    rows = positives(args.repeats)
    counts: Counter[tuple[str, bool]] = Counter()
    for (how, _, gold), spans in zip(rows, people([r[1] for r in rows]), strict=True):
        for start, end in gold:
            counts[how, any(s < end and start < e for s, e in spans)] += 1
    print("PERSON recall on the sentences written here:")
    for how in ("as written", "capitals", "lower case"):
        n = counts[how, True] + counts[how, False]
        print(f"  {how:11} {counts[how, True] / n:.3f} ({n})")
    print("Texts with a false PERSON finding:")
    for name, texts in (("cue negatives", negatives(3)), ("prose in capitals", [t.upper() for t in build_prose(300)])):
        flagged = sum(bool(spans) for spans in people(texts))
        print(f"  {name:17} {flagged / len(texts):.3f} ({flagged} of {len(texts)})")


if __name__ == "__main__":
    main()
