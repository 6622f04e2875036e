"""Key files under the keys directory: created once, 0600, atomically; refused at load when unsafe.

    kek.json            key-encryption keyring (see ``keyring.py``); absent when the KEK is in an HSM (``kek.py``)
    audit_ed25519.key   Ed25519 private key that signs audit checkpoints, PKCS#8 PEM, no passphrase
    audit_ed25519.pub   its public key, SubjectPublicKeyInfo PEM (what auditors verify with)
    hmac.key            32 random bytes, base64: root of input digests and per-tenant derivations

Every file is written to a temporary name opened with O_EXCL and mode 0600, fsynced, then moved into
place, so a crash never leaves a half-written key and no other user can open it in between.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from gateway.crypto import derive
from gateway.crypto.kek import FILE_KEK, KekOptions, KekProvider, open_kek
from gateway.crypto.keyring import KEY_BYTES, Keyring
from gateway.crypto.secrets import SecretBytes
from gateway.errors import ConfigurationError

KEK_FILE = "kek.json"
AUDIT_PRIVATE_FILE = "audit_ed25519.key"
AUDIT_PUBLIC_FILE = "audit_ed25519.pub"
HMAC_FILE = "hmac.key"
KEY_FILES = (KEK_FILE, AUDIT_PRIVATE_FILE, AUDIT_PUBLIC_FILE, HMAC_FILE)
HOST_KEY_FILES = (AUDIT_PRIVATE_FILE, AUDIT_PUBLIC_FILE, HMAC_FILE)
_INIT_HINT = "run `gateway keys init`"


@dataclass(frozen=True)
class KeyMaterial:
    """Everything loaded from the keys directory. Its repr shows no secret."""

    kek: KekProvider
    audit_private_key: Ed25519PrivateKey = field(repr=False)
    audit_public_key: Ed25519PublicKey = field(repr=False)
    hmac_root: SecretBytes

    def tenant_secret(self, tenant: str, purpose: str) -> bytes:
        """See ``derive.tenant_secret``."""
        return derive.tenant_secret(self.hmac_root, tenant, purpose)

    def input_digest(self, tenant: str, text: str) -> str:
        """See ``derive.input_digest``."""
        return derive.input_digest(self.hmac_root, tenant, text)


def key_files(kek: KekOptions = FILE_KEK) -> tuple[str, ...]:
    """The files the keys directory must hold: ``kek.json`` only when the KEK is a file."""
    return KEY_FILES if kek.in_file else HOST_KEY_FILES


def init_keys(
    keys_dir: Path, rng: Callable[[int], bytes] = os.urandom, kek: KekOptions = FILE_KEK
) -> list[Path]:
    """Create the key files that are missing; never overwrite one. Returns the paths created.

    ``kek.json`` is among them only for the file KEK; an HSM's KEK is made in its token by ``kek.init_kek``."""
    if not keys_dir.exists():
        keys_dir.mkdir(parents=True, mode=0o700)
        os.chmod(keys_dir, 0o700)  # mkdir's mode is filtered by the umask
    created: list[Path] = []
    made_kek = init_keyring_file(keys_dir, rng) if kek.in_file else None
    if made_kek is not None:
        created.append(made_kek)
    hmac_path = keys_dir / HMAC_FILE
    if not hmac_path.exists():
        _write_new(hmac_path, base64.b64encode(rng(KEY_BYTES)) + b"\n")
        created.append(hmac_path)
    private, public = keys_dir / AUDIT_PRIVATE_FILE, keys_dir / AUDIT_PUBLIC_FILE
    if not private.exists():
        if public.exists():
            raise ConfigurationError(
                f"{public} exists without its private key {private.name}; move it away and {_INIT_HINT}"
            )
        signing_key = Ed25519PrivateKey.from_private_bytes(rng(32))
        pem = signing_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write_new(private, pem)
        created.append(private)
    if not public.exists():
        signing_key = _load_private(private)
        pem = signing_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _write_new(public, pem)
        created.append(public)
    return created


def init_keyring_file(keys_dir: Path, rng: Callable[[int], bytes] = os.urandom) -> Path | None:
    """Create ``kek.json`` if it is missing; returns its path when it did."""
    kek = keys_dir / KEK_FILE
    if kek.exists():
        return None
    _write_new(kek, Keyring.generate(rng).to_json().encode("ascii"))
    return kek


def load_keyring(keys_dir: Path) -> Keyring:
    """The file KEK provider: the keyring in ``kek.json``."""
    return _load_keyring(keys_dir / KEK_FILE)


