"""Envelope encryption of records: per-tenant data keys, wrapped by the key-encryption keyring.

Record ciphertext, format 1 (all integers big-endian)::

    b"GE" | 0x01 | data-key version (uint32) | nonce (12 random bytes) | AES-256-GCM ciphertext + 16-byte tag

The associated data is the 7-byte header followed by the length-prefixed kind ("record" or "snapshot"),
tenant, collection, record id and model version. So a ciphertext copied to another row, collection or tenant,
or relabelled with another model version or key version, fails to open, exactly like a flipped byte.

Record ciphertext, format 2 (``encrypt_chunked``, for large records: uploaded files): the same key and associated
data, sealed in chunks of 1 MiB, each with its own nonce, its index and a final-chunk flag bound in
(``chunked.py``). ``decrypt_chunks`` opens both formats, so records written in one piece stay readable.

Wrapped data key, format 1: nonce (12) | AES-256-GCM(KEK, data key) and tag (computed by the KEK provider,
``kek.py``: in this process for the file KEK, inside the token for an HSM), with associated data
0x01 | data-key version | KEK version | length-prefixed tenant: a wrapped key moved to another tenant's row,
or given another version number, does not unwrap.

Every failure to open becomes one opaque ``DecryptionFailed``, whatever the cause, like Fernet's InvalidToken:
the caller (and an attacker probing it) learns only that the record is unreadable.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.crypto import chunked
from gateway.crypto._cache import KeyCache
from gateway.crypto._encoding import length_prefixed
from gateway.crypto.datakeys import DataKeyRepository, WrappedKey
from gateway.crypto.kek import KekProvider
from gateway.crypto.keyring import KEY_BYTES, MAX_VERSION
from gateway.crypto.secrets import SecretBytes
from gateway.errors import ConfigurationError, DecryptionFailed

log = logging.getLogger(__name__)
MAGIC = b"GE"
FORMAT_VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
INDEX_RECORD_ID = "__index__"
_HEADER = struct.Struct(">2sBI")
_WRAP_HEADER = struct.Struct(">BII")
_RECORD, _SNAPSHOT = "record", "snapshot"
_DAMAGED = ("a stored record could not be decrypted: a chunk of it is altered, out of place, missing or cut off, or "
            "its key is gone")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RecordContext:
    """Where a ciphertext belongs; all four fields are bound into its associated data."""

    tenant: str
    collection: str
    record_id: str
    model_version: str

    def __post_init__(self) -> None:
        # A non-string field would otherwise surface only at decryption, as an opaque DecryptionFailed.
        if not all(
            isinstance(v, str) for v in (self.tenant, self.collection, self.record_id, self.model_version)
        ):
            raise TypeError("RecordContext fields must be strings")

    @classmethod
    def index(cls, tenant: str, collection: str, model_version: str) -> RecordContext:
        """The context of a collection's FAISS index snapshot."""
        return cls(tenant, collection, INDEX_RECORD_ID, model_version)


def key_version_of(blob: bytes) -> int:
    """The data-key version a ciphertext was written with (for provenance); DecryptionFailed if malformed."""
    try:
        magic, fmt, version = _HEADER.unpack_from(blob)
    except struct.error:
        raise DecryptionFailed() from None
    if magic != MAGIC or fmt != FORMAT_VERSION:
        raise DecryptionFailed()
    return int(version)


