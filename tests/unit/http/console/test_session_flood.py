"""One auditor's sign-ins cannot end other auditors' sessions (attack17). The store holds at most 10,000 sessions
and, when full, ended the ones closest to expiry: a tenant's auditor signing in 10,050 times (about 30 a second on
2 cores) signed every other tenant's auditors out. Now a key holds at most ``max_per_owner`` sessions (its own
oldest ends), and a full store takes from the owner holding the most."""

from __future__ import annotations

from gateway.auth.apikeys import Principal
from gateway.http.console.sessions import SessionStore

VICTIM = Principal("0123456789abcdef", "acme", "olga", "auditor")
FLOODER = Principal("fedcba9876543210", "globex", "mallory", "auditor")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


def test_when_one_key_signs_in_again_and_again_then_another_tenants_session_lives_on() -> None:
    store = SessionStore(ttl_s=1800, max_sessions=50, clock=Clock())  # 16 a key by default
    victim, _ = store.create(VICTIM)
    latest = [store.create(FLOODER)[0] for _ in range(500)]
    assert store.get(victim) is not None
    assert len(store) == 17
    assert all(store.get(sid) is not None for sid in latest[-16:])
    assert all(store.get(sid) is None for sid in latest[:-16])


def test_when_the_store_is_full_of_many_owners_then_the_heaviest_gives_up_its_oldest() -> None:
    store = SessionStore(ttl_s=1800, max_sessions=10, clock=Clock(), max_per_owner=4)
    victim, _ = store.create(VICTIM)
    others = [Principal(f"{n:016x}", "globex", f"a{n}", "auditor") for n in range(3)]
    held = {p.key_id: [store.create(p)[0] for _ in range(3)] for p in others}
    assert len(store) == 10  # full
    newcomer, _ = store.create(Principal("aaaaaaaaaaaaaaaa", "initech", "nina", "auditor"))
    assert len(store) == 10 and store.get(victim) is not None and store.get(newcomer) is not None
    assert sum(store.get(sid) is None for sids in held.values() for sid in sids) == 1
    assert [store.get(sids[0]) is None for sids in held.values()].count(True) == 1  # an oldest one
