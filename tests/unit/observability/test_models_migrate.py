"""Model registry file, refusal of mixed embedding spaces (409), audited registry changes, and a resumable migration.

Fakes for the model and the detector; the real model runs in tests/integration/test_drift_migrate.py.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.migration_state import SQLiteMigrationState
from gateway.bootstrap import Services, build_services
from gateway.crypto.keyfiles import init_keys
from gateway.embedding.embedder import FakeEmbedder
from gateway.embedding.specs import DEFAULT_MODEL
from gateway.http.app import create_app
from gateway.migration.migrate import Migrator
from gateway.pii.fake import FakeDetector
from gateway.settings import load_settings
from tests.unit.http.conftest import REPO

V11 = replace(DEFAULT_MODEL, version="1.1.0", max_seq_length=128)
MODELS_YAML = f"""models:
  - name: all-MiniLM-L6-v2
    version: 1.1.0
    dimension: 384
    pooling: mean
    normalized: true
    max_seq_length: 128
    weights: packaged
    fingerprint: {DEFAULT_MODEL.fingerprint}
"""
DOCS = [{"id": f"d{i}", "text": f"note {i} about invoices payments and ledgers number{i % 3}"} for i in range(8)]


def _services(root: Path, model_name: str = "all-MiniLM-L6-v2") -> Services:
    settings = load_settings({}, data_dir=root / "data", keys_dir=root / "keys", policy_dir=root / "policy",
                             batch_max_wait_ms=0.0, model_name=model_name)
    spec = V11 if model_name.endswith("1.1.0") else DEFAULT_MODEL
    return build_services(settings, embedder=FakeEmbedder(spec), detector=FakeDetector())


def _setup(root: Path) -> None:
    shutil.copytree(REPO / "policy", root / "policy")
    (root / "policy" / "models.yaml").write_text(MODELS_YAML)
    init_keys(root / "keys")


def _events(services: Services) -> list[dict[str, Any]]:
    log = services.audit_log
    return [json.loads(e) for e in log.entries(0, log.size())]


def _search(client: TestClient, key: str, name: str) -> list[tuple[str, float]]:  # type: ignore[type-arg]
    found = client.post(f"/v1/collections/{name}/search", json={"query": "invoices and payments", "k": 8},
                        headers={"Authorization": f"Bearer {key}"})
    assert found.status_code == 200, found.text
    return [(h["document_id"], h["score"]) for h in found.json()["results"]]


def test_when_the_gateway_serves_another_space_then_mixing_is_refused_and_migration_resumes(tmp_path: Path) -> None:
    _setup(tmp_path)
    old = _services(tmp_path)
    with TestClient(create_app(old)) as client:
        from gateway.auth.apikeys import create_key

        key, _ = create_key(old.apikeys, "acme", "w", "admin")
        auth = {"Authorization": f"Bearer {key}"}
        assert client.post("/v1/collections", json={"name": "docs"}, headers=auth).status_code == 201
        assert client.post("/v1/collections/docs/documents", json={"documents": DOCS}, headers=auth).status_code == 200
        registered = [e["model"]["version"] for e in _events(old) if e["event"] == "model.register"]
        assert sorted(registered) == ["1.0.0", "1.1.0"]

    new = _services(tmp_path, "all-MiniLM-L6-v2@1.1.0")
    with TestClient(create_app(new)) as client:
        refused = client.post("/v1/collections/docs/documents", json={"documents": DOCS[:1]}, headers=auth)
        assert refused.status_code == 409 and "migrate" in refused.json()["detail"]
        assert client.post("/v1/collections/docs/search", json={"query": "x"}, headers=auth).status_code == 409
        mixed = client.post("/v1/collections", json={"name": "y", "model": "all-MiniLM-L6-v2@1.0"}, headers=auth)
        assert mixed.status_code == 409

        db = SQLiteDatabase(new.settings.sqlite_path)
        seen: list[tuple[int, int]] = []
        migrator = Migrator(new, SQLiteMigrationState(db, new.envelope), batch_size=3,
                            progress=lambda d, t: seen.append((d, t)))
        first = asyncio.run(migrator.run("acme", "docs", V11, stop_after=4))
        assert not first.switched and first.done == 4
        assert _search_status(client, auth) == 409  # still the old index until the switch
        second = asyncio.run(migrator.run("acme", "docs", V11))
        assert second.switched and second.embedded_now == second.total - 4 and seen[-1] == (8, 8)

        assert client.post("/v1/collections", json={"name": "fresh"}, headers=auth).status_code == 201
        client.post("/v1/collections/fresh/documents", json={"documents": DOCS}, headers=auth)
        assert _search(client, key, "docs") == _search(client, key, "fresh")
        info = client.get("/v1/collections/docs", headers=auth).json()
        assert info["model_version"] == "1.1.0" and info["chunk_count"] == len(DOCS)
        lineage = client.get("/v1/collections/docs/documents/d0", headers=auth).json()["chunks"][0]
        assert lineage["provenance"]["migrated_from"]["model_version"] == "1.0.0"
        migrate_events = [e for e in _events(new) if e["event"] == "collection.migrate"]
        assert sum(int(e["count"]) for e in migrate_events if "records" in e) == len(DOCS)


def _search_status(client: TestClient, auth: dict[str, str]) -> int:  # type: ignore[type-arg]
    return int(client.post("/v1/collections/docs/search", json={"query": "x"}, headers=auth).status_code)


def test_when_a_version_is_retired_then_model_retire_is_audited_at_start(tmp_path: Path) -> None:
    _setup(tmp_path)
    _services(tmp_path).close()
    (tmp_path / "policy" / "models.yaml").write_text(MODELS_YAML + "    retired: true\n")
    again = _services(tmp_path)
    try:
        retired = [e for e in _events(again) if e["event"] == "model.retire"]
        assert [e["model"]["version"] for e in retired] == ["1.1.0"]
        assert not [e for e in _events(again)[-1:] if e["event"] == "model.register"]
    finally:
        again.close()
