"""Re-embed a collection under another embedding-space version, resumably, then switch it over.

Phase 1 (embedding) reads each stored record's retained, redacted text, runs it through the served pipeline
of the target version (embed, keyed noise, transform: exactly what a fresh ingest of that text does) and keeps
the result sealed in ``MigrationState``; the collection itself is untouched, so searches are served from the
old index all along, and an interruption loses at most one batch. Records without retained text cannot be
re-embedded: they are listed (by document) as what must be re-ingested.

Phase 2 (switch) replaces the collection by one bound to the target version holding the re-embedded chunks,
each with provenance naming the record it came from and the ``collection.migrate`` audit entry that lists it.
The switch is resumable too (state ``switching``): a crash half-way is finished by running the command again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from gateway.bootstrap import Services
from gateway.embedding.specs import ModelSpec
from gateway.errors import Conflict, NotFound
from gateway.migration.state import Migration, MigrationState
from gateway.pii.decide import Decision
from gateway.store.base import Collection, NewChunk, Store, StoredChunk, space_of

Progress = Callable[[int, int], None]


def in_space(collection: Collection, target: ModelSpec) -> bool:
    """Whether the collection is already bound to the target's embedding space: the same model and major.minor.
    Versions alone made another model of the same version look like the collection's own (refused as "already
    bound", and a switch would have kept the old model's collection)."""
    return collection.model == target.name and space_of(collection.model_version) == space_of(target.version)


@dataclass
class MigrationResult:
    collection: str
    target: str
    total: int = 0
    embedded_now: int = 0
    done: int = 0
    unretained_documents: list[str] = field(default_factory=list)
    switched: bool = False
    waiting: str | None = None  # why the switch did not happen (yet)


class NoDetection:
    """The migration's detector: retained text was redacted at ingest, and is re-embedded as it was stored."""

    def analyze(self, texts: Sequence[str], scopes: Sequence[Any], budget_s: float | None = None) -> list[list[Any]]:
        return [[] for _ in texts]

    def rebuild(self, policy: Any) -> None:
        """Nothing to rebuild: nothing is detected."""

    def close(self) -> None:
        """Nothing to release."""


