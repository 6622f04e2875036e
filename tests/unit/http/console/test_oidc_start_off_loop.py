"""The console's sign-in start with the identity provider unreadable: ``begin`` may fetch the provider's discovery
document again (up to the fetch's timeout, once per retry interval). On the event loop, that fetch froze every
request of every tenant while a provider black-holed connections; off the loop, the others go on."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.auth import discovery, oidc
from gateway.http.app import create_app
from tests.unit.http.conftest import fake_services
from tests.uvicornkit import serving_app


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port that accepts connections and never answers (a provider behind a dropping firewall)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


def test_when_the_provider_black_holes_then_a_sign_in_start_does_not_stall_other_requests(
    tmp_path: Path, black_hole: int, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(oidc, "FETCH_TIMEOUT_S", 1.5)
    monkeypatch.setattr(discovery, "UNREAD_RETRY_S", 0.0)  # every start tries the document again
    services = fake_services(tmp_path, oidc_discovery=f"http://127.0.0.1:{black_hole}/.well-known/openid-configuration",
                             oidc_audience="gateway", oidc_console_client_id="audit-console")

    async def race(base: str) -> tuple[float, float, int]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            began = time.monotonic()
            start = asyncio.create_task(client.get("/console/oidc/start"))
            await asyncio.sleep(0.2)  # the start is inside its fetch
            assert (await client.get("/healthz")).status_code == 200
            healthy_after = time.monotonic() - began
            answered = await start
            return healthy_after, time.monotonic() - began, answered.status_code

    with serving_app(create_app(services)) as port:
        healthy_after, started_after, status = asyncio.run(race(f"http://127.0.0.1:{port}"))
    assert started_after >= 1.4 and status == 401  # the start waited for its fetch: provider_unavailable
    assert healthy_after < 1.0  # before: about 1.7 s, behind the start's fetch
