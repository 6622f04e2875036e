"""A long text reaches NER in sentence pieces, each distinct piece once.

spaCy's NER costs the same for every token (about 6,500 tokens in a 32,000-character text of names took 2.1-2.4 s
of the detector's time), and a text made of one paragraph repeated costs that much again for nothing: the pieces
are the same and so are their entities. So a text of ``LONG_TEXT`` characters or more is cut at sentence ends
into pieces of at least ``PIECE_CHARS`` characters, NER and the name cues run once per distinct piece, and the
entities are placed at every place the piece occurs. A piece is whole sentences, so each name keeps the context
the model reads (a few words either side); a sentence end is a ``.``, ``!`` or ``?`` after a word of two letters or
more that is not a title or a usual abbreviation, then blanks and a capital, so ``Mr. Smith`` and ``J. Smith`` are
never cut. Linear: one scan for the sentence ends.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from gateway.pii.detector_types import LONG_TEXT
from gateway.pii.ner import NerEntity

PIECE_CHARS = 512
_SENTENCE_END = re.compile(r"(?<=[a-z])[.!?][ \t]++(?=[A-Z])")
# Words a full stop ends that usually go on with a name or a place: never cut after them.
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "mx", "dr", "prof", "rev", "fr", "sr", "jr", "st", "mt", "ft", "gen", "col", "capt", "cpt",
    "lt", "sgt", "hon", "gov", "sen", "rep", "pres", "supt", "insp", "det", "no", "vs", "etc", "inc", "ltd", "co",
    "corp", "dept", "univ", "ave", "blvd", "rd", "esq", "messrs", "mme", "mlle",
})  # fmt: skip
_WORD_BEFORE = re.compile(r"[A-Za-z]{1,32}\Z")

RunNer = Callable[[Sequence[str]], list[list[NerEntity]]]


def pieces(text: str) -> list[tuple[int, int]]:
    """[start, end) pieces covering ``text``, cut at sentence ends, each at least ``PIECE_CHARS`` long (the last
    may be shorter); one piece for a text shorter than ``LONG_TEXT``."""
    if len(text) < LONG_TEXT:
        return [(0, len(text))]
    out: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        cut = m.end()
        if cut - start < PIECE_CHARS:
            continue
        word = _WORD_BEFORE.search(text, max(0, m.start() - 32), m.start())
        if word is None or len(word.group()) < 2 or word.group().lower() in _ABBREVIATIONS:
            continue
        out.append((start, cut))
        start = cut
    out.append((start, len(text)))
    return out


def ner_by_pieces(texts: Sequence[str], run: RunNer) -> list[list[NerEntity]]:
    """``run`` (NER on a list of texts) on the distinct pieces of ``texts``; entities in each text's offsets."""
    distinct: dict[str, int] = {}
    placed: list[list[tuple[int, int]]] = []  # per text: (distinct piece, offset)
    for text in texts:
        where = []
        for start, end in pieces(text):
            where.append((distinct.setdefault(text[start:end], len(distinct)), start))
        placed.append(where)
    found = run(list(distinct))
    return [
        [NerEntity(e.entity_type, offset + e.start, offset + e.end) for piece, offset in where for e in found[piece]]
        for where in placed
    ]
