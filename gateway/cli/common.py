"""What the ``gateway`` subcommands share: the API-key repository of the configured backend, the operator who
runs a command (its audit entries' actor), an auditor for commands that run without the gateway, and a progress
bar."""

from __future__ import annotations

import getpass
import os
import socket
import sys
from typing import TYPE_CHECKING, Any, TextIO

from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.witnessing.publisher import RoundResult

WITNESS_WAIT_S = 10.0  # how long a command waits for the witnesses' cosignatures of its final checkpoint


def apikey_repo(settings: Settings):  # type: ignore[no-untyped-def]
    if settings.uses_postgres:
        from gateway.backends.postgres.apikeys import PgApiKeyRepository
        from gateway.backends.postgres.connection import PgDatabase

        return PgApiKeyRepository(PgDatabase(settings.database_url.reveal(), max_size=1))
    from gateway.backends.sqlite.apikeys import SQLiteApiKeyRepository
    from gateway.backends.sqlite.connection import SQLiteDatabase

    return SQLiteApiKeyRepository(SQLiteDatabase(settings.sqlite_path))


def operator() -> dict[str, str]:
    """Who ran a CLI action: the operating-system user and host (the actor of its audit entry)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container): its number still says who
        user = f"uid:{os.getuid()}"
    return {"user": user, "host": socket.gethostname()}


def offline_auditor(settings: Settings):  # type: ignore[no-untyped-def]
    """The audit log and an auditor for a command that runs beside (or without) the gateway. Closing the log also
    asks the witnesses (``audit_witnesses``) to cosign its final checkpoint, as the gateway does when it stops:
    otherwise an export taken before the gateway's next checkpoint failed ``verify --witness-key``."""
    from gateway.auditing.auditor import Auditor, open_audit_log
    from gateway.crypto.keyfiles import load_keys

    keys = load_keys(settings.keys_dir, settings.kek_options)
    if settings.uses_postgres:
        from gateway.backends.postgres.open import open_pg_audit_log

        log: Any = open_pg_audit_log(settings, keys)
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        log = open_audit_log(settings, keys)
    auditor = Auditor(log, keys.tenant_secret, max_entry_bytes=settings.audit_max_entry_bytes)
    return WitnessedLog(log, auditor, settings) if settings.audit_witnesses else log, auditor


class WitnessedLog:
    """A command's audit log whose ``close`` waits (at most ``WITNESS_WAIT_S``) for the witnesses' cosignatures
    of its final checkpoint; a witness that refuses holds signing as in the gateway (``docs/audit.md``)."""

    def __init__(self, log: Any, auditor: Any, settings: Settings) -> None:
        from gateway.observability.metrics import GatewayMetrics
        from gateway.witnessing.publisher import start_witnessing

        self._log = log
        self._publisher = start_witnessing(settings.audit_witnesses, log, auditor, GatewayMetrics(),
                                           settings.keys_dir)

    def size(self) -> int:
        return int(self._log.size())

    def entries(self, start: int, end: int) -> list[bytes]:
        return list(self._log.entries(start, end))

    def close(self) -> None:
        from gateway.witnessing.publisher import close_witnessed

        result = close_witnessed(self._log, self._publisher, WITNESS_WAIT_S)
        if not self._log.signing_held:  # a refusal held signing and was alarmed already
            for line in witness_lines(result):
                print(line, file=sys.stderr)


def witness_lines(result: RoundResult) -> list[str]:
    """What a command says about the witnesses of its last checkpoint (a ``RoundResult``): nothing when each
    cosigned it; a note for a witness that had already cosigned a larger checkpoint of the log (another process's,
    the running gateway's), which covers this command's entries too; a warning naming those that did neither."""
    lines = [f"note: witness {name} had already cosigned a newer checkpoint of the audit log (size {size}), which "
             "covers this command's entries" for name, size in result.superseded]
    if result.missing and not (result.cosigned or result.superseded):
        lines.append(f"warning: no witness cosigned the audit log's last checkpoint within {WITNESS_WAIT_S:.0f} s; "
                     "the gateway's next checkpoint is offered to them again")
    elif result.missing:
        lines.append(f"warning: witness {', '.join(result.missing)} did not cosign the audit log's last checkpoint "
                     f"within {WITNESS_WAIT_S:.0f} s; the gateway's next checkpoint is offered to it again")
    return lines


class ProgressBar:
    """A text progress bar on stderr (never stdout: stdout is what scripts read)."""

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self._label, self._stream, self._width = label, stream or sys.stderr, width

    def __call__(self, done: int, total: int, detail: str = "") -> None:
        filled = self._width if total == 0 else self._width * done // total
        bar = "#" * filled + "-" * (self._width - filled)
        end = "\n" if done >= total else ""
        self._stream.write(f"\r{self._label} [{bar}] {done}/{total}{' ' + detail if detail else ''}{end}")
        self._stream.flush()


def missing_database(settings: Settings) -> bool:
    """Whether the embedded database is not where the settings point (a command run outside the gateway's
    directory); if so, says where it looked. A read would otherwise create an empty database there and show
    nothing, as if there were no keys or no usage."""
    if settings.uses_postgres or settings.sqlite_path.exists():
        return False
    print(f"error: no gateway database at {settings.sqlite_path}: run this in the gateway's directory or set "
          "GATEWAY_DATA_DIR", file=sys.stderr)
    return True


def usage_repo(settings: Settings):  # type: ignore[no-untyped-def]
    """The usage table of the configured backend (``gateway.limits.usage.UsageRepository``)."""
    if settings.uses_postgres:
        from gateway.backends.postgres.connection import PgDatabase
        from gateway.backends.postgres.usage import PgUsageRepository

        return PgUsageRepository(PgDatabase(settings.database_url.reveal(), max_size=1))
    from gateway.backends.sqlite.connection import SQLiteDatabase
    from gateway.backends.sqlite.usage import SQLiteUsageRepository

    return SQLiteUsageRepository(SQLiteDatabase(settings.sqlite_path))
