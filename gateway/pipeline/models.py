"""Model catalogue use cases (``GET /v1/models``, ``GET /v1/models/{id}``): the models a caller may embed with,
in OpenAI's shape."""

from __future__ import annotations

from typing import Any

from gateway.embedding.specs import ModelRegistry, ModelSpec
from gateway.pipeline.outcome import Outcome


def model_json(spec: ModelSpec) -> dict[str, Any]:
    return {
        "id": spec.name, "object": "model", "created": 0, "owned_by": "gateway",
        "version": spec.version, "dimension": spec.dimension, "fingerprint": spec.fingerprint,
    }


async def list_models(*, registry: ModelRegistry) -> Outcome:
    specs = [registry.get(name) for name in registry.names()]
    return Outcome({"object": "list", "data": [model_json(s) for s in specs]}, {"count": len(specs)})


async def get_model(model_id: str, *, registry: ModelRegistry) -> Outcome:
    spec = registry.get(model_id)  # ModelNotFound: 404 model_not_found
    return Outcome(model_json(spec), {"model": {"name": spec.name, "version": spec.version}})
