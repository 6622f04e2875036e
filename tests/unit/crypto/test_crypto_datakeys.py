"""The contract every DataKeyRepository meets, run against each implementation (see conftest ``repo``)."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.crypto import (
    DataKeyRepository,
    WrappedKey,
)

WHEN = datetime(2025, 1, 1, tzinfo=UTC)


def key(tenant: str, version: int, kek_version: int = 1, wrapped: bytes = b"w" * 60) -> WrappedKey:
    return WrappedKey(tenant, version, kek_version, wrapped, WHEN)


def test_when_empty_then_nothing_is_found(repo: DataKeyRepository) -> None:
    assert (repo.get("acme", 1), repo.active("acme"), repo.all()) == (None, None, [])


def test_when_versions_are_put_then_active_is_the_highest(repo: DataKeyRepository) -> None:
    for version in (1, 3, 2):
        repo.put(key("acme", version))
    repo.put(key("globex", 7))

    assert repo.get("acme", 2) == key("acme", 2)
    active = repo.active("acme")
    assert active is not None and active.version == 3
    assert [(k.tenant, k.version) for k in repo.all()] == [
        ("acme", 1),
        ("acme", 2),
        ("acme", 3),
        ("globex", 7),
    ]


def test_when_a_version_is_put_twice_then_the_first_is_kept(repo: DataKeyRepository) -> None:
    repo.put(key("acme", 1, wrapped=b"first"))
    repo.put(key("acme", 1, wrapped=b"second"))

    stored = repo.get("acme", 1)
    assert stored is not None and stored.wrapped == b"first"


def test_when_replaced_then_the_new_wrapping_is_stored(repo: DataKeyRepository) -> None:
    repo.put(key("acme", 1))
    repo.replace(key("acme", 1, kek_version=2, wrapped=b"rewrapped"))

    assert repo.get("acme", 1) == key("acme", 1, kek_version=2, wrapped=b"rewrapped")


def test_when_a_shredded_key_is_replaced_then_it_is_not_recreated(repo: DataKeyRepository) -> None:
    repo.replace(key("acme", 1))
    assert repo.get("acme", 1) is None


def test_when_tenant_is_deleted_then_only_its_keys_go(repo: DataKeyRepository) -> None:
    for version in (1, 2):
        repo.put(key("acme", version))
    repo.put(key("globex", 1))

    assert repo.delete_tenant("acme") == 2
    assert repo.delete_tenant("acme") == 0
    assert [(k.tenant, k.version) for k in repo.all()] == [("globex", 1)]
