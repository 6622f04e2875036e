"""Remote embedding engines: any OpenAI-compatible ``/embeddings`` (TEI, Infinity, vLLM, Ollama, OpenAI) and Azure
OpenAI's deployments, called only after the text has been screened and decided on.

An ``EngineClient`` sends at most ``max_batch`` texts per call, retries a 429 or 503 with backoff for at most the
engine's ``timeout_s`` (within the caller's deadline), fails over to the next URL of the model, and keeps a circuit
breaker per URL so a dead engine answers in microseconds instead of a timeout per request. What comes back is
checked before anyone uses it: one vector per text, in order, of the declared dimension, every number finite.
Failures speak the gateway's error tree: unreachable, timing out or open circuit -> ``ModelUnavailable`` (503,
Retry-After); the engine's own 4xx/5xx -> ``UpstreamError`` (502). Neither carries the engine's body (it may echo
the text) nor a credential.

Callers are told only that the engine is unavailable; the operator's log says why, once per change of an engine
URL's health (``EngineHealth``): refused, timed out, a TLS handshake that failed and its reason, the engine's HTTP
status (a 404 hints at the URL's path), and when the engine answers again. A failing engine under load writes one
line, not one per request.
"""

from __future__ import annotations

import logging
import math
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from gateway.errors import DimensionMismatch, ModelUnavailable, UpstreamError
from gateway.observability import tracing
from gateway.observability.logs import Vetted, VettedName
from gateway.settings import Secret

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 503})
BREAKER_FAILURES = 5
BREAKER_OPEN_S = 10.0
MAX_BACKOFF_S = 2.0
REFUSAL_LOG_S = 60.0
BUSY = "busy (HTTP 429 or 503) for the whole retry budget (timeout_s)"


@dataclass(frozen=True)
class EngineSpec:
    """Where and how a model is served remotely (the ``engine:`` block of a ``models.yaml`` entry)."""

    kind: str  # "openai" or "azure_openai"
    urls: tuple[str, ...]  # base URLs; more than one: failover in order
    model: str  # the engine's own model name (openai) or deployment name (azure_openai)
    api_key: Secret = field(default_factory=Secret)
    timeout_s: float = 30.0
    max_batch: int = 64
    ca_file: str = ""
    client_cert: str = ""
    client_key: str = ""
    api_version: str = "2024-10-21"  # azure_openai only

    def hosts(self) -> tuple[str, ...]:
        """The engines' hosts, for audit entries and provenance: never a path, a query or a credential."""
        return tuple(_host(u) for u in self.urls)


