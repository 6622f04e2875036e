"""What every use case returns: the response data and the fields of the request's one audit entry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Outcome:
    body: Any  # JSON-serializable data, or bytes already serialized (off the event loop where that is costly)
    audit: dict[str, Any]  # the audit entry's fields beyond the request's own (never text or PII values)
    headers: dict[str, str] = field(default_factory=dict)  # response headers the metrics read too (X-Gateway-PII)
