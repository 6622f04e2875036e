"""An input contract a scope may narrow: kinds of text it refuses before screening (``pii.reject_input``).

Some evasions cannot be closed by detection without blocking ordinary text (a card number read backwards passes the
Luhn check as often as forwards; an encoding nobody decodes). A scope that only ever receives human-readable text
can refuse what a reader would have to decode instead (``docs/policy.md``):

* ``bidi_controls``: characters that reorder what is displayed (U+202A-U+202E, U+2066-U+2069, the marks U+200E,
  U+200F, U+061C): the canonical text drops them, so its digits would be read in another order than shown;
* ``markup``: HTML or XML tags and comments, and character references (``&#53;``, ``&ndash;``);
* ``encoded``: URL escapes (``%35``), ``\\uXXXX`` and ``\\xXX`` escapes written as text, quoted-printable escapes
  (three ``=XX`` or more, at most one punctuation character apart: ``=30=37``; a lone ``limit=20`` is not one), base64
  or hex tokens that decode to printable text, and base32 or base85 tokens that decode to printable text with a digit.

Each check is one linear scan of the text as the caller sent it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gateway.pii.evasion import MARKUP
from gateway.pii.readings import decodes_to_text
from gateway.policy.loader import INPUT_KINDS

__all__ = ["INPUT_KINDS", "KIND_WORDS", "refused_kinds"]
# How a refusal names each kind to the caller, its policy name last so the policy author finds it.
KIND_WORDS = {"bidi_controls": "bidi controls (characters that reorder the display: bidi_controls)",
              "markup": "markup (tags, comments or character references: markup)",
              "encoded": "encoded text (URL, \\u, quoted-printable, base64 or similar escapes: encoded)"}
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_REFERENCE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4}|\\x[0-9A-Fa-f]{2}|=[0-9A-F]{2}(?:[^\w\s=]?=[0-9A-F]{2}){2}")


def refused_kinds(raw: str, kinds: Sequence[str]) -> list[str]:
    """The kinds of ``kinds`` that ``raw`` (as sent, before ``normalize``) holds."""
    found = []
    if "bidi_controls" in kinds and not raw.isascii() and _BIDI.search(raw):
        found.append("bidi_controls")
    if "markup" in kinds and ("<" in raw or "&" in raw) and (MARKUP.search(raw) or _REFERENCE.search(raw)):
        found.append("markup")
    if "encoded" in kinds and (_ESCAPE.search(raw) or decodes_to_text(raw)):
        found.append("encoded")
    return found
