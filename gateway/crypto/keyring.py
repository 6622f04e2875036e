"""The key-encryption keyring: versioned AES-256 keys, one of them active.

Rotation adds a key and makes it active (new data keys are wrapped under it); older keys stay so that
data keys wrapped under them still open, until ``Envelope.rewrap_all`` has moved every data key to the
active one. Then the old versions can be retired. Same idea as ``MultiFernet``: an
ordered ring, the newest one writes.

JSON form (the ``kek.json`` file, or an environment secret)::

    {"version": 1, "active": 2, "keys": {"1": "<base64 of 32 bytes>", "2": "<base64 of 32 bytes>"}}
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.crypto.secrets import SecretBytes
from gateway.errors import DecryptionFailed

KEY_BYTES = 32
_CANONICAL_VERSION = re.compile(r"[1-9][0-9]{0,9}", re.ASCII)
KEYRING_FORMAT = 1
MAX_VERSION = 2**32 - 1


@dataclass(frozen=True, repr=False)
class Keyring:
    """An immutable set of KEK versions; ``active`` names the one that wraps new data keys."""

    active: int
    keys: Mapping[int, SecretBytes]

    def __post_init__(self) -> None:
        frozen = MappingProxyType(dict(self.keys))
        if not frozen:
            raise ValueError("a keyring needs at least one key")
        for version, key in frozen.items():
            if not isinstance(version, int) or not 1 <= version <= MAX_VERSION:
                raise ValueError(f"key version {version!r} is not an integer in 1..{MAX_VERSION}")
            if not isinstance(key, SecretBytes) or len(key.get_secret()) != KEY_BYTES:
                raise ValueError(f"key version {version} is not {KEY_BYTES} bytes")
        if isinstance(self.active, bool) or self.active not in frozen:
            raise ValueError(f"active version {self.active} is not in the keyring")
        object.__setattr__(self, "keys", frozen)

    @classmethod
    def generate(cls, rng: Callable[[int], bytes] = os.urandom) -> Keyring:
        """A new keyring holding one random key, version 1."""
        return cls(active=1, keys={1: SecretBytes(rng(KEY_BYTES))})

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(self.keys))

    @property
    def active_key(self) -> SecretBytes:
        return self.keys[self.active]

    def key(self, version: int) -> SecretBytes | None:
        """The key of ``version``, or None if it was never added or has been retired."""
        return self.keys.get(version)

    def wrap(self, nonce: bytes, key: SecretBytes, aad: bytes) -> bytes:
        """The file KEK provider's wrap (``kek.KekProvider``): AES-256-GCM under the active key."""
        return AESGCM(self.active_key.get_secret()).encrypt(nonce, key.get_secret(), aad)

    def unwrap(self, version: int, nonce: bytes, sealed: bytes, aad: bytes) -> SecretBytes:
        kek = self.key(version)
        if kek is None:
            raise DecryptionFailed()
        try:
            return SecretBytes(AESGCM(kek.get_secret()).decrypt(nonce, sealed, aad))
        except Exception:
            raise DecryptionFailed() from None

    def with_new_key(self, rng: Callable[[int], bytes] = os.urandom) -> Keyring:
        """A copy with one more random key, which becomes active."""
        version = max(self.keys) + 1
        return Keyring(active=version, keys={**self.keys, version: SecretBytes(rng(KEY_BYTES))})

    def without(self, version: int) -> Keyring:
        """A copy without ``version``; the active key cannot be retired."""
        if version == self.active:
            raise ValueError("the active key-encryption key cannot be retired")
        if version not in self.keys:
            raise ValueError(f"key version {version} is not in the keyring")
        return Keyring(active=self.active, keys={v: k for v, k in self.keys.items() if v != version})

    def to_json(self) -> str:
        keys = {
            str(v): base64.b64encode(k.get_secret()).decode("ascii") for v, k in sorted(self.keys.items())
        }
        return json.dumps({"version": KEYRING_FORMAT, "active": self.active, "keys": keys}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Keyring:
        """Parse the JSON form; raises ValueError naming the field (never echoing key bytes) when it is malformed.

        Strict on purpose: a version spelled twice (``"01"`` beside ``"1"``, or one name repeated) was read as one
        key, the last one winning, and ``"active": true`` as version 1 (a bool is an int in Python).
        """
        try:
            doc: Any = json.loads(text, object_pairs_hook=_refuse_duplicate_names)
        except _DuplicateName as exc:
            raise ValueError(str(exc)) from None
        except (ValueError, UnicodeDecodeError):
            raise ValueError("not valid JSON") from None
        if not isinstance(doc, dict) or not _is_int(doc.get("version")) or doc["version"] != KEYRING_FORMAT:
            raise ValueError(f'field "version": expected an object with "version": {KEYRING_FORMAT}')
        active, raw_keys = doc.get("active"), doc.get("keys")
        if not isinstance(active, int) or isinstance(active, bool):
            raise ValueError('field "active": expected an integer version (not a boolean, string or number)')
        if not isinstance(raw_keys, dict):
            raise ValueError('field "keys": expected an object')
        keys: dict[int, SecretBytes] = {}
        for name, encoded in raw_keys.items():
            if not _CANONICAL_VERSION.fullmatch(name) or not isinstance(encoded, str):
                raise ValueError(
                    'field "keys": must map versions in plain decimal without leading zeros ("1", "2", ...) '
                    f"to base64 strings; found {_shown(name)}"
                )
            version = int(name)
            try:
                keys[version] = SecretBytes(base64.b64decode(encoded, validate=True))
            except binascii.Error:
                raise ValueError(f'field "keys": version {version} is not valid base64') from None
        return cls(active=active, keys=keys)

    def __repr__(self) -> str:
        return f"Keyring(active={self.active}, versions={self.versions})"


class _DuplicateName(ValueError):
    pass


def _refuse_duplicate_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise _DuplicateName(f"a field is given twice ({', '.join(map(_shown, repeated))}); each may appear once")
    return dict(pairs)


def _shown(name: str) -> str:
    """A field name fit for an error message: short digits or letters as they are, anything else by its length."""
    if re.fullmatch(r"[0-9A-Za-z_]{1,16}", name, re.ASCII):
        return f'"{name}"'
    return f"a name of {len(name)} characters"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
