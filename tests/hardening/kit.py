"""Shared helpers: an in-process gateway with fakes (fast enough for fuzzing and property tests)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.auth.apikeys import create_key
from gateway.bootstrap import Services, build_services
from gateway.crypto.keyfiles import init_keys
from gateway.embedding.embedder import FakeEmbedder
from gateway.embedding.specs import DEFAULT_MODEL
from gateway.http.app import create_app
from gateway.pii.decide import decide
from gateway.pii.fake import FakeDetector
from gateway.pii.normalize import normalize
from gateway.policy.loader import GatewayPolicy
from gateway.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
ROLES = ("admin", "writer", "reader", "auditor")
# What must never leave the gateway in a response body: tracebacks and internals.
LEAK_PATTERNS = re.compile(r"Traceback \(most recent call last\)|File \"/|\bsqlite3\.|\bat 0x[0-9a-f]{6,}")


@dataclass
class Gateway:
    """An app built with fakes for the model and detector; real Casbin, SQLite, FAISS, crypto and audit log."""

    services: Services
    root: Path
    keys: dict[tuple[str, str], str] = field(default_factory=dict)

    def key(self, tenant: str, role: str) -> str:
        if (tenant, role) not in self.keys:
            self.keys[(tenant, role)], _ = create_key(self.services.apikeys, tenant, f"{role}-1", role)
        return self.keys[(tenant, role)]


def build_gateway(root: Path, **overrides: Any) -> tuple[Any, Gateway]:
    """Returns (the Litestar app, its Gateway handle)."""
    if not (root / "policy").exists():
        shutil.copytree(REPO / "policy", root / "policy")
    init_keys(root / "keys")
    settings = load_settings(
        {}, data_dir=root / "data", keys_dir=root / "keys", policy_dir=root / "policy", batch_max_wait_ms=0.0,
        **overrides,
    )
    services = build_services(settings, embedder=FakeEmbedder(DEFAULT_MODEL), detector=FakeDetector())
    return create_app(services), Gateway(services, root)


def secret_values(gw: Gateway) -> list[bytes]:
    """Byte strings that must never appear in any response, log or audit entry."""
    out = [k.encode() for k in gw.keys.values()]
    out.append(gw.services.keys.hmac_root.get_secret())
    return out


def evasions_passed(detector: Any, policy: GatewayPolicy, texts: list[str]) -> list[str]:
    """The texts the shipped policy did not block (tenant acme), through the real detector and decision."""
    scope = policy.scope("acme")
    canonical = [normalize(t) for t in texts]
    findings = detector.analyze(canonical, [scope] * len(canonical))
    return [t for t, c, f in zip(texts, canonical, findings, strict=True) if not decide(c, f, scope, b"k").blocked]


def assert_all_blocked(detector: Any, policy: GatewayPolicy, texts: list[str]) -> None:
    passed = evasions_passed(detector, policy, texts)
    assert not passed, f"{len(passed)} of {len(texts)} evasions passed, e.g. {passed[:6]}"
