"""The file vault on both backends: sealed at rest, per tenant, limited in size, purged at expiry."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.datakeys import SQLiteDataKeyRepository
from gateway.backends.sqlite.files import SQLiteFileStore
from gateway.crypto import Envelope, Keyring, RecordContext
from gateway.errors import DecryptionFailed, NotFound, PayloadTooLarge
from gateway.jobs.files import FileStore, FileVault

SECRET = b"the quarterly figures of 078-05-1120"


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def vault(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[FileVault, Clock, Path | None]]:
    keyring, clock = Keyring.generate(), Clock()
    if request.param == "sqlite":
        db = SQLiteDatabase(tmp_path / "store.db")
        store: FileStore = SQLiteFileStore(db)
        yield FileVault(store, Envelope(keyring, SQLiteDataKeyRepository(db)), max_bytes=1000, keep_s=100,
                        max_tenant_bytes=2500, clock=clock), clock, tmp_path
        return
    from gateway.backends.postgres.connection import PgDatabase
    from gateway.backends.postgres.datakeys import PgDataKeyRepository
    from gateway.backends.postgres.files import PgFileStore
    from gateway.backends.postgres.migrations import upgrade
    from tests.unit.backends.postgres.pgkit import TempSchema

    schema = TempSchema()
    pg = PgDatabase(schema.url, max_size=4)
    upgrade(pg)
    yield FileVault(PgFileStore(pg), Envelope(keyring, PgDataKeyRepository(pg)), max_bytes=1000, keep_s=100,
                    max_tenant_bytes=2500, clock=clock), clock, None
    pg.close()
    schema.drop()


def test_when_a_file_is_written_then_its_owner_reads_it_and_no_other_tenant_does(
    vault: tuple[FileVault, Clock, Path | None],
) -> None:
    files, _, _ = vault
    info = files.write("acme", "batch", "q3.jsonl", SECRET)
    assert files.read("acme", info.id) == SECRET and files.info("acme", info.id).filename == "q3.jsonl"
    with pytest.raises(NotFound):
        files.read("globex", info.id)
    with pytest.raises(NotFound):
        files.info("globex", info.id)
    assert files.store.list_files("globex", None, 10, None) == []
    assert not files.store.delete("globex", info.id) and files.store.delete("acme", info.id)
    with pytest.raises(NotFound):
        files.read("acme", info.id)


def test_when_a_file_is_stored_then_neither_its_content_nor_its_name_lies_in_clear(
    vault: tuple[FileVault, Clock, Path | None],
) -> None:
    files, _, data_dir = vault
    info = files.write("acme", "batch", "078-05-1120.jsonl", SECRET)
    sealed = files.store.content("acme", info.id)
    assert sealed is not None and b"078-05-1120" not in sealed
    row = files.store.get("acme", info.id)
    assert row is not None and b"078-05-1120" not in row.filename
    if data_dir is not None:  # SQLite: the database's files, WAL included, hold no byte of it
        for path in data_dir.rglob("*"):
            assert b"078-05-1120" not in path.read_bytes(), path


def test_when_an_upload_is_over_the_limit_then_it_is_refused(vault: tuple[FileVault, Clock, Path | None]) -> None:
    files, _, _ = vault
    with pytest.raises(PayloadTooLarge):
        files.write_upload("acme", "batch", "big.jsonl", b"x" * 1001)


def test_when_a_batch_output_is_over_the_upload_limit_then_it_is_stored(
    vault: tuple[FileVault, Clock, Path | None],
) -> None:
    files, _, _ = vault  # attack17: 7 lines of 2,048 inputs made 120 MB of output; the batch failed at its end
    output = files.write("acme", "batch_output", "out.jsonl", b"y" * 5000)
    assert files.read("acme", output.id) == b"y" * 5000


def test_when_files_expire_then_the_purge_removes_them_and_keeps_the_rest(
    vault: tuple[FileVault, Clock, Path | None],
) -> None:
    files, clock, _ = vault
    old = files.write("acme", "batch", "old.jsonl", b"1")
    clock.now += 60
    new = files.write("acme", "batch", "new.jsonl", b"2")
    clock.now += 50  # old is 110 s old (kept 100), new 50 s
    assert files.store.purge(clock.now) == 1
    assert [f.id for f in files.store.list_files("acme", None, 10, None)] == [new.id]
    with pytest.raises(NotFound):
        files.info("acme", old.id)


def test_when_files_are_listed_then_newest_come_first_and_pages_follow_after(
    vault: tuple[FileVault, Clock, Path | None],
) -> None:
    files, clock, _ = vault
    ids = []
    for n in range(3):
        clock.now += 1
        ids.append(files.write("acme", "batch", f"{n}.jsonl", b"x").id)
    assert [r.id for r in files.store.list_files("acme", "batch", 2, None)] == [ids[2], ids[1]]
    assert [r.id for r in files.store.list_files("acme", "batch", 2, ids[1])] == [ids[0]]
    assert files.store.list_files("acme", "batch_output", 10, None) == []


def test_when_the_tenants_retention_is_shorter_then_a_file_expires_by_it(tmp_path: Path) -> None:
    """A tenant's ``retention_days`` caps the keeping of its files (``files_expiry_days``); others keep theirs."""
    db, clock = SQLiteDatabase(tmp_path / "store.db"), Clock()
    files = FileVault(SQLiteFileStore(db), Envelope(Keyring.generate(), SQLiteDataKeyRepository(db)), max_bytes=1000,
                      keep_s=30 * 86400.0, retention_days=lambda tenant: 1 if tenant == "acme" else None, clock=clock)
    short, kept = files.write("acme", "batch", "a.jsonl", b"1"), files.write("globex", "batch", "g.jsonl", b"2")
    assert (short.expires_at - clock.now, kept.expires_at - clock.now) == (86400.0, 30 * 86400.0)
    assert files.store.purge(clock.now + 2 * 86400) == 1
    assert files.info("globex", kept.id).filename == "g.jsonl"
    with pytest.raises(NotFound):
        files.info("acme", short.id)


