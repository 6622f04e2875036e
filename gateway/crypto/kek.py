"""The key-encryption key provider: the interface the envelope wraps data keys through, and how to open one.

Two implementations:

- ``file`` (the embedded default): the ``Keyring`` in ``keys/kek.json``; the KEK bytes live in this process.
- ``pkcs11``: ``Pkcs11Kek``, AES-256 keys inside an HSM token (tested with SoftHSM2); the KEK never leaves the
  token, which wraps and unwraps each data key with AES-GCM itself.

Both seal a data key as AES-256-GCM(KEK version, nonce, associated data), so a wrapped key has the same format
whichever provider made it (``envelope.py``), and the envelope never sees which one it talks to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gateway.crypto.secrets import SecretBytes
from gateway.errors import ConfigurationError

PROVIDERS = ("file", "pkcs11")


class KekProvider(Protocol):
    """Versioned key-encryption keys, one of them active. ``unwrap`` raises ``DecryptionFailed`` on any failure."""

    @property
    def active(self) -> int: ...

    @property
    def versions(self) -> tuple[int, ...]: ...

    def wrap(self, nonce: bytes, key: SecretBytes, aad: bytes) -> bytes:
        """AES-256-GCM of ``key`` under the active version: ciphertext and 16-byte tag."""
        ...

    def unwrap(self, version: int, nonce: bytes, sealed: bytes, aad: bytes) -> SecretBytes: ...


@dataclass(frozen=True)
class KekOptions:
    """Which provider holds the KEK, and where (from the settings ``kek_provider`` and ``pkcs11_*``)."""

    provider: str = "file"
    pkcs11_module: str = ""
    pkcs11_token_label: str = ""
    pkcs11_pin_file: str = ""

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise ConfigurationError(f"setting kek_provider: must be one of {', '.join(PROVIDERS)}")
        if self.provider == "pkcs11":
            missing = [name for name, value in (
                ("pkcs11_module", self.pkcs11_module), ("pkcs11_token_label", self.pkcs11_token_label),
                ("pkcs11_pin_file", self.pkcs11_pin_file)) if not value]
            if missing:
                raise ConfigurationError(f"kek_provider = pkcs11 needs the settings {', '.join(missing)}")

    @property
    def in_file(self) -> bool:
        return self.provider == "file"


FILE_KEK = KekOptions()


def open_kek(keys_dir: Path, options: KekOptions) -> KekProvider:
    """The KEK provider the options name; ConfigurationError (never a traceback) if it cannot be opened."""
    if options.in_file:
        from gateway.crypto.keyfiles import load_keyring

        return load_keyring(keys_dir)
    from gateway.crypto.pkcs11_kek import Pkcs11Kek

    return Pkcs11Kek.open(options)


def init_kek(keys_dir: Path, options: KekOptions) -> str | None:
    """Create the KEK if missing; returns what was created (for the operator), or None."""
    if options.in_file:
        from gateway.crypto.keyfiles import init_keyring_file

        created = init_keyring_file(keys_dir)
        return None if created is None else str(created)
    from gateway.crypto.pkcs11_kek import Pkcs11Kek

    return Pkcs11Kek.init(options)


def new_kek_version(keys_dir: Path, options: KekOptions) -> int:
    """A new KEK version, made active (older ones kept, so data keys wrapped under them still open)."""
    if options.in_file:
        from gateway.crypto.keyfiles import add_kek_version

        return add_kek_version(keys_dir)
    from gateway.crypto.pkcs11_kek import Pkcs11Kek

    kek = Pkcs11Kek.open(options, writable=True)
    try:
        return kek.add_version()
    finally:
        kek.close()


def retire_kek_version(keys_dir: Path, options: KekOptions, version: int) -> None:
    """Retire a KEK version: safe once no data key is wrapped under it (``Envelope.kek_versions_in_use``)."""
    if options.in_file:
        from gateway.crypto.keyfiles import remove_kek_version

        remove_kek_version(keys_dir, version)
        return
    from gateway.crypto.pkcs11_kek import Pkcs11Kek

    kek = Pkcs11Kek.open(options, writable=True)
    try:
        kek.remove_version(version)
    finally:
        kek.close()
