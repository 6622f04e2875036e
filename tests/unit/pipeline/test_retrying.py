"""Which refusals background work waits out (``gateway.pipeline.retrying``), and that the waits are bounded."""

from __future__ import annotations

import asyncio

import pytest

from gateway.errors import (
    BadRequest,
    ModelUnavailable,
    Overloaded,
    PIIBlocked,
    RateLimited,
    RequestError,
    Unavailable,
)
from gateway.pipeline.retrying import transient, waiting_out


@pytest.mark.parametrize(("exc", "expected"), [
    (Overloaded("the queue is full", retry_after=1.0), True),
    (Unavailable("a PII detection worker stopped", retry_after=1.0), True),
    (Unavailable("internal error"), False),  # no Retry-After: not said to be transient
    # Regression: a remote model's engine restarting (503 with Retry-After) failed every batch line at once.
    (ModelUnavailable("the model's engine is unavailable; retry later", retry_after=10.0), True),
    (ModelUnavailable("no retry-after"), False),
    (RateLimited("tokens_per_minute", retry_after=2.0), True),
    (RateLimited("tokens_per_day", retry_after=7200.0), False),  # beyond the waits left
    (RateLimited("no retry-after"), False),
    (BadRequest("bad input"), False),
    (PIIBlocked("US_SSN"), False),
])
def test_when_a_refusal_is_classified_then_only_what_the_gateway_says_is_transient_is_waited_out(
        exc: RequestError, expected: bool) -> None:
    assert transient(exc, waits_left_s=15.5) is expected


def test_when_refused_transiently_every_time_then_the_last_refusal_is_the_answer_after_the_waits() -> None:
    calls = 0

    async def call() -> str:
        nonlocal calls
        calls += 1
        raise Unavailable("a PII detection worker stopped", retry_after=1.0)

    with pytest.raises(Unavailable):
        asyncio.run(waiting_out(call, (0.0, 0.0, 0.0)))
    assert calls == 4  # one try, then one after each wait


def test_when_refused_for_good_then_it_is_not_tried_again() -> None:
    calls = 0

    async def call() -> str:
        nonlocal calls
        calls += 1
        raise PIIBlocked("US_SSN")

    with pytest.raises(PIIBlocked):
        asyncio.run(waiting_out(call, (0.0, 0.0)))
    assert calls == 1


def test_when_a_transient_refusal_passes_then_the_answer_comes_back() -> None:
    answers = iter([Overloaded("full", retry_after=1.0), "done"])

    async def call() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert asyncio.run(waiting_out(call, (0.0,))) == "done"
