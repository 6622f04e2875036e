"""The search use case: a query through the same PII policy as the documents, then the collection's nearest chunks.

The query's vector stays clean (it is used only inside the gateway); its text is audited only as a keyed digest.
A chunk's stored text is returned only where the collection keeps text and the caller may read texts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.auth.apikeys import Principal
from gateway.errors import BadRequest
from gateway.pii.decide import PIISummary, pii_summary
from gateway.pipeline.collections import CollectionService
from gateway.pipeline.offload import off_loop
from gateway.policy.loader import ScopePolicy
from gateway.store.base import Collection, Hit

MAX_K = 100


@dataclass(frozen=True)
class SearchRequest:
    collection: Collection  # resolved in the caller's tenant
    query: str
    k: int = 5
    filter: Mapping[str, Any] | None = None  # metadata key -> value, all must match


@dataclass(frozen=True)
class SearchResult:
    body: dict[str, Any]  # the response: the collection and its hits, best first
    audit: dict[str, Any]
    pii: PIISummary  # what the policy found in the query


def parse_search(body: Any, collection: Collection) -> SearchRequest:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object with 'query'")
    query, k, flt = body.get("query"), body.get("k", 5), body.get("filter")
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("'query' is required and must be a non-empty string", param="query")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise BadRequest(f"'k' must be an integer from 1 to {MAX_K}", param="k")
    if flt is not None and not isinstance(flt, dict):
        raise BadRequest("'filter' must be an object of metadata key -> value", param="filter")
    return SearchRequest(collection, query, k, flt)


def hit_json(hit: Hit) -> dict[str, Any]:
    prov = hit.provenance
    out: dict[str, Any] = {
        "document_id": hit.document_id, "chunk_id": hit.record_id, "chunk_index": hit.chunk_index,
        "span": list(hit.span), "score": round(float(hit.score), 6), "metadata": dict(hit.metadata),
        "provenance": {k: prov.get(k) for k in ("model", "policy_version", "pii", "noise_sigma", "time")},
    }
    if hit.text is not None:
        out["text"] = hit.text
    return out


class Search:
    def __init__(
        self,
        collections: CollectionService,
        scope: Callable[[str, str], ScopePolicy],
        may_read_texts: Callable[[Principal], bool],
        digests: Callable[[str, Sequence[str]], list[bytes]],
    ) -> None:
        self._collections = collections
        self._scope = scope
        self._may_read_texts = may_read_texts
        self._digests = digests

    async def __call__(self, request: SearchRequest, principal: Principal) -> SearchResult:
        tenant, collection = principal.tenant, request.collection
        name = collection.name
        vector, decision = await self._collections.query_vector(principal, collection, request.query,
                                                                self._scope(tenant, name))
        with_text = collection.retain_text and self._may_read_texts(principal)
        flt = dict(request.filter) if request.filter is not None else None
        # Off the event loop: a flat search of a large collection takes milliseconds of FAISS (the index is
        # readers-writer locked, SQLite connections are per thread) and, on PostgreSQL, the hits' round trips.
        hits = await off_loop(True, self._collections.search, tenant, name, vector, request.k, flt, with_text)
        pii = pii_summary([decision])
        return SearchResult(
            {"collection": name, "results": [hit_json(h) for h in hits]},
            {"collection": name, "k": request.k, "count": len(hits), "pii": pii,
             "query_digest": self._digests(tenant, [decision.text])[0].hex()},
            pii,
        )
