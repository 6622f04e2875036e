"""On PostgreSQL the API-key lookup leaves the event loop (its round trips would stall every request); on SQLite
it stays, a local lookup being cheaper than a thread hop."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import pytest

from gateway.auth.apikeys import Principal
from gateway.bootstrap import Services


@pytest.mark.parametrize(("postgres", "off_loop"), [(True, True), (False, False)])
def test_the_key_lookup_runs_off_the_event_loop_only_on_postgres(postgres: bool, off_loop: bool) -> None:
    seen: list[int] = []

    def authenticate(presented: str | None) -> Principal:
        seen.append(threading.get_ident())
        return Principal("k1", "acme", "svc", "reader")

    services = SimpleNamespace(settings=SimpleNamespace(uses_postgres=postgres), authenticate=authenticate,
                               identity=None)

    async def call() -> tuple[Principal, int]:
        principal = await Services.authenticate_request(services, "gk_x_y")  # type: ignore[arg-type]
        return principal, threading.get_ident()

    principal, loop_thread = asyncio.run(call())
    assert principal.tenant == "acme"
    assert (seen[0] != loop_thread) is off_loop
