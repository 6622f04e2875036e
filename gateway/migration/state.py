"""Persistent progress of collection migrations: re-embedded chunks waiting for the switch, sealed.

One row per source record that has been re-embedded; the payload (new vector, redacted text, metadata, span,
provenance) is sealed with the tenant's data key under a context naming the migration's target version, so a
crash or Ctrl-C loses at most the batch in flight and ``gateway collections migrate`` resumes where it stopped.

This module holds the interface; the SQL implementation is ``gateway.backends.sqlite.migration_state`` (the
migration runs on the embedded backend only: ``gateway.cli.migrate`` refuses PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gateway.store.base import Collection, NewChunk


@dataclass(frozen=True)
class Migration:
    tenant: str
    collection: str
    target: str  # name@version
    state: str
    source_version: str
    index_type: str
    retain_text: bool


class MigrationState(Protocol):
    """Where a migration's progress is kept between runs."""

    def current(self, tenant: str, collection: str) -> Migration | None: ...

    def begin(self, c: Collection, target: str, now: str) -> Migration:
        """Start (or keep) the migration; a different target discards the progress of the earlier one."""
        ...

    def set_state(self, m: Migration, state: str) -> None: ...

    def done_records(self, m: Migration) -> set[str]: ...

    def save(self, m: Migration, source_record: str, chunk: NewChunk) -> None: ...

    def chunks(self, m: Migration) -> list[tuple[str, NewChunk]]:
        """(source record, re-embedded chunk) by document and chunk index."""
        ...

    def finish(self, m: Migration) -> None: ...
