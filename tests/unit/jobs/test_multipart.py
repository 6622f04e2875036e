"""The upload's multipart/form-data body, parsed off the event loop: the fields, the file (bytes exact), and a
clear 400 for a body that is not a form."""

from __future__ import annotations

import httpx
import pytest

from gateway.errors import BadRequest
from gateway.jobs.multipart import parse_form


def encoded(content: bytes, purpose: str = "batch") -> tuple[str, bytes]:
    """The body and content type httpx (as the openai client does) sends for an upload."""
    request = httpx.Request("POST", "http://x/v1/files", files={"file": ("in.jsonl", content)},
                            data={"purpose": purpose})
    return request.headers["content-type"], request.read()


def test_when_a_form_is_parsed_then_its_file_is_exact_and_its_fields_are_read() -> None:
    content = b'{"a": 1}\r\n--not-the-boundary\r\n' + bytes(range(256)) * 100
    content_type, body = encoded(content)
    form = parse_form(content_type, bytearray(body))
    assert form.content == content and form.filename == "in.jsonl" and form.fields == {"purpose": "batch"}


def test_when_the_boundary_is_quoted_then_it_is_understood() -> None:
    body = (b'--b 1\r\nContent-Disposition: form-data; name="file"; filename="x.jsonl"\r\n\r\n{}\r\n--b 1--\r\n')
    form = parse_form('multipart/form-data; boundary="b 1"', body)
    assert form.content == b"{}" and form.filename == "x.jsonl"


@pytest.mark.parametrize(("content_type", "body"), [
    ("application/json", b"{}"),
    ("multipart/form-data", b"--x\r\n"),
    ("multipart/form-data; boundary=x", b"no delimiter here"),
    ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="file"\r\n\r\nunterminated'),
])
def test_when_the_body_is_not_a_form_then_it_is_a_clear_400(content_type: str, body: bytes) -> None:
    with pytest.raises(BadRequest, match="multipart/form-data"):
        parse_form(content_type, body)


def test_when_there_is_no_file_part_then_no_file_name_is_given() -> None:
    body = b'--x\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--x--\r\n'
    form = parse_form("multipart/form-data; boundary=x", body)
    assert form.filename is None and form.fields == {"purpose": "batch"}


def test_when_a_file_name_holds_an_escaped_quote_then_it_is_read_whole() -> None:
    body = b'--x\r\nContent-Disposition: form-data; name="file"; filename="a\\"b.jsonl"\r\n\r\n{}\r\n--x--\r\n'
    form = parse_form("multipart/form-data; boundary=x", body)
    assert form.filename == 'a"b.jsonl' and form.content == b"{}"


@pytest.mark.parametrize("name", ["file", "purpose"])
def test_when_a_part_is_named_twice_then_it_is_a_400_naming_it_not_a_guess(name: str) -> None:
    part = (f'--x\r\nContent-Disposition: form-data; name="{name}"'
            + ('; filename="a.jsonl"' if name == "file" else "") + "\r\n\r\nbatch\r\n")
    body = (part + part + "--x--\r\n").encode()
    with pytest.raises(BadRequest, match="more than one part") as refused:
        parse_form("multipart/form-data; boundary=x", body)
    assert refused.value.param == name


@pytest.mark.parametrize("filename", ["a\x00.jsonl", "a\nb.jsonl", "a\x7f.jsonl"])
def test_when_a_file_name_holds_a_control_character_then_it_is_a_400(filename: str) -> None:
    body = (f'--x\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n\r\n{{}}\r\n--x--\r\n'
            ).encode()
    with pytest.raises(BadRequest, match="control characters"):
        parse_form("multipart/form-data; boundary=x", body)
