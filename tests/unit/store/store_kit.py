"""Test kit for the store: backend harnesses, random unit vectors, fake chunks.

A ``Harness`` is what the contract suite needs from a backend besides the ``Store`` itself: reopening it
(a restart), its stored bytes (to prove nothing plain is there), and a way to tamper with one stored
ciphertext. The PostgreSQL backend adds a ``PostgresHarness`` (stored bytes: its rows, dumped) and its name to
``BACKENDS`` in conftest.py; the contract tests themselves do not change.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.datakeys import SQLiteDataKeyRepository
from gateway.backends.sqlite.store import SQLiteStore
from gateway.crypto import Envelope, Keyring
from gateway.store import Collection, IndexSettings, IntegrityFailure, NewChunk, Store

DIM = 384
MODEL = "all-MiniLM-L6-v2"
MODEL_VERSION = "1.0.0"
# Small enough that a test collection of a few hundred vectors trains IVF and snapshots often.
TEST_SETTINGS = IndexSettings(ivf_min_lists=4, snapshot_every=50, hnsw_ef_search=128)


def unit_vectors(n: int, seed: int = 0, dim: int = DIM) -> np.ndarray:
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((n, dim)).astype(np.float32)
    normalized: np.ndarray = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    return normalized


def near(vector: np.ndarray, noise: float = 0.02, seed: int = 99) -> np.ndarray:
    """A unit vector close to ``vector``: what a paraphrase looks like to the index."""
    rng = np.random.default_rng(seed)
    moved = vector + noise * rng.standard_normal(vector.shape).astype(np.float32)
    normalized: np.ndarray = (moved / np.linalg.norm(moved)).astype(np.float32)
    return normalized


def collection(
    tenant: str = "tenant-a", name: str = "docs", index_type: str = "flat", retain_text: bool = True
) -> Collection:
    return Collection(tenant, name, MODEL, MODEL_VERSION, DIM, index_type, retain_text)  # type: ignore[arg-type]


def chunk(
    document_id: str,
    index: int,
    vector: np.ndarray,
    text: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> NewChunk:
    return NewChunk(
        document_id=document_id,
        chunk_index=index,
        span=(index * 100, index * 100 + 90),
        vector=vector,
        text=text if text is not None else f"redacted chunk {index} of {document_id}",
        metadata=metadata if metadata is not None else {"source": document_id},
        provenance={"model": MODEL, "model_version": MODEL_VERSION, "sigma": 0.01, "actor": "key-1"},
    )


def chunks_for(vectors: np.ndarray, per_document: int = 1, prefix: str = "doc") -> list[NewChunk]:
    return [chunk(f"{prefix}-{i // per_document}", i % per_document, v) for i, v in enumerate(vectors)]


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class Harness(Protocol):
    """What the contract suite needs from a backend besides its ``Store``."""

    store: Store
    envelope: Envelope
    failures: list[IntegrityFailure]

    def reopen(self) -> Store: ...
    def settle(self) -> None: ...
    def stored_files(self) -> Iterator[tuple[str, bytes]]: ...
    def raw(self, record_id: str, column: str) -> bytes: ...
    def change_collections(self, tenant: str) -> list[str]: ...
    def tamper(self, record_id: str, column: str) -> None: ...
    def close(self) -> None: ...


@dataclass
class SQLiteHarness:
    """The embedded backend in a temporary directory; the keyring outlives restarts, as its key file would."""

    data_dir: Path
    settings: IndexSettings = TEST_SETTINGS
    keyring: Keyring = field(default_factory=Keyring.generate)
    failures: list[IntegrityFailure] = field(default_factory=list)
    store: Store = field(init=False)
    envelope: Envelope = field(init=False)

    def __post_init__(self) -> None:
        self.store = self._open()

    def _open(self) -> Store:
        db = SQLiteDatabase(self.data_dir / "store.db")
        self.envelope = Envelope(self.keyring, SQLiteDataKeyRepository(db))
        return SQLiteStore(
            self.data_dir, self.envelope, db, settings=self.settings, on_integrity_failure=self.failures.append
        )

    def reopen(self) -> Store:
        """Close and open again: a gateway restart."""
        self.store.close()
        self.store = self._open()
        return self.store

    def settle(self) -> None:
        """Let background index work finish."""
        self.store.flush()

    def stored_files(self) -> Iterator[tuple[str, bytes]]:
        """Every file the backend wrote: database, WAL, shared memory, snapshots."""
        for path in sorted(self.data_dir.rglob("*")):
            if path.is_file():
                yield str(path.relative_to(self.data_dir)), path.read_bytes()

    def change_collections(self, tenant: str) -> list[str]:
        """The collection names the change sequence holds for ``tenant``."""
        return [r[0] for r in self._sql("SELECT collection FROM store_changes WHERE tenant = ?", (tenant,))]

    def raw(self, record_id: str, column: str) -> bytes:
        return bytes(self._sql(f"SELECT {column} FROM store_chunks WHERE record_id = ?", (record_id,))[0][0])

    def tamper(self, record_id: str, column: str) -> None:
        """Flip one byte in the middle of a stored ciphertext (or clear column)."""
        value = self._sql(f"SELECT {column} FROM store_chunks WHERE record_id = ?", (record_id,))[0][0]
        data = bytearray(value.encode() if isinstance(value, str) else value)
        data[len(data) // 2] ^= 0x01
        new: bytes | str = data.decode() if isinstance(value, str) else bytes(data)
        self._sql(f"UPDATE store_chunks SET {column} = ? WHERE record_id = ?", (new, record_id))

    def _sql(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        with closing(sqlite3.connect(self.data_dir / "store.db", isolation_level=None)) as conn:
            return conn.execute(sql, params).fetchall()

    def close(self) -> None:
        self.store.close()
