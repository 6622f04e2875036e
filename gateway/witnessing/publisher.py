"""Sending each signed checkpoint to the witnesses and publishing it with their cosignatures.

The log's writer thread hands every checkpoint it signs to ``submit`` (never blocking on the network); one
publisher thread asks each witness in turn, keeping only the newest checkpoint when several queue up (a
witness that cosigned size N+K has implicitly vouched for N). The API serves ``published(note)``: the note
with every cosignature collected for it.

A refusal is an alarm, not an outage: the gateway keeps serving and appending entries, but signs no further
checkpoint until an operator has looked (docs/audit.md, "When a witness refuses"): an ``audit.witness_refused``
entry, the ``gateway_audit_witness_refusals_total`` metric, an error log line, and a hold file in the keys
folder so that a restart does not lift the hold.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.checkpoint import parse_checkpoint
from audit.cosign import WitnessKey, parse_vkey
from audit.errors import CheckpointError
from audit.group_commit import GroupCommitLog
from audit.witness_client import WitnessAhead, WitnessClient, WitnessRefused, WitnessUnavailable
from gateway.auditing.auditor import Auditor
from gateway.errors import ConfigurationError
from gateway.observability.logs import VettedName
from gateway.observability.metrics import GatewayMetrics
from gateway.witnessing.published import write_hold

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundResult:
    """What each witness did with one checkpoint: cosigned it, had already cosigned a larger one of this log
    (``superseded``: name and that size, which covers every entry of this one), or neither (``missing``: down,
    failed, refused, or its answer did not come in time)."""

    cosigned: tuple[str, ...] = ()
    superseded: tuple[tuple[str, int], ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def vouched(self) -> bool:
        """Every witness asked vouches for the checkpoint's entries, by this cosignature or a larger one."""
        return not self.missing


def parse_witnesses(setting: str) -> list[WitnessClient]:
    """The witnesses of ``audit_witnesses``: ``URL=VKEY`` items separated by commas or white space."""
    clients = []
    for item in setting.replace(",", " ").split():
        url, sep, vkey = item.partition("=")
        if not sep or urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ConfigurationError(f"setting audit_witnesses: expected URL=VKEY with an http(s) URL, got {url!r}")
        try:
            clients.append(WitnessClient(url, parse_vkey(vkey)))
        except CheckpointError as exc:
            raise ConfigurationError(f"setting audit_witnesses: {url}: {exc}") from exc
    names = [c.key.name for c in clients]
    if len(set(names)) != len(names):
        raise ConfigurationError("setting audit_witnesses: each witness must have its own name")
    return clients


class WitnessPublisher:
    """One thread that collects cosignatures for the newest signed checkpoint."""

    def __init__(
        self,
        clients: list[WitnessClient],
        audit_log: GroupCommitLog,
        alarm: Callable[[WitnessRefused, int], None],
        unavailable: Callable[[str], None],
    ) -> None:
        self._clients, self._log, self._alarm, self._unavailable = clients, audit_log, alarm, unavailable
        self._cond = threading.Condition()
        self._pending: str | None = None
        self._in_flight: str | None = None
        self._submitted = -1  # size of the newest note submitted
        self._done: tuple[str, str] | None = None  # (the plain note, the note with its cosignatures)
        self._result: RoundResult | None = None  # what the witnesses did in the round of ``_done``
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="audit-witnesses", daemon=True)
        self._thread.start()

    @property
    def keys(self) -> list[WitnessKey]:
        """The verifier keys of the witnesses asked, in the order of the setting."""
        return [c.key for c in self._clients]

    def submit(self, note: str) -> None:
        """Queue a freshly signed checkpoint (called on the log's writer thread); an older one is ignored."""
        size = parse_checkpoint(note).size
        with self._cond:
            if size > self._submitted:
                self._pending, self._submitted = note, size
                self._cond.notify_all()

    def published(self, note: str, timeout_s: float) -> str:
        """``note`` with the witnesses' cosignatures, waiting up to ``timeout_s`` for its round to finish.

        A note this process did not sign (another replica did) is submitted here; one older than what was
        already submitted is returned as it is, at once (the witnesses moved past it).
        """
        self.submit(note)
        with self._cond:
            if note not in (self._pending, self._in_flight) and not self._is_done(note):
                return note
            self._cond.wait_for(lambda: self._closed or self._is_done(note), timeout_s)
            if self._done is not None and self._done[0] == note:
                return self._done[1]
        return note

    def round_result(self, note: str) -> RoundResult:
        """What the witnesses did with ``note`` in its finished round; every witness missing when none finished."""
        with self._cond:
            if self._is_done(note) and self._result is not None:
                return self._result
        return RoundResult(missing=tuple(c.key.name for c in self._clients))

    def _is_done(self, note: str) -> bool:
        return self._done is not None and self._done[0] == note

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=15)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or self._pending is not None)
                if self._closed:
                    return
                note, self._pending = self._pending, None
                self._in_flight = note
            if note is None:
                continue
            try:
                cosigned, result = self._round(note)
            except Exception as exc:  # the thread must live: the next checkpoint tries again
                log.error("audit witness round failed: %s", type(exc).__name__)
                cosigned, result = note, RoundResult(missing=tuple(c.key.name for c in self._clients))
            if cosigned != note:
                self._log.add_cosignatures(cosigned)  # stored, so exports and later reads carry them
            with self._cond:
                self._done, self._result, self._in_flight = (note, cosigned), result, None
                self._cond.notify_all()

    def _round(self, note: str) -> tuple[str, RoundResult]:
        cosigned = note
        done: list[str] = []
        superseded: list[tuple[str, int]] = []
        missing: list[str] = []
        for client in self._clients:
            name = client.key.name
            try:
                cosigned = client.cosign(cosigned, self._log.consistency_proof)
                done.append(name)
            except WitnessRefused as refusal:
                self._alarm(refusal, parse_checkpoint(note).size)
                missing.append(name)
            except WitnessAhead as ahead:
                if self._ahead(ahead, note):
                    superseded.append((name, ahead.witness_size))
                else:
                    missing.append(name)
            except WitnessUnavailable as exc:
                log.warning("audit witness %s unavailable: %s", VettedName(name), type(exc).__name__)
                self._unavailable(name)
                missing.append(name)
            except Exception as exc:  # the thread must live: the next checkpoint tries again
                log.error("audit witness %s failed: %s", VettedName(name), type(exc).__name__)
                missing.append(name)
        return cosigned, RoundResult(tuple(done), tuple(superseded), tuple(missing))

    def _ahead(self, ahead: WitnessAhead, note: str) -> bool:
        """Superseded (another process's larger checkpoint of this shared log was cosigned first) only when this
        log holds every entry the witness cosigned; a log that holds fewer lost entries it vouched for (truncated
        and rewritten, the published-checkpoint file removed too): a refusal, never to be waited out. Whether it
        was superseded."""
        held = self._log.size()
        if held >= ahead.witness_size:
            log.info("audit witness %s already cosigned size %s; the checkpoint of size %s is not offered",
                     VettedName(ahead.witness), ahead.witness_size, ahead.size)
            return True
        detail = f"the witness cosigned {ahead.witness_size} entries of this log, which holds only {held}"
        self._alarm(WitnessRefused(ahead.witness, 409, detail, ahead.witness_size), parse_checkpoint(note).size)
        return False


