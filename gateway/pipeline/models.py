"""Model catalogue use cases (``GET /v1/models``, ``GET /v1/models/{id}``): the models a caller may embed with,
in OpenAI's shape, each with its version, dimension, fingerprint, whether it is the default and in service, and
for a remote model its engine's kind and hosts (never a credential or a path)."""

from __future__ import annotations

from typing import Any

from gateway.embedding.served import ServedModel, ServedModels
from gateway.pipeline.outcome import Outcome


def model_json(model: ServedModel, default: bool) -> dict[str, Any]:
    described = model.describe()
    doc = {
        "id": model.spec.name, "object": "model", "created": 0, "owned_by": "gateway",
        "version": model.spec.version, "dimension": model.spec.dimension, "fingerprint": described["fingerprint"],
        "default": default, "status": "in_service" if model.in_service else model.state,
    }
    for part in ("engine", "runtime"):
        if part in described:
            doc[part] = described[part]
    return doc


async def list_models(*, models: ServedModels) -> Outcome:
    data = [model_json(m, m is models.default) for m in models.all()]
    return Outcome({"object": "list", "data": data}, {"count": len(data)})


async def get_model(model_id: str, *, models: ServedModels) -> Outcome:
    model = models.get(model_id)  # ModelNotFound: 404 model_not_found
    return Outcome(model_json(model, model is models.default),
                   {"model": {"name": model.spec.name, "version": model.spec.version}})
