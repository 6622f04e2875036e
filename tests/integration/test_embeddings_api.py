"""The governed /v1/embeddings path over real HTTP, with the official openai client (base64 by default)."""

from __future__ import annotations

import uuid

import httpx
import numpy as np
import openai
import pytest

from tests.auditkit import logged_entries
from tests.integration.server import GatewayProcess

pytestmark = pytest.mark.slow
MODEL = "all-MiniLM-L6-v2"


def entry_at(gw: GatewayProcess, index: str | None) -> dict[str, object]:
    assert index is not None
    return logged_entries(gw.data_dir)[int(index)]


@pytest.fixture(scope="module")
def writer_key(gateway: GatewayProcess) -> str:
    return gateway.make_key("acme", "alice", "writer")


def client(gw: GatewayProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0)


def cos(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_when_the_openai_client_embeds_a_list_then_paraphrases_score_closer_than_unrelated_texts(
    gateway: GatewayProcess, writer_key: str
) -> None:
    texts = [
        "How do I reset my online banking password?",
        "What are the steps to change the password of my internet bank account?",
        "The quarterly report shows strong growth in the insurance segment.",
    ]
    response = client(gateway, writer_key).embeddings.create(model=MODEL, input=texts)
    vectors = [d.embedding for d in response.data]
    assert [d.index for d in response.data] == [0, 1, 2]
    assert all(len(v) == 384 for v in vectors)
    assert cos(vectors[0], vectors[1]) > cos(vectors[0], vectors[2]) + 0.2
    assert response.usage.prompt_tokens > 20
    assert response.model == MODEL


def test_when_the_same_text_is_sent_twice_then_the_noisy_vector_is_identical(
    gateway: GatewayProcess, writer_key: str
) -> None:
    c = client(gateway, writer_key)
    a = c.embeddings.create(model=MODEL, input="Claims are settled within ten days.").data[0].embedding
    b = c.embeddings.create(model=MODEL, input="Claims are settled within ten days.").data[0].embedding
    assert a == b
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-4


def test_when_float_format_is_asked_then_floats_come_back_with_receipt_headers(
    gateway: GatewayProcess, writer_key: str
) -> None:
    r = httpx.post(
        gateway.url + "/v1/embeddings",
        headers={"Authorization": f"Bearer {writer_key}"},
        json={"model": MODEL, "input": "Please write to jane.doe@example.com about the renewal",
              "encoding_format": "float"},
    )
    assert r.status_code == 200
    assert isinstance(r.json()["data"][0]["embedding"][0], float)
    assert r.headers["X-Request-Id"]
    assert "EMAIL_ADDRESS=1;redact" in r.headers["X-Gateway-PII"]
    entry = entry_at(gateway, r.headers.get("X-Gateway-Audit-Index"))
    assert entry["event"] == "embeddings.create" and entry["decision"] == "allow"
    assert entry["pii"]["EMAIL_ADDRESS"] == {"count": 1, "action": "redact"}  # type: ignore[index]
    model = entry["model"]
    assert isinstance(model, dict)
    assert (model["name"], model["version"], model["fingerprint"]) == (
        MODEL, "1.0.0", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db")
    assert str(model["space"]).startswith("1.0.0+")  # the protection transform is part of the space
    assert str(entry["policy_version"]).startswith("sha256:")
    assert entry["tenant"] == "acme" and entry["subject"] == "alice"


def test_when_the_input_has_an_ssn_then_the_client_gets_422_pii_blocked_and_it_is_audited(
    gateway: GatewayProcess, writer_key: str
) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as info:
        client(gateway, writer_key).embeddings.create(model=MODEL, input=["fine", "My SSN is 078-05-1120"])
    body = info.value.body
    assert isinstance(body, dict) and body["code"] == "pii_blocked"
    assert "US_SSN" in body["message"] and "078-05-1120" not in body["message"]
    entry = entry_at(gateway, info.value.response.headers.get("X-Gateway-Audit-Index"))
    assert entry["decision"] == "block"
    assert entry["pii"]["US_SSN"] == {"count": 1, "action": "block"}  # type: ignore[index]


def test_when_an_auditor_embeds_then_403_and_it_is_audited(gateway: GatewayProcess) -> None:
    key = gateway.make_key("acme", "carol", "auditor")
    with pytest.raises(openai.PermissionDeniedError) as info:
        client(gateway, key).embeddings.create(model=MODEL, input="hello")
    entry = entry_at(gateway, info.value.response.headers.get("X-Gateway-Audit-Index"))
    assert (entry["event"], entry["decision"], entry["subject"]) == ("authz.denied", "deny", "carol")


def test_when_a_key_is_revoked_or_unknown_then_401_and_both_are_audited(gateway: GatewayProcess) -> None:
    key = gateway.make_key("acme", "dave", "reader")
    client(gateway, key).embeddings.create(model=MODEL, input="works before revocation")  # accepted at once
    key_id = key[3:19]
    gateway.cli("apikey", "revoke", key_id)
    for presented in (key, "gk_0123456789abcdef_" + "x" * 43, "not-a-key"):
        with pytest.raises(openai.AuthenticationError) as info:
            client(gateway, presented).embeddings.create(model=MODEL, input="hello")
        entry = entry_at(gateway, info.value.response.headers.get("X-Gateway-Audit-Index"))
        assert (entry["event"], entry["decision"]) == ("auth.failure", "deny")
    assert entry_at(gateway, info.value.response.headers.get("X-Gateway-Audit-Index")).get("key_id") is None


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": "text-embedding-3-small", "input": "x"}, 404, "model_not_found"),
        ({"model": MODEL, "input": [[1, 2, 3]]}, 400, "bad_request"),
        ({"model": MODEL, "input": [1, 2, 3]}, 400, "bad_request"),
        ({"model": MODEL, "input": "x", "dimensions": 256}, 400, "bad_request"),
        ({"model": MODEL, "input": "x", "encoding_format": "int8"}, 400, "bad_request"),
        ({"model": MODEL, "input": []}, 400, "bad_request"),
        ({"model": MODEL}, 400, "bad_request"),
        ({"model": MODEL, "input": ["x"] * 2049}, 413, "payload_too_large"),
        (["not", "an", "object"], 400, "bad_request"),
    ],
)
def test_when_the_request_is_invalid_then_a_clear_openai_shaped_error(
    gateway: GatewayProcess, writer_key: str, body: object, status: int, code: str
) -> None:
    r = httpx.post(gateway.url + "/v1/embeddings", headers={"Authorization": f"Bearer {writer_key}"}, json=body)
    assert r.status_code == status
    err = r.json()["error"]
    assert err["code"] == code and err["message"] and "type" in err and "param" in err
    assert r.headers["X-Gateway-Audit-Index"].isdigit()


