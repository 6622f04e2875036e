"""``GET /v1/models`` and ``GET /v1/models/{id}``, OpenAI-compatible: the models a caller may embed with."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from gateway.bootstrap import Services
from gateway.http.guard import Call, Guard, Reply, governed
from gateway.pipeline import models as use_cases

LIST = Guard(event="model.list", obj="embeddings", act="create", openai_errors=True)


async def _list(call: Call) -> Reply:
    result = await use_cases.list_models(models=call.services.models)
    return Reply(result.body, audit=result.audit)


async def _one(call: Call) -> Reply:
    result = await use_cases.get_model(str(call.request.path_params["model_id"]), models=call.services.models)
    return Reply(result.body, audit=result.audit)


@get("/v1/models", summary="Models the caller may embed with (OpenAI-compatible)")
async def list_models(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, LIST, _list)


@get("/v1/models/{model_id:str}", summary="One model (OpenAI-compatible)")
async def get_model(request: Request[Any, Any, Any], services: Services, model_id: str) -> Response[Any]:
    return await governed(request, services, LIST, _one)


ROUTES = [list_models, get_model]
