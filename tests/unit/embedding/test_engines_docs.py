"""docs/engines.md stays true: every models.yaml example is accepted by the registry, every engine key is in its
table, and the URL it says the gateway calls for Azure OpenAI is the one the client builds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
import yaml

from gateway.embedding import registry
from gateway.embedding.engines import EngineClient
from tests.tlskit import make_pki

DOC = Path(__file__).resolve().parents[3] / "docs" / "engines.md"


def _examples() -> list[str]:
    """The doc's yaml blocks that declare models (an entry alone is wrapped in ``models:``)."""
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text("utf-8"), re.S)
    return [b if b.startswith("models:") else "models:\n" + b for b in blocks if "engine:" in b]


@pytest.fixture
def policy_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k-azure")
    return tmp_path


def _declare(example: str, policy_dir: Path) -> list[registry.ModelSpec]:
    data = yaml.safe_load(example)
    pki = make_pki(policy_dir)
    files = {"ca_file": pki.ca, "client_cert": pki.client[0], "client_key": pki.client[1]}
    for entry in data["models"]:  # the documented secret files do not exist here: point them at ones that do
        if "api_key_file" in entry["engine"]:
            secret = policy_dir / "key"
            secret.write_text("k-file\n", "utf-8")
            entry["engine"]["api_key_file"] = str(secret)
        for key, path in files.items():  # the registry loads them (a missing one stops the start)
            if key in entry["engine"]:
                entry["engine"][key] = path
        entry.pop("fingerprint", None)  # the doc's "probe:v1:..." is a placeholder
    (policy_dir / registry.FILE_NAME).write_text(yaml.safe_dump(data), "utf-8")
    specs, _ = registry.declared_models(policy_dir)
    return specs[1:]


def test_when_reading_the_engine_examples_then_there_is_one_per_engine_and_the_registry_accepts_each(
    policy_dir: Path,
) -> None:
    examples = _examples()
    assert len(examples) == 6  # the general one, TEI, Infinity, vLLM, Ollama, Azure OpenAI
    for example in examples:
        specs = _declare(example, policy_dir)
        assert specs and all(s.engine is not None for s in specs), example


def test_when_reading_the_key_table_then_every_engine_key_is_documented() -> None:
    doc = DOC.read_text("utf-8")
    for key in sorted(registry._ENGINE_KEYS):
        assert f"`engine.{key}`" in doc, f"docs/engines.md: the key table lacks engine.{key}"


def test_when_the_doc_names_the_azure_url_then_the_client_calls_exactly_it(policy_dir: Path) -> None:
    said = re.search(r"The gateway calls `(https://[^`]+)`", DOC.read_text("utf-8"))
    assert said is not None
    azure = next(e for e in _examples() if "kind: azure_openai" in e)
    spec = _declare(azure, policy_dir)[0]
    assert spec.engine is not None
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        texts = json.loads(request.content)["input"]
        return httpx.Response(200, json={"data": [{"index": i, "embedding": [0.0] * spec.dimension}
                                                  for i in range(len(texts))]})

    EngineClient(spec.engine, spec.dimension, httpx.MockTransport(handler)).embed(["a"])
    assert str(seen[0].url) == said.group(1)
    assert seen[0].headers["api-key"] == "k-azure" and "authorization" not in seen[0].headers
