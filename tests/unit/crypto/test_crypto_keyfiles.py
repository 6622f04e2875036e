"""Key files: created 0600 and atomically, never overwritten, refused at load when unsafe or malformed."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from gateway.crypto import add_kek_version, init_keys, load_keys, remove_kek_version
from gateway.crypto.keyfiles import AUDIT_PRIVATE_FILE, AUDIT_PUBLIC_FILE, HMAC_FILE, KEK_FILE, KEY_FILES
from gateway.errors import ConfigurationError
from tests.unit.crypto.crypto_fakes import CountingRng


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "keys"
    init_keys(directory)
    return directory


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_when_initialized_then_every_file_is_0600_in_a_0700_dir(tmp_path: Path) -> None:
    directory = tmp_path / "nested" / "keys"
    created = init_keys(directory)

    assert sorted(p.name for p in created) == sorted(KEY_FILES)
    assert mode(directory) == 0o700
    assert all(mode(directory / name) == 0o600 for name in KEY_FILES)
    assert sorted(p.name for p in directory.iterdir()) == sorted(KEY_FILES)  # no temporary file left


def test_when_initialized_twice_then_nothing_is_overwritten(keys_dir: Path) -> None:
    before = {name: (keys_dir / name).read_bytes() for name in KEY_FILES}

    assert init_keys(keys_dir) == []
    assert {name: (keys_dir / name).read_bytes() for name in KEY_FILES} == before


def test_when_one_file_is_missing_then_init_creates_only_it(keys_dir: Path) -> None:
    (keys_dir / AUDIT_PUBLIC_FILE).unlink()
    assert init_keys(keys_dir) == [keys_dir / AUDIT_PUBLIC_FILE]
    load_keys(keys_dir)


def test_when_public_key_exists_without_private_key_then_init_refuses(keys_dir: Path) -> None:
    (keys_dir / AUDIT_PRIVATE_FILE).unlink()
    with pytest.raises(ConfigurationError, match="without its private key"):
        init_keys(keys_dir)


def test_when_loaded_then_keys_are_usable(tmp_path: Path) -> None:
    init_keys(tmp_path / "k", rng=CountingRng())
    material = load_keys(tmp_path / "k")

    assert material.kek.versions == (1,)
    assert len(material.hmac_root.get_secret()) == 32
    signature = material.audit_private_key.sign(b"checkpoint")
    material.audit_public_key.verify(signature, b"checkpoint")
    assert len(material.input_digest("acme", "text")) == 64
    assert material.tenant_secret("acme", "noise") != material.tenant_secret("acme", "pseudonym")


@pytest.mark.parametrize("name", KEY_FILES)
def test_when_a_file_is_missing_then_load_says_to_run_init(keys_dir: Path, name: str) -> None:
    (keys_dir / name).unlink()
    with pytest.raises(ConfigurationError, match="gateway keys init"):
        load_keys(keys_dir)


@pytest.mark.parametrize("name", KEY_FILES)
@pytest.mark.parametrize("unsafe_mode", [0o644, 0o640, 0o602])
def test_when_a_file_is_open_to_group_or_others_then_load_refuses(
    keys_dir: Path, name: str, unsafe_mode: int
) -> None:
    os.chmod(keys_dir / name, unsafe_mode)
    with pytest.raises(ConfigurationError, match=f"chmod 600 .*{name}"):
        load_keys(keys_dir)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (KEK_FILE, b"{not json", "malformed"),
        (KEK_FILE, b'{"version": 1, "active": 2, "keys": {"1": "AAAA"}}', "malformed"),
        (HMAC_FILE, b"not base64!!\n", "base64"),
        (HMAC_FILE, base64.b64encode(b"short") + b"\n", "32 bytes"),
        (AUDIT_PRIVATE_FILE, b"-----BEGIN PRIVATE KEY-----\nxx\n", "PKCS#8"),
        (AUDIT_PUBLIC_FILE, b"garbage", "PEM public key"),
    ],
)
def test_when_a_file_is_malformed_then_load_refuses(
    keys_dir: Path, name: str, content: bytes, message: str
) -> None:
    (keys_dir / name).write_bytes(content)
    with pytest.raises(ConfigurationError, match=message):
        load_keys(keys_dir)


def test_when_public_key_does_not_match_then_load_refuses(keys_dir: Path, tmp_path: Path) -> None:
    init_keys(tmp_path / "other")
    (keys_dir / AUDIT_PUBLIC_FILE).write_bytes((tmp_path / "other" / AUDIT_PUBLIC_FILE).read_bytes())
    with pytest.raises(ConfigurationError, match="does not match"):
        load_keys(keys_dir)


def test_when_kek_version_is_added_then_it_is_active_and_old_ones_stay(keys_dir: Path) -> None:
    first = load_keys(keys_dir).kek

    assert add_kek_version(keys_dir) == 2
    ring = load_keys(keys_dir).kek
    assert (ring.active, ring.versions, ring.key(1)) == (2, (1, 2), first.key(1))
    assert mode(keys_dir / KEK_FILE) == 0o600
    assert sorted(p.name for p in keys_dir.iterdir()) == sorted(KEY_FILES)


def test_when_kek_version_is_removed_then_only_inactive_ones_can_go(keys_dir: Path) -> None:
    add_kek_version(keys_dir)
    with pytest.raises(ConfigurationError, match="active"):
        remove_kek_version(keys_dir, 2)

    remove_kek_version(keys_dir, 1)
    assert load_keys(keys_dir).kek.versions == (2,)


def test_when_key_material_is_printed_then_no_secret_shows(keys_dir: Path) -> None:
    material = load_keys(keys_dir)
    text = repr(material) + str(material) + repr(material.kek)
    hmac_file = (keys_dir / HMAC_FILE).read_text().strip()
    kek_b64 = base64.b64encode(material.kek.active_key.get_secret()).decode()

    assert hmac_file not in text and kek_b64 not in text
    assert material.hmac_root.get_secret().hex() not in text
    assert "PRIVATE" not in text


def test_when_a_key_file_belongs_to_another_user_then_load_says_so_in_one_line(
    keys_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # operator16: compose mounts ./keys with the host's owner; the container's uid got a PermissionError traceback.
    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(ConfigurationError, match=f"cannot be read by this process \\(uid {os.getuid()}\\)"):
        load_keys(keys_dir)


@pytest.mark.parametrize(
    ("keys_json", "field"),
    [
        ('{"01": "%(a)s", "1": "%(b)s"}', '"keys"'),  # regression ledger19: read as one version, last one winning
        ('{"1": "%(a)s", "1": "%(b)s"}', '"1"'),
        ('{"1": "%(a)s", "\\u0661": "%(b)s"}', '"keys"'),  # an Arabic-Indic digit one, int() reads it as 1
    ],
)
def test_when_kek_json_spells_a_version_twice_then_load_names_the_file_and_field(
    keys_dir: Path, keys_json: str, field: str
) -> None:
    first, second = base64.b64encode(b"\x11" * 32).decode(), base64.b64encode(b"\x22" * 32).decode()
    path = keys_dir / KEK_FILE
    path.write_text('{"version": 1, "active": 1, "keys": ' + keys_json % {"a": first, "b": second} + "}")
    with pytest.raises(ConfigurationError) as caught:
        load_keys(keys_dir)
    message = str(caught.value)
    assert str(path) in message and field in message
    assert first not in message and second not in message


@pytest.mark.parametrize("field", ["active", "version"])
def test_when_kek_json_gives_true_for_a_number_then_load_names_the_file_and_field(keys_dir: Path, field: str) -> None:
    # regression ledger19: "active": true was read as version 1 (a JSON true is a Python int)
    key = base64.b64encode(b"\x11" * 32).decode()
    doc = {"version": 1, "active": 1, "keys": {"1": key}} | {field: True}
    path = keys_dir / KEK_FILE
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigurationError) as caught:
        load_keys(keys_dir)
    assert str(path) in str(caught.value) and f'"{field}"' in str(caught.value)
    assert key not in str(caught.value)
