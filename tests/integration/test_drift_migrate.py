"""The real model: drift from a different domain raises the alert while more of the same does not; a migration
to all-MiniLM-L6-v2@1.1.0 (truncation at 128 word pieces) interrupted half-way resumes and searches exactly like a
fresh ingest into 1.1.0.

In-process app (Litestar TestClient) with the real model and real SQLite/FAISS/audit log; the PII detector is the
regex fake, as Presidio is covered elsewhere and only the vectors matter here.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from faker import Faker
from litestar.testing import TestClient

from gateway.auth.apikeys import create_key
from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.migration_state import SQLiteMigrationState
from gateway.bootstrap import Services, build_services
from gateway.crypto.keyfiles import init_keys
from gateway.embedding.embedder import SentenceTransformerEmbedder
from gateway.embedding.registry import load_registry
from gateway.embedding.specs import ModelSpec
from gateway.http.app import create_app
from gateway.migration.migrate import Migrator
from gateway.pii.fake import FakeDetector
from gateway.settings import load_settings

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
V11 = "all-MiniLM-L6-v2@1.1.0"
MODELS_YAML = """models:
  - {name: all-MiniLM-L6-v2, version: 1.1.0, dimension: 384, pooling: mean, normalized: true,
     max_seq_length: 128, weights: packaged,
     fingerprint: 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db}
