"""The process-pool detector with the real detector in its workers (spaCy and Presidio; marked slow).

One pool of two workers serves the module; the tests that kill workers or close a pool start their own."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import DetectionTooCostly, Unavailable
from gateway.pii.detector_types import Finding
from gateway.pii.pool import PoolDetector
from gateway.policy.loader import GatewayPolicy, parse_policy
from tests.procs import running

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]

TEXTS = [
    "no pii here, just a sentence about embeddings",
    "My SSN is 078-05-1120",
    "Bob Smith lives in Ohio and works for Acme Corp",
    "Mail john.doe@example.com or call (212) 555-0143 tomorrow",
    "Please charge 4111 1111 1111 1111 today",
    "Wire to GB82 WEST 1234 5698 7654 32 please",
    "SSN \uff10\uff17\uff18-\uff10\uff15-\uff11\uff11\uff12\uff10",
    "Alice met Carol Jones in Paris on 3 May 1990; her IP was 192.168.0.17.",
    "Meeting notes. " * 300 + "Reach Dave Miller at dave@example.org, SSN 123-45-6789.",  # a long text
]
ACCOUNT_POLICY = (
    b"version: 1\ndefaults:\n  pii:\n    entities:\n      ACCOUNT_ID: block\n"
    b"recognizers:\n  - name: acct\n    entity: ACCOUNT_ID\n"
    b"    patterns: [{regex: '\\bAC\\d{8}\\b', score: 0.9}]\n"
)


@pytest.fixture(scope="module")
def pool(shipped_policy: GatewayPolicy) -> Iterator[PoolDetector]:
    detector = PoolDetector(2, policy=shipped_policy)
    yield detector
    detector.close()


def wait_for(condition: Any, timeout_s: float = 120.0) -> bool:
    until = time.monotonic() + timeout_s
    while time.monotonic() < until:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_when_texts_are_screened_in_workers_then_findings_equal_the_in_process_detectors(
    pool: PoolDetector, presidio: Any, shipped_policy: GatewayPolicy
) -> None:
    scopes = [shipped_policy.scope("t")] * len(TEXTS)
    expected = presidio.analyze(TEXTS, scopes)
    assert pool.analyze(TEXTS, scopes) == expected
    assert any(f.entity_type == "US_SSN" for f in expected[1])  # the comparison is not between two empty lists
    for text, scope, want in zip(TEXTS, scopes, expected, strict=True):  # one text a batch too
        assert pool.analyze([text], [scope]) == [want]


def test_when_two_batches_arrive_together_then_both_workers_screen_them_at_once(
    pool: PoolDetector, shipped_policy: GatewayPolicy
) -> None:
    scope = shipped_policy.scope("t")
    long_text = TEXTS[-1] * 4
    results: dict[int, list[list[Finding]]] = {}
    spans: dict[int, tuple[float, float]] = {}

    def screen(i: int) -> None:
        started = time.monotonic()
        results[i] = pool.analyze([long_text, TEXTS[1]], [scope, scope])
        spans[i] = (started, time.monotonic())

    threads = [threading.Thread(target=screen, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results[0] == results[1] and any(f.entity_type == "US_SSN" for f in results[0][1])
    assert max(s for s, _ in spans.values()) < min(e for _, e in spans.values())  # they overlapped


def test_when_the_policy_is_reloaded_then_every_worker_detects_what_it_asks_for(
    pool: PoolDetector, shipped_policy: GatewayPolicy
) -> None:
    accounts = parse_policy(ACCOUNT_POLICY)
    text = "account AC12345678 is frozen"
    try:
        pool.rebuild(accounts)
        # The idle workers are taken first in, first out: calls in a row go round both of them.
        for _ in range(2 * pool.size):
            assert [f.entity_type for f in pool.analyze([text], [accounts.scope("t")])[0]] == ["ACCOUNT_ID"]
    finally:
        pool.rebuild(shipped_policy)
    for _ in range(2 * pool.size):  # and back: the shipped policy has no such recognizer
        assert pool.analyze([text], [accounts.scope("t")]) == [[]]


def test_when_a_stopped_worker_is_rebuilt_then_the_reload_ends_and_the_worker_is_replaced(
    shipped_policy: GatewayPolicy,
) -> None:
    """A policy reload reached a stopped (SIGSTOP) or hung idle worker and waited for its answer for good, holding
    the policy watcher (no later reload took effect); it waits hang_s now, then replaces the worker."""
    pool = PoolDetector(1, policy=shipped_policy, hang_s=2.0)
    [stopped] = pool.pids()
    reloaded = threading.Event()

    def reload() -> None:
        pool.rebuild(parse_policy(ACCOUNT_POLICY))
        reloaded.set()

    try:
        os.kill(stopped, signal.SIGSTOP)
        threading.Thread(target=reload, daemon=True).start()
        assert reloaded.wait(20)
        assert stopped not in pool.pids()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(stopped, signal.SIGCONT)
        pool.close()


def test_when_a_batch_runs_past_its_budget_then_detection_is_too_costly(
    pool: PoolDetector, shipped_policy: GatewayPolicy
) -> None:
    scope = shipped_policy.scope("t")
    with pytest.raises(DetectionTooCostly, match="detection budget"):
        pool.analyze([TEXTS[-1] * 55], [scope], budget_s=0.02)  # 3,850 characters: 100-300 ms, whatever the CPU
    assert pool.analyze([TEXTS[1]], [scope], budget_s=30.0)[0]  # the worker goes on serving


def test_when_a_worker_is_killed_then_its_batch_fails_clearly_and_the_pool_recovers(
    shipped_policy: GatewayPolicy,
) -> None:
    scope = shipped_policy.scope("t")
    pool = PoolDetector(1, policy=shipped_policy)
    try:
        [victim] = pool.pids()
        failed: list[Unavailable] = []

        def screen() -> None:
            try:
                pool.analyze([TEXTS[-1] * 55] * 20, [scope] * 20)  # 2-6 s of work: still running at the kill
            except Unavailable as exc:
                failed.append(exc)

        thread = threading.Thread(target=screen)
        thread.start()
        time.sleep(0.3)  # the batch is in the worker
        os.kill(victim, signal.SIGKILL)
        thread.join(30)
        assert failed and "stopped while screening" in str(failed[0]) and failed[0].status == 503
        # The next batch waits for the replacement, then is screened: nothing passes unscreened meanwhile.
        assert pool.analyze([TEXTS[1]], [scope])[0][0].entity_type == "US_SSN"
        assert pool.pids() and victim not in pool.pids() and not running(victim)
    finally:
        pool.close()


def test_when_no_worker_runs_and_replacements_keep_failing_then_a_batch_is_refused_at_once_with_retry_after(
    shipped_policy: GatewayPolicy, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every slot empty and each replacement failing (the fork server unreachable, as in attack12): a batch
    without a budget waited start_timeout_s for a worker that could not come, past its request's time limit (504
    at the limit, no Retry-After); it is now refused at once, 503 with Retry-After."""
    import gateway.pii.pool as pool_module

    scope = shipped_policy.scope("t")
    pool = PoolDetector(1, policy=shipped_policy, start_timeout_s=30.0)
    try:
        [victim] = pool.pids()

        def unreachable(*args: object) -> None:
            raise FileNotFoundError("the fork server's socket is gone")

        monkeypatch.setattr(pool_module, "WorkerProcess", unreachable)  # each replacement fails to fork
        monkeypatch.setattr(pool_module, "restart_fork_server", lambda: None)
        os.kill(victim, signal.SIGKILL)
        assert wait_for(lambda: not running(victim), 10)
        with contextlib.suppress(Unavailable):  # the dead worker found, at checkout or on its pipe
            pool.analyze([TEXTS[1]], [scope])
        started = time.monotonic()
        with pytest.raises(Unavailable) as refused:
            pool.analyze([TEXTS[1]], [scope])
        assert time.monotonic() - started < 5.0  # not start_timeout_s
        assert refused.value.status == 503 and refused.value.retry_after is not None
    finally:
        pool.close()  # before the fakes go (at the test's end): a replacement under way sees it closed


