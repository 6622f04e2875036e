import itertools

import pytest

from gateway.pipeline.chunking import chunk_text, whitespace_offsets


def words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


def test_when_text_is_short_then_one_chunk_covers_it() -> None:
    text = "A short document."
    assert [(c.start, c.end) for c in chunk_text(text, whitespace_offsets)] == [(0, len(text))]


def test_when_text_is_long_then_chunks_respect_the_token_limit_and_overlap() -> None:
    text = words(1000)
    chunks = chunk_text(text, whitespace_offsets, max_tokens=100, overlap=20)
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    for a, b in itertools.pairwise(chunks):
        assert b.start < a.end  # overlap
        assert b.start > a.start  # progress
    for c in chunks:
        assert len(text[c.start : c.end].split()) <= 100
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert covered == set(range(len(text)))


def test_when_a_sentence_ends_near_the_limit_then_the_chunk_ends_there() -> None:
    text = words(80) + ". " + words(80)
    first = chunk_text(text, whitespace_offsets, max_tokens=100, overlap=10)[0]
    assert text[first.start : first.end].rstrip().endswith(".")


@pytest.mark.parametrize(("size", "overlap"), [(4, 0), (100, 60)])
def test_when_parameters_are_unsafe_then_value_error(size: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_text("x", whitespace_offsets, max_tokens=size, overlap=overlap)


def test_when_text_is_blank_then_no_chunks() -> None:
    assert chunk_text("   ", whitespace_offsets) == []
