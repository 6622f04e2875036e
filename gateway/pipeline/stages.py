"""The governed embedding pipeline: normalize -> detect PII -> decide -> embed -> protect (transform + noise).

Pure orchestration over injected stages; authentication, authorization and audit are the caller's (the
``gateway.http.guard`` path) so that denials are audited the same way for every route.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gateway.embedding.specs import ModelSpec
from gateway.errors import BadRequest, ModelUnavailable, PayloadTooLarge, PrivacyBudgetExceeded, UpstreamError
from gateway.observability import tracing
from gateway.pii.contract import KIND_WORDS, refused_kinds
from gateway.pii.decide import Decision, PIISummary, decide, pii_summary
from gateway.pii.detector_types import LONG_TEXT, DetectionSpend, Finding
from gateway.pii.normalize import normalize
from gateway.pii.readings import across_items, joined_items
from gateway.pipeline.batching import MicroBatcher
from gateway.pipeline.offload import chars_big, off_loop, rows_big
from gateway.policy.loader import ScopePolicy
from gateway.privacy.accountant import PrivacyLedger, Release, Spend
from gateway.privacy.budget import release_ids, reserve_budget
from gateway.privacy.stage import protect, space_version
from gateway.privacy.transform import VectorTransform

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
    privacy: dict[str, object] = field(default_factory=dict)  # spend and any budget action, for the audit entry

    @property
    def blocked_types(self) -> list[str]:
        return sorted({t for item in self.items for t in item.decision.blocked_types})

    def pii_summary(self) -> PIISummary:
        """Entity type -> total count and the action taken (never values)."""
        return pii_summary(item.decision for item in self.items)


def _embed_cost(text: str) -> int:
    # A cheap token estimate for batch sizing; the exact count comes from the tokenizer inside the batch.
    return max(1, len(text) // 4)


class EmbeddingPipeline:
    def __init__(
        self,
        spec: ModelSpec,
        detect: MicroBatcher[tuple[str, ScopePolicy], list[Finding]],
        detect_long: MicroBatcher[tuple[str, ScopePolicy, DetectionSpend], list[Finding]],
        embed: MicroBatcher[str, tuple[np.ndarray, int]],
        secret_for: SecretFor,
        max_text_chars: int,
        transform: VectorTransform,
        ledger: PrivacyLedger,
        charge: MicroBatcher[Release, Spend],
    ) -> None:
        self.spec = spec
        self._detect = detect
        self._detect_long = detect_long
        self._embed = embed
        self.secret_for = secret_for
        self._max_text_chars = max_text_chars
        self.transform = transform
        self.ledger = ledger
        self._charge = charge  # ledger.record_many, batched across concurrent requests
        self.check_available: Callable[[], None] = lambda: None  # raises ModelUnavailable when out of service
        self.describe: Callable[[], dict[str, Any]] = lambda: {
            "name": spec.name, "version": spec.version, "fingerprint": spec.fingerprint}

    @contextmanager
    def attributed(self) -> Iterator[None]:
        """A model's unavailability (503) or its engine's failure (502) carries, for its audit entry, the model
        that failed. A fresh exception: the batcher hands one to every request of a batch."""
        try:
            yield
        except (ModelUnavailable, UpstreamError) as exc:
            audit = {**exc.detail.get("audit", {}), "model": self.describe()}
            raise type(exc)(exc.message, param=exc.param or "model", detail={**exc.detail, "audit": audit},
                            retry_after=exc.retry_after, headers=exc.headers) from None

    def for_model(self, spec: ModelSpec, embed: MicroBatcher[str, tuple[np.ndarray, int]],
                  check_available: Callable[[], None], describe: Callable[[], dict[str, Any]]
                  ) -> EmbeddingPipeline:
        """The same stages (detection, decisions, protection, ledger) in front of another served model: its own
        embedding batcher, availability and audit description."""
        other = copy.copy(self)
        other.spec, other._embed = spec, embed
        other.check_available, other.describe = check_available, describe
        return other

    @property
    def space_version(self) -> str:
        """The version of the space returned and stored vectors live in: the model's and the transform's."""
        return space_version(self.spec.version, self.transform)

    def canonicalize(self, texts: Sequence[str], field: str = "input[{i}]", reject: Sequence[str] = ()) -> list[str]:
        """The canonical texts (``normalize``); ``field`` names an item in errors (``{i}`` is its index).

        A text with nothing left once invisible and control characters are removed is refused like an empty one:
        it carries nothing to govern or embed (zero-width characters alone would embed as an empty string). A text
        holding a kind the scope's ``pii.reject_input`` lists is refused (``gateway.pii.contract``)."""
        out = []
        for i, raw in enumerate(texts):
            name = field.format(i=i)
            if len(raw) > self._max_text_chars:
                raise PayloadTooLarge(f"{name} has {len(raw)} characters; the limit is {self._max_text_chars}",
                                      param=name)
            refused = refused_kinds(raw, reject) if reject else []
            if refused:
                raise BadRequest(f"{name} holds {' and '.join(KIND_WORDS[k] for k in refused)}, which the policy "
                                 "of this scope refuses (pii.reject_input): send the text as a reader sees it",
                                 param=name)
            text = normalize(raw)
            if not text.strip():
                raise BadRequest(f"{name} is empty once invisible and control characters are removed", param=name)
            out.append(text)
        return out

    async def canonical(self, texts: Sequence[str], field: str = "input[{i}]", reject: Sequence[str] = ()) -> list[str]:
        """``canonicalize``, off the event loop for a large request (``gateway.pipeline.offload``)."""
        with tracing.span("normalize", {"gateway.count": len(texts)}):
            return await off_loop(chars_big(texts), self.canonicalize, texts, field, reject)

    async def detect(self, texts: Sequence[str], scope: ScopePolicy, tenant: str = "") -> list[list[Finding]]:
        """Findings per text. Long texts go to their own lane, one at a time, under the request's detection
        budget, so that one huge or pathological text never holds up the short texts of other requests, taken from
        the tenants in turn (one tenant's many long texts do not hold up another's); short
        ones share batches with other tenants' in round-robin (``gateway.pipeline.batching``)."""
        long = [i for i, t in enumerate(texts) if len(t) >= LONG_TEXT]
        if not long:
            return await self._detect.submit([(t, scope) for t in texts], [_embed_cost(t) for t in texts],
                                             lane=tenant)
        short = [i for i, t in enumerate(texts) if len(t) < LONG_TEXT]
        spend = DetectionSpend()
        lanes = [
            asyncio.ensure_future(self._detect.submit([(texts[i], scope) for i in short],
                                                      [_embed_cost(texts[i]) for i in short], lane=tenant)),
            asyncio.ensure_future(self._detect_long.submit([(texts[i], scope, spend) for i in long], lane=tenant)),
        ]
        try:
            short_found, long_found = await asyncio.gather(*lanes)
        except BaseException:
            # One lane refused (a full queue: 503 at once) or failed: the other's work is nobody's any more. Left
            # queued, it would be screened after the answer went out, beyond the request's time limit.
            for lane in lanes:
                lane.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)
            raise
        out: list[list[Finding]] = [[] for _ in texts]
        for i, found in zip(short, short_found, strict=True):
            out[i] = found
        for i, found in zip(long, long_found, strict=True):
            out[i] = found
        return out

    async def analyze(self, tenant: str, texts: Sequence[str], scope: ScopePolicy) -> list[Decision]:
        """Detect and decide only: what the policy would do, nothing embedded."""
        # Short inputs are read side by side too: one group of an identifier per input is still the identifier.
        joined = joined_items(texts) if len(texts) > 1 else None
        texts = [*texts, joined.text] if joined is not None else texts
        with tracing.span("detect", {"gateway.count": len(texts)}):
            findings = await self.detect(texts, scope, tenant)
            tracing.set_attributes({"gateway.entities": ",".join(sorted({f.entity_type for fs in findings
                                                                           for f in fs}))[:128]})
        secret = self.secret_for(tenant, "pseudonym")
        with tracing.span("decide", {"gateway.count": len(texts)}):
            decisions = await off_loop(rows_big(len(texts)), _decide_all, texts, findings, scope, secret)
            if joined is not None:
                decisions = across_items(joined, findings[-1], decisions[:-1], scope)
            tracing.set_attributes({"gateway.blocked": sum(d.blocked for d in decisions)})
            return decisions

    def digests(self, tenant: str, texts: Sequence[str]) -> list[bytes]:
        key = self.secret_for(tenant, "input-digest")
        return [hmac.new(key, t.encode("utf-8"), hashlib.sha256).digest() for t in texts]

    async def run(
        self, tenant: str, texts: Sequence[str], scope: ScopePolicy, scope_name: str, policy_version: str,
        *, all_or_nothing: bool, admit: Callable[[list[str]], Awaitable[object]] | None = None,
    ) -> PipelineResult:
        """Normalize, detect, decide, embed every allowed input and protect it; blocked inputs are never embedded.

        ``texts`` are as the caller sent them (``canonical`` refuses an over-long or empty one). ``all_or_nothing``:
        one blocked input stops the whole request before anything is embedded (the OpenAI route fails as a unit);
        otherwise each input has its own outcome. ``admit`` sees the normalized texts before anything else is
        spent on them (the quotas' token estimate, ``gateway.pipeline.metering``) and may refuse them.
        """
        with self.attributed():
            self.check_available()  # a model out of service refuses before any work
        canonical = await self.canonical(texts, reject=scope.reject_input)
        if admit is not None:
            await admit(canonical)
        decisions = await self.analyze(tenant, canonical, scope)
        if all_or_nothing and any(d.blocked for d in decisions):
            digests = self.digests(tenant, [d.text for d in decisions])
            items = [ItemResult(d, g, 0, None) for d, g in zip(decisions, digests, strict=True)]
            return PipelineResult(items, scope.noise_sigma, policy_version)
        return await self.release(tenant, decisions, scope, scope_name, policy_version)

    async def release(
        self, tenant: str, decisions: Sequence[Decision], scope: ScopePolicy, scope_name: str, policy_version: str
    ) -> PipelineResult:
        """Embed and protect the unblocked decisions under the tenant's privacy budget, and charge the ledger."""
        with self.attributed():
            self.check_available()
        digests = self.digests(tenant, [d.text for d in decisions])
        allowed = [i for i, d in enumerate(decisions) if not d.blocked]
        released = [digests[i] for i in allowed]
        charged = release_ids(self.spec.ref, released)  # one release per text and model
        # Under an enforced budget the releases are recorded now, atomically with the check (a write: off the loop).
        enforced = scope.privacy_budget_epsilon is not None and bool(released)
        budget = await off_loop(enforced, reserve_budget, self.ledger, tenant, scope_name, scope, charged)
        privacy: dict[str, object] = {"scope": scope_name, "transform": self.transform.version}
        if budget.exceeded:
            raise PrivacyBudgetExceeded(
                f"releasing {len(released)} more vectors would exceed the privacy budget of tenant {tenant}",
                detail={"audit": {"privacy": {**privacy, "budget_epsilon": scope.privacy_budget_epsilon},
                                  "noise_sigma": budget.sigma}},
            )
        with tracing.span("embed", {"gateway.count": len(allowed), "gateway.model": self.spec.ref}), \
                self.attributed():
            embedded = await self._embed.submit(
                [decisions[i].text for i in allowed], [_embed_cost(decisions[i].text) for i in allowed], lane=tenant
            )
        vectors: dict[int, np.ndarray] = {}
        tokens: dict[int, int] = {}
        if allowed:
            with tracing.span("protect", {"gateway.count": len(allowed)}):
                protected = await off_loop(
                    rows_big(len(allowed)), protect, np.stack([v for v, _ in embedded]), sigma=budget.sigma,
                    key=self.secret_for(tenant, "noise"), content_digests=released,
                    model_version=self.spec.version, transform=self.transform,
                )
            for row, i in enumerate(allowed):
                vectors[i] = protected[row]
                tokens[i] = embedded[row][1]
        if (spend := budget.spend) is None:
            [spend] = await self._charge.submit([Release(tenant, scope_name, budget.sigma, charged)])
        privacy.update(epsilon_worst_case=_finite(spend.epsilon_worst_case),
                       epsilon_radius=_finite(spend.epsilon_radius), releases_new=spend.releases_new,
                       tenant_releases=spend.tenant_releases)
        if budget.raised_from is not None:
            privacy["sigma_raised_from"] = budget.raised_from
        items = [ItemResult(d, digests[i], tokens.get(i, 0), vectors.get(i)) for i, d in enumerate(decisions)]
        return PipelineResult(items, budget.sigma, policy_version, privacy)

    async def query_vector(self, tenant: str, text: str) -> np.ndarray:
        """A query's vector in the tenant's protected space (transformed, never noised): used only inside."""
        with self.attributed():
            self.check_available()
            embedded = await self._embed.submit([text], [_embed_cost(text)], lane=tenant)
        clean = np.stack([v for v, _ in embedded])
        return np.asarray(self.transform.apply(clean, self.secret_for(tenant, "noise"))[0], dtype=np.float32)


def _decide_all(texts: Sequence[str], findings: Sequence[list[Finding]], scope: ScopePolicy, secret: bytes
                ) -> list[Decision]:
    return [decide(t, f, scope, secret) for t, f in zip(texts, findings, strict=True)]


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None