def test_when_the_body_is_not_json_or_too_large_then_400_and_413(gateway: GatewayProcess, writer_key: str) -> None:
    auth = {"Authorization": f"Bearer {writer_key}", "Content-Type": "application/json"}
    r = httpx.post(gateway.url + "/v1/embeddings", headers=auth, content=b"{not json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
    big = b'{"model": "all-MiniLM-L6-v2", "input": "' + b"a" * (9 * 1024 * 1024) + b'"}'
    r = httpx.post(gateway.url + "/v1/embeddings", headers=auth, content=big)
    assert r.status_code == 413


def test_when_langchain_embeds_with_ctx_length_check_off_then_it_works(
    gateway: GatewayProcess, writer_key: str
) -> None:
    from langchain_openai import OpenAIEmbeddings

    emb = OpenAIEmbeddings(model=MODEL, base_url=gateway.url + "/v1", api_key=writer_key,  # type: ignore[arg-type]
                           check_embedding_ctx_length=False, max_retries=0)
    vectors = emb.embed_documents(["Premiums are due monthly.", "Policyholders pay each month."])
    assert len(vectors) == 2 and len(vectors[0]) == 384
    assert len(emb.embed_query("When are premiums due?")) == 384


def test_when_unique_pii_is_planted_then_it_appears_nowhere_under_the_data_dir_or_in_logs(
    gateway: GatewayProcess, writer_key: str
) -> None:
    marker = uuid.uuid4().hex[:10]
    email = f"zq{marker}@example.org"
    name = "Bartholomew Quigglesworth"
    ssn = "219-09-9999"
    c = client(gateway, writer_key)
    c.embeddings.create(model=MODEL, input=f"Contact {name} at {email} ref {marker}")
    with pytest.raises(openai.UnprocessableEntityError):
        c.embeddings.create(model=MODEL, input=f"{name} has SSN {ssn}")
    needles = [email.encode(), marker.encode(), name.encode(), ssn.encode(), writer_key.encode()]
    files = [p for p in gateway.data_dir.rglob("*") if p.is_file()] + [gateway.log_path]
    assert files
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"{needle!r} found in {path}"


def test_a_started_gateway_prints_nothing_outside_its_json_log_but_its_own_start_lines(gateway: GatewayProcess) -> None:
    # transformers' "Loading weights" progress bar and its loss_type notice went to stderr at every start
    plain = [line for line in gateway.log_path.read_text().splitlines() if line and not line.startswith("{")]
    assert plain and all(line.startswith(("loading model and PII detector (", "gateway listening on "))
                         for line in plain), plain
