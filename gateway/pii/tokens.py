"""Tokens for the detectors in time linear in the text, and context lookup in time logarithmic per finding.

spaCy's tokenizer is quadratic in the length of one whitespace-free chunk with many affixes (``"1:" * 8000`` took
1.9 s on 16,000 characters), and Presidio's context enhancer walks every token of the text for every finding
(2,666 SSNs in a 32,000-character text: 13 s) and walks the lemmas for context words, testing each against a
list. So chunks longer than ``LONG_CHUNK`` are split by a linear
regular expression (words and single punctuation marks), everything else is tokenized by spaCy exactly as
before, and the enhancer finds a finding's token, and the context words around it, by bisection over positions
computed once per text.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

LONG_CHUNK = 128  # no word or identifier a recognizer cares about is this long without a space
# Anchored at the start of a chunk, so each chunk is scanned once.
_LONG = re.compile(rf"(?<!\S)\S{{{LONG_CHUNK},}}")
_PIECE = re.compile(r"\w+|[^\w\s]")


def make_doc(nlp: Any, text: str) -> Any:
    """``nlp.make_doc(text)`` with every chunk of ``LONG_CHUNK`` or more non-space characters split linearly.

    The result's text is exactly ``text`` (offsets of tokens are offsets of ``text``)."""
    longs = list(_LONG.finditer(text))
    if not longs:
        return nlp.make_doc(text)
    from spacy.tokens import Doc

    words: list[str] = []
    spaces: list[bool] = []
    cursor = 0
    for m in longs:
        _extend(nlp.make_doc(text[cursor : m.start()]), words, spaces)
        pieces = _PIECE.findall(m.group())
        words.extend(pieces)
        spaces.extend([False] * len(pieces))
        cursor = m.end()
        if text.startswith(" ", cursor):  # spaCy keeps one following space on the token, not as a token
            spaces[-1] = True
            cursor += 1
    _extend(nlp.make_doc(text[cursor:]), words, spaces)
    return Doc(nlp.vocab, words=words, spaces=spaces)


def _extend(doc: Any, words: list[str], spaces: list[bool]) -> None:
    for token in doc:
        words.append(token.text)
        spaces.append(bool(token.whitespace_))


class TokenStarts(list[int]):
    """Token start offsets that also carry each token's end offset, for bisection."""

    def __init__(self, doc: Any) -> None:
        super().__init__(t.idx for t in doc)
        self.ends = [t.idx + len(t) for t in doc]


class Lemmas(list[str]):
    """The lemmas of a text, with the positions of its context keywords computed once (for bisection)."""

    _cache: tuple[list[str], list[int]] | None = None

    def keyword_positions(self, keywords: list[str]) -> list[int]:
        if self._cache is None or self._cache[0] is not keywords:
            wanted = set(keywords)
            self._cache = (keywords, [i for i, lemma in enumerate(self) if lemma.lower() in wanted])
        return self._cache[1]


class BisectContextEnhancer(LemmaContextAwareEnhancer):
    """Presidio's lemma context enhancer, with the finding's token found by bisection instead of a scan."""

    @staticmethod
    def _find_index_of_match_token(word: str, start: int, tokens: Any, tokens_indices: list[int]) -> int:
        ends = getattr(tokens_indices, "ends", None)
        if ends is None:
            return int(LemmaContextAwareEnhancer._find_index_of_match_token(word, start, tokens, tokens_indices))
        # The first token that starts at ``start`` or covers it: token ends are increasing, so the first end
        # beyond ``start`` (Presidio's scan takes the same token).
        i = bisect.bisect_right(ends, start)
        if i == len(ends):
            raise ValueError("a finding lies beyond the last token")
        return i

    @staticmethod
    def _add_n_words(index: int, n_words: int, lemmas: list[str], keywords: list[str], is_backward: bool) -> list[str]:
        if not isinstance(lemmas, Lemmas):
            return list(LemmaContextAwareEnhancer._add_n_words(index, n_words, lemmas, keywords, is_backward))
        # Presidio's walk: from ``index`` (included) outwards, the first n_words + 1 lemmas that are keywords.
        hits = lemmas.keyword_positions(keywords)
        if is_backward:
            end = bisect.bisect_right(hits, index)
            chosen = hits[max(0, end - n_words - 1) : end][::-1]
        else:
            begin = bisect.bisect_left(hits, index)
            chosen = hits[begin : begin + n_words + 1]
        return [lemmas[i].lower() for i in chosen]
