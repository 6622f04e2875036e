"""A privacy budget holds against concurrent requests: the ledger's check and record are one step.

Regression (attack19): 20 concurrent `/v1/embeddings` requests of one tenant, each with a new text, all passed the
budget check before any of them was charged; a budget with room for 4 releases let 20 out (epsilon 440,112 against
a budget of 100,000).
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.errors import PrivacyBudgetExceeded
from gateway.pipeline.stages import EmbeddingPipeline, PipelineResult
from gateway.privacy.accountant import epsilon_worst_case
from tests.unit.http.conftest import fake_services


def test_when_requests_race_for_the_last_of_a_budget_then_only_what_fits_is_released(tmp_path: Path) -> None:
    services = fake_services(tmp_path)
    try:
        policy = services.scope("acme")
        room = epsilon_worst_case(policy.noise_sigma, 4) * 1.0001  # room for exactly 4 releases
        scope = replace(policy, privacy_budget_epsilon=room, budget_action="block")

        async def one(i: int) -> PipelineResult:
            return await services.pipeline.run("acme", [f"the weather report number {i}"], scope, "embeddings", "v",
                                               all_or_nothing=True)

        async def race() -> list[PipelineResult | BaseException]:
            return await asyncio.gather(*(one(i) for i in range(20)), return_exceptions=True)

        outcomes = asyncio.run(race())
        view = services.ledger.view("acme")
    finally:
        services.close()
    released = [o for o in outcomes if isinstance(o, PipelineResult)]
    refused = [o for o in outcomes if isinstance(o, PrivacyBudgetExceeded)]
    assert (len(released), len(refused)) == (4, 16)
    assert view.total.releases == 4 and view.total.epsilon_worst_case <= room
    assert sorted(r.privacy["releases_new"] for r in released) == [1, 1, 1, 1]  # each audited with its own spend


def test_when_a_budget_is_spent_then_a_repeat_is_still_free_and_nothing_new_is_recorded(tmp_path: Path) -> None:
    services = fake_services(tmp_path)
    try:
        policy = services.scope("acme")
        scope = replace(policy, privacy_budget_epsilon=epsilon_worst_case(policy.noise_sigma, 1) * 1.0001)

        async def run(text: str) -> PipelineResult:
            return await services.pipeline.run("acme", [text], scope, "embeddings", "v", all_or_nothing=True)

        first = asyncio.run(run("a first text"))
        again = asyncio.run(run("a first text"))
        try:
            asyncio.run(run("a second text"))
        except PrivacyBudgetExceeded:
            refused = True
        else:
            refused = False
        releases = services.ledger.view("acme").total.releases
    finally:
        services.close()
    assert refused and releases == 1
    assert (first.privacy["releases_new"], again.privacy["releases_new"]) == (1, 0)
    assert first.items[0].vector is not None and again.items[0].vector is not None
    assert (first.items[0].vector == again.items[0].vector).all()


def test_when_a_spent_tenant_asks_another_model_for_a_text_it_had_then_that_is_a_new_release(tmp_path: Path) -> None:
    # Regression (attack19): the ledger keyed releases by content digest alone, so with two models served a tenant
    # whose budget was spent got each text it had already released again, as the other model's vector, for free.
    services = fake_services(tmp_path)
    try:
        policy = services.scope("acme")
        scope = replace(policy, privacy_budget_epsilon=epsilon_worst_case(policy.noise_sigma, 1) * 1.0001)
        other = copy.copy(services.pipeline)  # the same stages, serving a second model (same version string)
        other.spec = replace(services.pipeline.spec, name="mini-cls", pooling="cls")

        async def run(pipeline: EmbeddingPipeline) -> PipelineResult:
            return await pipeline.run("acme", ["a text"], scope, "embeddings", "v", all_or_nothing=True)

        asyncio.run(run(services.pipeline))
        assert asyncio.run(run(services.pipeline)).privacy["releases_new"] == 0  # the same model: a repeat, free
        with pytest.raises(PrivacyBudgetExceeded):
            asyncio.run(run(other))
        releases = services.ledger.view("acme").total.releases
    finally:
        services.close()
    assert releases == 1
