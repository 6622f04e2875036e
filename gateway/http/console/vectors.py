"""The console's access to a collection's vector sample: through ``Store.sample_vectors`` of whichever backend."""

from __future__ import annotations

from typing import Any

from gateway.errors import Unavailable
from gateway.store.sampling import Sample, SqlSampler, VectorSampler

__all__ = ["Sample", "SqlSampler", "VectorSampler", "sampler_for"]


def sampler_for(store: Any) -> VectorSampler:
    """The sampler of a store, or of a wrapper (``ObservedStore``) around one."""
    inner = getattr(store, "inner", store)
    if not hasattr(inner, "sample_vectors"):
        raise Unavailable("this storage backend cannot provide vectors for a projection")
    return _Delegate(inner)


class _Delegate:
    def __init__(self, store: Any) -> None:
        self._store = store

    def sample(self, c: Any, limit: int) -> Sample:
        result: Sample = self._store.sample_vectors(c, limit)
        return result
