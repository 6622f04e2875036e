"""The audit-read use cases over a fake log: where the reads run, and what another tenant's entry shows."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from typing import Any

import pytest

from audit.keys import generate_private_key
from audit.report_scope import TenantScope
from gateway.auditing.queries import AuditQueries, InclusionRequest
from gateway.auditing.reader import AuditReader
from gateway.errors import BadRequest, Forbidden


class FakeLog:
    """Entries in a list; records the thread of every read."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.leaves = [json.dumps(e, sort_keys=True).encode() for e in entries]
        self.threads: list[int] = []

    def _read(self) -> None:
        self.threads.append(threading.get_ident())

    def size(self) -> int:
        self._read()
        return len(self.leaves)

    def entries(self, start: int, end: int) -> list[bytes]:
        self._read()
        return self.leaves[start:end]

    def entry_tenant(self, index: int) -> str | None:
        self._read()
        tenant = json.loads(self.leaves[index]).get("tenant")
        return tenant if isinstance(tenant, str) else None

    def latest_checkpoint(self) -> str | None:
        self._read()
        return None

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        self._read()
        return [b"\x01" * 32]


LOG = [{"event": "embeddings.create", "tenant": "acme"}, {"event": "embeddings.create", "tenant": "globex"}]


def _queries(log: FakeLog, remote: bool = False) -> AuditQueries:
    key = generate_private_key().public_key()
    return AuditQueries(log, remote=remote, public_key=key, witnesses=None, versions=None,  # type: ignore[arg-type]
                        digest=lambda tenant, value: f"digest-of-{len(value)}")


@pytest.mark.parametrize("remote", [True, False])
def test_when_the_log_is_remote_then_its_reads_run_off_the_event_loop(remote: bool) -> None:
    log = FakeLog(LOG)

    async def read() -> int:
        await AuditReader(log, remote=remote).size()  # type: ignore[arg-type]
        return threading.get_ident()

    loop_thread = asyncio.run(read())
    assert (log.threads[0] != loop_thread) is remote


def test_when_an_entry_is_another_tenants_then_only_its_rfc9162_leaf_hash_is_shown() -> None:
    log = FakeLog(LOG)
    result = asyncio.run(_queries(log, remote=True).entries(TenantScope("acme"), None, None))
    assert result.content["entries"][1] is None and result.content["entries"][0] is not None
    expected = hashlib.sha256(b"\x00" + log.leaves[1]).hexdigest()  # RFC 9162 section 2.1.1
    assert result.content["withheld"] == [{"index": 1, "leaf_hash": expected}]
    assert result.audit == {"what": "entries", "start": 0, "end": 2, "scope": "acme", "withheld": 1}


def test_when_start_is_past_end_then_bad_request_naming_the_log_size() -> None:
    with pytest.raises(BadRequest, match="the log has 2 entries"):
        asyncio.run(_queries(FakeLog(LOG)).entries(TenantScope(None), 2, 1))


def test_when_a_consumer_asks_for_another_tenants_proof_then_forbidden() -> None:
    queries = _queries(FakeLog(LOG), remote=True)
    asking = InclusionRequest(1, 2, TenantScope("acme"), auditor=False, tenant="acme")
    with pytest.raises(Forbidden):
        asyncio.run(queries.inclusion(asking))
    own = asyncio.run(queries.inclusion(InclusionRequest(0, 2, TenantScope("acme"), auditor=False, tenant="acme")))
    assert own.content["index"] == 0 and own.audit == {"what": "inclusion_proof", "index": 0, "tree_size": 2}
