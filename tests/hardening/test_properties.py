"""Property tests (hypothesis): tenant isolation under random interleavings, bit flips are always detected, and a
random policy file either loads or is rejected without replacing the good one."""

from __future__ import annotations

import base64
import os
import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from audit.errors import VerificationError
from audit.verify import verify_log
from gateway.errors import DecryptionFailed
from gateway.policy.loader import PolicyHolder
from tests.hardening.kit import REPO, Gateway, build_gateway

NAMES = ["c1", "c2", "c3"]
DOCS = ["d1", "d2"]
OPS = ["create", "list", "get", "ingest", "search", "read_doc", "drop_doc", "drop"]
ROUNDS = {"isolation": 60, "bitflip_store": 60, "bitflip_audit": 80, "policy": 80}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient[Any], Gateway]]:
    app, gw = build_gateway(tmp_path_factory.mktemp("props"))
    with TestClient(app) as client:
        yield client, gw


def _expect(model: dict[str, set[str]], op: str, name: str, doc: str) -> int:
    """The status a tenant must see, computed from its own state alone: the other tenant cannot matter."""
    exists = name in model
    if op == "create":
        return 409 if exists else 201
    if op == "list":
        return 200
    if not exists:
        return 404
    if op in ("read_doc", "drop_doc"):
        return 200 if doc in model[name] else 404
    return 200


def _call(client: TestClient[Any], auth: dict[str, str], op: str, name: str, doc: str, marker: str) -> Any:
    base = f"/v1/collections/{name}"
    if op == "create":
        return client.post("/v1/collections", json={"name": name}, headers=auth)
    if op == "list":
        return client.get("/v1/collections", headers=auth)
    if op == "get":
        return client.get(base, headers=auth)
    if op == "ingest":
        body = {"documents": [{"id": doc, "text": f"{marker} text of {doc}", "metadata": {"owner": marker}}]}
        return client.post(base + "/documents", json=body, headers=auth)
    if op == "search":
        return client.post(base + "/search", json={"query": "text", "k": 10}, headers=auth)
    if op == "read_doc":
        return client.get(f"{base}/documents/{doc}", headers=auth)
    if op == "drop_doc":
        return client.delete(f"{base}/documents/{doc}", headers=auth)
    return client.delete(base, headers=auth)


def _apply(model: dict[str, set[str]], op: str, name: str, doc: str) -> None:
    if op == "create":
        model.setdefault(name, set())
    elif op == "ingest" and name in model:
        model[name].add(doc)
    elif op == "drop_doc" and name in model:
        model[name].discard(doc)
    elif op == "drop":
        model.pop(name, None)


