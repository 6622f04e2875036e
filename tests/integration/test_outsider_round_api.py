"""An outsider's round against the fair sharing and today's view rules, over real HTTP (real model and Presidio).

Before the fixes: each identifier below answered 200 (a card wrapped before its last group, a card after a
short number, an IBAN with a list's comma in it), and one tenant's many long texts held another tenant's one long
text for their whole queue (58.4 s behind 60 requests of 8 texts of 32,000 characters, on 2 cores)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.integration.server import GatewayProcess

pytestmark = pytest.mark.slow
MODEL = "all-MiniLM-L6-v2"
BYPASSES = [
    "card 4539 1488 0343\n6467",  # the list-of-values rule kept a card's last group off its line
    "card 4539 1488 0343\n6467 exp 12/27",
    "card 4539-1488-\n0343\n6467",  # the same rule, on a value rejoined from two lines
    "Card 1 4539 1488 0343 6467",  # a short number before a card made it part of a longer number
    "room 12 4539148803436467",
    "card no. 2 4539 1488 0343 6467",  # the view writes it no.2, and a full stop hid the whole run
    "Account: FR76 3000 6000 0112, 3456 7890 189",  # the list rule split an IBAN at a comma
    "Account: FR76 3000 6000 01, 12 3456 7890 189",
    "ssn 5\u04176-90-4721",  # Cyrillic Ze, drawn as a 3
    "card 4\u04175\u0417 1488 0343 6467",
    "ssn 536-90-47\u01a71", "ssn 536-90-\u0427721", "ssn \u01bc36-90-4721", "ssn 536-90-\u13ce721",  # 2, 4, 5, 4
    "iban GB82 WEST 1234 5698 7654 3\u01a7",
]
LONG = ("The quarterly report covers revenue and costs in several regions. " * 500)[:32_000]


def _embed(gw: GatewayProcess, key: str, texts: list[str]) -> httpx.Response:
    return httpx.post(gw.url + "/v1/embeddings", json={"model": MODEL, "input": texts},
                      headers={"Authorization": f"Bearer {key}"}, timeout=120)


def test_when_a_blocked_identifier_hides_behind_a_view_rule_then_it_is_refused(gateway: GatewayProcess) -> None:
    key = gateway.make_key("acme", "outsider", "writer")
    statuses = {}
    for text in BYPASSES:
        r = _embed(gateway, key, [text])
        statuses[text] = (r.status_code, r.json().get("error", {}).get("code") if r.status_code != 200 else None)
    passed = {t: s for t, s in statuses.items() if s != (422, "pii_blocked")}
    assert not passed, passed


def test_when_one_tenant_floods_the_long_lane_then_another_tenants_long_text_takes_its_turn(
    gateway: GatewayProcess,
) -> None:
    heavy = gateway.make_key("flood-long", "heavy", "writer")
    light = gateway.make_key("light-long", "light", "writer")
    with ThreadPoolExecutor(max_workers=12) as pool:
        floods = [pool.submit(_embed, gateway, heavy, [f"{LONG} {i} {j}" for j in range(6)]) for i in range(10)]
        time.sleep(1.0)
        started = time.monotonic()
        r = _embed(gateway, light, [LONG + " light"])
        waited = time.monotonic() - started
        flood_done = [f.result() for f in floods]
        makespan = time.monotonic() - started
    assert r.status_code == 200, r.text
    assert all(f.status_code == 200 for f in flood_done)
    # Round-robin per tenant: the light text waits for about one long text, not for the heavy tenant's queue.
    assert waited < makespan / 3, (waited, makespan)
