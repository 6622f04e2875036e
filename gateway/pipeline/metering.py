"""Metering of the model's tokens: the quotas' admission before embedding, and afterwards the usage record
(``gateway.limits.usage``, batched off the event loop) and the tokens counter of the metrics.

The estimate is the token count of the normalized texts (the model's tokenizer, on a worker thread);
what the request holds under its limits is then settled to the tokens actually embedded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from gateway.auth.apikeys import Principal
from gateway.errors import RateLimited
from gateway.limits.quotas import QuotaCounter, Reservation
from gateway.limits.usage import Usage
from gateway.observability.metrics import GatewayMetrics
from gateway.pipeline.batching import MicroBatcher
from gateway.pipeline.offload import off_loop
from gateway.policy.quotas import Quotas

log = logging.getLogger(__name__)


class Metering:
    def __init__(self, book: QuotaCounter, count_tokens: Callable[[Sequence[str]], list[int]],
                 record: MicroBatcher[Usage, None], metrics: GatewayMetrics | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.book = book
        self._count = count_tokens
        self._record = record
        self._metrics = metrics
        self._clock = clock

    async def admit_request(self, principal: Principal, quotas: Quotas, key_rpm: int | None) -> None:
        """One request under the requests-per-minute limits (every guarded route), or ``RateLimited``; off the
        loop where the counters are in the database."""
        try:
            await off_loop(self.book.remote, self.book.admit_request, principal.tenant, principal.key_id, quotas,
                           key_rpm)
        except RateLimited as exc:
            self._refused(principal, exc)
            raise

    async def admit(self, principal: Principal, quotas: Quotas, texts: list[str]) -> Reservation | None:
        """Hold the texts' tokens under the token limits of the caller's key and tenant; None when none apply."""
        key = quotas.for_key(principal.key_id)
        if not any((key.tokens_per_minute, key.tokens_per_day, quotas.tenant.tokens_per_minute,
                    quotas.tenant.tokens_per_day)):
            return None
        # Always on a worker: the tokenizer's lock may be held by a model batch's preprocessing.
        tokens = sum(await off_loop(True, self._count, texts))
        if self.book.stale(principal.tenant):  # the day's spend recorded before a restart, read once off the loop
            await off_loop(True, self.book.prime, principal.tenant)
        try:
            return await off_loop(self.book.remote, self.book.reserve, principal.tenant, principal.key_id, quotas,
                                  tokens)
        except RateLimited as exc:
            self._refused(principal, exc)
            raise

    async def cancel(self, held: Reservation | None) -> None:
        """The request failed before embedding: what it held is given back. A failure to give it back (the
        database away) is logged, never raised over the request's own error; the window ends anyway."""
        if held is None:
            return
        try:
            await off_loop(self.book.remote, self.book.settle, held, 0)
        except Exception as exc:
            log.warning("could not give back a refused request's quota: %s", type(exc).__name__)

    async def settle(self, held: Reservation | None, principal: Principal, model: str, tokens: int) -> None:
        """The request embedded ``tokens`` with ``model``: settle its quotas and record its usage (durable before
        the response leaves, in one transaction with the concurrent requests' records)."""
        if held is not None:
            await off_loop(self.book.remote, self.book.settle, held, tokens)
        if self._metrics is not None:
            self._metrics.observe_tokens(principal.tenant, model, tokens)
        day = self._clock().astimezone(UTC).date().isoformat()
        await self._record.submit([Usage(principal.tenant, principal.key_id, model, day, tokens, 1)])

    def close(self) -> None:
        self._record.close()

    def _refused(self, principal: Principal, exc: RateLimited) -> None:
        if self._metrics is not None:
            self._metrics.observe_quota_refusal(principal.tenant, str(exc.detail.get("limit", "")),
                                                str(exc.detail.get("scope", "")))
