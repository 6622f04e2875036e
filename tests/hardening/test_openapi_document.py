"""The OpenAPI document describes every route: request bodies, error shapes and the bearer security scheme."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import TestClient

from gateway.http.openapi import PUBLIC_PREFIXES, UNDESCRIBED
from tests.hardening.kit import build_gateway

NO_BODY_POSTS = {"/v1/admin/keys/rotate", "/v1/collections/{name}/drift/baseline", "/v1/batches/{batch_id}/cancel",
                 "/v1/jobs/{job_id}/cancel"}


def test_when_the_document_is_served_then_every_guarded_operation_is_fully_described(tmp_path: Path) -> None:
    app, _ = build_gateway(tmp_path)
    with TestClient(app) as client:
        doc = client.get("/schema/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer",
                                     "description": "API key from `gateway apikey create`"}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            if path.startswith(PUBLIC_PREFIXES):
                assert "security" not in op, where
                continue
            assert UNDESCRIBED not in op.get("description", ""), f"{where} is missing from openapi_specs.ROUTES"
            assert op["security"] == [{"bearerAuth": []}, {"apiKeyHeader": []}], where
            assert {"401", "403", "413", "429", "503"} <= set(op["responses"]), where
            error = op["responses"]["401"]["content"]
            # the OpenAI-compatible routes
            openai = path == "/v1/embeddings" or path.startswith(("/v1/models", "/v1/files", "/v1/batches"))
            expected = "application/json" if openai else "application/problem+json"
            assert list(error) == [expected], where
            if method == "post" and path not in NO_BODY_POSTS:
                assert op["requestBody"]["required"] is True, where


def test_when_the_embeddings_request_schema_is_read_then_it_matches_the_handler_limits(tmp_path: Path) -> None:
    app, _ = build_gateway(tmp_path)
    with TestClient(app) as client:
        schemas = client.get("/schema/openapi.json").json()["components"]["schemas"]
    request = schemas["EmbeddingRequest"]
    assert request["required"] == ["model", "input"]
    assert request["properties"]["input"]["oneOf"][1]["maxItems"] == 2048
    assert request["properties"]["encoding_format"]["enum"] == ["float", "base64"]
