"""The governed embedding pipeline: normalize -> detect PII -> decide -> embed -> protect.

Pure orchestration over injected stages; authentication, authorization and audit are the caller's (the
``gateway.service`` layer) so that denials are audited the same way for every route.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from gateway.batching import MicroBatcher
from gateway.errors import PayloadTooLarge
from gateway.models import ModelSpec
from gateway.pii.decide import Decision, decide
from gateway.pii.detector_types import Finding
from gateway.pii.normalize import normalize
from gateway.policyfile import ScopePolicy
from gateway.privacy.noise import keyed_gaussian_noise

SecretFor = Callable[[str, str], bytes]  # (tenant, purpose) -> derived secret


@dataclass(frozen=True)
class ItemResult:
    """One input's outcome. ``vector`` is None when the policy blocked it."""

    decision: Decision
    digest: bytes  # HMAC of the embedded text under the tenant's input-digest secret
    tokens: int
    vector: np.ndarray | None


@dataclass(frozen=True)
class PipelineResult:
    items: list[ItemResult]
    sigma: float
    policy_version: str

    @property
    def blocked_types(self) -> list[str]:
        return sorted({t for item in self.items for t in item.decision.blocked_types})

    def pii_summary(self) -> dict[str, dict[str, int | str]]:
        """Entity type -> total count and the action taken (never values)."""
        out: dict[str, dict[str, int | str]] = {}
        for item in self.items:
            for etype, outcome in item.decision.entities.items():
                slot = out.setdefault(etype, {"count": 0, "action": outcome.action})
                slot["count"] = int(slot["count"]) + outcome.count
        return out


def _embed_cost(text: str) -> int:
    # A cheap token estimate for batch sizing; the exact count comes from the tokenizer inside the batch.
    return max(1, len(text) // 4)


class EmbeddingPipeline:
    def __init__(
        self,
        spec: ModelSpec,
        detect: MicroBatcher[tuple[str, ScopePolicy], list[Finding]],
        embed: MicroBatcher[str, tuple[np.ndarray, int]],
        secret_for: SecretFor,
        max_text_chars: int,
    ) -> None:
        self.spec = spec
        self._detect = detect
        self._embed = embed
        self.secret_for = secret_for
        self._max_text_chars = max_text_chars

    def canonicalize(self, texts: Sequence[str]) -> list[str]:
        out = []
        for i, raw in enumerate(texts):
            if len(raw) > self._max_text_chars:
                raise PayloadTooLarge(
                    f"input[{i}] has {len(raw)} characters; the limit is {self._max_text_chars}", param="input"
                )
            out.append(normalize(raw))
        return out

    async def analyze(self, tenant: str, texts: Sequence[str], scope: ScopePolicy) -> list[Decision]:
        """Detect and decide only: what the policy would do, nothing embedded."""
        findings = await self._detect.submit([(t, scope) for t in texts], [_embed_cost(t) for t in texts])
        secret = self.secret_for(tenant, "pseudonym")
        return [decide(t, f, scope, secret) for t, f in zip(texts, findings, strict=True)]

    async def detect(self, texts: Sequence[str], scope: ScopePolicy) -> list[list[Finding]]:
        return await self._detect.submit([(t, scope) for t in texts], [_embed_cost(t) for t in texts])

    async def run(
        self, tenant: str, texts: Sequence[str], scope: ScopePolicy, policy_version: str, *, all_or_nothing: bool
    ) -> PipelineResult:
        """Detect, decide, embed every allowed input and protect it; blocked inputs are never embedded.

        ``all_or_nothing``: one blocked input stops the whole request before anything is embedded (the OpenAI
        route fails as a unit); otherwise each input has its own outcome.
        """
        decisions = await self.analyze(tenant, texts, scope)
        if all_or_nothing and any(d.blocked for d in decisions):
            return PipelineResult(self._unembedded(tenant, decisions), scope.noise_sigma, policy_version)
        items = await self.embed_decided(tenant, decisions, scope.noise_sigma)
        return PipelineResult(items, scope.noise_sigma, policy_version)

    def digests(self, tenant: str, texts: Sequence[str]) -> list[bytes]:
        key = self.secret_for(tenant, "input-digest")
        return [hmac.new(key, t.encode("utf-8"), hashlib.sha256).digest() for t in texts]

    def _unembedded(self, tenant: str, decisions: Sequence[Decision]) -> list[ItemResult]:
        digests = self.digests(tenant, [d.text for d in decisions])
        return [ItemResult(d, g, 0, None) for d, g in zip(decisions, digests, strict=True)]

    async def embed_decided(self, tenant: str, decisions: Sequence[Decision], sigma: float) -> list[ItemResult]:
        """Embed the decided text of every unblocked decision and add the tenant's keyed noise."""
        digests = self.digests(tenant, [d.text for d in decisions])
        allowed = [i for i, d in enumerate(decisions) if not d.blocked]
        embedded = await self._embed.submit(
            [decisions[i].text for i in allowed], [_embed_cost(decisions[i].text) for i in allowed]
        )
        vectors: dict[int, np.ndarray] = {}
        tokens: dict[int, int] = {}
        if allowed:
            clean = np.stack([v for v, _ in embedded])
            protected = keyed_gaussian_noise(
                clean, sigma, self.secret_for(tenant, "noise"), [digests[i] for i in allowed], self.spec.version
            )
            for row, i in enumerate(allowed):
                vectors[i] = protected[row]
                tokens[i] = embedded[row][1]
        return [ItemResult(d, digests[i], tokens.get(i, 0), vectors.get(i)) for i, d in enumerate(decisions)]

    async def embed_clean(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors without noise, for queries used only inside the gateway (never returned or stored)."""
        embedded = await self._embed.submit(list(texts), [_embed_cost(t) for t in texts])
        return np.stack([v for v, _ in embedded])
