"""The embeddings use case under quotas (fake model and detector): a request over a token limit is refused
before anything is screened or embedded and holds nothing; one admitted is settled and recorded as usage."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.auth.apikeys import Principal
from gateway.bootstrap import Services, build_services
from gateway.embedding.embedder import FakeEmbedder
from gateway.embedding.specs import DEFAULT_MODEL
from gateway.errors import PIIBlocked, RateLimited
from gateway.pii.fake import FakeDetector
from gateway.pipeline.embed import EmbedRequest, embed
from tests.unit.http.conftest import fake_services

POLICY = "\n  acme:\n    quotas:\n      key: {tokens_per_minute: 12}\n"
ALICE = Principal("0123456789abcdef", "acme", "alice", "writer")


def request(*texts: str) -> EmbedRequest:
    return EmbedRequest("all-MiniLM-L6-v2", list(texts), "float", None, None)


def test_when_a_request_would_pass_the_token_limit_then_it_is_refused_before_screening_and_embedding(
    tmp_path: Path,
) -> None:
    services = fake_services(tmp_path)
    with (tmp_path / "policy" / "gateway.yaml").open("a") as fh:
        fh.write(POLICY)
    services.policy.reload_if_changed()
    assert services.metering is not None and services.usage is not None
    embedder, detector = services.embedder, services.detector
    assert isinstance(embedder, FakeEmbedder) and isinstance(detector, FakeDetector)

    async def call(*texts: str) -> bytes:
        outcome = await embed(request(*texts), ALICE, models=services.models,
                              policy=services.policy, metering=services.metering)
        assert isinstance(outcome.body, bytes) and outcome.audit["tokens"] > 0
        return outcome.body

    try:
        asyncio.run(call("one two three four five six"))  # the fake counts words + 2: 8 of 12
        screened, embedded = len(detector.calls), len(embedder.calls)
        with pytest.raises(RateLimited) as info:
            asyncio.run(call("seven eight nine"))  # 5 more: over 12
        assert (info.value.detail["limit"], info.value.detail["scope"]) == ("tokens_per_minute", "key")
        assert (len(detector.calls), len(embedder.calls)) == (screened, embedded)  # nothing spent on it
        with pytest.raises(PIIBlocked):
            asyncio.run(call("ssn 078-05-1120"))  # 4 tokens held, then given back: blocked before embedding
        asyncio.run(call("ten eleven"))  # 4 tokens: fits only because the blocked request gave its back
        rows = services.usage.read("acme", "2000-01-01", "2999-12-31")
    finally:
        services.close()
    assert [(r.key_id, r.requests, r.tokens) for r in rows] == [(ALICE.key_id, 2, 12)]



def test_when_the_services_start_again_on_the_same_data_then_the_days_spend_is_counted(tmp_path: Path) -> None:
    """A restart (new services, same data dir): the day counter is seeded from the usage record, not from zero."""
    first = fake_services(tmp_path)
    with (tmp_path / "policy" / "gateway.yaml").open("a") as fh:
        fh.write("\n  acme:\n    quotas:\n      key: {tokens_per_day: 12}\n")
    first.policy.reload_if_changed()

    def call(services: Services, *texts: str) -> None:
        asyncio.run(embed(request(*texts), ALICE, models=services.models, policy=services.policy,
                          metering=services.metering))

    try:
        call(first, "one two three four five six")  # 8 of 12
    finally:
        first.close()
    again = build_services(first.settings, embedder=FakeEmbedder(DEFAULT_MODEL), detector=FakeDetector())
    try:
        with pytest.raises(RateLimited) as info:
            call(again, "seven eight nine")  # 5 more: over 12 only if the 8 before the restart count
        assert (info.value.detail["limit"], info.value.detail["scope"]) == ("tokens_per_day", "key")
        call(again, "ten eleven")  # 4: fits
    finally:
        again.close()
