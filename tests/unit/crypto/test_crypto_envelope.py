"""Envelope encryption: known answers, tamper and move detection, rotation, re-wrap, shredding."""

from __future__ import annotations

import threading

import pytest

from gateway.crypto import (
    DataKeyRepository,
    Envelope,
    InMemoryDataKeyRepository,
    Keyring,
    RecordContext,
    WrappedKey,
    key_version_of,
)
from gateway.errors import ConfigurationError, DecryptionFailed
from tests.unit.crypto.crypto_fakes import CountingRng, FakeClock

CTX = RecordContext("acme", "docs", "doc-1#0", "1.0")
OTHER = RecordContext("globex", "docs", "doc-1#0", "1.0")

# Computed outside gateway.crypto (cryptography's AESGCM with the associated data assembled by hand from
# the format in docs/encryption.md), with KEK = bytes 0..31 and the counting random source: data key =
# bytes 0..31, wrap nonce = 32..43, record nonce = 44..55. A change here is a change of the on-disk format.
KNOWN_RECORD = bytes.fromhex(
    "474501000000012c2d2e2f30313233343536373a98497a0dbdc4a958bef88a54930fc0ca78b10cee3ed4678fd7dbb0ff8af7"
)
KNOWN_WRAPPED_KEY = bytes.fromhex(
    "202122232425262728292a2bd23ba473689d1c09127548c5cd15faf6c058fe8f939575f974ef760955974016743c28aaa40f8d49"
    "f7e5122c461bd887"
)


def test_when_encrypted_with_fixed_rng_then_output_matches_known_answer(
    kek: Keyring, clock: FakeClock
) -> None:
    repo = InMemoryDataKeyRepository()
    envelope = Envelope(kek, repo, rng=CountingRng(), clock=clock)

    blob = envelope.encrypt(CTX, b"hello, envelope")

    assert blob == KNOWN_RECORD
    stored = repo.get("acme", 1)
    assert stored is not None and stored.wrapped == KNOWN_WRAPPED_KEY
    assert (stored.kek_version, stored.created) == (1, clock.now)
    assert envelope.decrypt(CTX, KNOWN_RECORD) == b"hello, envelope"


@pytest.mark.parametrize("plaintext", [b"", b"x", b"\x00" * 4096])
def test_when_round_tripped_then_plaintext_comes_back(envelope: Envelope, plaintext: bytes) -> None:
    assert envelope.decrypt(CTX, envelope.encrypt(CTX, plaintext)) == plaintext


def test_when_same_plaintext_encrypted_twice_then_ciphertexts_differ(envelope: Envelope) -> None:
    assert envelope.encrypt(CTX, b"same") != envelope.encrypt(CTX, b"same")


def test_when_any_single_byte_is_flipped_then_decryption_fails(envelope: Envelope) -> None:
    blob = envelope.encrypt(CTX, b"a vector's worth of bytes")
    for position in range(len(blob)):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(DecryptionFailed):
            envelope.decrypt(CTX, bytes(tampered))


@pytest.mark.parametrize("cut", [0, 1, 6, 7, 19, 34, -1])
def test_when_truncated_then_decryption_fails(envelope: Envelope, cut: int) -> None:
    with pytest.raises(DecryptionFailed):
        envelope.decrypt(CTX, envelope.encrypt(CTX, b"payload")[:cut])


def test_when_bytes_are_appended_then_decryption_fails(envelope: Envelope) -> None:
    with pytest.raises(DecryptionFailed):
        envelope.decrypt(CTX, envelope.encrypt(CTX, b"payload") + b"\x00")


@pytest.mark.parametrize(
    "moved",
    [
        RecordContext("globex", "docs", "doc-1#0", "1.0"),
        RecordContext("acme", "other", "doc-1#0", "1.0"),
        RecordContext("acme", "docs", "doc-1#1", "1.0"),
        RecordContext("acme", "docs", "doc-1#0", "1.1"),
    ],
    ids=["tenant", "collection", "record_id", "model_version"],
)
def test_when_decrypted_under_another_context_then_it_fails(envelope: Envelope, moved: RecordContext) -> None:
    envelope.encrypt(moved, b"gives the other tenant a key too")
    blob = envelope.encrypt(CTX, b"payload")
    with pytest.raises(DecryptionFailed):
        envelope.decrypt(moved, blob)


def test_when_fields_shift_between_collection_and_record_id_then_it_fails(envelope: Envelope) -> None:
    blob = envelope.encrypt(RecordContext("acme", "ab", "c", "1.0"), b"payload")
    with pytest.raises(DecryptionFailed):
        envelope.decrypt(RecordContext("acme", "a", "bc", "1.0"), blob)


