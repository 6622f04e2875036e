"""The audit stream to a SIEM from the gateway itself: every checkpointed entry as an RFC 5424 syslog message.

On when the ``audit_syslog`` setting names a receiver (``tcp://host:port`` or ``tls://host:port``, with
``audit_syslog_ca`` for a private CA). A thread follows the gateway's own log (``audit.follow``) and sends what
each new checkpoint covers (``audit.syslog``); the next undelivered index is committed to the audit log's own
database after each delivered batch (``follow_position``, name ``syslog``), so a restart of the gateway or of the
receiver resumes right after the last entry delivered: nothing is skipped or sent twice, a new pod with an empty
data folder included (the position once lived in ``<data dir>/audit_syslog.json``, which such a pod lost: read
once, when the database holds no position yet). A batch cut by a broken connection is sent again whole
(receivers drop repeats by index). Every worker and replica may have the setting: the one holding the
forwarder's role (``hold_follow_role``) sends, the others wait to take over from the shared position.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from audit.backend import AuditLogBackend
from audit.follow import Follower, Progress
from audit.syslog import SyslogSender, SyslogTarget
from gateway.settings import Settings

log = logging.getLogger(__name__)
STATE_FILE = "audit_syslog.json"  # where the position was kept before it moved into the audit database
POSITION = "syslog"  # the forwarder's name in the log's follow positions


class _LogPosition(Progress):
    """The forwarder's next undelivered index, kept in the audit log's database beside the entries it counts."""

    def __init__(self, audit_log: AuditLogBackend, legacy: Path) -> None:
        saved = audit_log.follow_position(POSITION)
        if saved is None and legacy.exists():  # an older gateway's file: its position carries over once
            saved = Progress(legacy, 0).next
            audit_log.save_follow_position(POSITION, saved)
        super().__init__(None, saved or 0)
        self.covered = self.next
        self._log = audit_log

    def advance(self, next_index: int) -> None:
        self._log.save_follow_position(POSITION, next_index)  # committed first: a failed save re-sends, never skips
        super().advance(next_index)

    def catch_up(self) -> None:
        """Take the saved position where another process (which held the role before) moved it past this one's."""
        saved = self._log.follow_position(POSITION)
        if saved is not None and saved > self.next:
            self.next = self.covered = saved


class _LogSource:
    """The gateway's own log, read as a follow source."""

    def __init__(self, audit_log: AuditLogBackend) -> None:
        self._log = audit_log

    def latest_checkpoint(self) -> str | None:
        return self._log.latest_checkpoint()

    def entries(self, start: int, end: int) -> list[bytes | None]:
        return list(self._log.entries(start, end))


class SyslogForwarder:
    """Follows ``audit_log`` from the saved index and sends each new batch; retries a receiver that is away."""

    def __init__(self, audit_log: AuditLogBackend, url: str, data_dir: Path, ca_file: Path | None = None,
                 interval_s: float = 1.0) -> None:
        self._log = audit_log
        self._position = _LogPosition(audit_log, data_dir / STATE_FILE)
        self._follower = Follower(_LogSource(audit_log), self._position)
        self._sender = SyslogSender(SyslogTarget.parse(url), ca_file)
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audit-syslog", daemon=True)
        self._thread.start()

    def forward_once(self) -> bool:
        """Send what the latest checkpoint covers beyond the saved index; False if the receiver is away. Only the
        process holding the forwarder's role sends (several workers or replicas: one at a time, from the shared
        position), so no entry goes out twice; the others wait to take over if it stops."""
        if not self._log.hold_follow_role(POSITION):
            return True
        self._position.catch_up()
        batch = self._follower.poll()
        if not batch:
            return True
        if not self._sender.send(batch):
            return False
        self._follower.delivered(batch[-1].index + 1)
        return True

    def _run(self) -> None:
        away = False
        while not self._stop.wait(self._interval):
            try:
                sent = self.forward_once()
            except Exception as exc:  # the forwarder must outlive any failure; the next poll retries
                log.error("audit syslog forwarding failed: %s", type(exc).__name__)
                sent = False
            if sent == away:
                log.warning("audit syslog receiver is %s", "back" if sent else "away; entries wait")
                away = not sent

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self._sender.close()


def syslog_forwarder(settings: Settings, audit_log: AuditLogBackend) -> SyslogForwarder | None:
    """The forwarder the settings ask for (``audit_syslog``), or None."""
    if not settings.audit_syslog:
        return None
    ca = Path(settings.audit_syslog_ca) if settings.audit_syslog_ca else None
    return SyslogForwarder(audit_log, settings.audit_syslog, settings.data_dir, ca)
