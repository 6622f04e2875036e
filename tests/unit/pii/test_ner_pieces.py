"""Long texts reach NER in sentence pieces, each distinct piece once (``gateway.pii.ner_pieces``)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from gateway.pii.detector_types import LONG_TEXT
from gateway.pii.ner import NerEntity
from gateway.pii.ner_pieces import PIECE_CHARS, ner_by_pieces, pieces

PARAGRAPH = "John Smith met Mary Jones at the Grand Hotel in Boston with Peter Brown and Lisa White. "


def _names(texts: Sequence[str]) -> list[list[NerEntity]]:
    """A fake NER: every occurrence of 'John Smith' is a PERSON."""
    out = []
    for text in texts:
        found, at = [], text.find("John Smith")
        while at >= 0:
            found.append(NerEntity("PERSON", at, at + 10))
            at = text.find("John Smith", at + 1)
        out.append(found)
    return out


def test_when_a_text_is_short_then_it_is_one_piece() -> None:
    text = PARAGRAPH * 3
    assert pieces(text) == [(0, len(text))]


def test_when_a_text_is_long_then_its_pieces_cover_it_in_order_and_end_at_sentence_ends() -> None:
    text = PARAGRAPH * (32_000 // len(PARAGRAPH))
    cut = pieces(text)
    assert cut[0][0] == 0 and cut[-1][1] == len(text) and len(cut) > 1
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cut))
    assert all(e - s >= PIECE_CHARS for s, e in cut[:-1])
    assert all(text[:e].endswith("White. ") for _, e in cut[:-1])


def test_when_a_full_stop_ends_a_title_or_an_initial_then_the_text_is_not_cut_there() -> None:
    filler = "the weather was fine and nobody complained about it at all " * 10
    text = "".join(f"{filler}Mr. Smith came. {filler}J. Smith left. {filler}Dr. Jones smiled. " for _ in range(20))
    assert len(text) >= LONG_TEXT
    for _, end in pieces(text)[:-1]:
        assert text[:end].endswith(("came. ", "left. ", "smiled. ")), text[end - 20 : end]


def test_when_a_paragraph_repeats_then_ner_runs_once_per_distinct_piece_and_finds_every_occurrence() -> None:
    text = PARAGRAPH * (32_000 // len(PARAGRAPH))
    seen: list[str] = []

    def run(texts: Sequence[str]) -> list[list[NerEntity]]:
        seen.extend(texts)
        return _names(texts)

    [found] = ner_by_pieces([text], run)
    assert len(seen) <= 2 and sum(len(t) for t in seen) < 2 * PIECE_CHARS + 2 * len(PARAGRAPH)
    assert found == _names([text])[0]


def test_when_several_texts_share_pieces_then_each_gets_its_own_offsets() -> None:
    long_text = PARAGRAPH * (LONG_TEXT // len(PARAGRAPH) + 1)
    texts = ["John Smith", long_text, "nobody here", "x " + long_text]
    assert ner_by_pieces(texts, _names) == _names(texts)