class CircuitBreaker:
    """Closed; open after ``failures`` consecutive failures, for ``open_s``; then one trial call (half-open)."""

    def __init__(self, failures: int = BREAKER_FAILURES, open_s: float = BREAKER_OPEN_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._limit, self._open_s, self._clock = failures, open_s, clock
        self._failures = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "open" if self._clock() - self._opened_at < self._open_s else "half_open"

    def allow(self) -> bool:
        return self.state != "open"

    def retry_after(self) -> float:
        with self._lock:
            if self._opened_at is None:
                return 0.0
            return max(0.0, self._open_s - (self._clock() - self._opened_at))

    def record(self, ok: bool) -> None:
        with self._lock:
            if ok:
                self._failures, self._opened_at = 0, None
                return
            self._failures += 1
            if self._failures >= self._limit:
                self._opened_at = self._clock()


class _Retryable(Exception):
    def __init__(self, retry_after: float | None, why: str = BUSY) -> None:
        self.retry_after = retry_after
        self.why = why


class _Down(_Retryable):
    """Refused, reset, timed out: not retried on the same URL (a refused connection stays refused, and a timeout
    already spent the time), so an engine that is down gives a quick 503 or the next URL's answer."""


class EngineHealth:
    """What the log last said of one engine URL: a failure to answer is logged when its kind changes, a recovery
    once; a refusal (the engine answered, e.g. a 404) at most once per ``REFUSAL_LOG_S`` for each kind, since one
    caller's bad requests must not flood the log."""

    def __init__(self, host: str, model: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._host, self._model = VettedName(host), VettedName(model)
        self._clock = clock
        self._failing: str | None = None
        self._refusals: dict[str, float] = {}
        self._lock = threading.Lock()

    def refused(self, why: str) -> None:
        with self._lock:
            last = self._refusals.get(why)
            if last is not None and self._clock() - last < REFUSAL_LOG_S:
                return
            if len(self._refusals) >= 64:  # messages carry counts: keep the memory bounded
                self._refusals.clear()
            self._refusals[why] = self._clock()
        log.warning("engine %s (model %s): %s", self._host, self._model, Vetted(why))

    def failed(self, why: str) -> None:
        with self._lock:
            if why == self._failing:
                return
            self._failing = why
        log.warning("engine %s (model %s): %s", self._host, self._model, Vetted(why))

    def answered(self) -> None:
        with self._lock:
            if self._failing is None:
                return
            self._failing = None
        log.warning("engine %s (model %s) answers again", self._host, self._model)


_VERIFY = {10: "it has expired", 62: "it does not name this host", 64: "it does not name this IP address",
           18: "it is self-signed", 19: "its chain ends in an untrusted root", 20: "its issuer is not a trusted CA"}


def _unreachable(exc: httpx.HTTPError, spec: EngineSpec, url: str) -> str:
    """Why a call got no answer, in words of our own (never the peer's): refused, timed out, TLS and its reason."""
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {spec.timeout_s:g} s (timeout_s)"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            said = _VERIFY.get(cause.verify_code, _words(cause.reason))
            return f"TLS: the engine's certificate is not accepted ({said}; see ca_file)"
        if isinstance(cause, ssl.SSLError):
            if "CERTIFICATE_REQUIRED" in (cause.reason or ""):
                return "TLS: the engine requires a client certificate (client_cert and client_key)"
            return f"TLS handshake failed ({_words(cause.reason)}; an https URL to a plain http port?)"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused (nothing listens at this host and port)"
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect (refused, no route or no such host)"
    if url.startswith("https://") and not spec.client_cert:  # TLS 1.3: a refused client is told after the handshake
        return (f"the engine closed the connection without an answer ({type(exc).__name__}); if it requires mutual "
                "TLS, set client_cert and client_key")
    return f"the engine closed the connection without an answer ({type(exc).__name__})"


# (engine host, seconds, texts in the call, outcome: ok | down | busy | upstream_error), for the metrics
EngineObserver = Callable[[str, float, int, str], None]


class EngineClient:
    """Embeds screened texts with one remote model; thread-safe (the embedding workers share it)."""

    def __init__(self, spec: EngineSpec, dimension: int, transport: httpx.BaseTransport | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 observe: EngineObserver | None = None, name: str = "") -> None:
        """``name``: the gateway's name of the model, for the log (default: the engine's own model name)."""
        self.spec = spec
        self.observer = observe  # the metrics' callback; may be attached after construction
        self._dimension = dimension
        self._clock, self._sleep = clock, sleep
        self.breakers = {url: CircuitBreaker(clock=clock) for url in spec.urls}
        self.health = {url: EngineHealth(_host(url), name or spec.model, clock) for url in spec.urls}
        self._http = httpx.Client(transport=transport, timeout=spec.timeout_s, verify=self._verify(),
                                  cert=self._cert(), follow_redirects=False, trust_env=False)

    def _verify(self) -> ssl.SSLContext | bool:
        if not self.spec.ca_file:
            return True
        return ssl.create_default_context(cafile=self.spec.ca_file)

    def _cert(self) -> tuple[str, str] | None:
        return (self.spec.client_cert, self.spec.client_key) if self.spec.client_cert else None

    def embed(self, texts: Sequence[str], deadline_s: float | None = None) -> np.ndarray:
        """One vector per text, in order (float32, shape (n, dimension)); split into ``max_batch`` calls.

        ``deadline_s`` bounds the whole call (the request's time limit); a busy engine's 429/503 are retried only
        for the engine's ``timeout_s`` from now (the retry budget), so a storm answers 503 with Retry-After soon
        and frees the model's engine calls instead of holding each one to the request's limit."""
        now = self._clock()
        deadline = now + (deadline_s if deadline_s is not None else self.spec.timeout_s)
        retry_until = min(deadline, now + self.spec.timeout_s)
        parts = [self._embed_batch(list(texts[i:i + self.spec.max_batch]), deadline, retry_until)
                 for i in range(0, len(texts), self.spec.max_batch)]
        return np.concatenate(parts) if parts else np.zeros((0, self._dimension), dtype=np.float32)

    def _embed_batch(self, texts: list[str], deadline: float, retry_until: float) -> np.ndarray:
        wait: float | None = None
        for url in self.spec.urls:
            breaker = self.breakers[url]
            if not breaker.allow():
                wait = min(wait or math.inf, breaker.retry_after())
                continue
            try:
                vectors = self._call_with_retries(url, texts, deadline, retry_until)
            except _Retryable as exc:  # down, timing out, or still busy at the deadline: the next URL may serve
                breaker.record(False)
                self.health[url].failed(exc.why)
                wait = exc.retry_after if wait is None else min(wait, exc.retry_after or wait)
                continue
            except UpstreamError as exc:
                breaker.record(True)  # it answered: the engine is up, the request is what it refused
                self.health[url].refused(exc.message + _hint(exc))
                raise
            breaker.record(True)
            self.health[url].answered()
            return vectors
        raise ModelUnavailable("the model's engine is unavailable; retry later",
                               retry_after=max(1.0, math.ceil(wait)) if wait is not None else 1.0)

    def _call_with_retries(self, url: str, texts: list[str], deadline: float, retry_until: float) -> np.ndarray:
        """One URL's answer: a 429/503 is retried with backoff while the retry budget (``retry_until``) lasts."""
        backoff = 0.1
        while True:
            try:
                return self._observed(url, texts, deadline)
            except _Down:
                raise
            except _Retryable as exc:
                pause = min(MAX_BACKOFF_S, exc.retry_after if exc.retry_after is not None else backoff)
                if self._clock() + pause >= min(deadline, retry_until):
                    raise
                self._sleep(pause)
                backoff *= 2

    def _observed(self, url: str, texts: list[str], deadline: float) -> np.ndarray:
        if self.observer is None:
            return self._call(url, texts, deadline)
        started, outcome = time.perf_counter(), "ok"
        try:
            return self._call(url, texts, deadline)
        except _Down:
            outcome = "down"
            raise
        except _Retryable:
            outcome = "busy"
            raise
        except UpstreamError:
            outcome = "upstream_error"
            raise
        finally:
            self.observer(_host(url), time.perf_counter() - started, len(texts), outcome)

    def _request(self, url: str, texts: list[str]) -> tuple[str, dict[str, str], dict[str, Any]]:
        key = self.spec.api_key.reveal()
        if self.spec.kind == "azure_openai":
            target = (f"{url.rstrip('/')}/openai/deployments/{urllib.parse.quote(self.spec.model, safe='')}"
                      f"/embeddings?api-version={urllib.parse.quote(self.spec.api_version, safe='')}")
            return target, ({"api-key": key} if key else {}), {"input": texts}
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return f"{url.rstrip('/')}/embeddings", headers, {"input": texts, "model": self.spec.model,
                                                         "encoding_format": "float"}

    def _call(self, url: str, texts: list[str], deadline: float) -> np.ndarray:
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise _Retryable(None, "the request's time ran out before the engine could be called")
        target, headers, body = self._request(url, texts)
        with tracing.span("engine.embed", {"gateway.engine.host": _host(url), "gateway.batch_size": len(texts)},
                          kind="client"):
            tracing.inject(headers)  # W3C traceparent: the engine's spans join the request's trace
            try:
                response = self._http.post(target, json=body, headers=headers,
                                           timeout=min(self.spec.timeout_s, remaining))
            except httpx.HTTPError as exc:  # refused, reset, timed out, TLS: say nothing of the peer's words
                raise _Down(None, _unreachable(exc, self.spec, url)) from None
            tracing.set_attributes({"http.response.status_code": response.status_code})
        if response.status_code in RETRY_STATUSES:
            raise _Retryable(_retry_after(response.headers.get("retry-after")))
        if response.status_code >= 400:
            refused = UpstreamError(f"the model's engine refused the request (HTTP {response.status_code})")
        elif response.status_code >= 300:  # never followed: the gateway connects to the configured URL only
            refused = UpstreamError(f"the model's engine answered a redirect (HTTP {response.status_code}), which is "
                                    "not followed")
        else:
            return self._vectors(response, len(texts))
        refused.engine_status = response.status_code
        raise refused

    def _vectors(self, response: httpx.Response, count: int) -> np.ndarray:
        try:
            data = response.json()["data"]
            rows = sorted(data, key=lambda item: int(item["index"])) if all("index" in d for d in data) else data
            if [int(r.get("index", i)) for i, r in enumerate(rows)] != list(range(len(rows))):
                raise ValueError("indexes")
            matrix = np.asarray([row["embedding"] for row in rows], dtype=np.float64)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise UpstreamError("the model's engine answered with something that is not an embeddings list") from None
        if matrix.ndim == 2 and matrix.shape[0] == count and matrix.shape[1] != self._dimension:
            wrong = DimensionMismatch(f"the model's engine returned vectors of {matrix.shape[1]} dimensions; "
                                      f"expected {self._dimension}")
            wrong.observed_dimension = int(matrix.shape[1])
            raise wrong
        if matrix.shape != (count, self._dimension):
            raise UpstreamError(f"the model's engine returned {matrix.shape[0]} vectors of "
                                f"{matrix.shape[1] if matrix.ndim == 2 else '?'} dimensions for {count} texts; "
                                f"expected {self._dimension}")
        if not np.isfinite(matrix).all():
            raise UpstreamError("the model's engine returned a vector with a non-finite number")
        return matrix.astype(np.float32)

    def close(self) -> None:
        self._http.close()


def _words(reason: str | None) -> str:
    """OpenSSL's reason code in words (CERTIFICATE_VERIFY_FAILED: certificate verify failed)."""
    return (reason or "unknown").replace("_", " ").lower()


def _hint(exc: UpstreamError) -> str:
    """For the operator's log: what an engine's 401, 403, 404, 405 or redirect usually means."""
    if any(f"(HTTP {code}" in exc.message for code in (404, 405)):
        return ": is base_url's path right? The gateway posts to {base_url}/embeddings (Infinity: --url-prefix)"
    if any(f"(HTTP {code}" in exc.message for code in (401, 403)):
        return ": does the engine want a key? Check api_key_file or api_key_env (the key itself is never logged)"
    if "redirect" in exc.message:
        return ": set base_url to where the engine answers (https rather than http?)"
    return ""


def _host(url: str) -> str:
    """host[:port] of a URL, without any user information."""
    return urllib.parse.urlsplit(url).netloc.rpartition("@")[2]


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
