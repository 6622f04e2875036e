"""A batch's output is sealed a chunk at a time (attack17, fixes17a #6).

Before: ``BatchKind.finish`` joined the lines (``b"\\n".join(payloads) + b"\\n"``: two copies), sealed the result in
chunks kept in a list and joined those (two more): writing 50,000 float vectors (~420 MB) held about four times the
output on top of the lines themselves. Now the lines are sealed as they come into one buffer that the file store
takes as it is. Measured here with tracemalloc on 12 MB of lines: the peak of writing the output, beyond the lines,
was 3.00x the output before, and is 1.26x now (the sealed file and its growth reserve)."""

from __future__ import annotations

import asyncio
import os
import tracemalloc
from pathlib import Path
from typing import Any, cast

import pytest

from gateway.backends.sqlite.connection import SQLiteDatabase
from gateway.backends.sqlite.datakeys import SQLiteDataKeyRepository
from gateway.backends.sqlite.files import SQLiteFileStore
from gateway.crypto import Envelope, Keyring
from gateway.crypto.envelope import RecordContext
from gateway.errors import DecryptionFailed
from gateway.jobs.base import ItemOutcome, Job
from gateway.jobs.files import FileVault
from gateway.pipeline.batches import BatchKind


def _vault(tmp_path: Path, chunk_bytes: int = 1 << 20) -> FileVault:
    db = SQLiteDatabase(tmp_path / "store.db")
    files = FileVault(SQLiteFileStore(db), Envelope(Keyring.generate(), SQLiteDataKeyRepository(db)), max_bytes=1000,
                      keep_s=100, chunk_bytes=chunk_bytes)
    files.write("acme", "batch", "in.jsonl", b"{}\n")  # the batch's input, as in life: the tenant has its data key
    return files


def test_when_the_tenant_was_shredded_before_its_output_is_written_then_no_data_key_is_made(tmp_path: Path) -> None:
    db = SQLiteDatabase(tmp_path / "store.db")
    keys = SQLiteDataKeyRepository(db)
    files = FileVault(SQLiteFileStore(db), Envelope(Keyring.generate(), keys), max_bytes=1000, keep_s=100)
    with pytest.raises(DecryptionFailed):
        files.write_lines("acme", "batch_output", "out.jsonl", [b"{}"])
    assert keys.active("acme") is None


def test_when_a_large_output_is_written_then_its_peak_memory_stays_near_one_copy(tmp_path: Path) -> None:
    files = _vault(tmp_path)
    kind = BatchKind(files, cast(Any, None), cast(Any, None), cast(Any, None), cast(Any, None), cast(Any, None),
                     max_inputs=1)
    job = Job("batch_1", "acme", "batch", "running", {}, {"input_file_id": "f"}, 300, 1.0, 9e9)
    lines = [b'{"custom_id":"c%d","vector":"' % n + os.urandom(20_000).hex().encode() + b'"}' for n in range(300)]
    outcomes = [ItemOutcome(n, True, line) for n, line in enumerate(lines)]
    size = sum(len(line) + 1 for line in lines)
    tracemalloc.start()
    try:
        result = asyncio.run(kind.finish(job, outcomes, "completed"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"peak {peak / size:.2f}x the output")  # the measurement, shown with -s
    assert peak < 1.5 * size, f"writing {size} bytes of output peaked at {peak / size:.2f}x"
    assert files.read("acme", result["output_file_id"]) == b"\n".join(lines) + b"\n"
    assert files.info("acme", result["output_file_id"]).bytes == size


@pytest.mark.parametrize("lines", [[], [b""], [b"x" * 64], [b"x" * 63], [b"x" * 31, b"y" * 32], [b"z" * 200],
                                   [b"a" * 10] * 30])
def test_when_lines_are_sealed_in_pieces_then_they_read_back_as_their_join(tmp_path: Path, lines: list[bytes]) -> None:
    files = _vault(tmp_path, chunk_bytes=64)  # lines shorter, longer and exactly as long as a chunk, and across them
    info = files.write_lines("acme", "batch_output", "out.jsonl", lines)
    assert files.read("acme", info.id) == b"".join(line + b"\n" for line in lines)
    assert list(files.chunks("acme", info.id)) == [b"".join(line + b"\n" for line in lines)[i:i + 64]
                                                   for i in range(0, max(1, info.bytes), 64)]


def test_when_pieces_are_sealed_then_the_record_is_the_chunked_format_of_their_join(tmp_path: Path) -> None:
    envelope = Envelope(Keyring.generate(), SQLiteDataKeyRepository(SQLiteDatabase(tmp_path / "k.db")))
    ctx = RecordContext("acme", "_files", "f1", "1")
    data = os.urandom(1000)
    sealed = envelope.encrypt_pieces(ctx, [data[i:i + 37] for i in range(0, 1000, 37)], chunk_bytes=100)
    assert len(sealed) == len(envelope.encrypt_chunked(ctx, data, chunk_bytes=100))
    assert b"".join(envelope.decrypt_chunks(ctx, bytes(sealed))) == data
