"""``gateway collections migrate`` as an operator runs it: a subprocess against a stopped gateway's data directory,
interrupted with ``--stop-after``, run again to finish, then the gateway restarted on the new version serves it.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.integration.server import PII_IN_PROCESS, GatewayProcess
from tests.integration.test_drift_migrate import MODELS_YAML, V11, _doc_sentences

pytestmark = pytest.mark.slow


def test_when_a_migration_is_stopped_and_run_again_then_the_restarted_gateway_serves_the_new_version(
    tmp_path: Path,
) -> None:
    gw = GatewayProcess(tmp_path / "gw", env=dict(PII_IN_PROCESS))
    gw.prepare()
    (gw.policy_dir / "models.yaml").write_text(MODELS_YAML)
    key = gw.make_key("acme", "ops", "admin")
    auth = {"Authorization": f"Bearer {key}"}
    texts = [" ".join(_doc_sentences()[i * 6:(i + 1) * 6]) for i in range(12)]
    gw.start()
    try:
        assert httpx.post(gw.url + "/v1/collections", json={"name": "manual"}, headers=auth).status_code == 201
        docs = [{"id": f"doc{i}", "text": t} for i, t in enumerate(texts)]
        ingest = httpx.post(gw.url + "/v1/collections/manual/documents", json={"documents": docs}, headers=auth,
                            timeout=120)
        assert ingest.status_code == 200, ingest.text[:300]
    finally:
        gw.stop()

    first = gw.cli("collections", "migrate", "manual", "--tenant", "acme", "--to", V11, "--stop-after", "4",
                   check=False)
    assert first.returncode == 3, first.stderr[-2000:]  # not switched: records are left
    done, total = map(int, re.search(r"(\d+)/(\d+) records re-embedded", first.stdout).groups())  # type: ignore[union-attr]
    assert done == 4 < total
    assert "migrating manual to all-MiniLM-L6-v2@1.1.0 [" in first.stderr  # the progress bar

    second = gw.cli("collections", "migrate", "manual", "--tenant", "acme", "--to", V11, check=False)
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"{total}/{total} records re-embedded" in second.stdout and f"({total - 4} in this run)" in second.stdout
    assert "switched: collection manual is now bound to all-MiniLM-L6-v2@1.1.0" in second.stdout

    gw.env["GATEWAY_MODEL_NAME"] = V11
    gw.start()
    try:
        info = httpx.get(gw.url + "/v1/collections/manual", headers=auth).json()
        assert info["model_version"] == "1.1.0"
        found = httpx.post(gw.url + "/v1/collections/manual/search",
                           json={"query": texts[3][:200], "k": 3}, headers=auth, timeout=60)
        assert found.status_code == 200, found.text[:300]
        assert found.json()["results"][0]["document_id"] == "doc3"
    finally:
        gw.stop()
