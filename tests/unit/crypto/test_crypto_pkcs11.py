"""The KEK in a real PKCS#11 token (SoftHSM2): non-extractable, wraps inside the token, rotates, refuses clearly."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from pkcs11 import Attribute, KeyType, ObjectClass

from gateway.crypto import Envelope, InMemoryDataKeyRepository, RecordContext
from gateway.crypto.kek import KekOptions, init_kek, open_kek
from gateway.crypto.keyfiles import KEK_FILE, init_keys, load_keys
from gateway.crypto.pkcs11_kek import Pkcs11Kek
from gateway.errors import ConfigurationError, DecryptionFailed
from tests.softhsm import MODULE, PIN, SESSION_TOKEN, SoftHsm
from tests.unit.crypto.crypto_fakes import CountingRng, FakeClock
from tests.unit.crypto.test_crypto_envelope import KNOWN_RECORD, KNOWN_WRAPPED_KEY

CTX = RecordContext("acme", "docs", "doc-1#0", "1.0")
_prefixes = itertools.count()


@pytest.fixture
def options(softhsm: SoftHsm, tmp_path: Path) -> KekOptions:
    return softhsm.options(softhsm.pin_file(tmp_path))


@pytest.fixture
def prefix() -> str:
    """Every test gets its own key labels in the session's token."""
    return f"test{next(_prefixes)}-kek-v"


def _open(options: KekOptions, prefix: str, *, writable: bool = False) -> Pkcs11Kek:
    return Pkcs11Kek.open(options, label_prefix=prefix, writable=writable)


def test_when_initialized_then_token_holds_one_non_extractable_aes256_key(options: KekOptions, prefix: str) -> None:
    assert Pkcs11Kek.init(options, label_prefix=prefix) is not None
    assert Pkcs11Kek.init(options, label_prefix=prefix) is None  # never a second version 1
    kek = _open(options, prefix)
    try:
        assert kek.versions == (1,)
        key = kek._keys[1]
        assert (key[Attribute.EXTRACTABLE], key[Attribute.SENSITIVE], key[Attribute.VALUE_LEN]) == (False, True, 32)
        with pytest.raises(Exception):  # noqa: B017 - the token itself must refuse to reveal the value
            key[Attribute.VALUE]
    finally:
        kek.close()


def test_when_token_has_no_kek_then_open_says_run_keys_init(options: KekOptions, prefix: str) -> None:
    with pytest.raises(ConfigurationError, match="gateway keys init"):
        _open(options, prefix)


def test_when_sealed_under_token_then_reopened_token_opens_it(options: KekOptions, prefix: str) -> None:
    Pkcs11Kek.init(options, label_prefix=prefix)
    repo = InMemoryDataKeyRepository()
    first = _open(options, prefix)
    blob = Envelope(first, repo).encrypt(CTX, b"kept across a restart")
    first.close()
    second = _open(options, prefix)
    try:
        assert Envelope(second, repo).decrypt(CTX, blob) == b"kept across a restart"
        stored = repo.get("acme", 1)
        assert stored is not None and stored.kek_version == 1
    finally:
        second.close()


def test_when_token_holds_the_known_kek_then_it_wraps_exactly_like_the_file_kek(
    options: KekOptions, prefix: str
) -> None:
    """Same format whichever provider wraps: the token's AES-GCM gives the file KEK's known answer."""
    kek = _open_with_imported_key(options, prefix, bytes(range(32)))
    try:
        repo = InMemoryDataKeyRepository()
        assert Envelope(kek, repo, rng=CountingRng(), clock=FakeClock()).encrypt(CTX, b"hello, envelope") == \
            KNOWN_RECORD
        stored = repo.get("acme", 1)
        assert stored is not None and stored.wrapped == KNOWN_WRAPPED_KEY
    finally:
        kek.close()


def test_when_wrapped_key_is_tampered_or_moved_then_token_unwrap_fails(options: KekOptions, prefix: str) -> None:
    Pkcs11Kek.init(options, label_prefix=prefix)
    kek = _open(options, prefix)
    try:
        nonce = bytes(12)
        from gateway.crypto import SecretBytes

        sealed = kek.wrap(nonce, SecretBytes(bytes(32)), b"aad")
        assert kek.unwrap(1, nonce, sealed, b"aad").get_secret() == bytes(32)
        with pytest.raises(DecryptionFailed):
            kek.unwrap(1, nonce, sealed, b"other tenant")
        with pytest.raises(DecryptionFailed):
            kek.unwrap(1, nonce, bytes([sealed[0] ^ 1]) + sealed[1:], b"aad")
        with pytest.raises(DecryptionFailed):
            kek.unwrap(2, nonce, sealed, b"aad")
    finally:
        kek.close()


def test_when_rotated_in_token_then_new_version_wraps_and_rewrap_keeps_data_readable(
    options: KekOptions, prefix: str
) -> None:
    Pkcs11Kek.init(options, label_prefix=prefix)
    repo = InMemoryDataKeyRepository()
    before = _open(options, prefix, writable=True)
    blob = Envelope(before, repo).encrypt(CTX, b"before rotation")
    assert before.add_version() == 2
    before.close()
    after = _open(options, prefix, writable=True)
    try:
        envelope = Envelope(after, repo)
        assert after.active == 2
        assert envelope.rewrap_all() == 1
        assert envelope.kek_versions_in_use() == {2}
        after.remove_version(1)
        assert after.versions == (2,)
        assert envelope.decrypt(CTX, blob) == b"before rotation"
        with pytest.raises(ConfigurationError, match="active"):
            after.remove_version(2)
    finally:
        after.close()
    assert _open(options, prefix).versions == (2,)  # the retired version is gone from the token


