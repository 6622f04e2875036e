"""Server-side console sessions: the cookie holds only a random id, never the API key.

A session maps that id to the principal the key resolved to, a CSRF token for the session's forms and an
absolute expiry. Sessions live in memory: a restart signs everyone out, which is the safe direction. The
clock and the random source are injectable so expiry is tested without sleeping.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.auth.apikeys import Principal

DEFAULT_TTL_S = 30 * 60
DEFAULT_MAX_SESSIONS = 10_000


@dataclass(frozen=True)
class Session:
    """One signed-in auditor; ``csrf`` guards the session's state-changing forms."""

    principal: Principal
    csrf: str
    expires_at: float


def _token() -> str:
    return secrets.token_urlsafe(32)


class SessionStore:
    """In-memory sessions keyed by a digest of the cookie value (a memory dump does not yield live cookies)."""

    def __init__(
        self,
        ttl_s: float = DEFAULT_TTL_S,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        clock: Callable[[], float] = time.time,
        token: Callable[[], str] = _token,
    ) -> None:
        self.ttl_s = ttl_s
        self._max = max_sessions
        self._clock = clock
        self._token = token
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    @staticmethod
    def _key(session_id: str) -> str:
        return hashlib.sha256(session_id.encode("utf-8")).hexdigest()

    def create(self, principal: Principal) -> tuple[str, Session]:
        """A new session for ``principal``; returns the cookie value (shown once) and the session."""
        session_id = self._token()
        session = Session(principal, self._token(), self._clock() + self.ttl_s)
        with self._lock:
            self._purge_expired()
            if len(self._sessions) >= self._max:  # drop the sessions closest to expiry rather than grow forever
                for key, _ in sorted(self._sessions.items(), key=lambda kv: kv[1].expires_at)[: self._max // 10 + 1]:
                    del self._sessions[key]
            self._sessions[self._key(session_id)] = session
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        """The live session for a cookie value, or None (unknown, expired or signed out)."""
        if not session_id:
            return None
        key = self._key(session_id)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            if session.expires_at <= self._clock():
                del self._sessions[key]
                return None
            return session

    def delete(self, session_id: str | None) -> None:
        """Sign out: the cookie value stops working at once."""
        if session_id:
            with self._lock:
                self._sessions.pop(self._key(session_id), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _purge_expired(self) -> None:
        now = self._clock()
        for key in [k for k, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[key]


def csrf_matches(session: Session, presented: str | None) -> bool:
    """Constant-time check of a form's CSRF token against the session's."""
    return presented is not None and hmac.compare_digest(session.csrf.encode(), presented.encode())