class Envelope:
    """Encrypts and decrypts records under per-tenant data keys; rotates, re-wraps and shreds those keys."""

    def __init__(
        self,
        kek: KekProvider,
        repo: DataKeyRepository,
        rng: Callable[[int], bytes] = os.urandom,
        clock: Callable[[], datetime] = _utcnow,
        *,
        cache_size: int = 1024,
        cache_ttl_s: float = 60.0,
    ) -> None:
        self._kek = kek
        self._repo = repo
        self._rng = rng
        self._clock = clock
        self._cache = KeyCache(cache_size, cache_ttl_s, clock)
        self._lock = threading.Lock()  # serializes key creation, rotation and shredding in this process

    def encrypt(self, ctx: RecordContext, plaintext: bytes) -> bytes:
        """Seal a record under the tenant's active data key (created on first use)."""
        return self._seal(ctx, _RECORD, plaintext)

    def ensure_key(self, tenant: str) -> int:
        """The tenant's active data-key version; the key is made if the tenant has none yet."""
        return self._active_key(tenant)[0]

    def encrypt_existing(self, ctx: RecordContext, plaintext: bytes) -> bytes:
        """Seal a record under the tenant's active data key only if it has one: ``DecryptionFailed`` for a tenant
        without (shredded). For what belongs to data sealed before (a job's answers): a shredded tenant's work in
        flight must not bring a new key into being."""
        return self._seal(ctx, _RECORD, plaintext, create=False)

    def decrypt(self, ctx: RecordContext, blob: bytes) -> bytes:
        """Open a record sealed for exactly ``ctx``; any failure is ``DecryptionFailed``."""
        return self._open(ctx, _RECORD, blob)

    def encrypt_chunked(self, ctx: RecordContext, plaintext: bytes, chunk_bytes: int = chunked.CHUNK_BYTES) -> bytes:
        """Seal a large record in chunks (format 2): no single call holds the interpreter for the whole record."""
        if not 0 < chunk_bytes <= chunked.MAX_CHUNK_BYTES:
            raise ValueError("chunk size out of range")
        version, key = self._active_key(ctx.tenant)
        header = chunked.HEADER.pack(MAGIC, chunked.CHUNKED_FORMAT, version, chunk_bytes)
        return chunked.seal(key.get_secret(), header, _aad(header, _RECORD, ctx), plaintext, chunk_bytes, self._rng)

    def encrypt_pieces(self, ctx: RecordContext, pieces: Iterable[bytes], chunk_bytes: int = chunked.CHUNK_BYTES,
                       *, create: bool = True) -> bytearray:
        """``encrypt_chunked`` of the pieces' concatenation (the same record), never joining them in memory: one
        buffer, filled as the chunks are sealed (what the file stores take, without a copy). ``create`` False: as
        ``encrypt_existing``, never a new data key."""
        if not 0 < chunk_bytes <= chunked.MAX_CHUNK_BYTES:
            raise ValueError("chunk size out of range")
        version, key = self._active_key(ctx.tenant, create=create)
        header = chunked.HEADER.pack(MAGIC, chunked.CHUNKED_FORMAT, version, chunk_bytes)
        return chunked.seal_pieces(key.get_secret(), header, _aad(header, _RECORD, ctx), pieces, chunk_bytes,
                                   self._rng)

    def decrypt_chunks(self, ctx: RecordContext, blob: bytes) -> Iterator[bytes]:
        """Open a record sealed for exactly ``ctx`` a chunk at a time, each verified before it is yielded; one in
        one piece (format 1) is yielded whole. A chunk altered, moved, dropped or cut off raises ``DecryptionFailed``
        when the reading reaches it: use what was yielded only once the iteration ended."""
        if blob[2:3] != bytes([chunked.CHUNKED_FORMAT]):
            yield self._open(ctx, _RECORD, blob)
            return
        try:
            magic, _, version, chunk_bytes = chunked.HEADER.unpack_from(blob)
            if magic != MAGIC:
                raise DecryptionFailed()
            key = self._data_key(ctx.tenant, version)
            aad = _aad(blob[: chunked.HEADER.size], _RECORD, ctx)
            yield from chunked.open_chunks(key.get_secret(), aad, blob, chunk_bytes)
        except Exception:
            raise DecryptionFailed(_DAMAGED) from None

    def encrypt_snapshot(self, ctx: RecordContext, data: bytes) -> bytes:
        """Seal an index snapshot; a snapshot and a record never open as each other."""
        return self._seal(ctx, _SNAPSHOT, data)

    def decrypt_snapshot(self, ctx: RecordContext, blob: bytes) -> bytes:
        return self._open(ctx, _SNAPSHOT, blob)

    def rotate_tenant(self, tenant: str) -> int:
        """Create the tenant's next data-key version, used for new writes; older versions stay readable."""
        with self._lock:
            current = self._repo.active(tenant)
            version = 1 if current is None else current.version + 1
            self._repo.put(self._wrap(tenant, version, SecretBytes(self._rng(KEY_BYTES))))
            self._cache.forget_tenant(tenant)
        return version

    def key_tenants(self) -> list[str]:
        """Every tenant that holds a data key, sorted."""
        return sorted({k.tenant for k in self._repo.all()})

    def rotate_all(self) -> dict[str, int]:
        """Rotate every tenant that has a data key (after a KEK rotation): tenant -> its new version."""
        return {tenant: self.rotate_tenant(tenant) for tenant in self.key_tenants()}

    def rewrap_all(self) -> int:
        """Re-wrap every data key not yet under the active KEK; returns how many were re-wrapped."""
        count = 0
        for stored in self._repo.all():
            if stored.kek_version == self._kek.active:
                continue
            try:
                key = self._unwrap(stored)
            except DecryptionFailed:
                raise ConfigurationError(
                    f"data key {stored.tenant!r} v{stored.version} does not unwrap under KEK version "
                    f"{stored.kek_version}; is that version missing from the keyring?"
                ) from None
            self._repo.replace(self._wrap(stored.tenant, stored.version, key, created=stored.created))
            count += 1
        return count

    def shred(self, tenant: str) -> int:
        """Delete every data key of the tenant: all it stored becomes undecryptable. Returns the count."""
        with self._lock:
            count = self._repo.delete_tenant(tenant)
            self._cache.forget_tenant(tenant)
        return count

    def check_kek(self, tries: int = 3) -> None:
        """Refuse to serve under a KEK that opens none of the stored data keys of some KEK version (a replaced
        ``kek.json``, another HSM token with the same label, a switch of provider without re-wrapping): better one
        clear error at start than every record failing as ``DecryptionFailed``. Up to ``tries`` keys per version
        are tried, so one damaged row does not stop the start."""
        by_version: dict[int, list[WrappedKey]] = {}
        for stored in self._repo.all():
            by_version.setdefault(stored.kek_version, []).append(stored)
        for version, stored_keys in sorted(by_version.items()):
            if not any(self._opens(stored) for stored in stored_keys[:tries]):
                raise ConfigurationError(
                    f"the key-encryption key does not open the data keys stored under KEK version {version}: "
                    "is this the KEK (file or HSM token) these data were written under?"
                )

    def _opens(self, stored: WrappedKey) -> bool:
        try:
            self._unwrap(stored)
        except DecryptionFailed:
            return False
        return True

    def holds_keys(self, tenant: str) -> bool:
        """Whether ``tenant`` has a data key: one that never stored anything, or was shredded, has none. (A tenant's
        keys go all at once, by a shred, so it has one exactly when it has an active one: one indexed read, which the
        job runner makes at each claim.)"""
        return self._repo.active(tenant) is not None

    def kek_versions_in_use(self) -> set[int]:
        """KEK versions that still wrap some data key: those must not be retired yet."""
        return {stored.kek_version for stored in self._repo.all()}

    def _seal(self, ctx: RecordContext, kind: str, plaintext: bytes, *, create: bool = True) -> bytes:
        version, key = self._active_key(ctx.tenant, create=create)
        header = _HEADER.pack(MAGIC, FORMAT_VERSION, version)
        nonce = self._rng(NONCE_BYTES)
        sealed = AESGCM(key.get_secret()).encrypt(nonce, plaintext, _aad(header, kind, ctx))
        return header + nonce + sealed

    def _open(self, ctx: RecordContext, kind: str, blob: bytes) -> bytes:
        try:
            version = key_version_of(blob)
            header, rest = blob[: _HEADER.size], blob[_HEADER.size :]
            nonce, sealed = rest[:NONCE_BYTES], rest[NONCE_BYTES:]
            if len(nonce) != NONCE_BYTES or len(sealed) < TAG_BYTES:
                raise DecryptionFailed()
            key = self._data_key(ctx.tenant, version)
            return AESGCM(key.get_secret()).decrypt(nonce, sealed, _aad(header, kind, ctx))
        except Exception:
            # Whatever went wrong (tag, header, unknown or shredded key, storage), the caller gets one answer.
            raise DecryptionFailed() from None

    def _active_key(self, tenant: str, *, create: bool = True) -> tuple[int, SecretBytes]:
        version = self._cache.active(tenant)
        key = None if version is None else self._cache.key(tenant, version)
        if version is not None and key is not None:
            return version, key
        stored = self._repo.active(tenant)
        if stored is None and create:
            with self._lock:
                stored = self._repo.active(tenant)
                if stored is None:
                    self._repo.put(self._wrap(tenant, 1, SecretBytes(self._rng(KEY_BYTES))))
                    stored = self._repo.active(tenant)  # another replica may have won the race: use its key
        if stored is None:
            raise DecryptionFailed()  # shredded between our write and read: refuse rather than guess
        key = self._unwrap(stored)
        self._cache.store(tenant, stored.version, key, active=True)
        return stored.version, key

    def _data_key(self, tenant: str, version: int) -> SecretBytes:
        key = self._cache.key(tenant, version)
        if key is None:
            stored = self._repo.get(tenant, version)
            if stored is None:
                raise DecryptionFailed()
            key = self._unwrap(stored)
            self._cache.store(tenant, version, key)
        return key

    def _wrap(
        self, tenant: str, version: int, key: SecretBytes, created: datetime | None = None
    ) -> WrappedKey:
        if not 1 <= version <= MAX_VERSION:
            raise ValueError("data-key version out of range")
        kek_version = self._kek.active
        nonce = self._rng(NONCE_BYTES)
        wrapped = nonce + self._kek.wrap(nonce, key, _wrap_aad(tenant, version, kek_version))
        return WrappedKey(tenant, version, kek_version, wrapped, created or self._clock())

    def _unwrap(self, stored: WrappedKey) -> SecretBytes:
        if stored.kek_version not in self._kek.versions:  # the caller gets the opaque error; the operator, why
            log.error("a data key is wrapped under KEK version %d, which this process does not hold: a KEK rotated "
                      "while it ran? restart it with the current keys (docs/encryption.md, 'Rotation')",
                      stored.kek_version)
        nonce, sealed = stored.wrapped[:NONCE_BYTES], stored.wrapped[NONCE_BYTES:]
        try:
            aad = _wrap_aad(stored.tenant, stored.version, stored.kek_version)
            return self._kek.unwrap(stored.kek_version, nonce, sealed, aad)
        except Exception:
            raise DecryptionFailed() from None


def _aad(header: bytes, kind: str, ctx: RecordContext) -> bytes:
    return header + length_prefixed(kind, ctx.tenant, ctx.collection, ctx.record_id, ctx.model_version)


def _wrap_aad(tenant: str, version: int, kek_version: int) -> bytes:
    return _WRAP_HEADER.pack(FORMAT_VERSION, version, kek_version) + length_prefixed(tenant)
