"""One reading of a request's query: each parameter at most once.

``?tenant=acme&tenant=initech`` read by the first value here could be read by the last one in a proxy, a WAF or a
log in front of the gateway; a request that means two things is refused (400), never read one way silently. Both
guarded paths (``gateway.http.guard`` for the API, ``gateway.http.console.flow`` for the console) call it before the
handler reads a parameter, so the refusal is audited as every invalid request is. The public routes (probes,
``/metrics``, ``/schema``, the console's sign-in form), marked with ``opt={PUBLIC: True}``, get the same rule from the
app's ``before_request`` hook even where they read no parameter: one rule for every route, so no reader in front of
the gateway has to know which routes read what, and a parameter a public route starts reading later is covered.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from litestar import Request

from gateway.errors import BadRequest

_SHOWN_CHARS = 40
PUBLIC = "public"  # a route handler's opt: reachable without a credential


def refuse_repeated(request: Request[Any, Any, Any]) -> None:
    """Raise ``BadRequest`` naming the first query parameter given more than once."""
    counts = Counter(name for name, _ in request.query_params.multi_items())
    repeated = [name for name, n in counts.items() if n > 1]
    if not repeated:
        return
    name = repeated[0]
    shown = name[:_SHOWN_CHARS] if name.isascii() and name.isprintable() else None  # never echo control characters
    what = f"'{shown}'" if shown is not None else "a query parameter"
    raise BadRequest(f"the query parameter {what} is given {counts[name]} times; give it once (a proxy and the "
                     "gateway could read different values)", param=shown)
