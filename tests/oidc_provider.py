"""A real OIDC provider for the console's sign-in tests: oidc-provider-mock, served on a thread, that also checks PKCE.

oidc-provider-mock 0.3.4 issues codes and ID tokens (with the ``nonce`` of the authorization request) but ignores
``code_challenge``; ``PkceCheck`` wraps it so a code is exchanged only with the verifier whose S256 challenge the
authorization request carried (as Okta, Entra ID and Keycloak do for a public client). ``impersonate`` makes the
provider act for another client id (an ID token whose audience is not the console's).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import oidc_provider_mock
import werkzeug.serving

StartResponse = Callable[..., Any]


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass
class PkceCheck:
    """WSGI middleware: remembers each issued code's challenge and refuses a token request without its verifier."""

    app: Any
    challenges: dict[str, tuple[str, str]] = field(default_factory=dict)
    exchanges: list[dict[str, str]] = field(default_factory=list)  # the token requests' forms, for assertions
    impersonate: str | None = None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == "/oauth2/authorize" and method == "POST":
            query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
            challenge = (query.get("code_challenge", [""])[0], query.get("code_challenge_method", [""])[0])
            if self.impersonate:
                query["client_id"] = [self.impersonate]
                environ["QUERY_STRING"] = urllib.parse.urlencode(query, doseq=True)

            def remember(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
                location = dict(headers).get("Location", "")
                code = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query).get("code", [""])[0]
                if code:
                    self.challenges[code] = challenge
                return start_response(status, headers, *rest)

            return self.app(environ, remember)  # type: ignore[no-any-return]
        if path == "/oauth2/token" and method == "POST":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(size)
            form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
            self.exchanges.append(form)
            challenge, how = self.challenges.get(form.get("code", ""), ("", ""))
            if how != "S256" or s256(form.get("code_verifier", "")) != challenge:
                payload = json.dumps({"error": "invalid_grant", "error_description": "PKCE verification failed"})
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [payload.encode()]
            if self.impersonate:
                form.update(client_id=self.impersonate, client_secret="any")
                body = urllib.parse.urlencode(form).encode()
                environ.pop("HTTP_AUTHORIZATION", None)
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        return self.app(environ, start_response)  # type: ignore[no-any-return]


@dataclass
class Provider:
    url: str
    pkce: PkceCheck

    @property
    def discovery(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def user(self, sub: str, claims: dict[str, Any]) -> None:
        """The claims the provider's ID tokens for ``sub`` carry (its authorization form lets one pick ``sub``)."""
        assert httpx.put(f"{self.url}/users/{sub}", json=claims).status_code == 204


@contextmanager
def running_provider() -> Iterator[Provider]:
    """The provider on ``localhost`` (a free port), requiring a ``nonce`` and checking PKCE."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("oidc_provider_mock").setLevel(logging.ERROR)
    pkce = PkceCheck(oidc_provider_mock.app(require_nonce=True))
    server = werkzeug.serving.make_server("localhost", 0, pkce, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield Provider(f"http://localhost:{server.server_port}", pkce)
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