def test_when_record_is_opened_as_index_snapshot_then_it_fails(envelope: Envelope) -> None:
    index_ctx = RecordContext.index("acme", "docs", "1.0")
    record = envelope.encrypt(index_ctx, b"a record that claims the index id")
    snapshot = envelope.encrypt_snapshot(index_ctx, b"faiss bytes")

    assert envelope.decrypt_snapshot(index_ctx, snapshot) == b"faiss bytes"
    with pytest.raises(DecryptionFailed):
        envelope.decrypt_snapshot(index_ctx, record)
    with pytest.raises(DecryptionFailed):
        envelope.decrypt(index_ctx, snapshot)


def test_when_tenant_key_is_rotated_then_old_records_open_and_new_ones_use_new_version(
    envelope: Envelope,
) -> None:
    old = envelope.encrypt(CTX, b"old")

    assert envelope.rotate_tenant("acme") == 2
    new = envelope.encrypt(CTX, b"new")

    assert (key_version_of(old), key_version_of(new)) == (1, 2)
    assert envelope.decrypt(CTX, old) == b"old"
    assert envelope.decrypt(CTX, new) == b"new"


def test_when_never_used_tenant_is_rotated_then_it_gets_version_one(envelope: Envelope) -> None:
    assert envelope.rotate_tenant("fresh") == 1


def test_when_kek_rotated_and_rewrapped_then_records_open_and_old_kek_can_be_retired(
    kek: Keyring, repo: DataKeyRepository, clock: FakeClock
) -> None:
    before = Envelope(kek, repo, clock=clock)
    written = [(ctx, before.encrypt(ctx, ctx.tenant.encode())) for ctx in (CTX, OTHER)]
    before.rotate_tenant("acme")
    written.append((CTX, before.encrypt(CTX, b"acme")))  # acme now has data keys v1 and v2
    created = {(key.tenant, key.version): key.created for key in repo.all()}
    rotated = kek.with_new_key()
    after = Envelope(rotated, repo, clock=clock)

    assert after.kek_versions_in_use() == {1}
    assert after.rewrap_all() == 3
    assert after.kek_versions_in_use() == {2}
    assert after.rewrap_all() == 0
    retired = Envelope(rotated.without(1), repo, clock=clock)
    for ctx, blob in written:
        assert retired.decrypt(ctx, blob) == ctx.tenant.encode()
    assert {(key.tenant, key.version): key.created for key in repo.all()} == created


def test_when_old_kek_is_retired_without_rewrap_then_records_fail_opaquely(
    kek: Keyring, repo: DataKeyRepository
) -> None:
    blob = Envelope(kek, repo).encrypt(CTX, b"payload")
    rotated = kek.with_new_key()

    with pytest.raises(DecryptionFailed):
        Envelope(rotated.without(1), repo).decrypt(CTX, blob)


def test_when_tenant_is_shredded_then_its_records_are_unreadable_and_others_are_not(
    envelope: Envelope,
) -> None:
    mine, theirs = envelope.encrypt(CTX, b"mine"), envelope.encrypt(OTHER, b"theirs")
    envelope.rotate_tenant("acme")
    newer = envelope.encrypt(CTX, b"newer")
    assert envelope.decrypt(CTX, mine) == b"mine"  # the key is now cached: shredding must evict it

    assert envelope.shred("acme") == 2

    for blob in (mine, newer):
        with pytest.raises(DecryptionFailed):
            envelope.decrypt(CTX, blob)
    assert envelope.decrypt(OTHER, theirs) == b"theirs"


def test_when_another_replica_shreds_then_the_cached_key_expires_within_the_ttl(
    kek: Keyring, repo: DataKeyRepository, clock: FakeClock
) -> None:
    replica_a = Envelope(kek, repo, clock=clock, cache_ttl_s=60)
    replica_b = Envelope(kek, repo, clock=clock, cache_ttl_s=60)
    blob = replica_a.encrypt(CTX, b"payload")

    replica_b.shred("acme")
    clock.advance(61)

    with pytest.raises(DecryptionFailed):
        replica_a.decrypt(CTX, blob)


def test_when_wrapped_key_is_moved_to_another_tenant_then_it_does_not_unwrap(kek: Keyring) -> None:
    repo = InMemoryDataKeyRepository()
    envelope = Envelope(kek, repo, cache_size=0)
    envelope.encrypt(CTX, b"creates acme's key")
    blob = envelope.encrypt(OTHER, b"globex data")
    acme_key, globex_key = repo.get("acme", 1), repo.get("globex", 1)
    assert acme_key is not None and globex_key is not None

    repo.replace(type(globex_key)("globex", 1, acme_key.kek_version, acme_key.wrapped, acme_key.created))

    with pytest.raises(DecryptionFailed):
        envelope.decrypt(OTHER, blob)


@pytest.mark.parametrize(
    "header", [b"XX\x01", b"GE\x02", b"GE\x01\x00\x00\x00\x09"], ids=["magic", "format", "key-version"]
)
def test_when_header_names_unknown_format_or_key_version_then_decryption_fails(
    envelope: Envelope, header: bytes
) -> None:
    blob = envelope.encrypt(CTX, b"payload")
    with pytest.raises(DecryptionFailed):
        envelope.decrypt(CTX, header + blob[len(header) :])