def test_when_a_tenants_files_reach_the_allowance_then_its_uploads_are_refused_but_batch_outputs_are_not(
    vault: tuple[FileVault, Clock, Path | None],
) -> None:
    files, _, _ = vault
    first = files.write_upload("acme", "batch", "a.jsonl", b"x" * 1000)
    files.write_upload("acme", "batch", "b.jsonl", b"x" * 1000)
    assert files.room("acme") == 500
    with pytest.raises(PayloadTooLarge, match="files_max_tenant_bytes, 2500 bytes"):
        files.write_upload("acme", "batch", "c.jsonl", b"x" * 501)
    files.write_upload("globex", "batch", "g.jsonl", b"x" * 1000)  # another tenant's allowance is its own
    output = files.write("acme", "batch_output", "out.jsonl", b"y" * 1000)  # a batch's output is never refused
    assert files.read("acme", output.id) == b"y" * 1000 and files.room("acme") == 0
    with pytest.raises(PayloadTooLarge):
        files.write_upload("acme", "batch", "d.jsonl", b"x")
    files.store.delete("acme", first.id)
    files.store.delete("acme", output.id)
    assert files.room("acme") == 1500 and files.write_upload("acme", "batch", "e.jsonl", b"x" * 1000).bytes == 1000


def _chunked_vault(tmp_path: Path) -> tuple[FileVault, SQLiteFileStore, Envelope]:
    db = SQLiteDatabase(tmp_path / "chunks.db")
    store, envelope = SQLiteFileStore(db), Envelope(Keyring.generate(), SQLiteDataKeyRepository(db))
    return FileVault(store, envelope, max_bytes=10_000, keep_s=100, chunk_bytes=64), store, envelope


def test_when_a_file_is_larger_than_a_chunk_then_it_is_sealed_in_chunks_and_reads_back(tmp_path: Path) -> None:
    files, store, _ = _chunked_vault(tmp_path)
    data = SECRET * 10  # 360 bytes: six chunks of 64
    info = files.write("acme", "batch", "big.jsonl", data)
    sealed = store.content("acme", info.id)
    assert sealed is not None and sealed[:3] == b"GE\x02" and b"078-05-1120" not in sealed
    assert files.read("acme", info.id) == data
    assert [len(c) for c in files.chunks("acme", info.id)] == [64] * 5 + [40]


