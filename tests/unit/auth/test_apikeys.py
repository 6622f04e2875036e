from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.auth.apikeys import ApiKeyRecord, authenticate, create_key, key_id_of, key_status, rotate_key
from gateway.backends.sqlite.apikeys import SQLiteApiKeyRepository
from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.errors import BadRequest, Unauthenticated


@pytest.fixture
def repo(tmp_path: Path) -> SQLiteApiKeyRepository:
    return SQLiteApiKeyRepository(SQLiteDatabase(tmp_path / "g.db"))


def test_when_a_key_is_created_then_it_authenticates_and_only_its_digest_is_stored(
    repo: SQLiteApiKeyRepository, tmp_path: Path
) -> None:
    key, record = create_key(repo, "acme", "alice", "writer")
    principal = authenticate(repo, key)
    assert (principal.tenant, principal.subject, principal.role) == ("acme", "alice", "writer")
    secret = key[len("gk_") + 16 + 1 :]
    assert len(secret) >= 43  # 256 bits, base64url
    assert secret.encode() not in (tmp_path / "g.db").read_bytes()
    assert record.digest != secret


@pytest.mark.parametrize("presented", [None, "", "gk_nope", "sk-openai-style", "gk_0123456789abcdef_" + "A" * 43])
def test_when_the_key_is_unknown_or_malformed_then_unauthenticated(
    repo: SQLiteApiKeyRepository, presented: str | None
) -> None:
    with pytest.raises(Unauthenticated):
        authenticate(repo, presented)


def test_when_the_secret_is_wrong_then_unauthenticated(repo: SQLiteApiKeyRepository) -> None:
    key, _ = create_key(repo, "acme", "alice", "reader")
    forged = key[:-1] + ("A" if key[-1] != "A" else "B")
    with pytest.raises(Unauthenticated):
        authenticate(repo, forged)


def test_when_revoked_then_unauthenticated(repo: SQLiteApiKeyRepository) -> None:
    key, record = create_key(repo, "acme", "alice", "reader")
    assert repo.revoke(record.key_id, "2026-01-01T00:00:00+00:00")
    with pytest.raises(Unauthenticated):
        authenticate(repo, key)


def test_when_expired_then_unauthenticated(repo: SQLiteApiKeyRepository) -> None:
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    key, _ = create_key(repo, "acme", "alice", "reader", expires_at=soon)
    authenticate(repo, key)
    with pytest.raises(Unauthenticated):
        authenticate(repo, key, now=datetime.now(UTC) + timedelta(hours=2))


@pytest.mark.parametrize(("tenant", "role"), [("", "reader"), ("a b", "reader"), ("acme", "root")])
def test_when_tenant_or_role_is_invalid_then_bad_request(
    repo: SQLiteApiKeyRepository, tenant: str, role: str
) -> None:
    with pytest.raises(BadRequest):
        create_key(repo, tenant, "alice", role)


def test_when_a_key_is_well_formed_then_only_its_public_id_is_extracted(repo: SQLiteApiKeyRepository) -> None:
    key, record = create_key(repo, "acme", "alice", "reader")
    assert key_id_of(key) == record.key_id
    assert key_id_of("garbage") is None


@pytest.mark.parametrize("tenant", ["ACME", "Acme", "aCME", "acme.", "acme.com."])  # a trailing dot: attack18
def test_when_a_key_is_created_for_an_upper_case_tenant_then_it_is_refused(
    repo: SQLiteApiKeyRepository, tenant: str
) -> None:
    """One tenant, one spelling: "ACME" is never a tenant beside "acme" (the rule tokens' tenant claims obey)."""
    with pytest.raises(BadRequest, match="lower-case"):
        create_key(repo, tenant, "alice", "writer")
    assert repo.list(None) == []


def test_when_a_key_made_before_the_lower_case_rule_names_tenant_acme_upper_then_it_is_refused_with_the_reason(
    repo: SQLiteApiKeyRepository,
) -> None:
    # fixes18b: keys created before tenant ids were lower case (tenant "ACME", stored as it was) still authenticated,
    # as a tenant beside "acme". Refused now, never folded into "acme" (possibly another tenant's data and quotas).
    key, record = create_key(repo, "acme", "alice", "writer")
    legacy = ApiKeyRecord("0123456789abcdef", "ACME", "alice", "writer", record.digest, record.created_at, None)
    repo.insert(legacy)
    with pytest.raises(Unauthenticated, match="re-issue") as refused:
        authenticate(repo, f"gk_{legacy.key_id}_{key[len('gk_') + 16 + 1:]}")  # the same secret
    assert refused.value.detail == {"audit": {"reason": "invalid tenant: re-issue the key"}}
    assert key_status(legacy, datetime.now(UTC)) == "invalid-tenant"
    assert authenticate(repo, key).tenant == "acme"  # the lower-case tenant's key is untouched
    with pytest.raises(Unauthenticated, match="Invalid, revoked or expired"):  # a guess learns nothing more
        authenticate(repo, f"gk_{legacy.key_id}_" + "A" * 43)
    with pytest.raises(BadRequest, match="no active key"):
        rotate_key(repo, legacy.key_id, timedelta(0))  # re-issued, not given a new secret under the old tenant
