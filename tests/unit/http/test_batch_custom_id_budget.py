"""A batch whose custom_ids take too long to screen (attack17, fixes17a #5).

Before: creating a batch of 2,000 lines whose custom_ids were 512 capitalised words was refused 422 with the
message of an embeddings input: "the text could not be screened ... it was not embedded or stored". No text of the
batch was sent to embed: the message now says that the batch's custom_ids took too long to screen and what to do."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from litestar.testing import TestClient

from gateway.bootstrap import build_services
from gateway.crypto.keyfiles import init_keys
from gateway.embedding.embedder import FakeEmbedder
from gateway.embedding.specs import DEFAULT_MODEL
from gateway.errors import DetectionTooCostly
from gateway.http.app import create_app
from gateway.pii.detector_types import Finding
from gateway.pii.fake import FakeDetector
from gateway.policy.loader import ScopePolicy
from gateway.settings import load_settings
from tests.unit.http.conftest import REPO, App, entry
from tests.unit.http.test_batch_output_size import request


class LongTextsTooCostly(FakeDetector):
    """Past its budget on any text over 1,000 characters, as Presidio is on long capitalised word runs."""

    def analyze(self, texts: Sequence[str], scopes: Sequence[ScopePolicy],
                budget_s: float | None = None) -> list[list[Finding]]:
        if any(len(t) > 1_000 for t in texts):
            raise DetectionTooCostly.within(budget_s)
        return super().analyze(texts, scopes, budget_s)


def test_when_custom_ids_are_too_costly_to_screen_then_the_422_names_the_custom_ids_not_a_text(
        tmp_path: Path) -> None:
    shutil.copytree(REPO / "policy", tmp_path / "policy")
    init_keys(tmp_path / "keys")
    settings = load_settings({}, data_dir=tmp_path / "data", keys_dir=tmp_path / "keys",
                             policy_dir=tmp_path / "policy", batch_max_wait_ms=0.0)
    services = build_services(settings, embedder=FakeEmbedder(DEFAULT_MODEL), detector=LongTextsTooCostly())
    with TestClient(create_app(services)) as client:
        app = App(client, services, tmp_path)
        writer = app.auth(app.key("acme", "alice", "writer"))
        words = " ".join(["Word"] * 100)  # 499 characters: within the custom_id limit (512)
        content = "\n".join(request(f"{n} {words}", ["x"]) for n in range(300)).encode()
        up = client.post("/v1/files", files={"file": ("in.jsonl", content)}, data={"purpose": "batch"},
                         headers=writer)
        assert up.status_code == 200, up.text
        refused = client.post("/v1/batches", json={"input_file_id": up.json()["id"], "endpoint": "/v1/embeddings",
                                                   "completion_window": "24h"}, headers=writer)
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["code"] == "pii_screening_too_costly" and error["param"] == "custom_id"
        assert "custom_ids (lines 1 to 300)" in error["message"]
        assert "not embedded" not in error["message"] and "the text " not in error["message"]
        assert "short opaque custom_ids" in error["message"]
        audited = entry(app, refused)
        assert (audited["event"], audited["decision"], audited["status"]) == ("batch.create", "deny", 422)
