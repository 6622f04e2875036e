"""Everything that touches key material: key files, derivations, envelope encryption.

The only gateway package that may import ``cryptography.hazmat`` (ruff TID251 bans it elsewhere). See
``docs/encryption.md`` for the formats and the operator procedures.
"""

from gateway.crypto.datakeys import (
    DataKeyRepository,
    InMemoryDataKeyRepository,
    WrappedKey,
)
from gateway.crypto.derive import PURPOSES, input_digest, tenant_secret
from gateway.crypto.envelope import INDEX_RECORD_ID, Envelope, RecordContext, key_version_of
from gateway.crypto.kek import KekOptions, KekProvider
from gateway.crypto.keyfiles import (
    KeyMaterial,
    add_kek_version,
    init_keys,
    load_keys,
    remove_kek_version,
)
from gateway.crypto.keyring import Keyring
from gateway.crypto.secrets import SecretBytes

__all__ = [
    "INDEX_RECORD_ID",
    "PURPOSES",
    "DataKeyRepository",
    "Envelope",
    "InMemoryDataKeyRepository",
    "KekOptions",
    "KekProvider",
    "KeyMaterial",
    "Keyring",
    "RecordContext",
    "SecretBytes",
    "WrappedKey",
    "add_kek_version",
    "init_keys",
    "input_digest",
    "key_version_of",
    "load_keys",
    "remove_kek_version",
    "tenant_secret",
]
