"""Other readings of a text: identifiers a reader reassembles, found where the detection view alone cannot.

The detection view (``gateway.pii.normalize``) folds what renders the same; some evasions need a reader to do more:
read letters as the digits they resemble, skip the words between a number's groups, read digits in display order,
decode an encoding. Folding those into the one view would change how every other text reads (``1920x1080``,
``room 12, floor 3``), so each is a separate reading, built only where its trigger is present, and only the
structured identifiers (``READING_ENTITIES``: shaped, and checksummed where the scheme has a checksum) are looked
for in it. Each reading is the view's text with edits, and maps every character back to the view's span it came
from, so a finding in it still covers what was written.

* ``typed``: in a token of digits and letters, letters typed for digits (``4S39 I488``: O for 0, I or l for 1, S
  for 5, B for 8, Z for 2, ...) where digits are at least half the token, and single letters between digit groups
  of nine digits or more (``536x90x4721``) read as separators;
* ``between words``: digit groups with a few words between them (``536 apple 90 banana 4721``, table cells, one
  group per line of a form) joined, where the groups have an identifier's shape (3-2-4; 4-4-4-4, 4-6-5, 4-4-4-4-3);
* ``display order``: runs of digits and capitals read backwards (a right-to-left override the canonical text
  dropped, or a value written reversed), for SSNs and IBANs only: read backwards, any number is as likely to pass
  the Luhn check as forwards, so a reversed card cannot be told from a reversed tracking number;
* ``decoded``: base64, base32, base85 (RFC 1924 and Ascii85, ``<~ ~>`` or bare) and hex tokens whose decoded text
  is printable and holds nine digits or more; each token is decoded at most once per encoding and bounded in length.

Every pattern is possessive or bounded and each reading is one pass, so the whole is linear in the text.
``joined_items`` is the same idea across inputs: the short inputs of one request (or a document's metadata values)
as a reader sees them side by side.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.pii.decide import Decision, EntityOutcome, decide
from gateway.pii.detector_types import Finding
from gateway.pii.normalize import apply_edits, detection_view, normalize, span_of
from gateway.policy.loader import ScopePolicy

READING_ENTITIES = frozenset({"US_SSN", "CREDIT_CARD", "IBAN_CODE"})
# Read backwards, a number is as likely to pass Luhn as forwards (one in ten): cards are not looked for there.
_BACKWARDS_ENTITIES = frozenset({"US_SSN", "IBAN_CODE"})
_MIN_DIGITS = 9

Edit = tuple[int, int, str]


@dataclass(frozen=True)
class Reading:
    """Another reading of a detection view's text; ``to_view`` maps its spans back."""

    name: str
    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    view_length: int
    entities: frozenset[str] = READING_ENTITIES  # what is looked for in it

    def to_view(self, start: int, end: int) -> tuple[int, int]:
        return span_of(self.starts, self.ends, self.view_length, start, end)


# Letters read as the digits they resemble, in a token where digits are at least half.
_TYPED_DIGIT = str.maketrans("OoQDIilLZzSsGbTBgq", "000011112255667899")
_TOKEN = re.compile(r"[0-9A-Za-z]++")
# Digit groups joined by single letters inside one token: ``536x90x4721``.
_LETTER_JOINED = re.compile(r"(?<![0-9A-Za-z])[0-9]++(?:[A-Za-z][0-9]++){2,}+(?![0-9A-Za-z])")
_LETTER = re.compile(r"[A-Za-z]")
# Two capitals before the digits are a country code (``GB82``), not typed digits.
_CODE = re.compile(r"[A-Z]{2}[0-9]")


def _typed_edits(text: str) -> list[Edit]:
    edits: list[Edit] = []
    for m in _LETTER_JOINED.finditer(text):
        if sum(c.isdigit() for c in m.group()) >= _MIN_DIGITS:
            edits.extend((m.start() + x.start(), m.start() + x.end(), "-") for x in _LETTER.finditer(m.group()))
    joined = {s for s, _, _ in edits}
    for m in _TOKEN.finditer(text):
        token = m.group()
        digits = sum(c.isdigit() for c in token)
        if not digits or digits == len(token) or 2 * digits < len(token) or len(token) > 8 or _CODE.match(token):
            continue
        typed = token.translate(_TYPED_DIGIT)
        if typed.isdigit() and not any(m.start() <= s < m.end() for s in joined):
            edits.append((m.start(), m.end(), typed))
    return edits if sum(c.isdigit() for c in text) + len(edits) >= _MIN_DIGITS else []


_DIGITS = re.compile(r"[0-9]++")
# A gap between two groups that a reader skips: a few words (letters, blanks, punctuation; no digits), bounded.
_MAX_GAP = 40
_MAX_GAP_WORDS = 3
_WORDS = re.compile(r"[A-Za-z]++")
_SHAPES = ((3, 2, 4), (4, 4, 4, 4), (4, 4, 4, 4, 3), (4, 6, 5), (4, 6, 4))


