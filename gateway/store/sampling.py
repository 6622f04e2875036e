"""A bounded, evenly spaced sample of a collection's decrypted vectors with their creation times.

``Store.sample_vectors`` of both SQL backends (for the console's projection): one count, then one query that
keeps every ``step``-th chunk in insertion order (``row_number()``, which SQLite and PostgreSQL both have),
decrypted through the backend's ``ChunkCodec``.
At most ``limit`` ciphertexts are fetched and opened however large the collection; one that does not open is
skipped and counted, never shown. The tenant and collection name every query.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from gateway.errors import DecryptionFailed
from gateway.store.base import Collection, VectorSample

_COUNT = "SELECT count(*) FROM store_chunks WHERE tenant = {p} AND collection = {p}"
_SAMPLE = (
    "SELECT record_id, created_at, vector FROM (SELECT record_id, created_at, vector, "
    "row_number() OVER (ORDER BY id) - 1 AS rn FROM store_chunks WHERE tenant = {p} AND collection = {p}) AS s "
    "WHERE mod(rn, {p}) = 0 ORDER BY rn LIMIT {p}"
)


class VectorOpener(Protocol):
    def open_vector(self, c: Collection, record_id: str, blob: bytes) -> np.ndarray: ...


Query = Callable[[str, tuple[Any, ...]], Sequence[Sequence[Any]]]


class SqlSampler:
    """The sample through ``query(sql, params)``; ``placeholder`` is the driver's parameter mark."""

    def __init__(self, query: Query, codec: VectorOpener, placeholder: str) -> None:
        self._query = query
        self._codec = codec
        self._p = placeholder

    def sample(self, c: Collection, limit: int) -> VectorSample:
        key = (c.tenant, c.name)
        total = int(self._query(_COUNT.format(p=self._p), key)[0][0])
        step = max(1, math.ceil(total / max(1, limit)))
        rows = self._query(_SAMPLE.format(p=self._p), (*key, step, limit)) if total else []
        times: list[str] = []
        vectors: list[np.ndarray] = []
        unreadable = 0
        for record_id, created_at, blob in rows:
            try:
                vectors.append(self._codec.open_vector(c, str(record_id), bytes(blob)))
            except DecryptionFailed:
                unreadable += 1
                continue
            times.append(str(created_at))
        matrix = np.vstack(vectors) if vectors else np.zeros((0, c.dimension), dtype=np.float32)
        return VectorSample(times, matrix, total, unreadable)
