"""bench/_profiled_gateway.py: per-thread profiles are grouped by role and read back as CPU ms per request."""

from __future__ import annotations

import json
from pathlib import Path

from bench._profiled_gateway import summarize, thread_group


def test_when_threads_share_a_role_then_their_numbered_names_group_together() -> None:
    assert thread_group("batcher-embed-0") == thread_group("batcher-embed-1") == "batcher-embed"
    assert thread_group("ThreadPoolExecutor-0_3") == "ThreadPoolExecutor"
    assert thread_group("MainThread") == "MainThread"


def test_when_a_profile_is_summarized_then_costs_are_per_request_and_ranked(tmp_path: Path) -> None:
    profile = {
        "MainThread": {"guard.py:108(governed)": [0.010, 0.200, 100], "json:1(encode)": [0.050, 0.050, 100]},
        "batcher-embed": {"embedder.py:40(encode)": [0.300, 0.400, 10]},
    }
    (tmp_path / "profile.json").write_text(json.dumps(profile))
    text = summarize(tmp_path, requests=100, top=2)
    lines = text.splitlines()
    assert lines[1].split() == ["batcher-embed", "3.000"]  # 0.3 s over 100 requests, the costliest thread first
    assert lines[2].split() == ["MainThread", "0.600"]
    assert "all threads" in lines[3] and lines[3].split()[-1] == "3.600"
    assert lines[5].split()[:3] == ["3.000", "4.000", "0.1"] and lines[5].endswith("embedder.py:40(encode)")
    assert len(lines) == 7  # top=2 functions


def test_when_the_gateway_did_not_exit_cleanly_then_the_summary_says_so(tmp_path: Path) -> None:
    assert "not written" in summarize(tmp_path, requests=10)
