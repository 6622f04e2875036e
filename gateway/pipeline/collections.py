"""Collections: ingest documents through the governed pipeline into the encrypted store, and search them.

The stages the collection use cases put together (``gateway.pipeline.ingest``, ``search`` and
``collection_admin``); HTTP-free.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gateway.auth.apikeys import Principal
from gateway.embedding.specs import ModelRegistry, ModelSpec
from gateway.errors import BadRequest, Conflict, PayloadTooLarge, PIIBlocked
from gateway.pii.decide import Decision, PIISummary, decide, pii_summary
from gateway.pii.detector_types import Finding
from gateway.pii.fields import FieldsVerdict, screen_documents
from gateway.pipeline.chunking import ChunkSpan, Offsets, chunk_text
from gateway.pipeline.metering import Metering
from gateway.pipeline.offload import chars_big, off_loop
from gateway.pipeline.stages import EmbeddingPipeline
from gateway.policy.loader import GatewayPolicy, ScopePolicy
from gateway.store.base import Collection, Hit, NewChunk, Store

if TYPE_CHECKING:
    from gateway.embedding.served import ServedModels

PIPELINE_VERSION = "1"
_DOC_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,255}\Z")


# What a guarded route's collection parameter resolves to (``Services.find_collection``): the use cases' name for
# the stored collection, so the HTTP layer handles it without reaching into the store.
FoundCollection = Collection

@dataclass(frozen=True)
class DocumentIn:
    id: str
    text: str
    metadata: Mapping[str, Any]


@dataclass
class IngestOutcome:
    document_id: str
    status: str  # stored | blocked
    chunks: int = 0
    record_ids: list[str] = field(default_factory=list)
    pii: PIISummary = field(default_factory=dict)
    blocked_types: list[str] = field(default_factory=list)


def parse_model_ref(ref: str, registry: ModelRegistry) -> ModelSpec:
    """``name`` or ``name@major.minor[.patch]``; the version must match the served model's space."""
    name, _, version = ref.partition("@")
    spec = registry.get(name)
    if version and not (spec.version == version or spec.space == version):
        raise Conflict(  # the requested version is the caller's text: not echoed
            f"model {name} is served at embedding-space version {spec.version} only; the requested version is not "
            "available", param="model",
        )
    return spec


# Metadata is a few labels, not a second document: the outside attack's 40,000 keys in one document kept the
# shared PII queue full for 30 s (every other tenant got 503), and a 1,000,000-character key was stored.
MAX_METADATA_KEYS = 64
MAX_METADATA_KEY_CHARS = 128
MAX_METADATA_VALUE_CHARS = 4096
_METADATA_KEY = re.compile(r"\w[\w .:/@+#-]{0,127}")


def _check_metadata(metadata: dict[str, Any], param: str) -> None:
    if len(metadata) > MAX_METADATA_KEYS:
        raise PayloadTooLarge(f"{param} has {len(metadata)} keys; the limit is {MAX_METADATA_KEYS}", param=param)
    for key, value in metadata.items():
        if not key.strip():  # a key nobody can read back or filter on
            raise BadRequest(f"{param} has an empty or blank key; every key needs a visible name", param=param)
        if len(key) > MAX_METADATA_KEY_CHARS or not _METADATA_KEY.fullmatch(key):
            raise BadRequest(f"{param} keys must be 1-{MAX_METADATA_KEY_CHARS} letters, digits, spaces and "
                             "._:/@+- (no invisible or control characters)", param=param)
        if isinstance(value, str) and len(value) > MAX_METADATA_VALUE_CHARS:
            raise PayloadTooLarge(f"{param} has a value of {len(value)} characters; the limit is "
                                  f"{MAX_METADATA_VALUE_CHARS} (put long text in 'text')", param=param)


def parse_documents(body: Any, max_docs: int, max_chars: int) -> list[DocumentIn]:
    if not isinstance(body, dict) or not isinstance(body.get("documents"), list):
        raise BadRequest("the body must be an object with a 'documents' list", param="documents")
    raw = body["documents"]
    if not raw:
        raise BadRequest("'documents' must not be empty", param="documents")
    if len(raw) > max_docs:
        raise PayloadTooLarge(f"{len(raw)} documents in one request; the limit is {max_docs}", param="documents")
    docs: list[DocumentIn] = []
    seen: set[str] = set()
    for i, d in enumerate(raw):
        if not isinstance(d, dict):
            raise BadRequest(f"documents[{i}] must be an object", param=f"documents[{i}]")
        doc_id, text, metadata = d.get("id"), d.get("text"), d.get("metadata", {})
        if not isinstance(doc_id, str) or not _DOC_ID.match(doc_id):
            raise BadRequest(f"documents[{i}].id must be 1-256 characters of letters, digits and ._:/@-",
                             param=f"documents[{i}].id")
        if doc_id in seen:
            raise BadRequest(f"documents[{i}].id repeats an earlier document id", param=f"documents[{i}].id")
        seen.add(doc_id)
        if not isinstance(text, str) or not text.strip():
            raise BadRequest(f"documents[{i}].text must be a non-empty string", param=f"documents[{i}].text")
        if len(text) > max_chars:
            raise PayloadTooLarge(f"documents[{i}].text has {len(text)} characters; the limit is {max_chars}",
                                  param=f"documents[{i}].text")
        if not isinstance(metadata, dict) or not all(
            isinstance(v, str | int | float | bool) or v is None for v in metadata.values()
        ):
            raise BadRequest(f"documents[{i}].metadata must be an object of scalar values",
                             param=f"documents[{i}].metadata")
        _check_metadata(metadata, f"documents[{i}].metadata")
        docs.append(DocumentIn(doc_id, text, metadata))
    return docs