def start_witnessing(
    setting: str, audit_log: GroupCommitLog, auditor: Auditor, metrics: GatewayMetrics, keys_dir: Path
) -> WitnessPublisher | None:
    """Parse ``audit_witnesses`` and hook a publisher onto the log (None when no witness is configured)."""
    metrics.signing_held.set(1 if audit_log.signing_held else 0)
    clients = parse_witnesses(setting)
    if not clients:
        return None

    def alarm(refusal: WitnessRefused, size: int) -> None:
        reason = f"witness {refusal.witness} refused the checkpoint of size {size} (HTTP {refusal.status})"
        audit_log.hold_signing(reason)
        record: dict[str, Any] = {
            "reason": reason,
            "witness": refusal.witness,
            "status": refusal.status,
            "checkpoint_size": size,
            "witness_size": refusal.witness_size,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        metrics.witness_refusals.labels(refusal.witness).inc()
        metrics.signing_held.set(1)
        try:
            write_hold(keys_dir, record)
        except OSError as exc:  # signing is held in this process all the same
            log.error("cannot write the audit signing hold file: %s; a restart would lift the hold",
                      type(exc).__name__)
        log.error(
            "AUDIT ALARM: witness %s refused the checkpoint of size %s (HTTP %s); checkpoint signing is "
            "held until an operator acts (docs/audit.md)",
            VettedName(refusal.witness),
            size,
            refusal.status,
        )
        entry = auditor.entry("audit.witness_refused", None, "error", {
            "witness": refusal.witness, "status": refusal.status, "checkpoint_size": size,
            "witness_size": refusal.witness_size,
        })  # fmt: skip
        audit_log.submit(entry)

    publisher = WitnessPublisher(clients, audit_log, alarm, lambda name: metrics.witness_unavailable.labels(name).inc())
    audit_log.on_checkpoint(publisher.submit)
    latest = audit_log.latest_checkpoint()
    if latest is not None:
        publisher.submit(latest)  # the witnesses learn where this log stands before its next checkpoint
    return publisher


def close_witnessed(audit_log: GroupCommitLog, publisher: WitnessPublisher | None, timeout_s: float) -> RoundResult:
    """Close ``audit_log`` with its newest checkpoint offered to the witnesses first, waiting up to ``timeout_s``
    for their cosignatures: offered while the log is open, so that they are stored (a closed log keeps none, and an
    export taken while the gateway was stopped then failed ``verify --witness-key``). What the witnesses did with
    that last checkpoint: nothing missing without witnesses; every one missing while signing is held (the refusal
    was alarmed already) or when no checkpoint could be offered."""
    if publisher is None:
        audit_log.close()
        return RoundResult()
    result = RoundResult(missing=tuple(k.name for k in publisher.keys))
    try:
        if not audit_log.signing_held:
            note = audit_log.checkpoint_now()  # its cosignatures reach the writer before the close below
            publisher.published(note, timeout_s)
            result = publisher.round_result(note)
    except Exception as exc:  # no checkpoint yet, or the writer failed: the log is closed all the same
        log.warning("the audit log's last checkpoint was not offered to the witnesses: %s", type(exc).__name__)
    finally:
        audit_log.close()
        publisher.close()
    return result
