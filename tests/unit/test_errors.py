"""Every exception of the gateway's tree maps to a registered audit event, on every guarded route and the console."""

from __future__ import annotations

import importlib
import pkgutil

import gateway.http.routes
from audit.events import DECISIONS, EVENT_TYPES
from gateway import errors
from gateway.http.console import flow
from gateway.http.guard import Guard


def subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= subclasses(sub)
    return found


def route_events() -> set[str]:
    """The audit event of every guarded API route, and the console's."""
    events = {flow.EVENT}
    for info in pkgutil.iter_modules(gateway.http.routes.__path__, "gateway.http.routes."):
        module = importlib.import_module(info.name)
        events |= {g.event for g in vars(module).values() if isinstance(g, Guard)}
    return events


def test_when_any_gateway_error_is_raised_on_any_route_then_its_audit_event_is_registered() -> None:
    tree = {c for c in subclasses(errors.GatewayError) if c.__module__ == errors.__name__}
    # Only start-up errors stay off the request path; any other exception must say how it is answered and audited.
    assert {c for c in tree if not issubclass(c, errors.RequestError)} == {errors.ConfigurationError,
                                                                         errors.PolicyError}
    routes = route_events()
    assert "embeddings.create" in routes and "audit.read" in routes  # the walk found the routes
    for cls in sorted(tree | {errors.RequestError}, key=lambda c: c.__name__):
        if not issubclass(cls, errors.RequestError):
            continue
        exc = cls("refused")
        for route_event in routes:
            event, decision = exc.audited_as(route_event)
            assert event in EVENT_TYPES, (cls.__name__, route_event, event)
            assert decision in DECISIONS, (cls.__name__, decision)
        assert (exc.decision == "error") == (cls.status >= 500 and cls is not errors.Overloaded), cls.__name__
