"""The gateway's one exception tree, mapped to HTTP in ``gateway.http.errors`` and nowhere else.

    GatewayError
    ├── ConfigurationError          bad settings, missing or unsafe key files (start-up only)
    ├── PolicyError                 a policy file that does not load (file and line in the message)
    └── RequestError                anything a caller caused or should be told about; carries status and code
        ├── BadRequest              400  malformed body, wrong types, unsupported parameters
        ├── Unauthenticated         401  missing, unknown, revoked or expired API key
        ├── Forbidden               403  authenticated, but Casbin denies the action
        ├── NotFound                404  unknown or foreign collection/document (existence is not leaked)
        │   └── ModelNotFound       404  unknown model name
        ├── MethodNotAllowed        405  a known route called with another method
        ├── BodyTimeout             408  the request body did not arrive within its time limit
        ├── Conflict                409  e.g. a collection that already exists, a model version mismatch
        ├── PayloadTooLarge         413  body, batch or text over a limit
        ├── PrivacyBudgetExceeded   403  releasing more vectors would exceed the tenant's privacy budget
        ├── PIIBlocked              422  the policy blocks an entity type found in the input
        ├── DetectionTooCostly      422  the input could not be screened within the detection budget
        ├── RateLimited             429  per-key rate limit; carries Retry-After
        ├── DecryptionFailed        500  one opaque error for every tampered, moved or shredded ciphertext
        ├── Overloaded              503  queue full or a dependency down; carries Retry-After
        ├── Unavailable             503  the audit log or store cannot be written: the request fails closed
        ├── ModelUnavailable        503  a remote model's engine is down, timing out or out of service
        ├── UpstreamError           502  a remote engine refused the request or answered malformed
        └── Timeout                 504  the request took longer than its limit

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
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    error_type: ClassVar[str] = "invalid_request_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        detail: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.detail = dict(detail or {})
        self.retry_after = retry_after


class BadRequest(RequestError):
    status = 400
    code = "bad_request"


class Unauthenticated(RequestError):
    status = 401
    code = "invalid_api_key"
    error_type = "authentication_error"


class Forbidden(RequestError):
    status = 403
    code = "permission_denied"
    error_type = "permission_error"


class NotFound(RequestError):
    status = 404
    code = "not_found"
    error_type = "not_found_error"


class ModelNotFound(NotFound):
    code = "model_not_found"


class MethodNotAllowed(RequestError):
    status = 405
    code = "method_not_allowed"


class BodyTimeout(RequestError):
    status = 408
    code = "request_timeout"


class Conflict(RequestError):
    status = 409
    code = "conflict"


class PayloadTooLarge(RequestError):
    status = 413
    code = "payload_too_large"


class PrivacyBudgetExceeded(RequestError):
    status = 403
    code = "privacy_budget_exceeded"
    error_type = "policy_violation"


class PIIBlocked(RequestError):
    status = 422
    code = "pii_blocked"
    error_type = "policy_violation"


class DetectionTooCostly(RequestError):
    """Screening a text took longer than the detection budget: refused (fail closed), never passed on unscreened."""

    status = 422
    code = "pii_screening_too_costly"
    error_type = "invalid_request_error"


class RateLimited(RequestError):
    status = 429
    code = "rate_limited"
    error_type = "rate_limit_error"


class DecryptionFailed(RequestError):
    """One opaque error for every ciphertext that does not open: tampered, moved, or shredded."""

    status = 500
    code = "decryption_failed"
    error_type = "server_error"

    def __init__(self, message: str = "a stored record could not be decrypted", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)


class Overloaded(RequestError):
    status = 503
    code = "overloaded"
    error_type = "server_error"


class Unavailable(RequestError):
    status = 503
    code = "unavailable"
    error_type = "server_error"


class Timeout(RequestError):
    status = 504
    code = "timeout"
    error_type = "server_error"


class ModelUnavailable(RequestError):
    """A remote model cannot answer now (engine down, timing out, circuit open, fingerprint mismatch)."""

    status = 503
    code = "model_unavailable"
    error_type = "server_error"


class UpstreamError(RequestError):
    """A remote engine refused the request (its 4xx/5xx) or answered with something that is not usable."""

    status = 502
    code = "upstream_error"
    error_type = "server_error"
