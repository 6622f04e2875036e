"""An upload's file name and part names (attack17): a bidi override in a file name was stored and shown to every
reader of the tenant ('invoice' U+202E 'gnp.jsonl' reads 'invoicelnosj.png'), and a part's name was read from any
of its header lines, so a part named 'x' with an 'X-Note: name="file"' line became the upload's file."""

from __future__ import annotations

import pytest

from gateway.errors import BadRequest
from gateway.jobs.multipart import parse_form

FORMAT = ["invoice\u202egnp.jsonl", "a\u200bb.jsonl", "a\u2066b\u2069.jsonl", "a\u0085b.jsonl", "a\u00adb.jsonl"]


def form(*parts: tuple[str, str]) -> bytes:
    return ("".join(f"--x\r\n{head}\r\n\r\n{content}\r\n" for head, content in parts) + "--x--\r\n").encode()


@pytest.mark.parametrize("filename", FORMAT)
def test_when_a_file_name_holds_an_invisible_formatting_character_then_it_is_a_400(filename: str) -> None:
    body = form((f'Content-Disposition: form-data; name="file"; filename="{filename}"', "{}"))
    with pytest.raises(BadRequest, match="control characters") as refused:
        parse_form("multipart/form-data; boundary=x", body)
    assert refused.value.param == "file"


def test_when_a_file_name_is_in_another_script_then_it_is_kept() -> None:
    body = form(('Content-Disposition: form-data; name="file"; filename="d\u00e9p\u00f4t-\u65e5\u672c.jsonl"', "{}"))
    assert parse_form("multipart/form-data; boundary=x", body).filename == "d\u00e9p\u00f4t-\u65e5\u672c.jsonl"


def test_when_another_header_line_says_name_then_the_part_keeps_its_own_name() -> None:
    body = form(('Content-Disposition: form-data; name="purpose"', "batch"),
                ('Content-Disposition: form-data; name="notes"; filename="a.jsonl"\r\nX-Note: name="file"', "{}"))
    parsed = parse_form("multipart/form-data; boundary=x", body)
    assert parsed.filename is None and parsed.content == b"" and parsed.fields["notes"] == "{}"