@settings(max_examples=ROUNDS["isolation"], deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(steps=st.lists(st.tuples(st.sampled_from("AB"), st.sampled_from(OPS), st.sampled_from(NAMES),
                                st.sampled_from(DOCS)), min_size=1, max_size=25))
def test_when_two_tenants_interleave_operations_then_neither_sees_or_infers_the_other(
    shared: tuple[TestClient[Any], Gateway], steps: list[tuple[str, str, str, str]]
) -> None:
    client, gw = shared
    run = uuid.uuid4().hex[:8]
    tenants = {t: f"t{t.lower()}{run}" for t in "AB"}
    auth = {t: {"Authorization": f"Bearer {gw.key(tenants[t], 'admin')}"} for t in "AB"}
    markers = {t: f"mk{t}{run}" for t in "AB"}
    models: dict[str, dict[str, set[str]]] = {"A": {}, "B": {}}
    for who, op, name, doc in steps:
        other = "B" if who == "A" else "A"
        r = _call(client, auth[who], op, name, doc, markers[who])
        assert r.status_code == _expect(models[who], op, name, doc), (who, op, name, doc, r.text)
        assert markers[other] not in r.text and tenants[other] not in r.text
        if op == "list":
            assert {c["name"] for c in r.json()["collections"]} == set(models[who])
        if op == "search" and r.status_code == 200:
            assert {h["document_id"] for h in r.json()["results"]} <= models[who][name]
        _apply(models[who], op, name, doc)


def _flip(blob: bytes, bit: int) -> bytes:
    i = bit % (len(blob) * 8)
    out = bytearray(blob)
    out[i // 8] ^= 1 << (i % 8)
    return bytes(out)


@settings(max_examples=ROUNDS["bitflip_store"], deadline=None, suppress_health_check=list(HealthCheck),
          database=None)
@given(column=st.sampled_from(["vector", "text", "metadata"]), bit=st.integers(min_value=0, max_value=10**9))
def test_when_any_bit_of_a_stored_ciphertext_flips_then_reading_it_fails_opaquely(
    shared: tuple[TestClient[Any], Gateway], column: str, bit: int
) -> None:
    client, gw = shared
    tenant = f"flip{uuid.uuid4().hex[:8]}"
    auth = {"Authorization": f"Bearer {gw.key(tenant, 'writer')}"}
    assert client.post("/v1/collections", json={"name": "c"}, headers=auth).status_code == 201
    doc = {"id": "d", "text": "some text to protect", "metadata": {"k": "v"}}
    r = client.post("/v1/collections/c/documents", json={"documents": [doc]}, headers=auth)
    record_id = r.json()["results"][0]["record_ids"][0]
    with sqlite3.connect(gw.services.settings.sqlite_path) as db:
        (blob,) = db.execute(f"SELECT {column} FROM store_chunks WHERE record_id = ?", (record_id,)).fetchone()
        if blob is None:  # the policy keeps no text for this collection: nothing stored, nothing to flip
            return
        db.execute(f"UPDATE store_chunks SET {column} = ? WHERE record_id = ?", (_flip(blob, bit), record_id))
    with pytest.raises(DecryptionFailed) as caught:
        chunk = gw.services.collections.store.get(tenant, "c", record_id)
        _ = (chunk.text, chunk.metadata)  # the vector is checked by get() itself
    assert str(caught.value) == "a stored record could not be decrypted"


@pytest.fixture(scope="module")
def audit_log(shared: tuple[TestClient[Any], Gateway]) -> tuple[list[bytes], str, Any]:
    client, gw = shared
    auth = {"Authorization": f"Bearer {gw.key('platform', 'platform-auditor')}"}
    for _ in range(5):
        client.get("/v1/audit/entries", headers=auth)
    note = client.get("/v1/audit/checkpoint", headers=auth).text
    size = int(note.splitlines()[1])
    entries = client.get(f"/v1/audit/entries?start=0&end={size}", headers=auth).json()["entries"]
    leaves = [base64.b64decode(e) for e in entries]
    verify_log(leaves, note, gw.services.keys.audit_public_key)
    return leaves, note, gw.services.keys.audit_public_key


@settings(max_examples=ROUNDS["bitflip_audit"], deadline=None, suppress_health_check=list(HealthCheck),
          database=None)
@given(index=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=10**9))
def test_when_any_bit_of_an_audit_entry_flips_then_verification_fails(
    audit_log: tuple[list[bytes], str, Any], index: int, bit: int
) -> None:
    leaves, note, key = audit_log
    tampered = list(leaves)
    i = index % len(tampered)
    tampered[i] = _flip(tampered[i], bit)
    with pytest.raises(VerificationError):
        verify_log(tampered, note, key)


GOOD_POLICY = (REPO / "policy" / "gateway.yaml").read_bytes()


@settings(max_examples=ROUNDS["policy"], deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_when_a_random_policy_file_is_written_then_it_loads_or_the_good_one_stays(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    path = tmp_path_factory.mktemp("pol") / "gateway.yaml"
    path.write_bytes(GOOD_POLICY)
    holder = PolicyHolder(path)
    good = holder.current()
    lines = GOOD_POLICY.splitlines(keepends=True)
    kind = data.draw(st.sampled_from(["drop_line", "replace_line", "truncate", "garbage", "flip"]))
    i = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
    if kind == "drop_line":
        new = b"".join(lines[:i] + lines[i + 1:])
    elif kind == "replace_line":
        new = b"".join([*lines[:i], data.draw(st.text(max_size=40)).encode() + b"\n", *lines[i + 1:]])
    elif kind == "truncate":
        new = GOOD_POLICY[: data.draw(st.integers(min_value=0, max_value=len(GOOD_POLICY)))]
    elif kind == "garbage":
        new = data.draw(st.binary(max_size=200))
    else:
        new = _flip(GOOD_POLICY, data.draw(st.integers(min_value=0)))
    path.write_bytes(new)
    os.utime(path, ns=(1, 1))  # a new stat key even within the file system's time granularity
    changed = holder.reload_if_changed()
    if changed:
        assert holder.current().version != good.version
        assert holder.last_error is None
    else:
        assert holder.current() is good, "a rejected file replaced the good policy"
