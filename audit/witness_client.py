"""The log's side of C2SP tlog-witness: send a checkpoint with a consistency proof, collect the cosignature.

The client remembers the size the witness last cosigned; on a first contact it sends "old 0" and learns the
witness's size from the 409 answer, then resends with the proof from that size. A witness that still refuses
(409 again, 422, 403, 404, 400) is saying that this log's checkpoint does not extend what it saw, or that it
does not trust this log's key: :class:`WitnessRefused`, which the caller must treat as an alarm. A witness that
cannot be reached or fails on its side is :class:`WitnessUnavailable`: retried with the next checkpoint. A witness
that already cosigned a larger checkpoint of this log (a command's, written while the gateway ran) has moved past
this one: :class:`WitnessAhead`, no alarm (the next larger checkpoint is checked against what it cosigned).
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

from audit.checkpoint import parse_checkpoint
from audit.cosign import WitnessKey, add_cosignatures
from audit.errors import AuditError, CheckpointError
from audit.remote import server_explanation

Post = Callable[[str, bytes], tuple[int, str, bytes]]
ConsistencyProof = Callable[[int, int], list[bytes]]
REFUSALS = (400, 403, 404, 409, 422)


class WitnessUnavailable(AuditError):
    """The witness could not be asked, or failed on its side; nothing is known about the log."""


class WitnessAhead(AuditError):
    """The witness already cosigned a larger checkpoint of this log (another process's, or a later one of this
    process's): this one was superseded and cannot be cosigned. Not a refusal: nothing says the histories differ,
    and the next larger checkpoint goes to the witness with a proof from its size, which it refuses if they do."""

    def __init__(self, witness: str, size: int, witness_size: int) -> None:
        super().__init__(f"witness {witness} already cosigned size {witness_size}, more than this checkpoint's {size}")
        self.witness, self.size, self.witness_size = witness, size, witness_size


class WitnessRefused(AuditError):
    """The witness refused to cosign: the checkpoint does not extend what it cosigned, or is not trusted."""

    def __init__(self, witness: str, status: int, detail: str, witness_size: int | None) -> None:
        super().__init__(f"witness {witness} refused the checkpoint: HTTP {status}: {detail}")
        self.witness, self.status, self.detail, self.witness_size = witness, status, detail, witness_size


def urllib_post(url: str, body: bytes) -> tuple[int, str, bytes]:
    """POST ``body``; (status, content type, body) for any HTTP answer."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise WitnessUnavailable("witness URL must be http or https")
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 (scheme checked above)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()
    except (urllib.error.URLError, OSError) as exc:
        raise WitnessUnavailable(f"cannot reach the witness: {type(exc).__name__}") from None


def request_body(old: int, proof: list[bytes], note: str) -> bytes:
    """An add-checkpoint body: "old N", the proof lines, a blank line, the checkpoint."""
    lines = [f"old {old}", *(base64.b64encode(p).decode() for p in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode("utf-8")


class WitnessClient:
    """One witness, by URL and verifier key; not thread-safe (one publisher thread uses it)."""

    def __init__(self, url: str, key: WitnessKey, post: Post = urllib_post) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self._post = post
        self.size = 0  # what we believe the witness last cosigned for our origin

    def cosign(self, note: str, consistency: ConsistencyProof) -> str:
        """``note`` with this witness's cosignature added; raises WitnessRefused, WitnessAhead or
        WitnessUnavailable."""
        size = parse_checkpoint(note).size
        old, retried = self.size, False
        while True:
            if old > size:  # a stale offer (two processes share the log, or offers crossed): no alarm
                raise WitnessAhead(self.key.name, size, old)
            proof = consistency(old, size) if 0 < old < size else []
            status, content_type, body = self._post(f"{self.url}/add-checkpoint", request_body(old, proof, note))
            if status == 200:
                try:
                    cosigned = add_cosignatures(note, body.decode("utf-8"), self.key)
                except (CheckpointError, UnicodeDecodeError) as exc:
                    raise WitnessUnavailable(f"witness {self.key.name} answered no valid cosignature") from exc
                self.size = size
                return cosigned
            told = _told_size(status, content_type, body)
            if told is not None and told != old and not retried:
                old, retried = told, True
                continue
            if status in REFUSALS:
                known = told if told is not None else (old if status in (409, 422) else None)
                raise WitnessRefused(self.key.name, status, server_explanation(body), known)
            raise WitnessUnavailable(f"witness {self.key.name} answered HTTP {status}")


def _told_size(status: int, content_type: str, body: bytes) -> int | None:
    if status != 409 or not content_type.startswith("text/x.tlog.size"):
        return None
    text = body.decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None
