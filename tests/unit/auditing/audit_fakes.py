"""Fakes for tests that drive an ``Auditor`` without a log: a sink that keeps entries in a list, and a digest
secret derived from the tenant and purpose (issue 17's digested ids need one)."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Mapping
from typing import Any


class ListSink:
    def __init__(self) -> None:
        self.entries: list[Mapping[str, Any]] = []

    def submit(self, entry: Mapping[str, Any]) -> concurrent.futures.Future[int]:
        self.entries.append(entry)
        done: concurrent.futures.Future[int] = concurrent.futures.Future()
        done.set_result(len(self.entries) - 1)
        return done


def test_secret(tenant: str, purpose: str) -> bytes:
    return f"{tenant}/{purpose}".encode()


test_secret.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test