@pytest.mark.parametrize("blob", [b"", b"GE\x01\x00", b"XX\x01\x00\x00\x00\x01", b"GE\x02\x00\x00\x00\x01"])
def test_when_header_is_malformed_then_key_version_of_fails(blob: bytes) -> None:
    with pytest.raises(DecryptionFailed):
        key_version_of(blob)


def test_when_repository_breaks_then_decrypt_raises_only_decryption_failed(kek: Keyring) -> None:
    class BrokenRepository(InMemoryDataKeyRepository):
        def get(self, tenant: str, version: int) -> None:
            raise OSError("disk on fire")

    blob = Envelope(kek, InMemoryDataKeyRepository()).encrypt(CTX, b"payload")
    with pytest.raises(DecryptionFailed) as caught:
        Envelope(kek, BrokenRepository()).decrypt(CTX, blob)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_when_decryption_fails_then_the_error_carries_no_key_material(kek: Keyring) -> None:
    repo = InMemoryDataKeyRepository()
    envelope = Envelope(kek, repo, rng=CountingRng())
    blob = envelope.encrypt(CTX, b"payload")
    with pytest.raises(DecryptionFailed) as caught:
        envelope.decrypt(OTHER, blob)
    text = f"{caught.value!s} {caught.value!r} {caught.value.detail}"
    assert text.count("a stored record could not be decrypted") == 2
    assert bytes(range(32)).hex() not in text


def test_when_threads_race_on_a_new_tenant_then_all_use_one_key(
    kek: Keyring, repo: DataKeyRepository
) -> None:
    replicas = [Envelope(kek, repo) for _ in range(4)]
    blobs: list[bytes] = []
    threads = [threading.Thread(target=lambda e=e: blobs.append(e.encrypt(CTX, b"x"))) for e in replicas * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(repo.all()) == 1
    assert all(replicas[0].decrypt(CTX, blob) == b"x" for blob in blobs)


def test_when_all_tenants_are_rotated_then_each_gets_a_new_version_under_the_active_kek(
    kek: Keyring, repo: DataKeyRepository
) -> None:
    Envelope(kek, repo).encrypt(CTX, b"a")
    Envelope(kek, repo).encrypt(OTHER, b"b")
    after = Envelope(kek.with_new_key(), repo)

    assert after.rotate_all() == {"acme": 2, "globex": 2}
    assert after.kek_versions_in_use() == {1, 2}
    assert key_version_of(after.encrypt(CTX, b"c")) == 2


def test_when_a_context_field_is_not_a_string_then_it_is_refused_at_construction() -> None:
    with pytest.raises(TypeError):
        RecordContext("acme", "docs", 7, "1.0")  # type: ignore[arg-type]


def test_when_kek_file_was_replaced_then_check_kek_refuses_but_one_damaged_row_does_not(kek: Keyring) -> None:
    repo = InMemoryDataKeyRepository()
    envelope = Envelope(kek, repo)
    for tenant in ("acme", "globex", "initech"):
        envelope.encrypt(RecordContext(tenant, "docs", "r", "1.0"), b"x")
    envelope.check_kek()
    with pytest.raises(ConfigurationError, match="KEK version 1"):
        Envelope(Keyring.generate(), repo).check_kek()  # a new kek.json over the old data
    damaged = repo.get("acme", 1)
    assert damaged is not None
    repo.replace(WrappedKey("acme", 1, 1, bytes(len(damaged.wrapped)), damaged.created))
    envelope.check_kek()  # the other tenants' keys open: the KEK is right, one row is damaged
    Envelope(Keyring.generate(), InMemoryDataKeyRepository()).check_kek()  # nothing stored yet: nothing to check


def test_when_a_data_key_is_wrapped_under_a_kek_version_this_process_lacks_then_the_log_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # operator16: after `gateway keys rotate` a replica on the old kek.json answered 500 to every write, silently.
    kek, repo = Keyring.generate(), InMemoryDataKeyRepository()
    rotated = Envelope(kek.with_new_key(), repo)
    blob = rotated.encrypt(CTX, b"vector")  # tenant acme's data key 1, wrapped under KEK 2
    stale = Envelope(kek, repo)  # a replica started before the rotation: KEK 1 only
    with caplog.at_level("ERROR", logger="gateway.crypto.envelope"), pytest.raises(DecryptionFailed):
        stale.decrypt(CTX, blob)
    assert "wrapped under KEK version 2, which this process does not hold" in caplog.text
    caplog.clear()
    with caplog.at_level("ERROR", logger="gateway.crypto.envelope"):
        assert rotated.decrypt(CTX, blob) == b"vector"
    assert caplog.text == ""
