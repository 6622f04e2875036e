"""Test data shared by the audit tests (a module, not a fixture, so helpers can call it too)."""

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
        "privacy": {"epsilon_spent": 0.1 * i},
        "pii": {"US_SSN": {"count": 1, "action": "block"}} if i % 4 == 2 else {},
        "input_digest": f"hmac:{i:04d}",
    }
    entry.update(extra)
    return entry


def extra_events() -> list[dict[str, Any]]:
    """One entry of several non-request event types, for reports."""
    base = {"v": 1, "tenant": "tenant-0", "subject": "admin", "request_id": "r", "decision": "allow"}
    return [
        {**base, "time": "2025-01-01T09:00:00Z", "event": "gateway.start", "policy_version": "sha256:abc"},
        {**base, "time": "2025-01-02T09:00:00Z", "event": "key.rotate", "key_version": 2},
        {**base, "time": "2025-01-02T09:30:00Z", "event": "tenant.shred", "tenant": "tenant-9"},
        {
            **base,
            "time": "2025-01-03T09:00:00Z",
            "event": "auth.failure",
            "decision": "deny",
            "reason": "unknown_key",
        },
        {**base, "time": "2025-01-03T09:10:00Z", "event": "custom.unmapped"},
    ]
