"""Use cases of the console's collection pages: the tenant's collections, and one collection's projection.

The projection reads a bounded, evenly spaced sample of the collection's decrypted vectors through
``Store.sample_vectors`` (at most ``MAX_POINTS`` ciphertexts opened, however large the collection), projects it
to 2-D by time window (``gateway.drift.projection``) and adds the drift series. Reading, decrypting and the SVD
all run off the event loop, here; the handler only parses and renders. The result carries its audit fields.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from gateway.drift.monitor import DriftMonitor
from gateway.drift.projection import DEFAULT_WINDOWS, MAX_POINTS, Projection, project
from gateway.store.base import Collection, Store, VectorSample

DRIFT_WINDOWS = 100


@dataclass(frozen=True)
class CollectionsResult:
    collections: list[Collection]

    @property
    def audit(self) -> dict[str, Any]:
        return {"what": "console.collections", "count": len(self.collections)}


@dataclass(frozen=True)
class ProjectionRequest:
    tenant: str  # the signed-in principal's: another tenant's collection is not found
    collection: str
    windows: int = DEFAULT_WINDOWS


@dataclass(frozen=True)
class ProjectionResult:
    collection: Collection
    projection: Projection
    sample: VectorSample
    drift: dict[str, Any] | None  # the drift series; None when drift monitoring is off

    @property
    def audit(self) -> dict[str, Any]:
        p = self.projection
        return {"what": "console.projection", "collection": self.collection.name, "points": len(p.points),
                "windows": len(p.windows), "total": self.sample.total,
                "drift_windows": None if self.drift is None else len(self.drift["windows"])}


async def list_collections(store: Store, tenant: str) -> CollectionsResult:
    return CollectionsResult(await asyncio.to_thread(store.list_collections, tenant))


async def project_collection(store: Store, drift: DriftMonitor | None, request: ProjectionRequest) -> ProjectionResult:
    """``NotFound`` for a collection the tenant does not have."""
    return await asyncio.to_thread(_project, store, drift, request)


def _project(store: Store, drift: DriftMonitor | None, request: ProjectionRequest) -> ProjectionResult:
    c = store.get_collection(request.tenant, request.collection)
    sample = store.sample_vectors(c.tenant, c.name, MAX_POINTS)
    projection = project(sample.created_at, sample.vectors, request.windows, sample.total)
    series = None if drift is None else drift.series(c, DRIFT_WINDOWS)
    return ProjectionResult(c, projection, sample, series)
