"""Collections over real HTTP: real model, real Presidio, real SQLite/FAISS, real envelope encryption.

The corpus is Python's own documentation (``pydoc_data.topics``, shipped with CPython): text none of us wrote.
"""

from __future__ import annotations

import sqlite3
import struct
import uuid
from collections.abc import Iterator
from pathlib import Path
from pydoc_data.topics import topics
from typing import Any

import httpx
import pytest

from tests.auditkit import logged_entries
from tests.integration.server import PII_IN_PROCESS, GatewayProcess, serving

pytestmark = pytest.mark.slow
TOPICS = ["assert", "async", "break", "class", "comparisons", "context-managers", "continue", "del", "dict",
          "exceptions", "floating", "for", "formatstrings", "function", "global", "if", "import", "integers",
          "lambda", "lists", "naming", "nonlocal", "pass", "raise", "return", "slicings", "strings", "truth",
          "try", "while", "with", "yield", "booleans", "calls", "debugger", "imaginary", "power", "shifting"]
QUESTIONS = {
    "Which statement lets me specify exception handlers and cleanup code with except and finally?": "try",
    "Define a small anonymous function inline in an expression": "lambda",
    "loop that keeps executing while an expression is true": "while",
    "complex numbers with an imaginary part": "imaginary",
    "bring a module from another package into my namespace": "import",
}
MARKER = "zebrafinch" + uuid.uuid4().hex[:8]


def doc_text(topic: str) -> str:
    return topics[topic][:3000]


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    with serving(Path(tmp_path_factory.mktemp("collections")), env=PII_IN_PROCESS) as proc:
        yield proc


@pytest.fixture(scope="module")
def keys(gw: GatewayProcess) -> dict[str, str]:
    return {
        "writer": gw.make_key("acme", "ingest-bot", "writer"),
        "reader": gw.make_key("acme", "rag-app", "reader"),
        "admin": gw.make_key("acme", "ops", "admin"),
        "other": gw.make_key("globex", "intruder", "admin"),
    }


def call(gw: GatewayProcess, key: str, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, gw.url + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=300)


def search(gw: GatewayProcess, key: str, query: str, k: int = 3) -> list[dict[str, Any]]:
    r = call(gw, key, "POST", "/v1/collections/pydocs/search", {"query": query, "k": k})
    assert r.status_code == 200, r.text
    return list(r.json()["results"])


@pytest.fixture(scope="module")
def ingested(gw: GatewayProcess, keys: dict[str, str]) -> dict[str, Any]:
    r = call(gw, keys["writer"], "POST", "/v1/collections", {"name": "pydocs", "model": "all-MiniLM-L6-v2"})
    assert r.status_code == 201, r.text
    docs = [{"id": t, "text": doc_text(t), "metadata": {"topic": t, "source": "pydoc"}} for t in TOPICS]
    docs.append({"id": "marker", "text": f"The {MARKER} protocol governs nightly batch settlement.",
                 "metadata": {"source": "internal"}})
    r = call(gw, keys["writer"], "POST", "/v1/collections/pydocs/documents", {"documents": docs})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert all(x["status"] == "stored" for x in results), [x for x in results if x["status"] != "stored"]
    return {"results": results, "audit_index": int(r.headers["X-Gateway-Audit-Index"])}


def test_when_a_paraphrased_question_is_asked_then_the_right_document_is_in_the_top_3(
    gw: GatewayProcess, keys: dict[str, str], ingested: dict[str, Any]
) -> None:
    for question, topic in QUESTIONS.items():
        ids = [h["document_id"] for h in search(gw, keys["reader"], question)]
        assert topic in ids, (question, ids)


def test_when_results_come_back_then_they_carry_provenance_and_redacted_text(
    gw: GatewayProcess, keys: dict[str, str], ingested: dict[str, Any]
) -> None:
    hit = search(gw, keys["reader"], "anonymous inline function", k=1)[0]
    assert hit["metadata"]["source"] == "pydoc" and hit["chunk_id"] and isinstance(hit["score"], float)
    assert hit["provenance"]["model"]["fingerprint"].startswith("53aa5117")
    assert "text" in hit
    doc = call(gw, keys["reader"], "GET", f"/v1/collections/pydocs/documents/{hit['document_id']}").json()
    record = doc["chunks"][0]
    prov = record["provenance"]
    assert record["audit_index"] == ingested["audit_index"]
    for field in ("span", "text_digest", "model", "pipeline_version", "policy_version", "pii", "noise_sigma",
                  "actor", "time"):
        assert field in prov, field
    assert prov["actor"]["subject"] == "ingest-bot" and record["key_version"] >= 1