def test_when_a_file_was_sealed_in_one_piece_before_chunks_then_it_still_reads(tmp_path: Path) -> None:
    files, store, envelope = _chunked_vault(tmp_path)
    info = files.write("acme", "batch", "old.jsonl", SECRET)
    row = store.get("acme", info.id)
    assert row is not None
    store.put(row, envelope.encrypt(RecordContext("acme", "_files", info.id, "1"), SECRET))  # format 1, as before
    assert files.read("acme", info.id) == SECRET


def test_when_a_stored_file_lost_its_last_chunk_then_reading_it_is_refused(tmp_path: Path) -> None:
    files, store, _ = _chunked_vault(tmp_path)
    info = files.write("acme", "batch", "cut.jsonl", SECRET * 4)  # 144 bytes: 64, 64, 16
    row, sealed = store.get("acme", info.id), store.content("acme", info.id)
    assert row is not None and sealed is not None
    store.put(row, sealed[:-(12 + 16 + 16)])  # the last chunk gone: the file ends after a chunk not sealed last
    with pytest.raises(DecryptionFailed, match="cut off"):
        files.read("acme", info.id)


def test_when_a_tenant_is_shredded_then_purge_tenant_removes_its_files_only(
    vault: tuple[FileVault, Clock, Path | None],
) -> None:
    # attack16 (F6): the shred left the rows, sealed under destroyed keys, and every list of them failed
    files, _, _ = vault
    files.write("initech", "batch", "a.jsonl", b"1")
    files.write("initech", "batch", "b.jsonl", b"2")
    kept = files.write("acme", "batch", "c.jsonl", b"3")
    assert files.store.purge_tenant("initech") == 2
    assert files.store.list_files("initech", None, 10, None) == [] and files.store.stored_bytes("initech") == 0
    assert [f.id for f in files.store.list_files("acme", None, 10, None)] == [kept.id]


def test_when_lines_are_written_sealed_as_they_come_then_every_backend_stores_and_reads_them(
    vault: tuple[FileVault, Clock, Path | None],
) -> None:
    files, _, _ = vault  # the sealed content reaches the store as a bytearray (no copy): both drivers take it
    files.write("acme", "batch", "in.jsonl", b"{}")  # the batch's input: a job's output needs the tenant's key
    info = files.write_lines("acme", "batch_output", "out.jsonl", [b'{"a":1}', b'{"b":2}'])
    assert files.read("acme", info.id) == b'{"a":1}\n{"b":2}\n' and info.bytes == 16


UPLOADER, OTHER = "api_key:k1writer", "api_key:k2reader"


def test_when_an_input_file_is_read_then_only_its_uploader_or_read_any_gets_its_content(
    vault: tuple[FileVault, Clock, Path | None],
) -> None:
    # inputs19: a reader downloaded a writer's input file, SSN line included (inputs are stored unscreened)
    files, _, _ = vault
    info = files.write_upload("acme", "batch", "in.jsonl", SECRET, uploader=UPLOADER)
    assert files.read_as("acme", info.id, UPLOADER, read_any=False) == SECRET
    assert files.read_as("acme", info.id, OTHER, read_any=True) == SECRET  # the tenant's admin
    with pytest.raises(NotFound) as refused:
        files.read_as("acme", info.id, OTHER, read_any=False)
    assert refused.value.message == "no such file"  # as an unknown file: nothing more is said
    assert refused.value.detail["audit"]["reason"] == "not_uploader"
    with pytest.raises(NotFound):
        files.read_as("acme", info.id, "oidc:k1writer", read_any=False)  # same id, another kind of caller
    assert files.info("acme", info.id).filename == "in.jsonl"  # the file object stays the tenant's to see


def test_when_a_batch_output_is_read_then_every_caller_of_the_tenant_gets_it(
    vault: tuple[FileVault, Clock, Path | None],
) -> None:
    files, _, _ = vault
    files.write_upload("acme", "batch", "in.jsonl", b"{}", uploader=UPLOADER)
    out = files.write_lines("acme", "batch_output", "out.jsonl", [b'{"a":1}'])
    assert files.read_as("acme", out.id, OTHER, read_any=False) == b'{"a":1}\n'


