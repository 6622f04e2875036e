"""The real app: a tenant shredded while its ingest job embeds a document stays shredded (attack17, fixes17a #1).

Before: the slice in flight sealed its answers after the shred and ``Envelope.encrypt`` made the tenant a new data
key (``data_keys`` held ``('acme', 1)`` again); now no key appears and the job's end is audited as dropped."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from litestar.testing import TestClient

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.datakeys import SQLiteDataKeyRepository
from gateway.bootstrap import build_services
from gateway.crypto.keyfiles import init_keys
from gateway.embedding.embedder import FakeEmbedder
from gateway.embedding.specs import DEFAULT_MODEL
from gateway.http.app import create_app
from gateway.pii.fake import FakeDetector
from gateway.settings import load_settings
from tests.unit.http.conftest import REPO, App


class HeldEmbedder(FakeEmbedder):
    """Holds the job's first document inside the model until the test lets it go."""

    def __init__(self) -> None:
        super().__init__(DEFAULT_MODEL)
        self.started, self.release = threading.Event(), threading.Event()

    def encode(self, texts: Sequence[str], token_counts: Sequence[int] | None = None) -> np.ndarray:
        if any("staged document" in t for t in texts):
            self.started.set()
            self.release.wait(10)
        return super().encode(texts, token_counts)


def _entries(app: App) -> list[dict[str, Any]]:
    log = app.services.audit_log
    return [json.loads(e) for e in log.entries(0, log.size())]


def test_when_the_tenant_is_shredded_mid_document_then_no_data_key_reappears(tmp_path: Path) -> None:
    shutil.copytree(REPO / "policy", tmp_path / "policy")
    init_keys(tmp_path / "keys")
    settings = load_settings({}, data_dir=tmp_path / "data", keys_dir=tmp_path / "keys",
                             policy_dir=tmp_path / "policy", batch_max_wait_ms=0.0)
    embedder = HeldEmbedder()
    services = build_services(settings, embedder=embedder, detector=FakeDetector())
    keys = SQLiteDataKeyRepository(SQLiteDatabase(tmp_path / "data" / "gateway.db"))
    with TestClient(create_app(services)) as client:
        app = App(client, services, tmp_path)
        admin, writer = app.auth(app.key("acme", "ada", "admin")), app.auth(app.key("acme", "alice", "writer"))
        assert client.post("/v1/collections", json={"name": "kb"}, headers=admin).status_code == 201
        docs = [{"id": f"d{n}", "text": f"staged document {n}"} for n in range(4)]
        queued = client.post("/v1/collections/kb/documents", json={"documents": docs},
                             headers={**writer, "Prefer": "respond-async"})
        assert queued.status_code == 202 and embedder.started.wait(10)
        shred = client.post("/v1/admin/tenant/shred", json={"confirm": "acme"}, headers=admin)
        assert shred.status_code == 200 and keys.active("acme") is None
        embedder.release.set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(e.get("code") == "job_forgotten" for e in _entries(app)):
            time.sleep(0.05)
        dropped = [e for e in _entries(app) if e.get("code") == "job_forgotten"]
        assert [(e["event"], e["decision"], e["tenant"]) for e in dropped] == [("job.cancelled", "error", "acme")]
        assert keys.active("acme") is None and [k for k in keys.all() if k.tenant == "acme"] == []
