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


@pytest.mark.parametrize("text", ["x@y.z.pdf", "notes@v2.txt", "jane@intranet", "no address here"])
def test_when_no_head_has_a_known_suffix_then_nothing_is_found(text: str) -> None:
    assert _found(text) == []


def test_when_the_address_is_whole_then_it_is_found_once() -> None:
    assert _found("mail jane@example.com and bob@example.org.") == ["jane@example.com", "bob@example.org"]


@pytest.mark.parametrize(("text", "address"), [
    ("mail jane.doe@corp.bank.internal today", "jane.doe@corp.bank.internal"),
    ("jane@example.internal", "jane@example.internal"),
    ("ask ops@printer.LOCAL", "ops@printer.LOCAL"),
    ("j.smith@hq.acme.corp", "j.smith@hq.acme.corp"),
    ("admin@router.lan", "admin@router.lan"),
    ("build@host.local.cache", "build@host.local"),
    ("k.ng@ward7.hospital.intranet.", "k.ng@ward7.hospital.intranet"),
])
def test_when_the_domain_is_an_in_house_one_then_the_address_is_found(text: str, address: str) -> None:
    """An in-house mail domain (no public suffix) names a person as surely as a public one: before, every address
    under ``.internal``, ``.local``, ``.corp`` passed as PII-free."""
    assert _found(text) == [address]