def _word_gap_edits(text: str) -> list[Edit]:
    groups = [(m.start(), m.end()) for m in _DIGITS.finditer(text) if m.end() - m.start() <= 6]
    edits: list[Edit] = []
    chain: list[tuple[int, int]] = []
    for group in [*groups, (-1, -1)]:
        if chain and group[0] >= 0 and _skippable(text[chain[-1][1] : group[0]]):
            chain.append(group)
            continue
        edits.extend(_shaped(text, chain))
        chain = [group]
    return edits


def _skippable(gap: str) -> bool:
    if not gap or len(gap) > _MAX_GAP or gap.count("\n") > 2:
        return False
    return gap[0] not in ".," and gap[-1] not in ".," and len(_WORDS.findall(gap)) <= _MAX_GAP_WORDS


def _shaped(text: str, chain: list[tuple[int, int]]) -> list[Edit]:
    """Where the chain holds an identifier's groups with a word between two of them, the gaps become ``-``. Groups
    joined without a word (``2026-03-01``, ``4086 9724 6461``) are one number: a window takes all of it or none."""
    edits: list[Edit] = []
    lengths = [e - s for s, e in chain]
    worded = [_WORDS.search(text, a[1], b[0]) is not None for a, b in itertools.pairwise(chain)]
    starts = {0} | {k + 1 for k, w in enumerate(worded) if w}  # where a number begins
    i = 0
    while i < len(chain):
        for shape in _SHAPES if i in starts else ():
            end = i + len(shape)
            if tuple(lengths[i:end]) == shape and (end == len(chain) or end in starts) and any(worded[i : end - 1]):
                edits.extend((a[1], b[0], "-") for a, b in itertools.pairwise(chain[i:end]))
                i = end - 1
                break
        i += 1
    return edits


# A run of digits and capitals with single separators, read backwards where it then has an SSN's or an IBAN's
# shape; nine digits or more.
_RUN = re.compile(r"[0-9A-Z](?:[0-9A-Z]|[-. ](?=[0-9A-Z]))*+")


# What reads as an SSN (groups 3-2-4) or an IBAN (country code and check digits first) once reversed.
_SSN_BACKWARDS = re.compile(r"[0-9]{4}[-. ][0-9]{2}[-. ][0-9]{3}")
_IBAN_BACKWARDS = re.compile(r"[0-9]{2}[A-Z]{2}")


def _backwards_shaped(run: str) -> bool:
    return _SSN_BACKWARDS.fullmatch(run) is not None or _IBAN_BACKWARDS.fullmatch(run[-4:]) is not None


def _reversed_reading(text: str) -> tuple[str, list[int], list[int]] | None:
    runs = [(m.start(), m.end()) for m in _RUN.finditer(text)
            if sum(c.isdigit() for c in m.group()) >= _MIN_DIGITS and _backwards_shaped(m.group())]
    if not runs:
        return None
    chars = list(text)
    starts, ends = list(range(len(text))), list(range(1, len(text) + 1))
    for s, e in runs:
        chars[s:e] = chars[s:e][::-1]
        starts[s:e] = starts[s:e][::-1]
        ends[s:e] = ends[s:e][::-1]
    return "".join(chars), starts, ends


# Base64 (standard or URL alphabet) and hex tokens, bounded: an encoded identifier is short.
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{12,}+={0,2}+")
_HEX = re.compile(r"(?<![0-9A-Za-z])(?:0x)?+[0-9A-Fa-f]{18,}+(?![0-9A-Za-z])")
_MAX_ENCODED = 512
# Base32 (RFC 4648, either case, padded or not), and any run of printable non-blank ASCII as base85: nine bytes are
# at least twelve characters in either.
_BASE32 = re.compile(r"(?<![A-Za-z0-9+/_=-])[A-Za-z2-7]{15,}+=*+(?![A-Za-z0-9+/_-])")
_BASE85 = re.compile(r"(?<![!-~])(?:<~)?+[!-~]{12,}+")


def _decoded_edits(text: str) -> list[Edit]:
    edits: list[Edit] = []
    for m in _HEX.finditer(text):
        plain = _printable(_unhex(m.group().removeprefix("0x")))
        if plain is not None:
            edits.append((m.start(), m.end(), plain))
    for pattern, decoders in ((_BASE64, (_unbase64,)), (_BASE32, (_unbase32,)), (_BASE85, (_unbase85, _unascii85))):
        for m in pattern.finditer(text):
            if m.group().isdigit() or any(s <= m.start() < e for s, e, _ in edits):
                continue
            plain = next((p for p in (_printable(d(m.group())) for d in decoders) if p is not None), None)
            if plain is not None:
                edits.append((m.start(), m.end(), plain))
    return edits


def decodes_to_text(text: str) -> bool:
    """Whether ``text`` holds a base64 or hex token that decodes to printable text of eight characters or more."""
    for pattern, decode in ((_HEX, lambda t: _unhex(t.removeprefix("0x"))), (_BASE64, _unbase64)):
        for m in pattern.finditer(text):
            plain = _utf8(decode(m.group()))
            if len(plain) >= 8 and plain.isprintable():
                return True
    # Base32 and base85 read far more ordinary tokens: they count when the decoded text holds a digit.
    for pattern, decoders in ((_BASE32, (_unbase32,)), (_BASE85, (_unbase85, _unascii85))):
        for m in pattern.finditer(text):
            for decode in decoders:
                plain = _utf8(decode(m.group()))
                if len(plain) >= 8 and plain.isprintable() and any(c.isdigit() for c in plain):
                    return True
    return False