"""


def _doc_sentences() -> list[str]:
    from pydoc_data.topics import topics

    out = []
    for key in sorted(topics):
        for s in re.split(r"(?<=[.!?])\s+", re.sub(r"\s+", " ", topics[key])):
            if 40 <= len(s) <= 300 and not re.search(r"[@\d]{3}", s):
                out.append(s)
    np.random.default_rng(0).shuffle(out)
    return out


def _business_sentences(n: int) -> list[str]:
    fake = Faker()
    Faker.seed(3)
    return [f"{fake.company()} reported quarterly revenue as patients at the clinic awaited {fake.bs()}"
            for _ in range(n)]


@pytest.fixture(scope="module")
def embedders() -> dict[ModelSpec, SentenceTransformerEmbedder]:
    """The real model loaded once per version for the module: both builds on 1.0.0 serve the same one (a load and
    its trace take 3-4 s)."""
    return {}


def _services(root: Path, model_name: str, embedders: dict[ModelSpec, SentenceTransformerEmbedder]) -> Services:
    settings = load_settings({}, data_dir=root / "data", keys_dir=root / "keys", policy_dir=root / "policy",
                             batch_max_wait_ms=1.0, model_name=model_name)
    spec = load_registry(settings.policy_dir, model_name).get("all-MiniLM-L6-v2")
    if spec not in embedders:
        embedders[spec] = SentenceTransformerEmbedder(spec)
    return build_services(settings, embedder=embedders[spec], detector=FakeDetector())


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("drift")
    shutil.copytree(REPO / "policy", path / "policy")
    (path / "policy" / "models.yaml").write_text(MODELS_YAML)
    init_keys(path / "keys")
    yield path


def _ingest(client: TestClient, auth: dict[str, str], name: str, texts: list[str], prefix: str) -> None:  # type: ignore[type-arg]
    docs = [{"id": f"{prefix}{i}", "text": t} for i, t in enumerate(texts)]
    for start in range(0, len(docs), 64):
        got = client.post(f"/v1/collections/{name}/documents", json={"documents": docs[start:start + 64]},
                          headers=auth)
        assert got.status_code == 200, got.text


def test_when_texts_from_another_domain_arrive_then_drift_alerts_and_same_domain_does_not(
    root: Path, embedders: dict[ModelSpec, SentenceTransformerEmbedder],
) -> None:
    services = _services(root, "all-MiniLM-L6-v2", embedders)
    assert services.observability is not None
    monitor = services.observability.drift
    monitor.baseline_size, monitor.window_size = 96, 48  # the defaults (192, 64) take longer on 2 cores
    docs = _doc_sentences()
    with TestClient(create_app(services)) as client:
        key, _ = create_key(services.apikeys, "acme", "w", "writer")
        auth = {"Authorization": f"Bearer {key}"}
        client.post("/v1/collections", json={"name": "pydocs"}, headers=auth)
        _ingest(client, auth, "pydocs", docs[:96 + 48], "same")
        calm = client.get("/v1/collections/pydocs/drift", headers=auth).json()["windows"]
        # Centroid shift and mean distance are steady for same-domain text. The outlier share is not asserted
        # on this window: it holds the topics that follow the baseline's in the documentation's own order (not a
        # fair sample of them), and a 99th percentile of 96 noisy distances is a loose yardstick; under the
        # in-sample baseline it read 0.02 to 0.17 over 6 key sets. Only its gap to the other domain's is asserted
        # (same-content false alerts are measured in tests/unit/drift and docs/models.md).
        assert len(calm) == 1 and not {"centroid_shift", "mean_distance"} & set(calm[0]["alerts"])
        _ingest(client, auth, "pydocs", _business_sentences(48), "other")
        series = client.get("/v1/collections/pydocs/drift", headers=auth).json()["windows"]
        assert series[-1]["alerts"] == ["centroid_shift", "mean_distance", "outlier_share"]
        assert series[-1]["outlier_share"] > calm[0]["outlier_share"] + 0.3
        metrics = client.get("/metrics").text
        assert 'gateway_drift_alert{collection="pydocs",measure="centroid_shift",tenant="acme"} 1.0' in metrics
        log = services.audit_log
        events = [json.loads(e) for e in log.entries(0, log.size())]
        alerts = [e for e in events if e["event"] == "drift.alert"]
        assert len(alerts) == 1 + bool(calm[0]["alerts"])
        assert alerts[-1]["collection_digest"] == services.auditor.digest("acme", "pydocs")


def test_when_a_migration_is_interrupted_then_it_resumes_and_matches_a_fresh_ingest(
    root: Path, embedders: dict[ModelSpec, SentenceTransformerEmbedder],
) -> None:
    texts = [" ".join(_doc_sentences()[i * 6:(i + 1) * 6]) for i in range(12)]  # long: truncation matters
    queries = ["how are exceptions raised and handled", "what does the import statement do", "string formatting"]
    old = _services(root, "all-MiniLM-L6-v2", embedders)
    with TestClient(create_app(old)) as client:
        key, _ = create_key(old.apikeys, "acme", "admin", "admin")
        auth = {"Authorization": f"Bearer {key}"}
        client.post("/v1/collections", json={"name": "manual"}, headers=auth)
        _ingest(client, auth, "manual", texts, "doc")
    new = _services(root, V11, embedders)
    with TestClient(create_app(new)) as client:
        db = SQLiteDatabase(new.settings.sqlite_path)
        target = new.registry.find("all-MiniLM-L6-v2", "1.1.0")
        migrator = Migrator(new, SQLiteMigrationState(db, new.envelope), batch_size=4)
        half = asyncio.run(migrator.run("acme", "manual", target, stop_after=8))
        assert not half.switched and half.done == 8 < half.total
        rest = asyncio.run(migrator.run("acme", "manual", target))
        assert rest.switched and rest.embedded_now == rest.total - 8
        client.post("/v1/collections", json={"name": "fresh"}, headers=auth)
        _ingest(client, auth, "fresh", texts, "doc")
        for q in queries:
            a = client.post("/v1/collections/manual/search", json={"query": q, "k": 5}, headers=auth).json()
            b = client.post("/v1/collections/fresh/search", json={"query": q, "k": 5}, headers=auth).json()
            assert [(h["document_id"], h["chunk_index"], h["score"]) for h in a["results"]] == \
                [(h["document_id"], h["chunk_index"], h["score"]) for h in b["results"]]
