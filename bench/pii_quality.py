"""PII detection quality on a labelled, Faker-generated set: precision, recall and F1 per entity type.

Method: our own sentence templates (varied business contexts) are filled with Faker values (seeded, so the
set is the same every run); structured identifiers are also rendered in evasion variants (zero-width
characters, full-width and Arabic-Indic digits, Cyrillic homoglyphs, odd separators, line breaks), counted
separately. PII-free business text (amounts, dates, invoice and version numbers) measures false blocks.
A gold entity counts as found when a finding of the same type that the default policy applies overlaps it.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/pii_quality.py [--n 600] [--ner-mode windows|full]
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

from gateway.pii.decide import decide, explain  # noqa: E402
from gateway.pii.normalize import normalize  # noqa: E402
from gateway.policyfile import load_policy  # noqa: E402

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
EVASIONS = ("zero_width", "fullwidth", "arabic_indic", "homoglyph", "spaces", "dots", "line_break")


@dataclass
class Sample:
    text: str  # canonical
    gold: list[tuple[str, int, int]]
    kind: str  # plain | evasion:<name> | business


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


def _evade(value: str, how: str, rng: random.Random) -> str:
    if how == "zero_width":
        i = rng.randint(1, len(value) - 1)
        return value[:i] + "\u200b" + value[i:]
    if how == "fullwidth":
        return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in value)
    if how == "arabic_indic":
        return "".join(chr(0x0660 + int(c)) if c.isdigit() else c for c in value)
    if how == "homoglyph":
        return value.translate(str.maketrans({"o": "\u043e", "e": "\u0435", "a": "\u0430", "0": "\u041e"}))
    digits_groups = value.replace("-", " ").replace(".", " ").split()
    if how == "spaces":
        return " ".join(digits_groups) if len(digits_groups) > 1 else value
    if how == "dots":
        return ".".join(digits_groups) if len(digits_groups) > 1 and "@" not in value else value
    cut = len(value) // 2  # line_break: an identifier split across lines
    return value[:cut] + "\n" + value[cut:]


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
            how = EVASIONS[(i // len(types)) % len(EVASIONS)]
            if etype == "EMAIL_ADDRESS" and how in ("spaces", "dots", "fullwidth", "arabic_indic"):
                how = "homoglyph" if how in ("spaces", "fullwidth") else "zero_width"  # digit-only tricks
            variants.append((f"evasion:{how}", _evade(value, how, rng)))
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


def evaluate(samples: list[Sample], detector: object, policy_path: Path) -> dict[str, Counter[str]]:
    """tp/fp/fn per '<type>' and '<type> (evasion)', plus business blocked/flagged counts."""
    scope = load_policy(policy_path).scope("bench")
    findings = detector.analyze([s.text for s in samples], [scope] * len(samples))  # type: ignore[attr-defined]
    stats: dict[str, Counter[str]] = {}
    for sample, found in zip(samples, findings, strict=True):
        applied = [f for f in explain(sample.text, found, scope) if f.outcome == "applied"]
        if sample.kind == "business":
            c = stats.setdefault("business (PII-free)", Counter())
            c["n"] += 1
            c["blocked"] += decide(sample.text, found, scope, b"bench").blocked
            c["flagged"] += bool(applied)
            continue
        for etype, start, end in sample.gold:
            key = etype + (" (evasion)" if sample.kind.startswith("evasion") else "")
            c = stats.setdefault(key, Counter())
            hit = any(f.entity_type == etype and f.start < end and start < f.end for f in applied)
            c["tp" if hit else "fn"] += 1
            for f in applied:
                if not (f.start < end and start < f.end and f.entity_type == etype):
                    stats.setdefault(f.entity_type + (" (evasion)" if "(" in key else ""), Counter())["fp"] += 1
    return stats


def report(stats: dict[str, Counter[str]]) -> str:
    lines = [f"{'entity type':28} {'n':>5} {'precision':>9} {'recall':>7} {'F1':>6}"]
    for key in sorted(k for k in stats if not k.startswith("business")):
        c = stats[key]
        tp, fp, fn = c["tp"], c["fp"], c["fn"]
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        lines.append(f"{key:28} {tp + fn:>5} {p:>9.3f} {r:>7.3f} {f1:>6.3f}")
    b = stats.get("business (PII-free)", Counter())
    lines.append(
        f"PII-free business texts: {b['n']}, blocked {b['blocked']} ({b['blocked'] / max(b['n'], 1):.1%}), "
        f"any finding applied {b['flagged']} ({b['flagged'] / max(b['n'], 1):.1%})"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--ner-mode", choices=["windows", "full"], default="windows")
    parser.add_argument("--policy", type=Path, default=ROOT / "policy" / "gateway.yaml")
    args = parser.parse_args()
    from gateway.pii.detector import PresidioDetector

    detector = PresidioDetector(policy=load_policy(args.policy), ner_mode=args.ner_mode)
    samples = build_dataset(args.n)
    print(f"{len(samples)} texts, NER mode {args.ner_mode}")
    print(report(evaluate(samples, detector, args.policy)))


if __name__ == "__main__":
    main()
