"""Where ``gateway-audit follow`` reads from besides an embedded ``audit.db``: PostgreSQL, or a running gateway.

Both answer the two questions of ``audit.follow.FollowSource``; a source that cannot be reached raises
``AuditError`` with what went wrong (never the URL's password), and the follower retries.
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.parse
from typing import Any

from audit.errors import AuditError, VerificationError
from audit.follow import contiguous, stored_leaf
from audit.remote import Fetch, urllib_fetch


class PgSource:
    """The shared log of gateway replicas on PostgreSQL (needs psycopg); one short read per call."""

    def __init__(self, url: str) -> None:
        self._url = url

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        from audit.pg_reader import connect

        try:
            with connect(self._url) as conn:
                return list(conn.execute(sql, params).fetchall())
        except psycopg.Error as exc:  # libpq's message may name the host and user: the class is enough
            raise AuditError(f"cannot read the audit log from the database: {type(exc).__name__}") from exc

    def latest_checkpoint(self) -> str | None:
        rows = self._query("SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1")
        return str(rows[0][0]) if rows else None

    def entries(self, start: int, end: int) -> list[bytes | None]:
        rows = self._query("SELECT idx, leaf FROM audit_entries WHERE idx >= %s AND idx < %s ORDER BY idx",
                           (start, end))
        return contiguous(start, [(int(i), stored_leaf(leaf)) for i, leaf in rows])


class GatewaySource:
    """A running gateway's audit API, with an auditor's key: a tenant auditor's key sees its own entries only."""

    def __init__(self, base_url: str, api_key: str, fetch: Fetch = urllib_fetch) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._fetch = fetch

    def latest_checkpoint(self) -> str | None:
        return self._fetch(f"{self._base}/v1/audit/checkpoint", self._headers).decode("utf-8")

    def entries(self, start: int, end: int) -> list[bytes | None]:
        query = urllib.parse.urlencode({"start": start, "end": end})
        body = self._fetch(f"{self._base}/v1/audit/entries?{query}", self._headers)
        try:
            items = json.loads(body)["entries"]
            return [None if item is None else base64.b64decode(item, validate=True) for item in items]
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise VerificationError(f"the gateway returned a malformed entries page at {start}") from exc
