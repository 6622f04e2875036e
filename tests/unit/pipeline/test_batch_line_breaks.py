"""Line breaks in a batch's input file (attack17): JSON allows U+2028, U+2029, U+0085 and the C0 separators VT,
FF, FS, GS, RS unescaped inside a string, and tools that write JSON without escaping non-ASCII (``ensure_ascii=False``,
JavaScript's ``JSON.stringify``) put them there raw. ``str.splitlines`` cut such a line in two invalid ones, and a
valid file failed its validation; a UTF-8 byte order mark (Windows editors) failed line 1."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from gateway.pipeline.batch_lines import parse_input

BREAKS = ["\u2028", "\u2029", "\u0085"]  # unescaped in JSON text; VT, FF, FS, GS, RS must be escaped (< 0x20)


def request(custom_id: str, text: str) -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/embeddings",
                       "body": {"model": "m", "input": text}}, ensure_ascii=False)


@pytest.mark.parametrize("mark", BREAKS)
def test_when_a_text_holds_a_unicode_line_break_then_its_line_stays_whole(mark: str) -> None:
    raw = "\n".join([request("a", f"first{mark}second"), request("b", "plain")])
    lines, errors = parse_input(raw.encode(), 10)
    assert errors == []
    assert [(x.custom_id, x.body["input"], x.line) for x in lines] == [("a", f"first{mark}second", 1),
                                                                      ("b", "plain", 2)]


@pytest.mark.parametrize("mark", ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e"])
def test_when_a_c0_separator_stands_between_two_objects_then_the_line_is_invalid_not_split(mark: str) -> None:
    raw = request("a", "x") + mark + request("b", "y")
    lines, errors = parse_input(raw.encode(), 10)
    assert lines == [] and [(e["code"], e["line"]) for e in errors] == [("invalid_json_line", 1)]


def test_when_lines_end_with_crlf_then_numbers_and_texts_are_as_written() -> None:
    raw = "\r\n".join([request("a", "x"), "", request("b", "y\u2028z"), "{oops"]) + "\r\n"
    lines, errors = parse_input(raw.encode(), 10)
    assert [(x.custom_id, x.line) for x in lines] == [("a", 1), ("b", 3)]
    assert [(e["code"], e["line"]) for e in errors] == [("invalid_json_line", 4)]


def test_when_the_file_begins_with_a_byte_order_mark_then_it_is_ignored() -> None:
    lines, errors = parse_input(b"\xef\xbb\xbf" + "\n".join([request("a", "x"), request("b", "y")]).encode(), 10)
    assert errors == [] and [x.custom_id for x in lines] == ["a", "b"]
    _, inner = parse_input(("\n" + "\ufeff" + request("c", "z")).encode(), 10)  # only a leading one
    assert [(e["code"], e["line"]) for e in inner] == [("invalid_json_line", 2)]


def peak_bytes_parsing(content: bytes, max_lines: int) -> int:
    tracemalloc.start()
    try:
        parse_input(content, max_lines)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("content", [b"\n" * 1_000_000, b"\r\n \n" * 400_000, b"{}\n" * 600_000],
                         ids=["newlines", "blank-lines", "too-many-lines"])
def test_when_a_file_is_millions_of_lines_then_it_is_read_a_line_at_a_time(content: bytes) -> None:
    """A list of every line cost 8 bytes a line and more (100 MB of newlines: 1.5 GB at each batch's creation).
    The bound is the input's own size: tracemalloc counts every thread's allocations, and in the full suite others
    left running added up to 470 KB beside the parse (the old code's list alone was 8 MB here)."""
    assert peak_bytes_parsing(content, 10) < len(content)


def test_when_there_are_more_requests_than_the_limit_then_the_message_says_so_without_counting_them_all() -> None:
    lines, errors = parse_input("\n".join(request(f"c{n}", "x") for n in range(12)).encode(), 10)
    assert lines == [] and [(e["code"], e["message"]) for e in errors] == [
        ("too_many_lines", "the input file has more than 10 requests; the limit is 10")]
