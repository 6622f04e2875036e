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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from gateway.auth.apikeys import Principal

DEFAULT_TTL_S = 30 * 60
DEFAULT_MAX_SESSIONS = 10_000
# Sessions one key (or one provider subject) holds at once; a further sign-in ends its own oldest. Without it, one
# auditor signing in 10,000 times filled the store and ended every other tenant's sessions (the oldest went first).
DEFAULT_MAX_PER_OWNER = 16


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
        max_per_owner: int = DEFAULT_MAX_PER_OWNER,
    ) -> None:
        self.ttl_s = ttl_s
        self._max = max_sessions
        self._max_per_owner = max(1, max_per_owner)
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
            owner = _owner(principal)
            own = self._oldest_first(owner)
            for key in own[: max(0, len(own) - self._max_per_owner + 1)]:
                del self._sessions[key]
            if len(self._sessions) >= self._max:  # full: the owner holding the most sessions gives up its oldest
                heaviest = Counter(_owner(s.principal) for s in self._sessions.values()).most_common(1)[0][0]
                del self._sessions[self._oldest_first(heaviest)[0]]
            self._sessions[self._key(session_id)] = session
        return session_id, session

    def _oldest_first(self, owner: tuple[str, str]) -> list[str]:
        return sorted((k for k, s in self._sessions.items() if _owner(s.principal) == owner),
                      key=lambda k: self._sessions[k].expires_at)

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


def _owner(principal: Principal) -> tuple[str, str]:
    """Who holds a session: the key's id, or a provider-signed-in subject, in its tenant."""
    return principal.tenant, principal.key_id or principal.subject


def csrf_matches(session: Session, presented: str | None) -> bool:
    """Constant-time check of a form's CSRF token against the session's."""
    return presented is not None and hmac.compare_digest(session.csrf.encode(), presented.encode())
