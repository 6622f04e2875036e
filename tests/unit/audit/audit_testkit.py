"""Test data shared by the audit tests (a module, not a fixture, so helpers can call it too).

The fields are those the gateway writes (``audit.events.ENTRY_FIELDS``; ``tests/unit/http/console/
test_report_fields.py`` checks the gateway really writes them), so the report is tested on what it will read.
"""

from __future__ import annotations

from typing import Any


def make_entry(i: int, **extra: Any) -> dict[str, Any]:
    """A realistic gateway entry, varied by ``i``."""
    entry: dict[str, Any] = {
        "v": 1,
        "time": f"2025-01-0{1 + i % 3}T{10 + i % 5:02d}:00:{i % 60:02d}Z",
        "event": "embeddings.create",
        "tenant": f"tenant-{i % 2}",
        "subject": f"key-{i % 3}",
        "request_id": f"req-{i}",
        "decision": ("allow", "allow", "block", "deny")[i % 4],
        "model": {"name": "all-MiniLM-L6-v2", "version": "1.0.0", "fingerprint": "53aa5117"},
        "policy_version": "sha256:abc",
        "noise_sigma": 0.05,
        "privacy": {"scope": "embeddings", "epsilon_worst_case": 10.0 * i, "epsilon_radius": 0.1 * i,
                    "releases_new": 1},
        "pii": {"US_SSN": {"count": 1, "action": "block"}} if i % 4 == 2 else {},
        "input_digest": f"hmac:{i:04d}",
    }
    entry.update(extra)
    return entry


def extra_events() -> list[dict[str, Any]]:
    """One entry of several non-request event types, for reports."""
    base = {"v": 1, "tenant": "tenant-0", "subject": "admin", "decision": "allow"}  # CLI actions: no request id
    return [
        {**base, "time": "2025-01-01T09:00:00Z", "event": "gateway.start", "tenant": "*",
         "policy_version": "sha256:abc"},
        {**base, "time": "2025-01-02T09:00:00Z", "event": "key.rotate", "kek_version": 2, "tenant": "*",
         "actor": {"user": "ops", "host": "h1"}},
        {**base, "time": "2025-01-02T09:30:00Z", "event": "tenant.shred", "tenant": "tenant-9"},
        {
            **base,
            "time": "2025-01-03T09:00:00Z",
            "event": "auth.failure",
            "request_id": "req-auth",
            "decision": "deny",
            "code": "unauthenticated",
        },
        {**base, "time": "2025-01-03T09:10:00Z", "event": "custom.unmapped", "request_id": "req-x"},
        {"v": 1, "time": "2025-01-03T09:20:00Z", "event": "apikey.create", "decision": "allow", "tenant": "tenant-0",
         "subject": "svc", "key_id": "0123456789abcdef", "role": "writer", "actor": {"user": "ops", "host": "h1"}},
    ]
