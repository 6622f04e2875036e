"""The models this gateway serves at once, by name: each with its embedder (in-process or a remote engine), its
embedding micro-batcher, its pipeline (the shared stages in front of that embedder) and whether it is in service.

``model_name`` in the settings is the default: a request that names no model, or names it as the setting does
(``name`` or ``name@version``), gets it. A remote model is out of service while its behavioural fingerprint does
not match the recorded one (``gateway.embedding.probing``): its requests get ``ModelUnavailable`` (503) and every
other model keeps serving.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gateway.embedding.embedder import Embedder, SentenceTransformerEmbedder
from gateway.embedding.remote import RemoteEmbedder
from gateway.embedding.specs import ModelRegistry, ModelSpec
from gateway.errors import ModelNotFound, ModelUnavailable
from gateway.pipeline.batching import MicroBatcher
from gateway.pipeline.stage_fns import embed_fn
from gateway.pipeline.stages import EmbeddingPipeline

EmbedBatcher = MicroBatcher[str, tuple[np.ndarray, int]]
# Engine calls in flight at once for one remote model: the engine batches on its GPU; the gateway only waits.
REMOTE_WORKERS = 4
ServedParts = tuple[Embedder, EmbedBatcher]
UNVERIFIED_PROBE_S = 5.0  # how often a remote model not yet verified since the start is probed again


@dataclass
class ServedModel:
    spec: ModelSpec
    embedder: Embedder
    batcher: EmbedBatcher
    pipeline: EmbeddingPipeline
    fingerprint: str  # what it must be: the weights' sha256, or a remote model's pinned or recorded probe
    retry_after_s: float = 300.0  # how soon a model out of service may be back: the next probe
    # verified: serving; unverified: a remote model not yet probed since the start (its engine did not answer);
    # mismatch: its engine answers as another model. Only a verified model serves.
    state: str = "verified"
    probe_failure: str = ""  # why the last probe got no fingerprint, in words a caller may read ("": no failure)

    @property
    def in_service(self) -> bool:
        return self.state == "verified"

    @property
    def remote(self) -> RemoteEmbedder | None:
        return self.embedder if isinstance(self.embedder, RemoteEmbedder) else None

    def check_available(self) -> None:
        if self.state == "mismatch":
            raise ModelUnavailable(
                f"model {self.spec.name} is out of service: its engine no longer answers as the registered model "
                "(fingerprint mismatch)", param="model", retry_after=self.retry_after_s)
        if self.state != "verified":
            why = self.probe_failure or "its engine has not answered the fingerprint probe"
            raise ModelUnavailable(f"model {self.spec.name} is not in service yet: {why}", param="model",
                                   retry_after=min(UNVERIFIED_PROBE_S, self.retry_after_s))

    def describe(self) -> dict[str, Any]:
        """What audit entries and provenance say of the model: never a credential, a path or a query."""
        doc: dict[str, Any] = {"name": self.spec.name, "version": self.spec.version, "fingerprint": self.fingerprint}
        runtime = self.embedder.describe_runtime() if isinstance(self.embedder, SentenceTransformerEmbedder) else None
        if runtime is not None:  # model_runtime = onnx: which graph computed the vectors
            doc["runtime"] = runtime
        engine = self.spec.engine
        if engine is not None:
            doc["engine"] = {"kind": engine.kind, "hosts": list(engine.hosts()), "model": engine.model}
        return doc

    def circuits(self) -> dict[str, str]:
        remote = self.remote
        if remote is None:
            return {}
        return {host: remote.client.breakers[url].state
                for url, host in zip(remote.client.spec.urls, remote.client.spec.hosts(), strict=True)}


class ServedModels:
    """Served models by name; ``get`` resolves a request's ``model`` field (unknown: 404 ``model_not_found``)."""

    def __init__(self, models: Mapping[str, ServedModel], default: str) -> None:
        self._models = dict(models)
        self.default_ref = default  # the model_name setting: name or name@version
        self.default = self._models[default.partition("@")[0]]

    def get(self, name: str | None) -> ServedModel:
        """``name`` or ``name@version`` (the version the gateway serves under that name, none other)."""
        if not name or name == self.default_ref:
            return self.default
        base, _, version = name.partition("@")
        served = self._models.get(base)
        if served is None or (version and version != served.spec.version):
            # The caller's model string is not echoed (it is whatever they sent); the served names are ours.
            raise ModelNotFound(f"unknown model; this gateway serves: {', '.join(self.names())}", param="model")
        return served

    def names(self) -> list[str]:
        return sorted(self._models)

    def all(self) -> list[ServedModel]:
        return [self._models[n] for n in self.names()]

    def remote(self) -> list[ServedModel]:
        return [m for m in self.all() if m.remote is not None]

    def pipeline_for(self, name: str) -> EmbeddingPipeline:
        return self.get(name).pipeline

    def circuits(self) -> dict[str, dict[str, str]]:
        return {m.spec.name: m.circuits() for m in self.remote()}

    def in_service(self) -> dict[str, bool]:
        return {m.spec.name: m.in_service for m in self.all()}

    def close(self) -> None:
        for model in self.all():
            model.batcher.close()
            if model.remote is not None:
                model.remote.close()


def remote_batcher(embedder: Embedder, name: str, max_batch: int, max_wait_s: float, max_queued: int,
                   on_batch: Callable[[int, float], None], lane_weight: Callable[[str], float]) -> EmbedBatcher:
    """Concurrent requests coalesced into engine calls of at most ``max_batch`` texts, several calls in flight."""
    return MicroBatcher(embed_fn(embedder), name=f"embed-{name}", max_size=max_batch, max_weight=1 << 30,
                        max_wait_s=max_wait_s, max_queued_items=max_queued, on_batch=on_batch,
                        workers=REMOTE_WORKERS, lane_weight=lane_weight)


def serve(spec: ModelSpec, embedder: Embedder, batcher: EmbedBatcher, base: EmbeddingPipeline, fingerprint: str,
          retry_after_s: float) -> ServedModel:
    """One served model: ``base``'s stages (detection, decisions, protection, ledger) in front of ``batcher``."""
    model = ServedModel(spec, embedder, batcher, base, fingerprint, retry_after_s)
    model.pipeline = base.for_model(spec, batcher, model.check_available, model.describe)
    return model


def build_models(registry: ModelRegistry, default_ref: str, base: EmbeddingPipeline, default: ServedParts,
                 make_embedder: Callable[[ModelSpec], Embedder],
                 make_batcher: Callable[[ModelSpec, Embedder], EmbedBatcher], probe_interval_s: float,
                 ) -> ServedModels:
    """Every served model of the registry: ``default`` (its embedder and batcher, built by the caller) for the
    ``model_name`` setting, ``make_embedder`` and ``make_batcher`` for the others. Remote models start unverified."""
    default_name = default_ref.partition("@")[0]
    served: dict[str, ServedModel] = {}
    for spec in registry.all():
        if spec.name == default_name:
            embedder, batcher = default
        else:
            embedder = make_embedder(spec)
            batcher = make_batcher(spec, embedder)
        model = serve(spec, embedder, batcher, base, spec.fingerprint, max(1.0, probe_interval_s))
        if model.remote is not None:  # a remote model serves once its fingerprint is verified
            model.state = "unverified"
        served[spec.name] = model
    return ServedModels(served, default_ref)
