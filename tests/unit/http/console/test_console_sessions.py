"""Console sessions: random opaque ids, server-side state, absolute expiry, bounded memory."""

from __future__ import annotations

from gateway.auth.apikeys import Principal
from gateway.http.console.sessions import Session, SessionStore, csrf_matches

ALICE = Principal("0123456789abcdef", "acme", "alice", "auditor")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_when_a_session_is_created_then_its_id_finds_it_and_holds_no_key_material() -> None:
    store = SessionStore()
    sid, session = store.create(ALICE)
    assert store.get(sid) == session
    assert len(sid) >= 43 and "gk_" not in sid and ALICE.key_id not in sid
    assert store.get(sid + "x") is None and store.get(None) is None


def test_when_the_ttl_passes_then_the_session_is_gone() -> None:
    clock = Clock()
    store = SessionStore(ttl_s=60, clock=clock)
    sid, _ = store.create(ALICE)
    clock.now += 59
    assert store.get(sid) is not None
    clock.now += 1
    assert store.get(sid) is None
    assert len(store) == 0


def test_when_signed_out_then_the_old_id_stops_working() -> None:
    store = SessionStore()
    sid, _ = store.create(ALICE)
    store.delete(sid)
    assert store.get(sid) is None


def test_when_the_store_is_full_then_the_oldest_sessions_are_dropped_not_the_new_one() -> None:
    clock = Clock()
    store = SessionStore(ttl_s=60, max_sessions=10, clock=clock)
    first, _ = store.create(ALICE)
    for _ in range(20):
        clock.now += 1
        newest, _ = store.create(ALICE)
    assert len(store) <= 10
    assert store.get(newest) is not None and store.get(first) is None


def test_when_csrf_tokens_are_compared_then_only_the_sessions_own_matches() -> None:
    session = Session(ALICE, "token-a", 0.0)
    assert csrf_matches(session, "token-a")
    assert not csrf_matches(session, "token-b") and not csrf_matches(session, None)
