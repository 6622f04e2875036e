"""Schemathesis fuzzes every operation of the gateway's own OpenAPI document, as each role, in process (ASGI).

Checks: no 5xx but the documented 503, every response conforms to its documented schema, status and content type,
and no body carries a stack trace or a secret (API keys, the HMAC root).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.hardening.kit import LEAK_PATTERNS, ROLES, build_gateway, secret_values

EXAMPLES_PER_OPERATION = 12
STATS: dict[str, int] = {"cases": 0, "operations": 0}
STATUSES: dict[int, int] = {}
COLLECTION = "docs"


def _check_body(body: bytes, status: int, secrets: list[bytes]) -> None:
    assert status < 500 or status == 503, f"server error {status}: {body[:300]!r}"
    assert not LEAK_PATTERNS.search(body.decode("utf-8", "replace")), f"internals leaked: {body[:300]!r}"
    for secret in secrets:
        assert secret not in body, "a secret appeared in a response body"


def _fuzz(operation: Any, headers: dict[str, str], secrets: list[bytes], checks: list[Any]) -> None:
    @given(case=operation.as_strategy(), own=st.booleans())
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case: Any, own: bool) -> None:
        STATS["cases"] += 1
        if own and case.path_parameters and "name" in case.path_parameters:
            case.path_parameters["name"] = COLLECTION  # reach the handler behind the 404 of unknown names
        if own and isinstance(case.body, dict) and "model" in case.body:
            case.body["model"] = "all-MiniLM-L6-v2"  # reach the pipeline behind the 404 of unknown models
        response = case.call_and_validate(headers=headers, checks=checks)
        STATUSES[response.status_code] = STATUSES.get(response.status_code, 0) + 1
        _check_body(response.content, response.status_code, secrets)

    fuzz()


@pytest.mark.slow
def test_when_every_operation_is_fuzzed_as_every_role_then_responses_conform_and_leak_nothing(
    tmp_path: Path,
) -> None:
    app, gw = build_gateway(tmp_path)
    for role in ROLES:
        gw.key("acme", role)
    writer = {"Authorization": f"Bearer {gw.key('acme', 'writer')}"}
    client = asgi.get_client(app)  # the same lifespan schemathesis keeps open for the app
    with client:
        assert client.post("/v1/collections", json={"name": COLLECTION}, headers=writer).status_code == 201
        docs: dict[str, Any] = {"documents": [{"id": "d1", "text": "alpha beta gamma", "metadata": {"lang": "en"}}]}
        assert client.post(f"/v1/collections/{COLLECTION}/documents", json=docs, headers=writer).status_code == 200
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    secrets = secret_values(gw)
    checks = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an Err would raise here, failing the test
        STATS["operations"] += 1
        for role in ROLES:
            _fuzz(operation, {"Authorization": f"Bearer {gw.key('acme', role)}"}, secrets, checks)
    elapsed = time.monotonic() - started
    assert STATS["operations"] >= 15
    assert elapsed < 120, f"fuzzing took {elapsed:.0f} s"
    print(f"statuses: {dict(sorted(STATUSES.items()))}")
    print(f"fuzzed {STATS['cases']} cases over {STATS['operations']} operations in {elapsed:.1f} s")