def test_when_pin_is_wrong_then_open_refuses_without_echoing_it(softhsm: SoftHsm, tmp_path: Path) -> None:
    options = softhsm.options(softhsm.pin_file(tmp_path, "not-the-pin"))
    with pytest.raises(ConfigurationError, match=r"PIN .* is wrong") as caught:
        open_kek(tmp_path, options)
    assert "not-the-pin" not in str(caught.value) and PIN not in str(caught.value)


def test_when_token_is_missing_then_open_names_the_label(softhsm: SoftHsm, tmp_path: Path) -> None:
    options = softhsm.options(softhsm.pin_file(tmp_path), token="no-such-token")
    with pytest.raises(ConfigurationError, match="no token labelled 'no-such-token'"):
        open_kek(tmp_path, options)


def test_when_module_is_missing_then_open_names_the_setting(tmp_path: Path) -> None:
    options = KekOptions("pkcs11", str(tmp_path / "nope.so"), SESSION_TOKEN, str(tmp_path / "pin"))
    with pytest.raises(ConfigurationError, match="pkcs11_module"):
        open_kek(tmp_path, options)


def test_when_pin_file_is_readable_by_others_then_it_is_refused(softhsm: SoftHsm, tmp_path: Path) -> None:
    pin_file = softhsm.pin_file(tmp_path)
    pin_file.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        open_kek(tmp_path, softhsm.options(pin_file))


def test_when_token_key_is_extractable_then_it_is_refused(options: KekOptions, prefix: str) -> None:
    session = _session(options)
    try:
        session.generate_key(KeyType.AES, 256, id=(1).to_bytes(4, "big"), label=f"{prefix}1", store=True,
                             template={Attribute.EXTRACTABLE: True, Attribute.SENSITIVE: False})
    finally:
        session.close()
    with pytest.raises(ConfigurationError, match="extractable"):
        _open(options, prefix)


def test_when_keys_are_initialized_with_pkcs11_then_no_kek_file_is_written(
    options: KekOptions, tmp_path: Path
) -> None:
    keys_dir = tmp_path / "keys"
    created = init_keys(keys_dir, kek=options)
    init_kek(keys_dir, options)  # the default labels: this token's one gateway KEK
    assert KEK_FILE not in {p.name for p in created}
    assert not (keys_dir / KEK_FILE).exists()
    material = load_keys(keys_dir, options)
    assert material.kek.active >= 1


def test_when_provider_is_unknown_or_incomplete_then_options_refuse() -> None:
    with pytest.raises(ConfigurationError, match="kek_provider"):
        KekOptions("kms")
    with pytest.raises(ConfigurationError, match="pkcs11_pin_file"):
        KekOptions("pkcs11", str(MODULE), SESSION_TOKEN, "")


def _session(options: KekOptions):  # type: ignore[no-untyped-def]
    from gateway.crypto.pkcs11_kek import _login

    return _login(options, rw=True)


def _open_with_imported_key(options: KekOptions, prefix: str, value: bytes) -> Pkcs11Kek:
    """A known key value imported into the token (as an HSM's key ceremony might), then made non-extractable."""
    session = _session(options)
    try:
        session.create_object({
            Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES, Attribute.VALUE: value,
            Attribute.LABEL: f"{prefix}1", Attribute.ID: (1).to_bytes(4, "big"), Attribute.TOKEN: True,
            Attribute.PRIVATE: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
            Attribute.ENCRYPT: True, Attribute.DECRYPT: True,
        })
    finally:
        session.close()
    return _open(options, prefix)


def test_when_a_second_provider_opens_while_the_first_is_logged_in_then_both_work(
    softhsm: SoftHsm, options: KekOptions, prefix: str, tmp_path: Path
) -> None:
    """PKCS#11 login is per process: the second session joins it with the same PIN, and a wrong one is refused."""
    Pkcs11Kek.init(options, label_prefix=prefix)
    first, second = _open(options, prefix), _open(options, prefix)
    try:
        from gateway.crypto import SecretBytes

        sealed = first.wrap(bytes(12), SecretBytes(bytes(32)), b"aad")
        assert second.unwrap(1, bytes(12), sealed, b"aad").get_secret() == bytes(32)
        (tmp_path / "wrong").mkdir()
        wrong = softhsm.options(softhsm.pin_file(tmp_path / "wrong", "wrong-pin"))
        with pytest.raises(ConfigurationError, match="is wrong"):
            _open(wrong, prefix)
    finally:
        first.close()
        second.close()


def test_when_the_token_kek_is_not_the_one_the_data_keys_were_wrapped_under_then_check_kek_refuses(
    options: KekOptions, prefix: str
) -> None:
    """Another token (or a new key under the same label) opens none of the stored data keys: refused at start."""
    from gateway.crypto import Keyring

    repo = InMemoryDataKeyRepository()
    Envelope(Keyring.generate(), repo).encrypt(CTX, b"written under the file KEK")
    Pkcs11Kek.init(options, label_prefix=prefix)
    kek = _open(options, prefix)
    try:
        with pytest.raises(ConfigurationError, match="does not open the data keys stored under KEK version 1"):
            Envelope(kek, repo).check_kek()
        fresh = InMemoryDataKeyRepository()
        Envelope(kek, fresh).encrypt(CTX, b"written under the token")
        Envelope(kek, fresh).check_kek()  # the right KEK passes
    finally:
        kek.close()
