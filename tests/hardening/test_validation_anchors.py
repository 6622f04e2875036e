"""Names and ids ending in a newline are refused: every validation pattern anchors at the end of the string (``\\Z``),
not before a final newline (``$``), which let ``"notes\\n"`` become a second, identical-looking collection."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import TestClient

import gateway.auth.apikeys
import gateway.embedding.registry
import gateway.observability.logs
import gateway.pipeline.collections
import gateway.policy.schema
import gateway.store.base
from tests.hardening.kit import Gateway

# Each validation pattern with a value it accepts.
VALID = {
    (gateway.auth.apikeys, "_KEY_RE"): "gk_0123456789abcdef_" + "A" * 43,
    (gateway.auth.apikeys, "_NAME_RE"): "alice",
    (gateway.pipeline.collections, "_DOC_ID"): "doc-1",
    (gateway.embedding.registry, "_SEMVER"): "1.2.3",
    (gateway.observability.logs, "_NAME_LIKE"): "notes",
    (gateway.observability.logs, "_VETTED_NAME"): "all-MiniLM-L6-v2",
    (gateway.policy.schema, "_ENTITY_NAME"): "US_SSN",
    (gateway.store.base, "_NAME"): "notes",
    (gateway.store.base, "_SEMVER"): "1.2.3",
}


@pytest.mark.parametrize(("module", "attr"), sorted(VALID, key=lambda k: (k[0].__name__, k[1])),
                         ids=lambda v: getattr(v, "__name__", v))
def test_when_a_valid_name_gets_a_trailing_newline_then_its_pattern_refuses_it(module: Any, attr: str) -> None:
    pattern: re.Pattern[str] = getattr(module, attr)
    value = VALID[(module, attr)]
    assert pattern.match(value)
    assert pattern.match(value + "\n") is None


def test_when_no_validation_pattern_ends_in_a_dollar_then_none_accepts_a_trailing_newline() -> None:
    for module in {m for m, _ in VALID}:
        for attr, value in vars(module).items():
            if isinstance(value, re.Pattern) and value.pattern.startswith("^"):
                assert not value.pattern.endswith("$"), f"{module.__name__}.{attr} ends in $, use \\Z"


def test_when_a_collection_name_or_document_id_ends_in_a_newline_then_the_gateway_answers_400(
    gateway: tuple[TestClient[Any], Gateway],
) -> None:
    client, gw = gateway
    headers = {"Authorization": f"Bearer {gw.key('acme', 'admin')}"}
    assert client.post("/v1/collections", headers=headers, json={"name": "notes\n"}).status_code == 400
    assert client.post("/v1/collections", headers=headers, json={"name": "notes"}).status_code in (200, 201)
    response = client.post("/v1/collections/notes/documents", headers=headers,
                           json={"documents": [{"id": "d1\n", "text": "plain words"}]})
    assert response.status_code in (400, 207, 422), response.text
    assert client.get("/v1/collections/notes/documents/d1%0A", headers=headers).status_code in (400, 404)
