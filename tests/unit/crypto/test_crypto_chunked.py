"""Chunked records (format 2, uploaded files): round trip, and every chunk swapped, dropped, cut off, altered or
moved is refused; records sealed in one piece (format 1) still open."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.crypto import Envelope, InMemoryDataKeyRepository, Keyring, RecordContext, chunked
from gateway.errors import DecryptionFailed
from tests.unit.crypto.crypto_fakes import CountingRng

CTX = RecordContext("acme", "_files", "file-1", "1")
CHUNK = 16
NONCE, TAG = chunked.NONCE_BYTES, chunked.TAG_BYTES
HEADER = chunked.HEADER.size
FULL = NONCE + CHUNK + TAG  # a full chunk's bytes in the ciphertext
DOC = Path(__file__).parents[3] / "docs" / "encryption.md"


@pytest.fixture
def envelope(kek: Keyring) -> Envelope:
    return Envelope(kek, InMemoryDataKeyRepository())


def _opened(envelope: Envelope, blob: bytes, ctx: RecordContext = CTX) -> bytes:
    return b"".join(envelope.decrypt_chunks(ctx, blob))


def _chunks(blob: bytes) -> list[bytes]:
    body = blob[HEADER:]
    return [body[at:at + FULL] for at in range(0, len(body), FULL)]


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 7])
def test_when_a_record_is_sealed_in_chunks_then_it_opens_whole_and_chunk_by_chunk(envelope: Envelope,
                                                                                   size: int) -> None:
    data = bytes(n % 251 for n in range(size))
    blob = envelope.encrypt_chunked(CTX, data, CHUNK)
    assert blob[:3] == b"GE\x02"
    assert size < 8 or data[:8] not in blob[HEADER:]
    pieces = list(envelope.decrypt_chunks(CTX, blob))
    assert b"".join(pieces) == data
    assert len(pieces) == max(1, -(-size // CHUNK)) and all(len(p) <= CHUNK for p in pieces)
    assert len(blob) == HEADER + len(pieces) * (NONCE + TAG) + size


def test_when_built_by_hand_from_the_documented_format_then_it_opens(kek: Keyring) -> None:
    """The format of docs/encryption.md, assembled outside gateway.crypto: data key = bytes 0..31 (the counting
    random source), then a nonce per chunk."""
    envelope = Envelope(kek, InMemoryDataKeyRepository(), rng=CountingRng())
    data = b"0123456789abcdef" + b"tail"
    blob = envelope.encrypt_chunked(CTX, data, CHUNK)
    key = bytes(range(32))
    header = struct.pack(">2sBII", b"GE", 2, 1, CHUNK)
    aad = header + b"".join(struct.pack(">I", len(p)) + p.encode() for p in
                            ("record", CTX.tenant, CTX.collection, CTX.record_id, CTX.model_version))
    expected = [header]
    for index, piece in enumerate((data[:CHUNK], data[CHUNK:])):
        nonce = blob[HEADER + index * FULL:HEADER + index * FULL + NONCE]
        expected += [nonce, AESGCM(key).encrypt(nonce, piece, aad + struct.pack(">QB", index, index == 1))]
    assert blob == b"".join(expected)
    text = DOC.read_text()
    assert "format version, `02`" in text and "chunk size in bytes (uint32; 1 MiB)" in text
    assert chunked.CHUNK_BYTES == 1 << 20


def test_when_two_chunks_are_swapped_then_the_record_is_refused(envelope: Envelope) -> None:
    blob = envelope.encrypt_chunked(CTX, bytes(4 * CHUNK), CHUNK)
    c = _chunks(blob)
    with pytest.raises(DecryptionFailed, match="out of place"):
        _opened(envelope, blob[:HEADER] + c[1] + c[0] + c[2] + c[3])


def test_when_a_chunk_is_dropped_then_the_record_is_refused(envelope: Envelope) -> None:
    blob = envelope.encrypt_chunked(CTX, bytes(4 * CHUNK) + b"end", CHUNK)
    c = _chunks(blob)
    with pytest.raises(DecryptionFailed, match="missing"):
        _opened(envelope, blob[:HEADER] + c[0] + c[2] + c[3] + c[4])


@pytest.mark.parametrize("keep", [1, 2, 3])
def test_when_a_record_is_cut_off_after_a_chunk_then_it_is_refused(envelope: Envelope, keep: int) -> None:
    blob = envelope.encrypt_chunked(CTX, bytes(4 * CHUNK) + b"end", CHUNK)
    cut = blob[:HEADER + keep * FULL]
    reader = envelope.decrypt_chunks(CTX, cut)
    for _ in range(keep - 1):
        next(reader)  # the chunks before are intact...
    with pytest.raises(DecryptionFailed, match="cut off"):
        next(reader)  # ...the one that was not sealed as the last is refused
    with pytest.raises(DecryptionFailed):
        _opened(envelope, blob[:-5])  # cut inside a chunk


def test_when_a_byte_is_altered_anywhere_then_the_record_is_refused(envelope: Envelope) -> None:
    blob = envelope.encrypt_chunked(CTX, bytes(3 * CHUNK), CHUNK)
    for at in (0, 2, 6, 10, HEADER, HEADER + NONCE, HEADER + FULL + 3, len(blob) - 1):
        altered = bytearray(blob)
        altered[at] ^= 0x01
        with pytest.raises(DecryptionFailed):
            _opened(envelope, bytes(altered))


def test_when_a_chunk_comes_from_another_file_or_tenant_then_it_is_refused(envelope: Envelope) -> None:
    blob = envelope.encrypt_chunked(CTX, bytes(2 * CHUNK), CHUNK)
    other = envelope.encrypt_chunked(RecordContext("acme", "_files", "file-2", "1"), bytes(2 * CHUNK), CHUNK)
    with pytest.raises(DecryptionFailed):
        _opened(envelope, blob[:HEADER] + _chunks(other)[0] + _chunks(blob)[1])
    with pytest.raises(DecryptionFailed):
        _opened(envelope, blob, RecordContext("globex", "_files", "file-1", "1"))


def test_when_a_record_was_sealed_in_one_piece_then_it_still_opens(envelope: Envelope) -> None:
    old = envelope.encrypt(CTX, b"an upload sealed before chunks")
    assert old[2] == 1
    assert list(envelope.decrypt_chunks(CTX, old)) == [b"an upload sealed before chunks"]
    with pytest.raises(DecryptionFailed):
        _opened(envelope, old[:-1])


def test_when_the_chunk_size_is_out_of_range_then_sealing_is_refused(envelope: Envelope) -> None:
    with pytest.raises(ValueError, match="chunk size"):
        envelope.encrypt_chunked(CTX, b"x", 0)
