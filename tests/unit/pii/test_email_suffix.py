"""An e-mail address followed by a file extension or a suffix is still an address (attack16, F2).

Before: ``jane.doe@example.com.pdf`` (a document id, a file name, a sentence) passed as no PII at all: the pattern
ran on to ``example.com.pdf``, tldextract knows no suffix ``pdf``, and the whole match was dropped.
"""

from __future__ import annotations

import pytest

from gateway.pii.recognizers import OfflineEmailRecognizer


def _found(text: str) -> list[str]:
    return [text[r.start:r.end] for r in OfflineEmailRecognizer().analyze(text, ["EMAIL_ADDRESS"])]


@pytest.mark.parametrize(("text", "address"), [
    ("see jane.doe@example.com.pdf", "jane.doe@example.com"),
    ("jane.doe@example.com.jsonl", "jane.doe@example.com"),
    ("jane.doe@example.com.backup", "jane.doe@example.com"),
    ("jane@example.com_2024", "jane@example.com"),
    ("jane@example.com-notes", "jane@example.com"),
    ("jane@acme-corp.com.archive", "jane@acme-corp.com"),
    ("jane@example.com.au.txt", "jane@example.com.au"),
])
def test_when_a_suffix_follows_an_address_then_the_address_is_found(text: str, address: str) -> None:
    assert _found(text) == [address]


@pytest.mark.parametrize("text", ["jane@example.internal", "build@host.local.cache", "x@y.z.pdf", "no address here"])
def test_when_no_head_has_a_known_suffix_then_nothing_is_found(text: str) -> None:
    assert _found(text) == []


def test_when_the_address_is_whole_then_it_is_found_once() -> None:
    assert _found("mail jane@example.com and bob@example.org.") == ["jane@example.com", "bob@example.org"]