def test_when_a_worker_outruns_the_budget_by_the_grace_then_it_is_killed_and_replaced(
    shipped_policy: GatewayPolicy,
) -> None:
    scope = shipped_policy.scope("t")
    pool = PoolDetector(1, policy=shipped_policy, kill_grace_s=0.0)
    try:
        [first] = pool.pids()
        with pytest.raises(DetectionTooCostly):
            # 3,850 characters, under LONG_TEXT (checked between stages only): 100-300 ms of work, so the worker is
            # still busy at its deadline on any machine (1,400 characters in 0.3 s passed on a slow one only).
            pool.analyze([TEXTS[-1] * 55], [scope], budget_s=0.02)
        assert wait_for(lambda: not running(first), 10)
        assert pool.analyze([TEXTS[1]], [scope])[0][0].entity_type == "US_SSN"
        assert pool.pids() != [first]
    finally:
        pool.close()


def test_when_the_pool_is_closed_then_no_worker_process_is_left(shipped_policy: GatewayPolicy) -> None:
    pool = PoolDetector(2, policy=shipped_policy, wait=False)  # loading in the background
    pids = pool.pids()
    assert pool.analyze([TEXTS[1]], [shipped_policy.scope("t")])[0]  # the first call waits for the workers
    assert len(pids) == 2 and all(running(p) for p in pids)
    pool.close()
    assert not any(running(p) for p in pids)
    with pytest.raises(Unavailable, match="shutting down"):
        pool.analyze([TEXTS[1]], [shipped_policy.scope("t")])


def test_when_the_parent_is_killed_then_its_workers_exit_too() -> None:
    script = textwrap.dedent(f"""
        import pathlib, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from gateway.pii.pool import PoolDetector
        from gateway.policy.loader import load_policy
        if __name__ == "__main__":
            pool = PoolDetector(2, policy=load_policy(pathlib.Path({str(ROOT / "policy" / "gateway.yaml")!r})))
            print(*pool.pids(), flush=True)
            time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(running(p) for p in pids)
    finally:
        parent.kill()  # kill -9: no close, no atexit
        parent.wait(10)
    # Orphans are re-parented; each reads end-of-file on its pipe and exits.
    assert wait_for(lambda: not any(running(p) for p in pids), 30)


def test_when_a_worker_cannot_load_its_spacy_model_then_the_start_is_refused_and_names_the_error(
    shipped_policy: GatewayPolicy,
) -> None:
    from gateway.errors import ConfigurationError

    before = {p.pid for p in multiprocessing.active_children()}
    with pytest.raises(ConfigurationError, match=r"could not load spaCy and Presidio \(setting spacy_model: no spaCy "
                                                 r"pipeline 'no_such_spacy_model' is installed"):
        PoolDetector(1, policy=shipped_policy, spacy_model="no_such_spacy_model")
    assert {p.pid for p in multiprocessing.active_children()} <= before  # nothing left running