def test_when_the_data_dir_is_scanned_then_no_plaintext_and_no_raw_vector_is_found(
    gw: GatewayProcess, keys: dict[str, str], ingested: dict[str, Any]
) -> None:
    text = f"The {MARKER} protocol governs nightly batch settlement."
    vector = call(gw, keys["writer"], "POST", "/v1/embeddings",
                  {"model": "all-MiniLM-L6-v2", "input": text, "encoding_format": "float"}).json()["data"][0]
    raw = struct.pack("<8f", *vector["embedding"][:8])  # the same text and tenant get the same protected vector
    sample = doc_text("lambda")[200:260].encode()
    scanned: dict[str, int] = {}
    for path in gw.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            scanned[path.name] = len(data)
            assert MARKER.encode() not in data, path
            assert raw not in data, path
            assert sample not in data, path
    # The scan read the files the chunks live in: a scan of nothing would pass every check above.
    assert {"gateway.db", "audit.db"} <= set(scanned), sorted(scanned)
    assert sum(size for name, size in scanned.items() if name.startswith("gateway.db")) > 64 * 1024, scanned


def test_when_another_tenant_calls_every_collection_route_then_404(
    gw: GatewayProcess, keys: dict[str, str], ingested: dict[str, Any]
) -> None:
    other = keys["other"]
    statuses = [
        call(gw, other, "GET", "/v1/collections/pydocs").status_code,
        call(gw, other, "POST", "/v1/collections/pydocs/search", {"query": "loops"}).status_code,
        call(gw, other, "POST", "/v1/collections/pydocs/documents",
             {"documents": [{"id": "x", "text": "y"}]}).status_code,
        call(gw, other, "GET", "/v1/collections/pydocs/documents/try").status_code,
        call(gw, other, "DELETE", "/v1/collections/pydocs/documents/try").status_code,
        call(gw, other, "DELETE", "/v1/collections/pydocs").status_code,
    ]
    assert statuses == [404] * 6
    assert call(gw, other, "GET", "/v1/collections").json()["collections"] == []


def test_when_a_stored_ciphertext_is_flipped_then_a_clear_error_and_an_audit_entry(
    gw: GatewayProcess, keys: dict[str, str], ingested: dict[str, Any]
) -> None:
    with sqlite3.connect(gw.data_dir / "gateway.db") as conn:
        row = conn.execute("SELECT id, metadata FROM store_chunks WHERE document_id = 'pass'").fetchone()
        blob = bytearray(row[1])
        blob[-5] ^= 0x01
        conn.execute("UPDATE store_chunks SET metadata = ? WHERE id = ?", (bytes(blob), row[0]))
    r = call(gw, keys["reader"], "GET", "/v1/collections/pydocs/documents/pass")
    assert r.status_code == 500 and r.json()["code"] == "decryption_failed"
    assert "pass" not in r.json()["detail"]
    hits = search(gw, keys["reader"], "a null operation placeholder statement that does nothing", k=10)
    assert "pass" not in [h["document_id"] for h in hits]
    events = [e for e in logged_entries(gw.data_dir) if e["event"] == "crypto.integrity_failure"]
    assert events and events[-1]["tenant"] == "acme"


def test_when_restarted_rotated_and_shredded_then_search_survives_rotation_and_not_shredding(
    gw: GatewayProcess, keys: dict[str, str], ingested: dict[str, Any]
) -> None:
    question = next(iter(QUESTIONS))
    before = [(h["chunk_id"], h["score"]) for h in search(gw, keys["reader"], question, k=5)]
    running = gw.cli("tenant", "shred", "acme", "--confirm", "acme", check=False)
    assert running.returncode != 0 and "admin/tenant/shred" in running.stderr  # refused under a running gateway
    gw.stop()
    rotated = gw.cli("keys", "rotate", "--rewrap")
    assert "re-wrapped" in rotated.stdout
    gw.start()
    after = [(h["chunk_id"], h["score"]) for h in search(gw, keys["reader"], question, k=5)]
    assert after == before  # same results after restart and KEK rotation
    r = call(gw, keys["writer"], "POST", "/v1/collections/pydocs/documents",
             {"documents": [{"id": "new", "text": "Written after the rotation.", "metadata": {}}]})
    assert r.status_code == 200
    new = call(gw, keys["reader"], "GET", "/v1/collections/pydocs/documents/new").json()["chunks"][0]
    old = call(gw, keys["reader"], "GET", "/v1/collections/pydocs/documents/try").json()["chunks"][0]
    assert new["key_version"] > old["key_version"]
    shred = call(gw, keys["admin"], "POST", "/v1/admin/tenant/shred", {"confirm": "acme"})
    assert shred.status_code == 200 and shred.json()["chunks_forgotten"] > 0
    assert call(gw, keys["reader"], "POST", "/v1/collections/pydocs/search", {"query": question}).status_code == 404
    events = [e["event"] for e in logged_entries(gw.data_dir)]
    assert "key.rotate" in events and "key.rewrap" in events and "tenant.shred" in events
