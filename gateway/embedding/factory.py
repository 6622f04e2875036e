"""How each served model is built from the settings: its embedder (the in-process sentence-transformers model, or
an ``EngineClient`` behind a ``RemoteEmbedder``) and its embedding micro-batcher. The composition root
(``gateway.bootstrap``) makes one ``ModelFactory`` and hands it to ``served.build_models``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gateway.embedding.embedder import Embedder, SentenceTransformerEmbedder
from gateway.embedding.engines import EngineClient
from gateway.embedding.remote import RemoteEmbedder
from gateway.embedding.served import EmbedBatcher, remote_batcher
from gateway.embedding.specs import ModelSpec
from gateway.observability.metrics import GatewayMetrics
from gateway.pipeline.batching import MicroBatcher
from gateway.pipeline.stage_fns import embed_fn
from gateway.settings import Settings

# With an express embedding worker, the niceness added to the other workers' threads (and torch's threads they
# start): on busy cores a light caller's forward pass then runs first, the bulk passes take the cores it leaves.
# Measured on 2 cores (bench/fairness.py): the light pass 34 ms at equal priority, 18 ms (as alone) at +10.
BULK_NICE = 10


@dataclass(frozen=True)
class ModelFactory:
    settings: Settings
    metrics: GatewayMetrics
    cpus: int
    lane_weight: Callable[[str], float]
    overrides: Mapping[str, Embedder]  # name -> embedder handed in (tests' fakes)

    def embedder(self, spec: ModelSpec) -> Embedder:
        s = self.settings
        if spec.name in self.overrides:
            model = self.overrides[spec.name]
            if isinstance(model, RemoteEmbedder) and model.client.observer is None:
                model.client.observer = self.metrics.engines.observer(spec.name)
            return model
        if spec.engine is None:
            return SentenceTransformerEmbedder(spec, s.device, s.fp16, batch_size=s.model_batch_size,
                                               cpu_threads=self.cpus, traced=s.traced_forward,
                                               runtime=s.model_runtime, onnx_cache=s.onnx_cache_root,
                                               onnx_threads=s.onnx_threads or self.cpus)
        client = EngineClient(spec.engine, spec.dimension, observe=self.metrics.engines.observer(spec.name),
                              name=spec.name)
        return RemoteEmbedder(spec, client, deadline_s=s.request_timeout_s)

    def batcher(self, spec: ModelSpec, model: Embedder, name: str = "") -> EmbedBatcher:
        """``name``: the batcher's (and its metrics') name; ``embed-<model>`` unless given."""
        s, name = self.settings, name or f"embed-{spec.name}"
        hook = self.metrics.batch_hook(name, "embed")
        if spec.engine is not None:
            return remote_batcher(model, name, spec.engine.max_batch, s.batch_max_wait_ms / 1000,
                                  s.queue_max_items, hook, self.lane_weight)
        return MicroBatcher(
            embed_fn(model), name=name, max_size=s.stage_batch_size, max_weight=s.batch_max_tokens,
            max_wait_s=s.batch_max_wait_ms / 1000, max_queued_items=s.queue_max_items, on_batch=hook,
            workers=s.model_workers(self.cpus), lane_weight=self.lane_weight,
            background_max_weight=s.batch_background_max_tokens, express_max_size=s.express_batch_size,
            bulk_nice=BULK_NICE,
            # A second worker joins for a quarter pass of work. On 2 cores, 16 one-text clients: 135-138 texts/s
            # against 115-117 when it waited for a full pass (16); 64 and 256 clients within the noise either way.
            join_min=max(1, s.model_batch_size // 4),
        )