def load_keys(keys_dir: Path, kek: KekOptions = FILE_KEK) -> KeyMaterial:
    """Load and check every key (files, and the KEK wherever ``kek`` says); any problem is a ConfigurationError
    that says how to fix it."""
    private = _load_private(keys_dir / AUDIT_PRIVATE_FILE)
    public_path = keys_dir / AUDIT_PUBLIC_FILE
    try:
        public = serialization.load_pem_public_key(_read_key_file(public_path))
    except ValueError:
        raise ConfigurationError(f"{public_path} is not a PEM public key") from None
    if not isinstance(public, Ed25519PublicKey):
        raise ConfigurationError(f"{public_path} is not an Ed25519 public key")
    if public != private.public_key():
        raise ConfigurationError(f"{public_path} does not match {AUDIT_PRIVATE_FILE}")
    return KeyMaterial(
        kek=open_kek(keys_dir, kek),
        audit_private_key=private,
        audit_public_key=public,
        hmac_root=_load_hmac_root(keys_dir / HMAC_FILE),
    )


def add_kek_version(keys_dir: Path, rng: Callable[[int], bytes] = os.urandom) -> int:
    """Add a random KEK version to ``kek.json`` and make it active (older ones are kept). Returns it."""
    path = keys_dir / KEK_FILE
    ring = _load_keyring(path).with_new_key(rng)
    _write_replace(path, ring.to_json().encode("ascii"))
    return ring.active


def remove_kek_version(keys_dir: Path, version: int) -> None:
    """Retire a KEK version: safe once no data key is wrapped under it (``Envelope.kek_versions_in_use``)."""
    path = keys_dir / KEK_FILE
    try:
        ring = _load_keyring(path).without(version)
    except ValueError as exc:
        raise ConfigurationError(f"{path}: {exc}") from None
    _write_replace(path, ring.to_json().encode("ascii"))


def _read_key_file(path: Path) -> bytes:
    """Read a key file after checking that it exists and that only its owner may read or write it."""
    return read_secret_file(path, "key file", f"; {_INIT_HINT}")


def read_secret_file(path: Path, what: str, hint: str = "") -> bytes:
    """Read a secret file (key, PIN) that must exist, be regular, and be readable by its owner only."""
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise ConfigurationError(f"{what} {path} is not a regular file")
        if mode & 0o077:
            raise ConfigurationError(
                f"{what} {path} is accessible by group or others (mode {stat.S_IMODE(mode):04o}); "
                f"run `chmod 600 {path}`"
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(f"{what} {path} is missing{hint}") from None
    except PermissionError:  # e.g. a mounted secret owned by another user: the container's uid cannot open it
        raise ConfigurationError(
            f"{what} {path} cannot be read by this process (uid {os.getuid()}); it must belong to the user the "
            "gateway runs as, mode 0600 (or 0400)"
        ) from None


def _load_keyring(path: Path) -> Keyring:
    try:
        return Keyring.from_json(_read_key_file(path))
    except ValueError as exc:
        raise ConfigurationError(f"{path} is malformed: {exc}") from None


def _load_hmac_root(path: Path) -> SecretBytes:
    try:
        root = base64.b64decode(_read_key_file(path).strip(), validate=True)
    except binascii.Error:
        raise ConfigurationError(f"{path} is not valid base64") from None
    if len(root) != KEY_BYTES:
        raise ConfigurationError(f"{path} must hold {KEY_BYTES} bytes (base64), found {len(root)}")
    return SecretBytes(root)


def _load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(_read_key_file(path), password=None)
    except (ValueError, TypeError):
        raise ConfigurationError(f"{path} is not an unencrypted PKCS#8 PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"{path} is not an Ed25519 private key")
    return key


HMAC_CHECK_FILE = "hmac_root.check"  # in the data directory, beside what the root's derivations were written into
_HMAC_CHECK_LABEL = b"governed-embedding-gateway/hmac-root-check/v1"


def check_hmac_root(keys: KeyMaterial, data_dir: Path) -> None:
    """Refuse an ``hmac.key`` other than the one this data directory was first served with.

    Every digest, noise draw, pseudonym and keyed rotation derives from that root, so another one (a key file
    swapped or restored from another installation) served in silence: searches answered with scores near 0 in
    arbitrary order, pseudonyms and audit digests changed. The first start records a check value (an HMAC of a
    constant: it reveals nothing of the key), mode 0600.
    """
    value = hmac.new(keys.hmac_root.get_secret(), _HMAC_CHECK_LABEL, hashlib.sha256).hexdigest()
    path = data_dir / HMAC_CHECK_FILE
    try:
        recorded = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        _write_new(path, value.encode() + b"\n")
        return
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path} cannot be read ({type(exc).__name__})") from None
    if not hmac.compare_digest(recorded, value):
        raise ConfigurationError(
            f"{HMAC_FILE} is not the HMAC root the data in {data_dir} was written with ({path} differs): restore the "
            f"original {HMAC_FILE}. Replacing it is a re-embedding migration (docs/encryption.md); only then remove "
            f"{path}"
        )


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data``; fails if it appeared meanwhile (never overwrites a key)."""
    tmp = _write_temp(path, data)
    try:
        os.link(tmp, path)  # unlike rename, link refuses an existing target
    finally:
        os.unlink(tmp)
    _fsync_dir(path.parent)


def _write_replace(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``."""
    tmp = _write_temp(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _write_temp(path: Path, data: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask can only remove bits; make the mode exact
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    return tmp


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable: the directory entry lives in the directory's own data."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
