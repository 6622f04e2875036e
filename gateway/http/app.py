"""Litestar application wiring: routes, the Services dependency, lifecycle, OpenAPI at /schema."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Litestar, Request, Response, Router
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin

import gateway
from gateway.auditing.auditor import RequestContext, route_of
from gateway.bootstrap import Services
from gateway.errors import BadRequest, MethodNotAllowed, NotFound, RequestError, Unavailable
from gateway.http.errors import error_response, speaks_openai
from gateway.http.openapi import RouteIndexPlugin, describe
from gateway.http.params import PUBLIC, refuse_repeated
from gateway.http.routes import (
    admin,
    audit,
    batches,
    collections,
    console,
    embeddings,
    files,
    health,
    models,
    privacy,
    usage,
)
from gateway.http.routes import drift as drift_routes
from gateway.http.routes import jobs as job_routes
from gateway.http.routes import metrics as metrics_routes
from gateway.http.routes import pii as pii_routes
from gateway.http.tracing import tracing_middleware
from gateway.observability import tracing
from gateway.pii import spacy_pipeline

log = logging.getLogger(__name__)


def _http_exception(services: Services) -> Callable[[Request[Any, Any, Any], HTTPException], Response[Any]]:
    def handle(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
        """Litestar's own errors (unknown route, wrong method) in our problem-details shape, audited as
        ``request.invalid`` with the route template or ``unmatched``, never the raw path."""
        mapped: RequestError
        if exc.status_code == 404:
            mapped = NotFound("no such route")
        elif exc.status_code == 405:
            mapped = MethodNotAllowed("method not allowed on this route")
        elif exc.status_code >= 500:
            mapped = Unavailable("internal error")
        else:
            mapped = BadRequest(str(exc.detail) if exc.detail else "bad request")
        # Every response carries a request id of ours (a caller's X-Request-Id is never echoed), and a 405 says
        # which methods the route has.
        ctx = RequestContext(request_id=uuid.uuid4().hex, route=route_of(request.method, request.scope))
        if mapped.status < 500:  # nothing was carried out: written without holding the answer back
            services.auditor.note("request.invalid", ctx, "deny", status=mapped.status, code=mapped.code)
        headers = None
        if exc.status_code == 405 and exc.headers and "allow" in exc.headers:
            headers = {"Allow": exc.headers["allow"]}
        return error_response(mapped, ctx.request_id, speaks_openai(request.url.path), headers)

    return handle


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    request_id = uuid.uuid4().hex
    log.error("unhandled %s on %s (request %s)", type(exc).__name__, request.url.path, request_id)
    return error_response(Unavailable("internal error"), request_id, speaks_openai(request.url.path))


def _public_params(services: Services) -> Callable[[Request[Any, Any, Any]], Awaitable[Response[Any] | None]]:
    async def check(request: Request[Any, Any, Any]) -> Response[Any] | None:
        """The query rule of the guarded routes (``gateway.http.params``) on the public ones too (probes, metrics,
        the schema, the sign-in form), audited as ``request.invalid`` as an unrouted request is."""
        if not request.route_handler.opt.get(PUBLIC):
            return None  # a guarded route refuses it itself, audited with its caller
        try:
            refuse_repeated(request)
        except BadRequest as exc:
            ctx = RequestContext(request_id=uuid.uuid4().hex, route=route_of(request.method, request.scope))
            services.auditor.note("request.invalid", ctx, "deny", status=exc.status, code=exc.code)
            return error_response(exc, ctx.request_id, speaks_openai(request.url.path))
        return None

    return check


def create_app(services: Services) -> Litestar:
    async def provide_services() -> Services:
        return services

    def on_startup() -> None:
        tracing.configure()  # on when OTEL_EXPORTER_OTLP_ENDPOINT is set: one exporter per worker process
        services.start_watcher()
        versions = services.policy_versions
        services.auditor.record_sync("gateway.start", "allow", version=gateway.__version__,
                                     policy_version=services.policy.current().version,
                                     casbin_version=versions.casbin[0] if versions and versions.casbin else None,
                                     **spacy_pipeline.identity(services.settings.spacy_model))
        if services.settings.vector_transform == "identity":
            log.warning("vector_transform=identity: vectors are returned and stored WITHOUT the keyed transform "
                        "(unsafe; for experiments only)")
            services.auditor.record_sync("privacy.protection_off", "allow", vector_transform="identity")

    async def start_jobs() -> None:
        services.jobs.start()  # the background runner, on this loop (gateway.jobs)

    async def stop_jobs() -> None:
        await services.jobs.stop()  # a group in flight is dropped; its items run again after the restart

    def on_shutdown() -> None:
        try:
            services.auditor.flush()  # the open window's count of unauthenticated failures
            services.auditor.record_sync("gateway.stop", "allow")
        except Exception as exc:  # still close everything: the final checkpoint matters more
            log.error("could not audit gateway.stop: %s", type(exc).__name__)
        finally:
            services.close()
            tracing.shutdown()

    return describe(Litestar(
        route_handlers=[
            embeddings.create_embeddings, health.healthz, health.readyz,
            audit.checkpoint, audit.entries, audit.inclusion, audit.consistency, audit.policy_text,
            console.router,
            *collections.ROUTES, *admin.ROUTES, *privacy.ROUTES, *usage.ROUTES,
            metrics_routes.metrics, *drift_routes.ROUTES, *pii_routes.ROUTES, *models.ROUTES,
            *files.ROUTES, *batches.ROUTES,
            *job_routes.ROUTES,
        ],
        dependencies={"services": Provide(provide_services)},
        on_startup=[on_startup, start_jobs],
        on_shutdown=[stop_jobs, on_shutdown],
        middleware=[tracing_middleware],
        before_request=_public_params(services),
        exception_handlers={HTTPException: _http_exception(services), Exception: _internal},
        # Each route checks its own limit (guard.read_json: max_body_bytes); an upload may reach files_max_bytes.
        request_max_body_size=max(services.settings.max_body_bytes, services.settings.files_max_bytes + 2**16),
        # Only what needs nothing from outside: the route index, the document as JSON and as YAML.
        openapi_config=OpenAPIConfig(
            title="Governed Embedding Gateway", version=gateway.__version__,
            openapi_router=Router(path="/schema", route_handlers=[], include_in_schema=False, dto=None, return_dto=None,
                                  opt={PUBLIC: True}),
            render_plugins=[RouteIndexPlugin(), JsonRenderPlugin(), YamlRenderPlugin()],
        ),
        debug=False,
        # Logging is ours (gateway.observability.logs: JSON lines, scrubbed). Litestar's default configuration
        # replaced the root handler at start-up, so every later record left unscrubbed, in its plain format.
        logging_config=None,
    ))
