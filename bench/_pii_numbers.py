"""PII-free business text full of numbers: the false blocks a card, phone or SSN recognizer must not make.

Order and invoice numbers, parcel tracking numbers (UPS, FedEx, USPS), ISBNs, timestamps (ISO 8601, Unix
seconds and milliseconds, compact), version and build strings, account balances and amounts, SKUs, ticket and
reference numbers. The digits are random (seeded), so some runs of them pass a Luhn check by chance, as real
order numbers do: that is the point.
"""

from __future__ import annotations

import random
from collections.abc import Callable

_UPS = "0123456789ABCDEFGHJKLMNPRSTVWXYZ"


def _digits(rng: random.Random, n: int) -> str:
    return str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(n - 1))


def _isbn13(rng: random.Random) -> str:
    body = "978" + "".join(str(rng.randint(0, 9)) for _ in range(9))
    check = (10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body)) % 10) % 10
    return f"{body[:3]}-{body[3]}-{body[4:7]}-{body[7:12]}-{check}"


def _isbn10(rng: random.Random) -> str:
    body = "".join(str(rng.randint(0, 9)) for _ in range(9))
    check = sum((10 - i) * int(c) for i, c in enumerate(body)) % 11
    tail = "X" if (11 - check) % 11 == 10 else str((11 - check) % 11)
    return body + tail


def _timestamp(rng: random.Random) -> str:
    y, mo, d = rng.randint(2015, 2026), rng.randint(1, 12), rng.randint(1, 28)
    h, mi, s = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    return rng.choice([
        f"{y}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}Z",
        f"{y}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}.{rng.randint(0, 999999):06d}",
        f"{y}{mo:02d}{d:02d}{h:02d}{mi:02d}{s:02d}",
        str(rng.randint(1_400_000_000, 1_800_000_000)),
        str(rng.randint(1_400_000_000_000, 1_800_000_000_000)),
    ])  # fmt: skip


def _version(rng: random.Random) -> str:
    return f"{rng.randint(1, 30)}.{rng.randint(0, 40)}.{_digits(rng, 4)}"


def _container(rng: random.Random) -> str:
    return "".join(rng.choice(_UPS[10:]) for _ in range(4)) + _digits(rng, 7)


def _money(rng: random.Random) -> str:
    whole = rng.randint(0, 9_999_999_999)
    return rng.choice(["$", "EUR ", "£", "USD "]) + f"{whole:,}.{rng.randint(0, 99):02d}"


TEMPLATES: list[tuple[str, Callable[[random.Random], str]]] = [
    ("Order #{} has shipped and will arrive Thursday.", lambda r: _digits(r, r.choice([8, 10, 12, 13, 14, 16]))),
    ("Invoice {} is overdue by 14 days.", lambda r: f"INV-{r.randint(2019, 2026)}-{_digits(r, 6)}"),
    ("Invoice number {} was paid in full.", lambda r: _digits(r, r.choice([9, 10, 12, 15]))),
    ("Your UPS tracking number is {}.", lambda r: "1Z" + "".join(r.choice(_UPS) for _ in range(16))),
    ("FedEx tracking {} shows the parcel in Memphis.", lambda r: _digits(r, r.choice([12, 15]))),
    ("USPS tracking: {}", lambda r: "94" + "".join(str(r.randint(0, 9)) for _ in range(20))),
    ("USPS tracking {} was delivered.", lambda r: " ".join(_digits(r, 4) for _ in range(5)) + " " + _digits(r, 2)),
    ("Please order ISBN {} for the compliance library.", _isbn13),
    ("The reference text is ISBN {}.", _isbn10),
    ("Job finished at {} with no errors.", _timestamp),
    ("Event logged {} by the batch scheduler.", _timestamp),
    ("Upgrade the agent to version {} before the audit.", _version),
    ("Build {} of Windows is affected.", lambda r: f"10.0.{r.randint(10000, 22999)}.{r.randint(100, 9999)}"),
    ("The account balance is {} as of this morning.", _money),
    ("Quarterly revenue was {} against a forecast of $12,400,000.00.", _money),
    ("SKU {} is out of stock in 3 warehouses.", lambda r: f"{_digits(r, 3)}-{_digits(r, 4)}-{_digits(r, 4)}"),
    ("Ticket {} was escalated to tier 2.", lambda r: f"{r.choice(['INC', 'REQ', 'CHG'])}{_digits(r, 7)}"),
    ("Transaction reference {} settled overnight.", lambda r: _digits(r, r.choice([16, 18, 19, 20]))),
    ("Batch {} contained 4,182 records.", lambda r: "-".join(_digits(r, 4) for _ in range(r.choice([3, 4])))),
    ("Container {} cleared customs in Rotterdam.", _container),
    ("Policy number {} renews on 2026-03-01.", lambda r: f"{_digits(r, 4)} {_digits(r, 4)} {_digits(r, 4)}"),
    ("The part number {} replaces the old bracket.", lambda r: f"{_digits(r, 4)}.{_digits(r, 3)}.{_digits(r, 3)}"),
    ("Shipment weight 1,204.5 kg, {} pallets, seal {}.", lambda r: f"{r.randint(2, 40)}"),
    ("GPS fix at 40.712776, -74.005974 logged {}.", _timestamp),
    ("Serial {} failed the burn-in test.", lambda r: f"SN{_digits(r, 12)}"),
]  # fmt: skip


def build_numbers(n: int, seed: int = 11) -> list[str]:
    """``n`` PII-free, number-heavy business texts."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        template, make = TEMPLATES[i % len(TEMPLATES)]
        out.append(template.format(*(make(rng) for _ in range(template.count("{}")))))
    return out
