"""Large records (uploaded files) sealed in chunks: format 2 of ``envelope.py``'s record ciphertext.

Layout (integers big-endian)::

    b"GE" | 0x02 | data-key version (uint32) | chunk size (uint32)
    then, for each chunk: nonce (12 random bytes) | AES-256-GCM ciphertext of up to chunk-size bytes + 16-byte tag

Every chunk but the last holds exactly ``chunk size`` bytes; the last holds the rest (0 for an empty record). Each
chunk's associated data is the record's (the 11-byte header and the length-prefixed kind, tenant, collection,
record id and model version) followed by the chunk's index (uint64) and a final-chunk flag (1 byte): a chunk moved
to another place, dropped, taken from another record, altered, or a record cut off after a chunk (that chunk was
not sealed as the last) fails to open. Sealing or opening a chunk holds the interpreter about a millisecond per MiB;
between chunks the thread lets the others run, where one piece of 50 MB held it about 60 ms.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable, Iterator

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CHUNKED_FORMAT = 2
CHUNK_BYTES = 1 << 20
MAX_CHUNK_BYTES = 1 << 26
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER = struct.Struct(">2sBII")  # magic, format, data-key version, chunk size
_PLACE = struct.Struct(">QB")  # the chunk's index, 1 if it is the last


class ChunkError(Exception):
    """A chunked record that does not open (``Envelope`` turns it into its one opaque error)."""


def seal(key: bytes, header: bytes, aad: bytes, data: bytes, chunk_bytes: int,
         rng: Callable[[int], bytes]) -> bytes:
    aead = AESGCM(key)
    view = memoryview(data)
    count = max(1, -(-len(data) // chunk_bytes))
    parts = [header]
    for index in range(count):
        nonce = rng(NONCE_BYTES)
        piece = view[index * chunk_bytes:(index + 1) * chunk_bytes]
        parts += [nonce, aead.encrypt(nonce, piece, aad + _PLACE.pack(index, index == count - 1))]
        time.sleep(0)  # let other threads (the event loop's) run between chunks
    return b"".join(parts)


def seal_pieces(key: bytes, header: bytes, aad: bytes, pieces: Iterable[bytes], chunk_bytes: int,
                rng: Callable[[int], bytes]) -> bytearray:
    """``seal`` of the pieces' concatenation, byte for byte the same format, without ever joining them: each chunk
    is sealed as it fills and appended to the one buffer returned (a batch's output of 50,000 vectors, ~420 MB, was
    joined twice before sealing, and its sealed chunks joined once more)."""
    aead = AESGCM(key)
    out, buf, index = bytearray(header), bytearray(), 0
    for piece in pieces:
        buf += piece
        start = 0
        while len(buf) - start > chunk_bytes:  # more than a chunk left: this one is not the last
            nonce = rng(NONCE_BYTES)
            out += nonce
            out += aead.encrypt(nonce, bytes(buf[start:start + chunk_bytes]), aad + _PLACE.pack(index, False))
            start, index = start + chunk_bytes, index + 1
            time.sleep(0)
        del buf[:start]
    nonce = rng(NONCE_BYTES)
    out += nonce
    out += aead.encrypt(nonce, bytes(buf), aad + _PLACE.pack(index, True))
    return out


def open_chunks(key: bytes, aad: bytes, blob: bytes, chunk_bytes: int) -> Iterator[bytes]:
    """The plaintext a chunk at a time, each verified before it is yielded; ``ChunkError`` at the first that fails
    (a record cut off after a chunk fails at that chunk, the last one read)."""
    if not 0 < chunk_bytes <= MAX_CHUNK_BYTES:
        raise ChunkError()
    aead = AESGCM(key)
    view = memoryview(blob)
    full = NONCE_BYTES + chunk_bytes + TAG_BYTES
    at, index = HEADER.size, 0
    while True:
        left = len(blob) - at
        if left < NONCE_BYTES + TAG_BYTES:
            raise ChunkError()
        final = left <= full
        size = left if final else full
        nonce, sealed = view[at:at + NONCE_BYTES], view[at + NONCE_BYTES:at + size]
        try:
            yield aead.decrypt(bytes(nonce), sealed, aad + _PLACE.pack(index, final))
        except Exception:
            raise ChunkError() from None
        if final:
            return
        at, index = at + size, index + 1
        time.sleep(0)
