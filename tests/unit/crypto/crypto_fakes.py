"""Fakes for the crypto tests, in a uniquely named module so that test files can import them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class CountingRng:
    """Returns 0, 1, 2, ... (mod 256) across calls: fixed nonces and keys for known-answer tests."""

    def __init__(self) -> None:
        self.position = 0

    def __call__(self, n: int) -> bytes:
        out = bytes((self.position + i) % 256 for i in range(n))
        self.position += n
        return out


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