def _utf8(raw: bytes | None) -> str:
    try:
        return raw.decode("utf-8") if raw is not None else ""
    except UnicodeDecodeError:
        return ""


def _unbase32(token: str) -> bytes | None:
    token = token.rstrip("=")
    if len(token) > _MAX_ENCODED or len(token) % 8 in (1, 3, 6):
        return None
    try:
        return base64.b32decode(token + "=" * (-len(token) % 8), casefold=True)
    except (binascii.Error, ValueError):
        return None


def _unbase85(token: str) -> bytes | None:
    if len(token) > _MAX_ENCODED:
        return None
    try:
        return base64.b85decode(token)
    except ValueError:
        return None


def _unascii85(token: str) -> bytes | None:
    if len(token) > _MAX_ENCODED:
        return None
    try:
        return base64.a85decode(token, adobe=token.startswith("<~") and token.endswith("~>"))
    except ValueError:
        return None


def _unhex(token: str) -> bytes | None:
    if len(token) % 2 or len(token) > _MAX_ENCODED:
        return None
    return bytes.fromhex(token)


def _unbase64(token: str) -> bytes | None:
    if len(token) > _MAX_ENCODED:
        return None
    token = token.rstrip("=")
    token += "=" * (-len(token) % 4)
    try:
        return base64.b64decode(token.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None


def _printable(raw: bytes | None) -> str | None:
    """The decoded text as the detector reads it, if it is printable text with nine digits or more."""
    if raw is None:
        return None
    try:
        plain = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not plain.isprintable() or sum(c.isdigit() for c in plain) < _MIN_DIGITS:
        return None
    return " " + detection_view(normalize(plain)).text + " "


def readings(text: str) -> list[Reading]:
    """The other readings of a detection view's ``text`` that differ from it (none for most texts)."""
    out: list[Reading] = []
    if not any(c.isdigit() for c in text) and not _BASE64.search(text) and not _BASE85.search(text):
        return out
    for name, edits in (("typed", _typed_edits(text)), ("between words", _word_gap_edits(text)),
                        ("decoded", _decoded_edits(text))):  # fmt: skip
        applied = apply_edits(text, edits)
        if applied is not None:
            out.append(Reading(name, applied[0], tuple(applied[1]), tuple(applied[2]), len(text)))
    backwards = _reversed_reading(text)
    if backwards is not None:
        out.append(Reading("display order", backwards[0], tuple(backwards[1]), tuple(backwards[2]), len(text),
                           _BACKWARDS_ENTITIES))
    return out


# Inputs, or metadata values, short enough to be one group of an identifier each; at most this many are joined.
_SHORT_ITEM = 64
_MAX_JOINED = 64


@dataclass(frozen=True)
class Joined:
    """Short items side by side (`` | `` between them), and each item's span in the joined text."""

    text: str
    spans: tuple[tuple[int, int, int], ...]  # (item index, start, end)

    def items_at(self, start: int, end: int) -> set[int]:
        return {i for i, s, e in self.spans if s < end and start < e}


def joined_items(texts: Sequence[str]) -> Joined | None:
    """The short items of ``texts`` (canonical) joined as a reader reads them side by side; None for fewer than
    two short items with a digit between them."""
    parts: list[str] = []
    spans: list[tuple[int, int, int]] = []
    cursor = 0
    for i, text in enumerate(texts):
        if len(spans) >= _MAX_JOINED or not text.strip() or len(text) > _SHORT_ITEM:
            continue
        if parts:
            parts.append(" | ")
            cursor += 3
        parts.append(text)
        spans.append((i, cursor, cursor + len(text)))
        cursor += len(text)
    with_digits = sum(1 for i, _, _ in spans if any(c.isdigit() for c in texts[i]))
    return Joined("".join(parts), tuple(spans)) if len(spans) >= 2 and with_digits >= 1 else None


def across_items(joined: Joined, found: Sequence[Finding], decisions: Sequence[Decision],
                 scope: ScopePolicy) -> list[Decision]:
    """``decisions`` of the items, with every item that holds part of an identifier blocked where the joined text
    (``found``: its findings) is blocked."""
    verdict = decide(joined.text, found, scope, b"")
    out = list(decisions)
    if not verdict.blocked:
        return out
    hit: set[int] = set()
    for f in found:
        rule = scope.entities.get(f.entity_type)
        if f.entity_type in verdict.blocked_types and rule is not None and f.score >= rule.threshold:
            hit |= joined.items_at(f.start, f.end)
    for i in sorted(hit):
        if not out[i].blocked:
            entities = {**out[i].entities, **{t: EntityOutcome(1, "block") for t in verdict.blocked_types}}
            out[i] = Decision(True, "", entities, verdict.blocked_types)
    return out
