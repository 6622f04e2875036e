"""The collections use cases driven directly (no HTTP): fake model and detector, real SQLite/FAISS store and log."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from gateway.auditing.auditor import Auditor, RequestContext
from gateway.auth.apikeys import Principal
from gateway.bootstrap import Services
from gateway.errors import NotFound
from gateway.pipeline.collection_admin import CollectionRef, CreateCollection, DocumentRef
from gateway.pipeline.ingest import Ingest
from gateway.pipeline.search import parse_search
from tests.unit.http.conftest import fake_services

WRITER = Principal("k1", "acme", "writer-user", "writer")
READER = Principal("k2", "acme", "reader-user", "reader")
ROUTE = "POST /v1/collections/{name}/documents"


@pytest.fixture
def services(tmp_path: Path) -> Any:
    s = fake_services(tmp_path)
    asyncio.run(s.collection_admin.create(CreateCollection("kb", "all-MiniLM-L6-v2"), WRITER))
    yield s
    s.close()


class StoreWatchingAuditor:
    """The real auditor; at each record, notes which of the documents the store already holds."""

    def __init__(self, auditor: Auditor, services: Services, ids: list[str]) -> None:
        self._auditor, self._services, self._ids = auditor, services, ids
        self.held_at_record: list[list[str]] = []

    async def record(self, event: str, ctx: RequestContext | None, decision: str, **fields: Any) -> int | None:
        self.held_at_record.append([d for d in self._ids if self._held(d)])
        return await self._auditor.record(event, ctx, decision, **fields)

    def _held(self, document_id: str) -> bool:
        try:
            return bool(self._services.collections.store.document("acme", "kb", document_id))
        except NotFound:
            return False


def test_when_documents_are_ingested_then_the_entry_is_durable_before_any_chunk_and_every_chunk_cites_it(
    services: Services,
) -> None:
    ids = ["d1", "d2"]
    auditor = StoreWatchingAuditor(services.auditor, services, ids)
    ingest = Ingest(services.collections, services.policy.current, services.pipeline.digests, auditor,
                    max_documents=10, max_text_chars=10_000)
    collection = services.collections.store.get_collection("acme", "kb")
    request = ingest.parse({"documents": [{"id": "d1", "text": "premiums are due monthly"},
                                          {"id": "d2", "text": "Bob filed ssn 078-05-1120"}]}, collection)
    ctx = RequestContext("r1", ROUTE, "acme", WRITER.subject, WRITER.key_id, WRITER.role)
    result = asyncio.run(ingest(request, WRITER, ctx))
    assert auditor.held_at_record == [[]]  # one entry, written while no chunk was stored
    assert [o.status for o in result.outcomes] == ["stored", "blocked"] and result.decision == "block"
    assert ctx.audit_index == result.audit_index
    chunks = services.collections.store.document("acme", "kb", "d1")
    assert chunks and {c.audit_index for c in chunks} == {result.audit_index}
    assert result.outcomes[0].record_ids == [c.record_id for c in chunks]
    entry = json.loads(services.audit_log.entries(result.audit_index, result.audit_index + 1)[0])
    assert entry["event"] == "document.ingest" and entry["decision"] == "block" and entry["status"] == 200
    assert entry["count"] == result.audit["count"] == len(chunks)
    assert [d["status"] for d in entry["documents"]] == ["stored", "blocked"]
    assert entry["pii"] == result.pii == {"PERSON": {"count": 1, "action": "redact"},
                                          "US_SSN": {"count": 1, "action": "block"}}


def test_when_a_query_is_searched_then_the_result_carries_hits_and_a_digest_of_the_query_only(
    services: Services,
) -> None:
    collection = services.collections.store.get_collection("acme", "kb")
    ctx = RequestContext("r1", ROUTE, "acme", WRITER.subject, WRITER.key_id, WRITER.role)
    ingest = services.ingest
    asyncio.run(ingest(ingest.parse({"documents": [{"id": "d1", "text": "premiums are due monthly"}]}, collection),
                       WRITER, ctx))
    result = asyncio.run(services.search(parse_search({"query": "when are premiums due", "k": 1}, collection),
                                         READER))
    assert [h["document_id"] for h in result.body["results"]] == ["d1"]
    assert result.audit["count"] == 1 and result.audit["k"] == 1 and result.pii == {}
    assert "when are premiums due" not in json.dumps(result.audit) and len(result.audit["query_digest"]) == 64


def test_when_documents_and_collections_are_deleted_then_the_observed_store_does_it(services: Services) -> None:
    """The admin use case writes through the store the metrics and drift monitoring wrap, not around it."""
    admin, collection = services.collection_admin, services.collections.store.get_collection("acme", "kb")
    ctx = RequestContext("r1", ROUTE, "acme", WRITER.subject, WRITER.key_id, WRITER.role)
    asyncio.run(services.ingest(services.ingest.parse({"documents": [{"id": "d1", "text": "a note"}]}, collection),
                                WRITER, ctx))
    before = _store_calls(services)
    read = asyncio.run(admin.read_document(DocumentRef("kb", "d1"), WRITER))
    assert read.audit == {"collection": "kb", "document_id": "d1", "count": 1}
    assert asyncio.run(admin.delete_document(DocumentRef("kb", "d1"), WRITER)).body["chunks_removed"] == 1
    dropped = asyncio.run(admin.delete(CollectionRef("kb"), WRITER))
    assert dropped.body == {"deleted": "kb", "chunks_removed": 0} and dropped.audit == {"collection": "kb", "count": 0}
    assert _store_calls(services) == before + 3  # each of the three timed in the store stage


def _store_calls(services: Services) -> float:
    assert services.observability is not None
    count = services.observability.metrics.registry.get_sample_value(
        "gateway_stage_duration_seconds_count", {"stage": "store"})
    return count or 0.0
