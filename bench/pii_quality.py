"""PII detection quality: recall per entity type and evasion class on two labelled sets, false blocks on two
PII-free sets.

1. **own**: our own sentence templates (business contexts) filled with Faker values (seed 7).
2. **public**: presidio-evaluator's templates (a set none of us wrote, MIT; see ``_pii_public``) filled with Faker
   (seed 2026), split by template into ``public-dev`` (may be read while developing) and ``public-holdout``
   (only scored; its misses are never printed).
Structured identifiers of both are also rendered in evasion variants (zero-width characters, full-width and
Arabic-Indic digits, Cyrillic homoglyphs, re-separated digits, line breaks). PII-free texts: our short business
sentences, a number-heavy set (``_pii_numbers``: orders, invoices, tracking numbers, ISBNs, timestamps,
versions, balances) and prose whose capitalized words stand where names do (``_pii_prose``). A gold entity
counts as found when a finding of its type that the default policy applies overlaps it (or, for a redacted type,
a blocking finding that refused the text); for a blocked type (SSN, card, IBAN) the text must also have been
refused. For each PII-free set, the share of texts with a PERSON finding applied is the name cues' false-positive
rate.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/pii_quality.py [--n 600] [--repeats 4] [--numbers 1000] \
        [--prose 300] [--ner-mode windows|full] [--misses var/pii_misses.txt] [--dev-only]

``--dev-only`` leaves the holdout split out altogether (not scored, not printed): the run to make while
developing, so that the holdout's aggregate is seen only when it is meant to be.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from faker import Faker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _pii_evasion import evade, pick  # noqa: E402
from _pii_numbers import build_numbers  # noqa: E402
from _pii_prose import build_prose  # noqa: E402
from _pii_public import build_public  # noqa: E402

from gateway.pii.decide import decide, explain  # noqa: E402
from gateway.pii.normalize import normalize  # noqa: E402
from gateway.policy.loader import load_policy  # noqa: E402
from gateway.settings import Settings as GatewaySettings  # noqa: E402

TEMPLATES: dict[str, list[str]] = {
    "PERSON": [
        "{v} joined the credit risk team last week.",
        "Please forward the signed contract to {v} before Friday.",
        "Meeting notes: {v} will follow up with the vendor about pricing.",
        "Dear {v}, your mortgage application has been received.",
        "The account was opened by {v} in March.",
        "Escalated to {v} after the customer called twice.",
        "Approved by {v}, head of treasury operations.",
        "Can you ask {v} whether the audit findings are closed?",
    ],
    "EMAIL_ADDRESS": [
        "Contact me at {v} for the loan documents.",
        "Send the statement to {v} by end of day.",
        "Customer email on file: {v}",
        "The reset link went to {v} but bounced.",
    ],
    "PHONE_NUMBER": [
        "Call me back on {v} after 3pm.",
        "Customer phone: {v}",
        "Reach the branch manager at {v} for approvals.",
        "The caller left {v} as a callback number.",
    ],
    "US_SSN": [
        "My SSN is {v}.",
        "Social security number {v} was entered on the form.",
        "Please verify the applicant, SSN {v}, against the bureau file.",
        "ssn: {v}",
    ],
    "CREDIT_CARD": [
        "Charge it to my card {v} please.",
        "The disputed transaction was on card number {v}.",
        "Visa {v} expires next month.",
        "Refund to {v} was processed.",
    ],
    "IBAN_CODE": [
        "Wire the funds to IBAN {v} today.",
        "Beneficiary account {v} was verified.",
        "Please update the payee IBAN to {v}.",
        "Incoming transfer from {v} flagged for review.",
    ],
}
BUSINESS = [
    "Q{q} revenue grew {p}% to ${a}M, ahead of guidance.",
    "Invoice INV-{n4}-{n3} was paid on {d}.",
    "Please review the attached report before the meeting on Monday.",
    "The release v{q}.{p}.{q} fixes the reconciliation bug in ledger sync.",
    "Branch {n3} exceeded its target by {p} basis points this quarter.",
    "Order {n6} shipped from warehouse {q} on {d}.",
    "Our net interest margin was {p}.{q}% for the period ending {d}.",
    "The board approved a dividend of ${q}.{p} per share.",
    "Ticket {n5} was closed after the deployment to region eu-west-{q}.",
    "Loan portfolio grew {p}% year over year, led by commercial real estate.",
    "Schedule the vendor review for {d} at {q}:30 in room {n3}.",
    "The risk committee asked for stress scenarios with rates up {p}0 basis points.",
    "Total assets under management reached ${a} billion.",
    "Model version {q}.{p} reduced false positives in fraud screening by {p}%.",
    "Quarterly filing 10-Q for period {d} is due in {p} days.",
]
STRUCTURED = ("US_SSN", "CREDIT_CARD", "IBAN_CODE", "EMAIL_ADDRESS", "PHONE_NUMBER")


@dataclass
class Sample:
    text: str  # canonical
    gold: list[tuple[str, int, int]]
    kind: str  # plain | evasion:<name> | business | numbers
    source: str = "own"  # own | public-dev | public-holdout | numbers


def _value(fake: Faker, etype: str, rng: random.Random) -> str:
    if etype == "PERSON":
        return str(rng.choice([fake.name, fake.name_nonbinary, lambda: fake.first_name() + " " + fake.last_name()])())
    if etype == "EMAIL_ADDRESS":
        return str(fake.email())
    if etype == "PHONE_NUMBER":
        area, mid = rng.randint(201, 989), rng.randint(200, 999)
        last = rng.randint(0, 9999)
        fmt = rng.choice(["{a}-{m}-{l:04d}", "({a}) {m}-{l:04d}", "{a}.{m}.{l:04d}", "+1 {a} {m} {l:04d}"])
        return fmt.format(a=area, m=mid, l=last)
    if etype == "US_SSN":
        return str(fake.ssn())
    if etype == "CREDIT_CARD":
        number = str(fake.credit_card_number(card_type=rng.choice(["visa", "mastercard", "amex", "discover"])))
        return " ".join(number[i : i + 4] for i in range(0, len(number), 4)) if rng.random() < 0.5 else number
    iban = str(fake.iban())
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if rng.random() < 0.5 else iban


def build_dataset(n: int, seed: int = 7) -> list[Sample]:
    """``n`` PII sentences (plus evasion variants of the structured ones) and ``n // 3`` business texts."""
    fake = Faker("en_US")
    Faker.seed(seed)
    rng = random.Random(seed)
    samples: list[Sample] = []
    types = list(TEMPLATES)
    for i in range(n):
        etype = types[i % len(types)]
        template = rng.choice(TEMPLATES[etype])
        value = _value(fake, etype, rng)
        variants = [("plain", value)]
        if etype in STRUCTURED:
            how = pick(etype, i // len(types))
            variants.append((f"evasion:{how}", evade(value, how, rng)))
        for kind, rendered in variants:
            prefix, suffix = template.split("{v}")
            start = len(normalize(prefix))
            text = normalize(prefix + rendered + suffix)
            end = len(text) - len(normalize(suffix))
            samples.append(Sample(text, [(etype, start, end)], kind))
    for _ in range(max(n // 3, 1)):
        text = rng.choice(BUSINESS).format(
            q=rng.randint(1, 4), p=rng.randint(2, 60), a=rng.randint(10, 900), n3=rng.randint(100, 999),
            n4=rng.randint(2019, 2025), n5=rng.randint(10000, 99999), n6=rng.randint(100000, 999999),
            d=fake.date(pattern=rng.choice(["%Y-%m-%d", "%m/%d/%Y", "%B %d, %Y"])),
        )  # fmt: skip
        samples.append(Sample(normalize(text), [], "business"))
    return samples


def public_samples(repeats: int = 4) -> list[Sample]:
    """The public set (see ``_pii_public``), gold offsets moved into the canonical text."""
    out = []
    for p in build_public(repeats):
        gold = [(t, len(normalize(p.text[:a])), len(normalize(p.text[:b]))) for t, a, b in p.gold]
        out.append(Sample(normalize(p.text), gold, p.kind, p.split))
    return out


def number_samples(n: int) -> list[Sample]:
    return [Sample(normalize(t), [], "numbers", "numbers") for t in build_numbers(n)]


def prose_samples(n: int) -> list[Sample]:
    return [Sample(normalize(t), [], "prose", "prose") for t in build_prose(n)]


Stats = dict[tuple[str, str, str], Counter[str]]  # (source, entity type or "PII-free", kind) -> counts


def evaluate(samples: list[Sample], detector: object, policy_path: Path, misses: list[str] | None = None) -> Stats:
    """found/missed per (source, type, kind); blocked/flagged per PII-free source. Misses of the dev sets are
    appended to ``misses`` (the held-out split's never are)."""
    scope = load_policy(policy_path).scope("bench")
    findings = detector.analyze([s.text for s in samples], [scope] * len(samples))  # type: ignore[attr-defined]
    stats: Stats = {}
    for sample, found in zip(samples, findings, strict=True):
        applied = [f for f in explain(sample.text, found, scope) if f.outcome == "applied"]
        if not sample.gold:
            c = stats.setdefault((sample.source, "PII-free", sample.kind), Counter())
            c["n"] += 1
            blocked = decide(sample.text, found, scope, b"bench").blocked
            c["blocked"] += blocked
            c["flagged"] += bool(applied)
            c["person"] += any(f.entity_type == "PERSON" for f in applied)
            if misses is not None and sample.source == "prose" and applied:
                got = [(f.entity_type, sample.text[f.start : f.end]) for f in applied]
                misses.append(f"[prose finding] {sample.text!r} {got}")
            if blocked and misses is not None:
                got = [(f.entity_type, f.score) for f in applied]
                misses.append(f"[{sample.source} false block] {sample.text!r} {got}")
            continue
        blocked = decide(sample.text, found, scope, b"bench").blocked
        for etype, start, end in sample.gold:
            kind = sample.kind.split(":")[0]
            hit = any(f.entity_type == etype and f.start < end and start < f.end for f in applied)
            if etype in ("US_SSN", "CREDIT_CARD", "IBAN_CODE"):
                hit = hit and blocked  # a blocked type counts only if the text was refused
            elif blocked:  # a refused text never reaches the model: a phone read as a bank number is kept out
                hit = hit or any(f.start < end and start < f.end and f.action == "block" for f in applied)
            for key in ((sample.source, etype, kind), (sample.source, etype, sample.kind)):
                stats.setdefault(key, Counter())["tp" if hit else "fn"] += 1
            if not hit and misses is not None and sample.source != "public-holdout":
                got = [(f.entity_type, sample.text[f.start : f.end], round(f.score, 2)) for f in applied]
                where = f"[{sample.source} {etype} {sample.kind}] {sample.text[start:end]!r}"
                misses.append(f"{where} in {sample.text!r} got {got}")
    return stats


def _recall(c: Counter[str]) -> str:
    n = c["tp"] + c["fn"]
    return f"{c['tp'] / n:.3f} ({n})" if n else "-"


def report(stats: Stats) -> str:
    sources = sorted({k[0] for k in stats if k[1] != "PII-free"}, key=["own", "public-dev", "public-holdout"].index)
    types = sorted({k[1] for k in stats if k[1] != "PII-free"})
    lines = ["Recall, n in brackets (a blocked type counts only when the text was refused):"]
    header = f"{'entity type':16}" + "".join(f" {s + ' plain':>22} {s + ' evasive':>24}" for s in sources)
    lines.append(header)
    empty: Counter[str] = Counter()
    for t in types:
        row = f"{t:16}"
        for s in sources:
            plain, evasive = stats.get((s, t, "plain"), empty), stats.get((s, t, "evasion"), empty)
            row += f" {_recall(plain):>22} {_recall(evasive):>24}"
        lines.append(row)
    lines.append("")
    public = " + ".join(s.removeprefix("public-") for s in sources if s.startswith("public-"))
    lines.append(f"Recall per evasion class, public set ({public}):")
    classes = sorted({k[2] for k in stats if k[2].startswith("evasion:")})
    lines.append(f"{'entity type':16}" + "".join(f" {c[8:]:>13}" for c in classes))
    for t in types:
        row = f"{t:16}"
        for c in classes:
            merged = stats.get(("public-dev", t, c), empty) + stats.get(("public-holdout", t, c), empty)
            row += f" {_recall(merged):>13}"
        lines.append(row)
    lines.append("")
    for (source, t, _kind), c in sorted(stats.items()):
        if t == "PII-free":
            lines.append(
                f"PII-free texts ({source}): {c['n']}, blocked {c['blocked']} ({c['blocked'] / max(c['n'], 1):.1%}), "
                f"any finding applied {c['flagged']} ({c['flagged'] / max(c['n'], 1):.1%}), "
                f"PERSON {c['person']} ({c['person'] / max(c['n'], 1):.1%})"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=600, help="our own set: PII sentences")
    parser.add_argument("--repeats", type=int, default=4, help="public set: fills per template")
    parser.add_argument("--numbers", type=int, default=1000, help="number-heavy PII-free texts")
    parser.add_argument("--prose", type=int, default=300, help="PII-free prose with capitalized words")
    parser.add_argument("--ner-mode", choices=["windows", "full"], default="windows")
    parser.add_argument("--policy", type=Path, default=ROOT / "policy" / "gateway.yaml")
    parser.add_argument("--misses", type=Path, help="write the dev sets' misses and false blocks here")
    parser.add_argument("--dev-only", action="store_true", help="leave the public holdout split out entirely")
    parser.add_argument("--spacy-model", default=GatewaySettings.spacy_model,
                        help="the spaCy pipeline (a package name or a pipeline's directory), as the setting names it")
    args = parser.parse_args()
    from gateway.pii.detector import PresidioDetector

    detector = PresidioDetector(args.spacy_model, policy=load_policy(args.policy), ner_mode=args.ner_mode)
    print(f"spaCy pipeline: {args.spacy_model}")
    samples = build_dataset(args.n) + public_samples(args.repeats) + number_samples(args.numbers)
    samples += prose_samples(args.prose)
    if args.dev_only:
        samples = [s for s in samples if s.source != "public-holdout"]
    print(f"{len(samples)} texts, NER mode {args.ner_mode}")
    misses: list[str] = []
    print(report(evaluate(samples, detector, args.policy, misses)))
    if args.misses:
        args.misses.write_text("\n".join(misses) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
