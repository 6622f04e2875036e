"""The ingest use case: documents through the governed pipeline into a collection, with their audit entry.

Its entry is written before the chunks are: every stored chunk's provenance names the entry that recorded it
(``audit_index``). So this use case records the ``document.ingest`` entry itself, through the ``AuditPort``, where
the other use cases return their audit fields for the guard to record; denials and errors stay the guard's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.auditing.auditor import RequestContext
from gateway.auth.apikeys import Principal
from gateway.pii.decide import PIISummary
from gateway.pipeline.collections import CollectionService, DocumentIn, IngestOutcome, parse_documents
from gateway.pipeline.offload import off_loop
from gateway.policy.loader import GatewayPolicy
from gateway.store.base import Collection

EVENT = "document.ingest"
Digests = Callable[[str, Sequence[str]], list[bytes]]  # (tenant, texts) -> keyed digests


class AuditPort(Protocol):
    """What the use case needs of ``gateway.auditing.auditor.Auditor``: append an entry, wait until it is
    durable, and get its index (None only for an unauthenticated failure, which an ingest never is)."""

    async def record(self, event: str, ctx: RequestContext | None, decision: str, **fields: Any) -> int | None: ...


@dataclass(frozen=True)
class IngestRequest:
    collection: Collection  # resolved in the caller's tenant
    documents: tuple[DocumentIn, ...]


@dataclass(frozen=True)
class IngestResult:
    collection: str
    outcomes: list[IngestOutcome]  # one per document, in request order; stored ones with their record ids
    pii: PIISummary  # the request's summary, as its audit entry holds it
    decision: str  # allow: every document stored; block: one or more blocked by the policy
    audit: dict[str, Any]  # the fields of the recorded entry
    audit_index: int


class Ingest:
    def __init__(
        self,
        collections: CollectionService,
        policy: Callable[[], GatewayPolicy],
        digests: Digests,
        auditor: AuditPort,
        *,
        max_documents: int,
        max_text_chars: int,
    ) -> None:
        self._collections = collections
        self._policy = policy
        self._digests = digests
        self._auditor = auditor
        self._max_documents = max_documents
        self._max_text_chars = max_text_chars

    def parse(self, body: Any, collection: Collection) -> IngestRequest:
        """The request, validated within this gateway's limits (``BadRequest``, ``PayloadTooLarge``)."""
        return IngestRequest(collection, tuple(parse_documents(body, self._max_documents, self._max_text_chars)))

    async def screen_names(self, request: IngestRequest, principal: Principal) -> None:
        """Refuse (400) the request as ``__call__`` would for a document id or metadata key carrying PII."""
        scope = self._policy().scope(principal.tenant, request.collection.name)
        await self._collections.screen_names(principal.tenant, request.collection, request.documents, scope)

    async def __call__(self, request: IngestRequest, principal: Principal, ctx: RequestContext) -> IngestResult:
        tenant, collection, docs = principal.tenant, request.collection, request.documents
        policy = self._policy()
        scope = policy.scope(tenant, collection.name)
        prepared = await self._collections.prepare(principal, collection, docs, scope, policy.version)
        outcomes = prepared.outcomes
        digests = self._digests(tenant, [d.id for d in docs])
        # The spend of the collection's ledger scope, for the report; the scope is the collection's name, which
        # the caller chose, so the entry names it by its digest (the entry's collection_digest).
        [scope_digest] = self._digests(tenant, [collection.name])
        privacy = {**prepared.privacy, "scope": scope_digest.hex()[:32]} if prepared.privacy else None
        audit: dict[str, Any] = {
            "collection": collection.name, "policy_version": policy.version, "noise_sigma": prepared.sigma,
            "privacy": privacy,
            "pii": prepared.pii, "model": {**prepared.model, "version": collection.model_version},
            "documents": [{"id_digest": g.hex()[:32], "status": o.status, "chunks": o.chunks}
                          for g, o in zip(digests, outcomes, strict=True)],
            "count": len(prepared.chunks),
        }
        decision = "allow" if all(o.status == "stored" for o in outcomes) else "block"
        # The write's audit entry comes first, so every stored chunk's provenance names the entry that recorded it.
        index = await self._auditor.record(EVENT, ctx, decision, status=200, **audit)
        if index is None:  # only unauthenticated failures are aggregated; this caller is authenticated
            raise RuntimeError("the ingest entry was not written")
        # Always off the event loop: sealing, writing and indexing the chunks grows with the request.
        await off_loop(True, self._collections.store_chunks, tenant, collection.name, outcomes, prepared.chunks,
                       index)
        return IngestResult(collection.name, outcomes, prepared.pii, decision, audit, index)
