"""Token-aware chunking of documents for collections.

all-MiniLM-L6-v2 truncates at 256 word pieces, so a chunk longer than that would be silently cut: chunks are at
most ``max_tokens`` word pieces (default 200, leaving room for the special tokens and for placeholders that
redaction may lengthen) with ``overlap`` word pieces shared between neighbours, so a sentence cut at one border
is whole in the next chunk. The usual advice of 500-1000 tokens per chunk is for LLM context windows, not for this
encoder. Chunks are character spans of the canonical text, and prefer to end at a sentence or word boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

# (text) -> character offsets (start, end) of each word piece, special tokens excluded
Offsets = Callable[[str], Sequence[tuple[int, int]]]

_SENTENCE_END = ".!?\n"


@dataclass(frozen=True)
class ChunkSpan:
    index: int
    start: int
    end: int


def _snap(text: str, start: int, end: int, floor: int) -> int:
    """Move ``end`` back to just after a sentence end, else a space, if one is in the last third."""
    window = text[floor:end]
    for marks in (_SENTENCE_END, " "):
        cut = max(window.rfind(m) for m in marks)
        if cut >= 0 and floor + cut + 1 > start:
            return floor + cut + 1
    return end


def chunk_text(text: str, offsets: Offsets, max_tokens: int = 200, overlap: int = 40) -> list[ChunkSpan]:
    if max_tokens < 8 or not 0 <= overlap < max_tokens // 2:
        raise ValueError("need max_tokens >= 8 and 0 <= overlap < max_tokens / 2")
    pieces = [p for p in offsets(text) if p[1] > p[0]]
    if not pieces:
        return [ChunkSpan(0, 0, len(text))] if text.strip() else []
    spans: list[ChunkSpan] = []
    first = 0
    while first < len(pieces):
        last = min(first + max_tokens, len(pieces))
        start = pieces[first][0] if spans else 0
        end = pieces[last - 1][1] if last < len(pieces) else len(text)
        if last < len(pieces):
            floor = pieces[first + (2 * (last - first)) // 3][0]
            end = _snap(text, start, end, floor)
        spans.append(ChunkSpan(len(spans), start, end))
        if last >= len(pieces):
            break
        # next chunk starts `overlap` pieces before the piece that follows our end
        after = next((i for i in range(first, len(pieces)) if pieces[i][0] >= end), last)
        first = max(first + 1, after - overlap)
    return spans


def whitespace_offsets(text: str) -> list[tuple[int, int]]:
    """Word offsets: the fake tokenizer for unit tests."""
    out: list[tuple[int, int]] = []
    pos = 0
    for word in text.split():
        start = text.index(word, pos)
        out.append((start, start + len(word)))
        pos = start + len(word)
    return out
