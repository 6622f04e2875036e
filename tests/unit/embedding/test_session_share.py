"""``SessionShare``: which ONNX Runtime session a forward pass gets (fake sessions: what matters is which one)."""

import os
import threading
from pathlib import Path

import pytest

from gateway.embedding.onnx_runtime import SessionShare, _locked
from gateway.errors import ConfigurationError


class Made:
    """A fake session factory: records the thread count of every session it makes."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    def __call__(self, threads: int) -> str:
        self.threads.append(threads)
        return f"s{len(self.threads) - 1}/{threads}"


def test_when_made_then_one_wide_session_and_the_asked_one_thread_sessions_exist() -> None:
    made = Made()
    share = SessionShare(made, threads=2, narrow=2)
    assert made.threads == [2, 1, 1] and share.wide == "s0/2" and share.narrow == ["s1/1", "s2/1"]


def test_when_a_pass_runs_alone_then_it_gets_the_wide_session_and_beside_others_a_one_thread_one_each() -> None:
    share = SessionShare(Made(), threads=2, narrow=2)
    with share.session() as alone:
        pass
    with share.session() as first, share.session() as second, share.session() as third:
        pass
    with share.session() as again:
        pass
    assert alone == first == again == "s0/2"
    assert {second, third} == {"s1/1", "s2/1"}


def test_when_more_passes_run_at_once_than_sessions_were_made_then_one_more_is_made_and_kept() -> None:
    made = Made()
    share = SessionShare(made, threads=2, narrow=1)
    with share.session(), share.session() as second, share.session() as third:
        assert second != third and "/1" in second and "/1" in third
    assert made.threads == [2, 1, 1] and len(share.narrow) == 2
    with share.session(), share.session(), share.session():  # both one-thread sessions free again: none made
        pass
    assert made.threads == [2, 1, 1]


def test_when_passes_run_on_threads_then_no_session_is_held_by_two_at_once() -> None:
    share = SessionShare(Made(), threads=2, narrow=2)
    holders: dict[str, int] = {}
    lock = threading.Lock()
    clashes: list[str] = []
    start = threading.Barrier(4)

    def work() -> None:
        start.wait()
        for _ in range(200):
            with share.session() as session:
                with lock:
                    holders[session] = holders.get(session, 0) + 1
                    if holders[session] > 1:
                        clashes.append(session)
                with lock:
                    holders[session] -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clashes == [] and all(n == 0 for n in holders.values())
    assert share.wide not in share.narrow and len(set(share.narrow)) == len(share.narrow) <= 3


def test_when_the_cache_root_belongs_to_another_user_then_it_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "shared-onnx"
    root.mkdir(mode=0o700)
    real = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: real + 1)  # the directory is now someone else's
    with pytest.raises(ConfigurationError, match="belongs to another user"), _locked(root / "model-key"):
        pass


def test_when_the_cache_root_is_made_then_it_and_the_model_directory_are_owner_only(tmp_path: Path) -> None:
    root = tmp_path / "a" / "onnx"
    with _locked(root / "model-key"):
        pass
    assert (root.stat().st_mode & 0o777, (root / "model-key").stat().st_mode & 0o777) == (0o700, 0o700)


def test_when_sessions_are_made_then_they_allocate_from_the_one_process_wide_arena() -> None:
    from gateway.embedding.onnx_runtime import session_options

    first, second = session_options(2), session_options(1)
    assert [o.get_session_config_entry("session.use_env_allocators") for o in (first, second)] == ["1", "1"]
    assert [o.get_session_config_entry("session.intra_op.allow_spinning") for o in (first, second)] == ["0", "0"]
    assert (first.intra_op_num_threads, second.intra_op_num_threads) == (2, 1)
