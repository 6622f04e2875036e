"""A PII evaluation set none of us wrote: presidio-evaluator's sentence templates, filled by Faker.

Source: ``presidio_evaluator/data_generator/raw_data/templates.txt`` from the PyPI package
``presidio-evaluator==0.3.2`` (MIT licence, copyright Presidio contributors; copied byte for byte to
``bench/data/presidio_evaluator/`` with its LICENSE). Its placeholders are filled with Faker's en_US providers
(``credit_card_number`` over every card type Faker knows, ``phone_number``, ``iban``, ``ssn``, ``email``, names),
seeded, so the set is the same on every run. The templates are split in two by line number: ``public-dev``
(even lines) may be read while recognizers are developed; ``public-holdout`` (odd lines) is only ever scored.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _pii_evasion import evade, pick
from faker import Faker

TEMPLATES = Path(__file__).parent / "data" / "presidio_evaluator" / "templates.txt"
_SLOT = re.compile(r"\{\{([a-z_]+)\}\}")
GOLD = {
    "person": "PERSON", "name": "PERSON", "first_name": "PERSON", "last_name": "PERSON", "name_male": "PERSON",
    "name_female": "PERSON", "first_name_male": "PERSON", "first_name_female": "PERSON",
    "first_name_nonbinary": "PERSON", "last_name_male": "PERSON", "last_name_female": "PERSON",
    "credit_card_number": "CREDIT_CARD", "phone_number": "PHONE_NUMBER", "email": "EMAIL_ADDRESS",
    "iban": "IBAN_CODE", "ssn": "US_SSN",
}  # fmt: skip
STRUCTURED = frozenset({"CREDIT_CARD", "PHONE_NUMBER", "EMAIL_ADDRESS", "IBAN_CODE", "US_SSN"})
# Faker's en_US IBANs are all British: draw them from several countries' providers instead.
IBAN_LOCALES = ("en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES", "it_IT", "pl_PL", "pt_PT", "fi_FI", "no_NO")
CARD_TYPES = ("maestro", "mastercard", "visa16", "visa13", "visa19", "amex", "discover", "diners", "jcb15", "jcb16")


@dataclass
class PublicSample:
    text: str  # raw (not yet normalized)
    gold: list[tuple[str, int, int]]  # entity type, raw offsets
    kind: str  # plain | evasion:<class>
    split: str  # public-dev | public-holdout


def _grouped(number: str, rng: random.Random) -> str:
    """A card number as people type it: no grouping, or the scheme's usual one (4-6-5, 4-4-4-4[-3])."""
    if rng.random() < 0.5:
        return number
    sep = rng.choice([" ", "-"])
    if len(number) == 15 and number[:2] in ("34", "37"):
        return sep.join([number[:4], number[4:10], number[10:]])
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


def _filler(fake: Faker, rng: random.Random) -> Callable[[str], str]:
    banks = [Faker(locale) for locale in IBAN_LOCALES]
    for i, bank in enumerate(banks):
        bank.seed_instance(rng.randint(0, 2**31) + i)
    special: dict[str, Callable[[], str]] = {
        "person": fake.name,
        "organization": fake.company,
        "credit_card_number": lambda: _grouped(str(fake.credit_card_number(rng.choice(CARD_TYPES))), rng),
        "age": lambda: str(rng.randint(18, 90)),
        "nationality": lambda: rng.choice(["French", "Kenyan", "Brazilian", "Japanese", "Canadian"]),
        "nation_woman": lambda: rng.choice(["Frenchwoman", "Englishwoman", "Irishwoman"]),
        "nation_plural": lambda: rng.choice(["Germans", "Italians", "Mexicans"]),
        "ip_address": fake.ipv4,
        "us_driver_license": lambda: fake.bothify("?#######").upper(),
        "date_of_birth": lambda: str(fake.date_of_birth()),
        "iban": lambda: str(rng.choice(banks).iban()),
    }

    def fill(slot: str) -> str:
        make = special.get(slot) or getattr(fake, slot)
        return str(make())

    return fill


def _render(template: str, fill: Callable[[str], str]) -> tuple[str, list[tuple[str, str, int, int]]]:
    parts: list[str] = []
    gold: list[tuple[str, str, int, int]] = []
    pos = 0
    length = 0
    for m in _SLOT.finditer(template):
        parts.append(template[pos : m.start()])
        length += m.start() - pos
        value = fill(m.group(1))
        if m.group(1) in GOLD:
            gold.append((GOLD[m.group(1)], value, length, length + len(value)))
        parts.append(value)
        length += len(value)
        pos = m.end()
    parts.append(template[pos:])
    return "".join(parts), gold


def _variants(text: str, gold: list[tuple[str, str, int, int]], rng: random.Random, i: int) -> list[PublicSample]:
    """One variant per structured value: that value evaded (the i-th class), the only gold of the variant."""
    out = []
    for etype, value, start, end in gold:
        if etype not in STRUCTURED:
            continue
        how = pick(etype, i + len(out))
        evaded = evade(value, how, rng)
        out.append(PublicSample(text[:start] + evaded + text[end:], [(etype, start, start + len(evaded))],
                                f"evasion:{how}", ""))
    return out


def build_public(repeats: int = 4, seed: int = 2026) -> list[PublicSample]:
    """Every template filled ``repeats`` times, plus one evasion variant per structured value."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    fill = _filler(fake, rng)
    lines = TEMPLATES.read_text(encoding="utf-8").splitlines()
    samples: list[PublicSample] = []
    counter = 0
    for lineno, line in enumerate(lines):
        template = line.replace("\\n", "\n").strip()
        if not template:
            continue
        split = "public-dev" if lineno % 2 == 0 else "public-holdout"
        # Templates with a structured identifier are rarer (SSN: 2 of 209): fill them more often.
        times = repeats * 4 if any(GOLD.get(m) in STRUCTURED for m in _SLOT.findall(template)) else repeats
        for _ in range(times):
            text, gold = _render(template, fill)
            samples.append(PublicSample(text, [(t, s, e) for t, _, s, e in gold], "plain", split))
            for variant in _variants(text, gold, rng, counter):
                counter += 1
                variant.split = split
                samples.append(variant)
    return samples
