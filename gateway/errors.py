"""The gateway's one exception tree. Each request error says, as class attributes, everything the HTTP layer needs:
its status, its code (and OpenAI error type), and the audit event and decision of the entry that records it. The
API (``gateway.http.guard``, rendered by ``gateway.http.errors``) and the console (``gateway.http.console.flow``)
both read them; nothing else maps an exception.

    GatewayError                                                                   status  audit event (decision)
    ├── ConfigurationError    bad settings, missing or unsafe key files (start-up only, never a response)
    ├── PolicyError           a policy file that does not load (file and line in the message; never a response)
    └── RequestError          anything a caller caused or should be told about
        ├── BadRequest              malformed body, wrong types, unsupported parameters  400  request.invalid
        ├── Unauthenticated         missing, unknown, revoked or expired API key         401  auth.failure
        ├── Forbidden               authenticated, but Casbin denies the action          403  authz.denied
        ├── NotFound                unknown or foreign collection/document (not leaked)  404  the route's
        │   └── ModelNotFound       unknown model name                                   404  the route's
        ├── MethodNotAllowed        a known route called with another method             405  the route's
        ├── BodyTimeout             the request body did not arrive within its limit     408  request.invalid
        ├── Conflict                e.g. an existing collection, a model version clash   409  the route's
        ├── PayloadTooLarge         body, batch or text over a limit                     413  request.invalid
        ├── PrivacyBudgetExceeded   more vectors would exceed the tenant's budget        403  privacy.budget_exceeded
        │                                                                                     (block)
        ├── PIIBlocked              the policy blocks an entity type found in the input  422  the route's (block)
        ├── DetectionTooCostly      the input could not be screened within its budget    422  the route's
        ├── RateLimited             per-key rate limit; has Retry-After                  429  rate.limited
        ├── DecryptionFailed        one opaque error for every unopenable ciphertext     500  the route's (error)
        ├── Overloaded              queue full or a dependency down; has Retry-After     503  overload.rejected
        ├── Unavailable             audit log or store not writable: fails closed        503  the route's (error)
        ├── ModelUnavailable        a remote model's engine is down or out of service    503  the route's (error)
        ├── UpstreamError           a remote engine refused or answered malformed        502  the route's (error)
        │   └── DimensionMismatch   its vectors have another dimension than declared     502  the route's (error)
        └── Timeout                 the request took longer than its limit               504  the route's (error)

"The route's" event is the one the route records when it succeeds (``audit_event`` None); the decision is
"deny" unless given.

Messages never contain secrets, input text or PII values: only names, types and counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""


class ConfigurationError(GatewayError):
    """The gateway cannot start as configured."""


class PolicyError(GatewayError):
    """A policy file is invalid; the message names the file and line."""


class RequestError(GatewayError):
    """A refusal of one request. ``detail["audit"]`` holds fields for its audit entry (never shown to the caller),
    the rest of ``detail`` goes in the problem-details body; ``headers`` go on the response (and so into the
    request's metrics, e.g. ``X-Gateway-PII`` of a blocked input)."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    error_type: ClassVar[str] = "invalid_request_error"  # OpenAI's error "type"
    audit_event: ClassVar[str | None] = "request.invalid"  # None: the event of the route that refused
    decision: ClassVar[str] = "deny"  # the audit entry's decision: one of audit.events.DECISIONS

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        detail: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.detail = dict(detail or {})
        self.retry_after = retry_after
        self.headers = dict(headers or {})

    def audited_as(self, route_event: str) -> tuple[str, str]:
        """The (event, decision) of the audit entry that records this refusal on a route whose event is
        ``route_event``."""
        return self.audit_event or route_event, self.decision


class BadRequest(RequestError):
    status = 400
    code = "bad_request"


class Unauthenticated(RequestError):
    status = 401
    code = "invalid_api_key"
    error_type = "authentication_error"
    audit_event = "auth.failure"
    key_id: str | None = None  # set for a refused key that exists: the id its audit entry names


class Forbidden(RequestError):
    status = 403
    code = "permission_denied"
    error_type = "permission_error"
    audit_event = "authz.denied"


class NotFound(RequestError):
    status = 404
    code = "not_found"
    error_type = "not_found_error"
    audit_event = None


class ModelNotFound(NotFound):
    code = "model_not_found"


class MethodNotAllowed(RequestError):
    status = 405
    code = "method_not_allowed"
    audit_event = None


class BodyTimeout(RequestError):
    status = 408
    code = "request_timeout"


class Conflict(RequestError):
    status = 409
    code = "conflict"
    audit_event = None


class PayloadTooLarge(RequestError):
    status = 413
    code = "payload_too_large"


class PrivacyBudgetExceeded(RequestError):
    status = 403
    code = "privacy_budget_exceeded"
    error_type = "policy_violation"
    audit_event = "privacy.budget_exceeded"
    decision = "block"


class PIIBlocked(RequestError):
    status = 422
    code = "pii_blocked"
    error_type = "policy_violation"
    audit_event = None
    decision = "block"


class DetectionTooCostly(RequestError):
    """Screening a text took longer than the detection budget: refused (fail closed), never passed on unscreened."""

    status = 422
    code = "pii_screening_too_costly"
    error_type = "invalid_request_error"
    audit_event = None

    @classmethod
    def within(cls, left_s: float | None) -> DetectionTooCostly:
        """The refusal of a text whose screening did not end within ``left_s``: what was left of its request's
        budget (``pii_budget_s``) when the text's screening was asked for, a wait for the detector included."""
        return cls(
            "the text could not be screened for PII within what was left of the request's detection budget "
            f"({left_s or 0:.2f} s, waiting for the detector included); it was not embedded or stored (retry when "
            "the gateway is less busy, or shorten it, or split it into several inputs)"
        )


class RateLimited(RequestError):
    status = 429
    code = "rate_limited"
    error_type = "rate_limit_error"
    audit_event = "rate.limited"


class DecryptionFailed(RequestError):
    """One opaque error for every ciphertext that does not open: tampered, moved, or shredded."""

    status = 500
    code = "decryption_failed"
    error_type = "server_error"
    audit_event = None
    decision = "error"

    def __init__(self, message: str = "a stored record could not be decrypted", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)


class Overloaded(RequestError):
    status = 503
    code = "overloaded"
    error_type = "server_error"
    audit_event = "overload.rejected"


class Unavailable(RequestError):
    status = 503
    code = "unavailable"
    error_type = "server_error"
    audit_event = None
    decision = "error"


class DatabaseUnavailable(Unavailable):
    """The PostgreSQL pool found no connection in time (a 503 to a caller; a command says what to check:
    ``problem``, when the refusal's reason is known)."""

    def __init__(self, message: str, *, problem: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.problem = problem


class Timeout(RequestError):
    status = 504
    code = "timeout"
    error_type = "server_error"
    audit_event = None
    decision = "error"


class BatchExpired(Timeout):
    """A batch line that had not run when its batch's completion window (24 h) ended: OpenAI's ``batch_expired``."""

    code = "batch_expired"


class ModelUnavailable(RequestError):
    """A remote model cannot answer now (engine down, timing out, circuit open, fingerprint mismatch)."""

    status = 503
    code = "model_unavailable"
    error_type = "server_error"
    audit_event = None
    decision = "error"


class UpstreamError(RequestError):
    """A remote engine refused the request (its 4xx/5xx) or answered with something that is not usable."""

    status = 502
    code = "upstream_error"
    error_type = "server_error"
    audit_event = None
    decision = "error"
    engine_status: int = 0  # the engine's HTTP status where it answered one (401, 404, 500, ...); else 0


class DimensionMismatch(UpstreamError):
    """A remote engine answered vectors of another dimension than the model's: another model behind its URL (the
    fingerprint probe takes the model out of service for it)."""

    observed_dimension: int = 0
