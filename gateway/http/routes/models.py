"""``GET /v1/models`` and ``GET /v1/models/{id}``, OpenAI-compatible: the models a caller may embed with."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from gateway.bootstrap import Services
from gateway.embedding.specs import ModelSpec
from gateway.http.guard import Call, Guard, Reply, governed

LIST = Guard(event="model.list", obj="embeddings", act="create", openai_errors=True)


def model_json(spec: ModelSpec) -> dict[str, Any]:
    return {
        "id": spec.name, "object": "model", "created": 0, "owned_by": "gateway",
        "version": spec.version, "dimension": spec.dimension, "fingerprint": spec.fingerprint,
    }


async def _list(call: Call) -> Reply:
    specs = [call.services.registry.get(name) for name in call.services.registry.names()]
    return Reply({"object": "list", "data": [model_json(s) for s in specs]}, audit={"count": len(specs)})


async def _one(call: Call) -> Reply:
    spec = call.services.registry.get(str(call.request.path_params["model_id"]))  # 404 model_not_found
    return Reply(model_json(spec), audit={"model": {"name": spec.name, "version": spec.version}})


@get("/v1/models", summary="Models the caller may embed with (OpenAI-compatible)")
async def list_models(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, LIST, _list)


@get("/v1/models/{model_id:str}", summary="One model (OpenAI-compatible)")
async def get_model(request: Request[Any, Any, Any], services: Services, model_id: str) -> Response[Any]:
    return await governed(request, services, LIST, _one)


ROUTES = [list_models, get_model]