class Migrator:
    def __init__(self, services: Services, state: MigrationState, *,
                 batch_size: int = 32, progress: Progress | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._s = services
        self._state = state
        self._batch = batch_size
        self._progress = progress or (lambda done, total: None)
        self._clock = clock

    @property
    def _store(self) -> Store:
        return self._s.collections.store

    async def run(self, tenant: str, name: str, target: ModelSpec, *, stop_after: int | None = None,
                  may_switch: bool = True, drop_unretained: bool = False) -> MigrationResult:
        """Embed what is left (at most ``stop_after`` records this run), then switch when allowed."""
        result = MigrationResult(name, target.ref)
        m = self._state.current(tenant, name)
        if m is not None and m.state == "switching":
            return self._switch(m, target, result)
        c = self._store.get_collection(tenant, name)
        if in_space(c, target) and m is None:
            raise Conflict(f"collection {name} is already bound to {c.model}@{target.space}")
        if target.ref != self._s.pipeline.spec.ref:
            raise Conflict(f"this gateway serves {self._s.pipeline.spec.ref}, not {target.ref}")
        m = self._state.begin(c, target.ref, self._now())
        records = self._store.record_ids(tenant, name)
        done = self._state.done_records(m) & set(records)
        todo = [r for r in records if r not in done]
        result.total, result.done = len(records), len(done)
        self._progress(result.done, result.total)
        for start in range(0, len(todo), self._batch):
            if stop_after is not None and result.embedded_now >= stop_after:
                result.waiting = "stopped before finishing (run the command again to resume)"
                return result
            batch = todo[start:start + self._batch]
            if stop_after is not None:
                batch = batch[: stop_after - result.embedded_now]
            chunks = [self._store.get(tenant, name, r) for r in batch]
            embedded = await self._embed(c, target, [ch for ch in chunks if ch.text is not None])
            for ch, new in embedded:
                self._state.save(m, ch.record_id, new)
            result.embedded_now += len(embedded)
            result.done += len(batch)
            self._progress(result.done, result.total)
        missing = sorted(self._unretained(tenant, name, records, m))
        result.unretained_documents = missing
        if missing and not drop_unretained:
            result.waiting = (f"{len(missing)} documents have no retained text: "
                              "re-ingest them, or pass --drop-unretained")
            return result
        if not may_switch:
            result.waiting = "re-embedded; the switch needs the gateway stopped (run the command again then)"
            return result
        self._state.set_state(m, "switching")
        return self._switch(replace(m, state="switching"), target, result)

    def _unretained(self, tenant: str, name: str, records: Sequence[str], m: Migration) -> set[str]:
        """Documents with a record that had no text, in this run or an earlier one (never saved as done)."""
        saved = self._state.done_records(m)
        skipped = [r for r in records if r not in saved]
        return {self._store.get(tenant, name, r).document_id for r in skipped}

    async def _embed(self, c: Collection, target: ModelSpec, chunks: Sequence[StoredChunk]
                     ) -> list[tuple[StoredChunk, NewChunk]]:
        if not chunks:
            return []
        policy = self._s.policy.current()
        scope = policy.scope(c.tenant, c.name)
        decisions = [Decision(False, ch.text or "", {}, ()) for ch in chunks]
        released = await self._s.pipeline.release(c.tenant, decisions, scope, c.name, policy.version)
        pipeline: Any = self._s.pipeline
        out = []
        for ch, item in zip(chunks, released.items, strict=True):
            assert item.vector is not None
            provenance = {
                **dict(ch.provenance), "text_digest": item.digest.hex(),
                "model": {**self._s.pipeline.describe(), "name": target.name, "version": target.version},
                "noise_sigma": released.sigma, "transform": getattr(getattr(pipeline, "transform", None),
                                                                    "version", "identity"),
                "time": self._now(),
                "migrated_from": {"record_id": ch.record_id, "model_version": c.model_version,
                                  "audit_index": ch.audit_index},
            }
            if hasattr(pipeline, "space_version"):
                provenance["space_version"] = pipeline.space_version
            out.append((ch, NewChunk(ch.document_id, ch.chunk_index, ch.span, item.vector, ch.text,
                                     dict(ch.metadata), provenance)))
        return out

    def _switch(self, m: Migration, target: ModelSpec, result: MigrationResult) -> MigrationResult:
        store = self._store
        try:
            c = store.get_collection(m.tenant, m.collection)
        except NotFound:
            c = None
        if c is not None and not in_space(c, target):
            store.delete_collection(m.tenant, m.collection)
            c = None
        if c is None:
            store.create_collection(Collection(m.tenant, m.collection, target.name, target.version,
                                               target.dimension, m.index_type, m.retain_text))  # type: ignore[arg-type]
        pending = self._state.chunks(m)
        by_doc: dict[str, list[tuple[str, NewChunk]]] = {}
        for record, chunk in pending:
            by_doc.setdefault(chunk.document_id, []).append((record, chunk))
        docs = sorted(by_doc)
        step = max(1, self._batch)
        for start in range(0, len(docs), step):
            group = [pair for d in docs[start:start + step] for pair in by_doc[d]]
            index = self._s.auditor.record_sync(
                "collection.migrate", "allow", tenant=m.tenant, collection=m.collection,
                model={"name": target.name, "version": target.version, "fingerprint": target.fingerprint},
                source_version=m.source_version, count=len(group),
                records=[{"from": record, "chunk_index": chunk.chunk_index} for record, chunk in group],
            )
            store.put(m.tenant, m.collection, [chunk for _, chunk in group], index, replace=True)
        self._s.auditor.record_sync(
            "collection.migrate", "allow", tenant=m.tenant, collection=m.collection, phase="switched",
            model={"name": target.name, "version": target.version, "fingerprint": target.fingerprint},
            source_version=m.source_version, count=len(pending),
        )
        self._state.finish(m)
        result.switched = True
        result.waiting = None
        return result

    def _now(self) -> str:
        return self._clock().isoformat(timespec="seconds")
