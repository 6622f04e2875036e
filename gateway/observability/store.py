"""A ``Store`` wrapper that times every call (the ``store`` stage) and feeds stored vectors to drift monitoring.

It sits between ``CollectionService`` and the real backend, so no backend and no handler has to know about
metrics or drift. A failure in drift monitoring is logged and never fails the write that triggered it: the
chunks are already committed by then. Every ``Store`` method is written out here (no forwarding of unknown
attributes), so the wrapper is exactly a ``Store`` and nothing reaches past it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from gateway.drift.monitor import DriftMonitor
from gateway.observability.metrics import GatewayMetrics
from gateway.store.base import Collection, Hit, NewChunk, Store, StoredChunk, VectorSample

log = logging.getLogger(__name__)


class ObservedStore:
    def __init__(self, inner: Store, metrics: GatewayMetrics, drift: DriftMonitor | None = None) -> None:
        self._inner = inner
        self._metrics = metrics
        self._drift = drift

    def create_collection(self, c: Collection) -> Collection:
        with self._metrics.stage("store"):
            return self._inner.create_collection(c)

    def get_collection(self, tenant: str, name: str) -> Collection:
        return self._inner.get_collection(tenant, name)

    def list_collections(self, tenant: str) -> list[Collection]:
        return self._inner.list_collections(tenant)

    def delete_collection(self, tenant: str, name: str) -> int:
        c = self._inner.get_collection(tenant, name)
        with self._metrics.stage("store"):
            removed = self._inner.delete_collection(tenant, name)
        if self._drift is not None:
            self._drift.forget(c)
        return removed

    def put(self, tenant: str, collection: str, chunks: Sequence[NewChunk], audit_index: int | None, *,
            replace: bool = False) -> list[str]:
        with self._metrics.stage("store"):
            ids = self._inner.put(tenant, collection, chunks, audit_index, replace=replace)
        if self._drift is not None and chunks:
            try:
                c = self._inner.get_collection(tenant, collection)
                self._drift.observe(c, np.vstack([np.asarray(ch.vector, dtype=np.float32) for ch in chunks]))
            except Exception:  # the write is committed; monitoring must not turn it into an error
                log.exception("drift monitoring failed for a stored batch")
        return ids

    def get(self, tenant: str, collection: str, record_id: str) -> StoredChunk:
        with self._metrics.stage("store"):
            return self._inner.get(tenant, collection, record_id)

    def document(self, tenant: str, collection: str, document_id: str) -> list[StoredChunk]:
        with self._metrics.stage("store"):
            return self._inner.document(tenant, collection, document_id)

    def delete_document(self, tenant: str, collection: str, document_id: str) -> int:
        with self._metrics.stage("store"):
            return self._inner.delete_document(tenant, collection, document_id)

    def search(self, tenant: str, collection: str, vector: np.ndarray, k: int,
               filter: Mapping[str, Any] | None = None) -> list[Hit]:
        with self._metrics.stage("store"):
            return self._inner.search(tenant, collection, vector, k, filter)

    # Reads for maintenance and the console, not a request's stages: untimed, like ``get_collection``.
    def record_ids(self, tenant: str, collection: str) -> list[str]:
        return self._inner.record_ids(tenant, collection)

    def sample_vectors(self, tenant: str, collection: str, limit: int) -> VectorSample:
        return self._inner.sample_vectors(tenant, collection, limit)

    def shred_tenant(self, tenant: str) -> int:
        if self._drift is not None:  # before the shred, whose WAL checkpoint then clears the deleted pages too
            for c in self._inner.list_collections(tenant):
                self._drift.forget(c)
        return self._inner.shred_tenant(tenant)

    def all_collections(self) -> list[Collection]:
        return self._inner.all_collections()

    def purge_before(self, tenant: str, collection: str, cutoff: datetime) -> int:
        with self._metrics.stage("store"):
            return self._inner.purge_before(tenant, collection, cutoff)

    def count_before(self, tenant: str, collection: str, cutoff: datetime) -> int:
        return self._inner.count_before(tenant, collection, cutoff)

    def health(self) -> dict[str, Any]:
        return self._inner.health()

    def mark_unfinished(self, audit_indexes: Sequence[int]) -> list[int]:
        return self._inner.mark_unfinished(audit_indexes)

    def flush(self) -> None:
        self._inner.flush()

    def close(self) -> None:
        self._inner.close()