def _clip(findings: Sequence[Finding], span: ChunkSpan) -> list[Finding]:
    out = []
    for f in findings:
        if f.start < span.end and f.end > span.start:
            out.append(Finding(f.entity_type, max(f.start, span.start) - span.start,
                               min(f.end, span.end) - span.start, f.score))
    return out


@dataclass(frozen=True)
class Prepared:
    """An ingest run through the pipeline, nothing stored yet: each document's outcome, the chunks of those not
    blocked, and the request's PII summary (every document's text and screened fields)."""

    outcomes: list[IngestOutcome]
    chunks: list[NewChunk]
    pii: PIISummary
    model: dict[str, Any]  # the model that embedded: name, version, fingerprint; a remote model's engine hosts
    sigma: float  # the noise applied (the policy's, or higher where the privacy budget raised it)
    privacy: dict[str, object]  # the ledger scope charged and its spend after this release, for the audit entry


class CollectionService:
    def __init__(
        self,
        store: Store,
        pipeline: EmbeddingPipeline,
        registry: ModelRegistry,
        offsets: Offsets,
        chunk_tokens: int = 200,
        chunk_overlap: int = 40,
        metering: Metering | None = None,
        models: ServedModels | None = None,
    ) -> None:
        self.store = store
        self._metering = metering  # quotas and usage of the tokens ingest embeds
        self._pipeline = pipeline
        self._models = models  # a collection bound to another served model embeds with that model's pipeline
        self._registry = registry
        self._offsets = offsets
        self._chunk_tokens = chunk_tokens
        self._chunk_overlap = chunk_overlap

    def create(self, principal: Principal, name: str, model_ref: str, index_type: str,
               policy: GatewayPolicy) -> Collection:
        spec = parse_model_ref(model_ref, self._registry)
        scope = policy.scope(principal.tenant, name)
        return self.store.create_collection(Collection(
            tenant=principal.tenant, name=name, model=spec.name, model_version=spec.version,
            dimension=spec.dimension, index_type=index_type,  # type: ignore[arg-type]
            retain_text=scope.retain_text,
        ))

    def bound_spec(self, collection: Collection) -> ModelSpec:
        """The served model, refusing a collection bound to another embedding space (major.minor)."""
        spec = self._registry.get(collection.model)
        bound = ".".join(collection.model_version.split(".")[:2])
        if spec.space != bound:
            raise Conflict(
                f"collection {collection.name} is bound to {collection.model}@{bound}; the gateway serves "
                f"{spec.ref}: migrate the collection first", param="model",
            )
        return spec

    def _served(self, spec: ModelSpec) -> tuple[EmbeddingPipeline, Offsets]:
        """The pipeline and tokenizer offsets of the model a collection is bound to."""
        if self._models is None or spec.name == self._pipeline.spec.name:
            return self._pipeline, self._offsets
        served = self._models.get(spec.name)
        return served.pipeline, served.embedder.offsets

    async def screen_names(self, tenant: str, collection: Collection, docs: Sequence[DocumentIn],
                           scope: ScopePolicy) -> None:
        """The 400s ``prepare`` answers for documents' ids and metadata keys (``gateway.pii.fields``), alone: an
        ingest job checks them before it is queued, since its document ids are shown by ``GET /v1/jobs/{id}``.
        Values are not read here (a value blocks its document, not the request: the job screens them)."""
        names = [DocumentIn(d.id, "", dict.fromkeys(d.metadata)) for d in docs]
        await screen_documents(self._pipeline.detect, names, scope, b"")

    async def prepare(self, principal: Principal, collection: Collection, docs: Sequence[DocumentIn],
                      scope: ScopePolicy, policy_version: str) -> Prepared:
        """Run every document through the pipeline; blocked documents get an outcome and no chunks."""
        spec = self.bound_spec(collection)
        pipeline, offsets = self._served(spec)
        with pipeline.attributed():
            pipeline.check_available()  # a model out of service refuses before any work
        canonical = await self._pipeline.canonical([d.text for d in docs], "documents[{i}].text",
                                                 scope.reject_input)
        meter = self._metering
        held = await meter.admit(principal, scope.quotas, canonical) if meter is not None else None
        try:
            findings = await self._pipeline.detect(canonical, scope)
            pseudonym_secret = self._pipeline.secret_for(principal.tenant, "pseudonym")
            # Ids, metadata keys and values are stored and shown too: screened by the same policy (gateway.pii.fields).
            fields = await screen_documents(self._pipeline.detect, docs, scope, pseudonym_secret)
            outcomes, doc_decisions, chunk_decisions, chunk_meta = await off_loop(
                chars_big(canonical), self._plan, docs, canonical, findings, scope, pseudonym_secret, fields,
                offsets,
            )
            released = await pipeline.release(principal.tenant, chunk_decisions, scope, collection.name,
                                              policy_version)
        except Exception:  # refused before embedding (a privacy budget): what it held is given back
            if meter is not None:
                await meter.cancel(held)
            raise
        items = released.items
        if meter is not None and items:  # the chunks' tokens: overlaps count twice, as the model read them
            await meter.settle(held, principal, spec.name, sum(item.tokens for item in items))
        elif meter is not None:  # every document blocked: nothing embedded, nothing counted
            await meter.cancel(held)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        chunks: list[NewChunk] = []
        for item, (i, span) in zip(items, chunk_meta, strict=True):
            assert item.vector is not None
            provenance = {
                "document_id": docs[i].id, "span": [span.start, span.end], "text_digest": item.digest.hex(),
                "model": pipeline.describe(),  # name, version, fingerprint; a remote model's engine hosts
                "pipeline_version": PIPELINE_VERSION, "policy_version": policy_version,
                "pii": pii_summary([item.decision]),
                "noise_sigma": released.sigma, "transform": pipeline.transform.version,
                "space_version": pipeline.space_version,
                "actor": {"tenant": principal.tenant, "subject": principal.subject, "key_id": principal.key_id},
                "time": now,
            }
            chunks.append(NewChunk(
                document_id=docs[i].id, chunk_index=span.index, span=(span.start, span.end), vector=item.vector,
                text=item.decision.text if collection.retain_text else None, metadata=dict(fields[i].metadata),
                provenance=provenance,
            ))
            outcomes[i].chunks += 1
        return Prepared(outcomes, chunks, pii_summary(doc_decisions), pipeline.describe(), released.sigma,
                        released.privacy)

    def _plan(self, docs: Sequence[DocumentIn], canonical: Sequence[str], findings: Sequence[list[Finding]],
              scope: ScopePolicy, pseudonym_secret: bytes, fields: Sequence[FieldsVerdict], offsets: Offsets,
              ) -> tuple[list[IngestOutcome], list[Decision], list[Decision], list[tuple[int, ChunkSpan]]]:
        """Each document's outcome and decisions (its text's, then its fields'), and each chunk's decision of the
        documents not blocked (chunking tokenizes them)."""
        outcomes: list[IngestOutcome] = []
        doc_decisions: list[Decision] = []
        chunk_decisions: list[Decision] = []
        chunk_meta: list[tuple[int, ChunkSpan]] = []
        for i, (doc, text, found) in enumerate(zip(docs, canonical, findings, strict=True)):
            whole = decide(text, found, scope, pseudonym_secret)
            blocked = list(whole.blocked_types) + [t for t in fields[i].blocked_types if t not in whole.blocked_types]
            decisions = [whole, *fields[i].decisions]
            outcome = IngestOutcome(doc.id, "blocked" if blocked else "stored", pii=pii_summary(decisions))
            outcomes.append(outcome)
            doc_decisions.extend(decisions)
            if blocked:
                outcome.blocked_types = blocked
                continue
            for span in chunk_text(text, offsets, self._chunk_tokens, self._chunk_overlap):
                chunk_decisions.append(decide(text[span.start:span.end], _clip(found, span), scope,
                                              pseudonym_secret))
                chunk_meta.append((i, span))
        return outcomes, doc_decisions, chunk_decisions, chunk_meta

    def store_chunks(self, tenant: str, collection: str, outcomes: list[IngestOutcome], chunks: list[NewChunk],
                     audit_index: int | None) -> None:
        if not chunks:
            return
        ids = self.store.put(tenant, collection, chunks, audit_index, replace=True)
        by_doc = {o.document_id: o for o in outcomes}
        for chunk, record_id in zip(chunks, ids, strict=True):
            by_doc[chunk.document_id].record_ids.append(record_id)

    async def query_vector(self, principal: Principal, collection: Collection, query: str,
                           scope: ScopePolicy) -> tuple[Any, Decision]:
        """The query goes through the same PII policy (a pseudonymized name maps to the same token); its vector
        stays clean: it is used only inside the gateway."""
        pipeline, _ = self._served(self.bound_spec(collection))
        with pipeline.attributed():
            pipeline.check_available()
        text = (await self._pipeline.canonical([query], "query", scope.reject_input))[0]
        decision = (await self._pipeline.analyze(principal.tenant, [text], scope))[0]
        if decision.blocked:
            raise PIIBlocked("query contains PII that the policy blocks: " + ", ".join(decision.blocked_types),
                             param="query")
        return await pipeline.query_vector(principal.tenant, decision.text), decision

    def search(self, tenant: str, collection: str, vector: Any, k: int, filter_: Mapping[str, Any] | None,
               with_text: bool) -> list[Hit]:
        hits = self.store.search(tenant, collection, vector, k, filter_)
        return hits if with_text else [replace(h, text=None) for h in hits]
