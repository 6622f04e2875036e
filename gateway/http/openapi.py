"""Complete the generated OpenAPI document: request bodies, query parameters, responses and the bearer scheme.

Litestar describes what it can see in a handler's signature; ours take the raw request (see ``governed.py``), so
the bodies, error shapes and security requirements are added here, once, from ``openapi_specs``. Any route the
table does not know still gets the security requirement and the error responses, and is marked so a test notices.
"""

from __future__ import annotations

import html
from typing import Any, cast

from litestar import Litestar, Request
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.openapi.spec import Components, OpenAPI, Operation, PathItem

from gateway.http.errors import speaks_openai
from gateway.http.openapi_specs import COMPONENTS, ERROR_STATUSES, PUBLIC_ROUTES, ROUTES

SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "API key from `gateway apikey create`"},
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKeyHeader": []}]
# Routes that answer without a key (probes and the document itself): no security requirement.
PUBLIC_PREFIXES = ("/healthz", "/readyz", "/schema", "/metrics", "/console")
METHODS = ("get", "put", "post", "delete", "patch")
UNDESCRIBED = "x-undescribed"


def _content(schema_or_media: str) -> dict[str, Any]:
    """A component schema's name means JSON; ``media:Schema`` that schema in another media type (a multipart
    form); a media type alone a plain string body of that type."""
    media, _, schema = schema_or_media.partition(":")
    if schema:
        return {media: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    if "/" in schema_or_media:
        return {schema_or_media: {"schema": {"type": "string"}}}
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_or_media}"}}}


def _errors(openai: bool) -> dict[str, Any]:
    name, media = ("OpenAIError", "application/json") if openai else ("Problem", "application/problem+json")
    ref = {"schema": {"$ref": f"#/components/schemas/{name}"}}
    headers = {"X-Request-Id": {"schema": {"type": "string"}}}
    return {str(status): {"description": text, "headers": headers, "content": {media: ref}}
            for status, text in ERROR_STATUSES.items()}


def _describe(path: str, method: str, op: Operation) -> None:
    spec = ROUTES.get((method, path))
    loose = cast(Any, op)  # the spec dataclasses accept plain JSON-Schema dicts; they serialize them as they are
    loose.security = SECURITY
    responses = _errors(openai=speaks_openai(path))
    if spec is None:
        loose.responses = {**(op.responses or {}), **responses}
        loose.description = (op.description or "") + f" ({UNDESCRIBED}: body not described)"
        return
    status, body = spec["ok"]
    responses[str(status)] = {"description": "Success", "content": _content(body),
                              "headers": {"X-Request-Id": {"schema": {"type": "string"}},
                                          "X-Gateway-Audit-Index": {"schema": {"type": "string"}}}}
    loose.responses = responses
    if "body" in spec:
        loose.request_body = {"required": True, "content": _content(spec["body"])}
    if "query" in spec:
        loose.parameters = [*(op.parameters or []), *spec["query"]]


def _describe_public(path: str, method: str, op: Operation) -> None:
    spec = PUBLIC_ROUTES.get((method, path))
    if spec is not None:
        cast(Any, op).responses = {str(status): {"description": text, "content": _content(body)}
                                   for status, (text, body) in spec.items()}


def patch_document(openapi: OpenAPI) -> OpenAPI:
    """Add what the handlers' signatures cannot say; returns the same object, changed in place."""
    components = openapi.components if isinstance(openapi.components, Components) else Components()
    cast(Any, components).security_schemes = {**(components.security_schemes or {}), **SECURITY_SCHEMES}
    cast(Any, components).schemas = {**(components.schemas or {}), **COMPONENTS}
    openapi.components = components
    for path, item in (openapi.paths or {}).items():
        if not isinstance(item, PathItem):
            continue
        for method in METHODS:
            op = getattr(item, method, None)
            if not isinstance(op, Operation):
                continue
            if path.startswith(PUBLIC_PREFIXES):
                _describe_public(path, method, op)
            else:
                _describe(path, method, op)
    return openapi


def describe(app: Litestar) -> Litestar:
    """Build the app's OpenAPI document now (Litestar caches it) and complete it."""
    patch_document(app.openapi_schema)
    return app


_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})


class RouteIndexPlugin(OpenAPIRenderPlugin):
    """``/schema``: the operations and links to the OpenAPI document, in plain HTML that loads nothing.

    Litestar's documentation sites (Redoc, Swagger UI, ...) load their scripts, fonts and icons from CDNs: in the
    offline networks the gateway runs in they cannot render, and a page of ours must not reach out anyway.
    """

    def __init__(self) -> None:
        super().__init__(path="/", favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        json_path = self.get_openapi_json_route(request)
        yaml_path = json_path.rsplit("/", 1)[0] + "/openapi.yaml"
        rows = "".join(
            f"<tr><td>{html.escape(method.upper())}</td><td><code>{html.escape(path)}</code></td>"
            f"<td>{html.escape(str(op.get('summary') or op.get('operationId') or ''))}</td></tr>"
            for path, item in sorted(openapi_schema.get("paths", {}).items())
            for method, op in item.items() if isinstance(op, dict) and method in _METHODS
        )
        title = html.escape(str(openapi_schema.get("info", {}).get("title", "API")))
        return (
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>{title}</title><style>body{{font-family:sans-serif;margin:2em}}td{{padding:0 1em 0 0}}</style>"
            f"</head><body><h1>{title}</h1><p>OpenAPI document: <a href=\"{html.escape(json_path)}\">JSON</a>, "
            f"<a href=\"{html.escape(yaml_path)}\">YAML</a>.</p><table>{rows}</table></body></html>"
        ).encode()