def test_when_an_input_file_has_no_uploader_recorded_then_only_read_any_reads_it(
    vault: tuple[FileVault, Clock, Path | None],
) -> None:
    files, _, _ = vault  # uploaded before the uploader was recorded
    info = files.write("acme", "batch", "old.jsonl", SECRET)
    with pytest.raises(NotFound):
        files.read_as("acme", info.id, UPLOADER, read_any=False)
    assert files.read_as("acme", info.id, UPLOADER, read_any=True) == SECRET


def test_when_an_uploader_is_recorded_then_it_lies_sealed_and_bound_to_its_file(tmp_path: Path) -> None:
    db = SQLiteDatabase(tmp_path / "store.db")
    store = SQLiteFileStore(db)
    files = FileVault(store, Envelope(Keyring.generate(), SQLiteDataKeyRepository(db)), max_bytes=1000, keep_s=100)
    mine = files.write_upload("acme", "batch", "a.jsonl", b"1", uploader=UPLOADER)
    theirs = files.write_upload("acme", "batch", "b.jsonl", b"2", uploader=OTHER)
    assert all(b"k1writer" not in p.read_bytes() for p in tmp_path.iterdir() if p.is_file())  # WAL included
    row, other = store.get("acme", mine.id), store.get("acme", theirs.id)
    sealed = store.content("acme", theirs.id)
    assert row is not None and other is not None and row.uploader is not None and sealed is not None
    store.put(dataclasses.replace(other, uploader=row.uploader), sealed)  # my seal copied onto their file
    with pytest.raises(DecryptionFailed):
        files.read_as("acme", theirs.id, UPLOADER, read_any=False)


def test_when_a_database_predates_the_uploader_column_then_it_gains_it_and_its_inputs_are_admin_only(
    tmp_path: Path,
) -> None:
    old = sqlite3.connect(tmp_path / "store.db")
    old.executescript("CREATE TABLE files (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, purpose TEXT NOT NULL, "
                      "filename BLOB NOT NULL, bytes INTEGER NOT NULL, created_at REAL NOT NULL, "
                      "expires_at REAL NOT NULL, content BLOB NOT NULL);")
    old.close()
    db = SQLiteDatabase(tmp_path / "store.db")
    files = FileVault(SQLiteFileStore(db), Envelope(Keyring.generate(), SQLiteDataKeyRepository(db)),
                      max_bytes=1000, keep_s=100)
    SQLiteFileStore(db)  # a second opening (another worker) finds the column there
    legacy = files.write("acme", "batch", "old.jsonl", SECRET)
    with pytest.raises(NotFound):
        files.read_as("acme", legacy.id, UPLOADER, read_any=False)
    new = files.write_upload("acme", "batch", "new.jsonl", SECRET, uploader=UPLOADER)
    assert files.read_as("acme", new.id, UPLOADER, read_any=False) == SECRET


@pytest.mark.postgres
def test_when_a_pg_database_predates_migration_10_then_it_gains_the_uploader_and_its_inputs_are_admin_only() -> None:
    from gateway.backends.postgres.connection import PgDatabase
    from gateway.backends.postgres.datakeys import PgDataKeyRepository
    from gateway.backends.postgres.files import PgFileStore
    from gateway.backends.postgres.migrations import MIGRATIONS, upgrade
    from tests.unit.backends.postgres.pgkit import TempSchema

    schema = TempSchema()
    pg = PgDatabase(schema.url, max_size=4)
    try:
        upgrade(pg, MIGRATIONS[:9])
        with pg.transaction() as conn:  # a file of the release before: no uploader column
            conn.execute("INSERT INTO files (id, tenant, purpose, filename, bytes, created_at, expires_at, content) "
                         "VALUES ('file-old', 'acme', 'batch', 'x', 1, 1.0, 9e9, 'x')")
        assert upgrade(pg) == [10]
        store = PgFileStore(pg)
        old = store.get("acme", "file-old")
        assert old is not None and old.uploader is None
        files = FileVault(store, Envelope(Keyring.generate(), PgDataKeyRepository(pg)), max_bytes=1000, keep_s=100)
        with pytest.raises(NotFound):
            files.read_as("acme", "file-old", UPLOADER, read_any=False)
        new = files.write_upload("acme", "batch", "new.jsonl", SECRET, uploader=UPLOADER)
        assert files.read_as("acme", new.id, UPLOADER, read_any=False) == SECRET
    finally:
        pg.close()
        schema.drop()
