"""A key's tenant and subject are written into every audit entry for ever (a shred cannot take them out), onto
stored provenance and, for the tenant, onto ``/metrics``. The session 18 outside attack created a key with the
subject ``536-90-4721`` and found it in every entry its requests made: an SSN, a card number or an IBAN there is
refused now, naming what it reads as, never the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.auth.apikeys import create_key
from gateway.backends.sqlite.apikeys import SQLiteApiKeyRepository
from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.errors import BadRequest


@pytest.fixture
def repo(tmp_path: Path) -> SQLiteApiKeyRepository:
    return SQLiteApiKeyRepository(SQLiteDatabase(tmp_path / "g.db"))


@pytest.mark.parametrize(("subject", "reads_as"), [
    ("536-90-4721", "social security"),
    ("536904721", "social security"),
    ("svc-536-90-4721", "social security"),
    ("4111111111111111", "payment card"),
    ("card-4111-1111-1111-1111", "payment card"),
    ("DE89370400440532013000", "IBAN"),
    ("gb82west12345698765432", "IBAN"),
])
def test_when_a_subject_holds_an_identifier_then_the_key_is_refused_without_echoing_it(
        repo: SQLiteApiKeyRepository, subject: str, reads_as: str) -> None:
    with pytest.raises(BadRequest) as refused:
        create_key(repo, "acme", subject, "writer")
    assert reads_as in refused.value.message and subject not in refused.value.message
    assert refused.value.param == "subject" and not repo.list()


def test_when_a_tenant_holds_a_card_number_then_the_key_is_refused(repo: SQLiteApiKeyRepository) -> None:
    with pytest.raises(BadRequest) as refused:
        create_key(repo, "5500000000000004", "svc", "writer")
    assert refused.value.param == "tenant"


@pytest.mark.parametrize("subject", ["alice", "jane.doe@example.com", "svc-2024-11-30", "build-123456789012",
                                     "employee-100234567", "svc_0123abcd4567xyz89", "1234567890123456789012"])
def test_when_a_subject_is_a_name_or_an_opaque_id_then_the_key_is_made(repo: SQLiteApiKeyRepository,
                                                                       subject: str) -> None:
    _, record = create_key(repo, "acme", subject, "writer")
    assert record.subject == subject
