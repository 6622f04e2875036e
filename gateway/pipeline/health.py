"""The readiness use case (``GET /readyz``): each dependency a request needs, checked cheaply.

The probe reads the key store; on PostgreSQL that is a network round trip, so it runs off the event loop there.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.pipeline.offload import off_loop


async def readiness(probe: Callable[[], dict[str, bool]], *, remote: bool) -> tuple[bool, dict[str, bool]]:
    """(ready, each check): ready when every check passes."""
    checks = await off_loop(remote, probe)
    return all(checks.values()), checks
