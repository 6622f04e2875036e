"""Validation of a batch's input file and the shape of its output lines."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, cast

from gateway.auth.apikeys import Principal
from gateway.errors import ModelUnavailable, PIIBlocked, RateLimited, RequestError, Unavailable
from gateway.jobs.base import Job, owner_of
from gateway.pipeline import batches, retrying
from gateway.pipeline.batch_lines import MAX_ERRORS, BatchLine, error_line, ok_line, parse_input
from gateway.pipeline.batches import WINDOW_S, BatchKind, batch_object


def line(custom_id: str, url: str = "/v1/embeddings", **extra: object) -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": url,
                       "body": {"model": "m", "input": "text"}, **extra})


def test_when_the_file_is_valid_then_every_line_is_kept_in_order() -> None:
    lines, errors = parse_input(("\n".join(line(f"c{n}") for n in range(3)) + "\n\n").encode(), 10)
    assert errors == [] and [x.custom_id for x in lines] == ["c0", "c1", "c2"]


def test_when_lines_are_bad_then_each_is_named_with_its_line_number() -> None:
    raw = "\n".join([line("a"), line("a"), "{oops", line("b", url="/v1/chat/completions"), "[1]",
                     json.dumps({"custom_id": "", "url": "/v1/embeddings", "body": {}}),
                     line("c", method="GET"), json.dumps({"custom_id": "d", "url": "/v1/embeddings"})])
    _, errors = parse_input(raw.encode(), 100)
    assert [(e["code"], e["line"]) for e in errors] == [
        ("duplicate_custom_id", 2), ("invalid_json_line", 3), ("invalid_url", 4), ("invalid_json_line", 5),
        ("missing_required_parameter", 6), ("invalid_method", 7), ("missing_required_parameter", 8)]


def test_when_the_file_is_over_the_line_limit_or_empty_or_not_utf8_then_it_fails_as_a_whole() -> None:
    assert [e["code"] for e in parse_input("\n".join(line(f"c{n}") for n in range(4)).encode(), 3)[1]] == [
        "too_many_lines"]
    assert [e["code"] for e in parse_input(b"\n \n", 3)[1]] == ["empty_file"]
    assert [e["code"] for e in parse_input(b"\xff\xfe", 3)[1]] == ["invalid_file_encoding"]


def test_when_a_lines_body_is_over_max_body_bytes_then_that_line_is_an_error() -> None:
    big = json.dumps({"custom_id": "big", "method": "POST", "url": "/v1/embeddings",
                      "body": {"model": "m", "input": "x" * 5000}})
    lines, errors = parse_input("\n".join([line("a"), big, line("b")]).encode(), 10, max_body_bytes=4096)
    assert [(e["code"], e["line"], e["param"]) for e in errors] == [("request_too_large", 2, "body")]
    assert [(x.custom_id, x.line) for x in lines] == [("a", 1), ("b", 3)]
    assert parse_input(big.encode(), 10, max_body_bytes=8192)[1] == []


def test_when_many_lines_are_bad_then_the_errors_list_is_bounded() -> None:
    _, errors = parse_input(("{bad\n" * 100).encode(), 1000)
    assert len(errors) == MAX_ERRORS


def test_when_a_line_is_answered_or_refused_then_it_takes_openais_output_shape() -> None:
    ok = json.loads(ok_line("batch_1", 0, "c0", b'{"object":"list","data":[]}'))
    assert ok["custom_id"] == "c0" and ok["error"] is None
    assert ok["response"]["status_code"] == 200 and ok["response"]["body"] == {"object": "list", "data": []}
    refused = json.loads(error_line("batch_1", 1, "c1", PIIBlocked("input contains PII: US_SSN", param="input")))
    assert refused["response"]["status_code"] == 422 and refused["error"] is None
    assert refused["response"]["body"]["error"]["code"] == "pii_blocked"
    assert refused["id"] != ok["id"] and refused["id"].startswith("batch_req_")


class _Files:
    def __init__(self) -> None:
        self.written: dict[str, bytes] = {}

    def write_lines(self, tenant: str, purpose: str, name: str, lines: list[bytes], file_id: str) -> Any:
        self.written[file_id] = b"".join(line + b"\n" for line in lines)
        return type("Info", (), {"id": file_id})()


class _Auditor:
    def __init__(self) -> None:
        self.entries: list[tuple[str, str, dict[str, Any]]] = []

    def digest(self, tenant: str, value: str) -> str:
        return "d:" + value

    async def record(self, event: str, ctx: Any, decision: str, **fields: Any) -> int:
        self.entries.append((event, decision, fields))
        return len(self.entries)


def test_when_the_completion_window_has_ended_then_the_lines_left_expire_unrun_and_the_batch_is_expired() -> None:
    writer = Principal("k1", "acme", "svc", "writer", ("writer",), "api_key")
    job = Job("batch_1", "acme", "batch", "running", owner_of(writer), {"input_file_id": "file-1"}, 2, 1000.0, 9e9)
    files, auditor = _Files(), _Auditor()
    never = cast(Any, None)  # the models, policy and creator check are never reached
    kind = BatchKind(cast(Any, files), never, never, never, never, cast(Any, auditor), max_inputs=8,
                     clock=lambda: 1000.0 + WINDOW_S)
    lines = [(0, BatchLine("a", {"model": "m", "input": "x"})), (1, BatchLine("b", {"model": "m", "input": "y"}))]
    outcomes = asyncio.run(kind.run(job, lines))
    answers = [json.loads(o.payload) for o in outcomes]
    assert [o.ok for o in outcomes] == [False, False]
    assert [(a["custom_id"], a["response"], a["error"]["code"]) for a in answers] == [
        ("a", None, "batch_expired"), ("b", None, "batch_expired")]
    assert [f["lines"][0]["status"] for _, _, f in auditor.entries] == [504]
    result = asyncio.run(kind.finish(job, outcomes, "completed"))
    assert result["expired"] is True and result["error_file_id"] in files.written
    done = Job(**{**job.__dict__, "state": "completed", "finished_at": 1000.0 + WINDOW_S, "result": result})
    shown = batch_object(done, None)
    assert (shown["status"], shown["expired_at"], shown["completed_at"]) == ("expired", int(1000 + WINDOW_S), None)


class _NoRefusal:
    def refusal(self, principal: Principal) -> None:
        return None


def _quota_kind(monkeypatch: Any, retry_after: float | None, fail_times: int,
                refusal: type[RequestError] = RateLimited) -> tuple[BatchKind, list[float]]:
    """A kind whose embeddings use case refuses ``fail_times`` times (a quota's, or ``refusal`` with
    ``retry_after``), then answers."""
    calls: list[float] = []

    async def embed(req: Any, principal: Principal, **_: Any) -> Any:
        calls.append(time.monotonic())
        if len(calls) <= fail_times:
            if refusal is not RateLimited:
                raise refusal("a PII detection worker stopped while screening this batch", retry_after=retry_after)
            raise RateLimited("tokens_per_day quota of the key exceeded", param="tokens_per_day",
                              retry_after=retry_after)
        return type("Out", (), {"body": b"{\"object\":\"list\",\"data\":[]}", "audit": {}})()

    monkeypatch.setattr(batches, "embed", embed)
    monkeypatch.setattr(retrying, "WAITS_S", (0.05, 0.1, 0.2))
    kind = BatchKind(cast(Any, _Files()), cast(Any, None), cast(Any, None), cast(Any, None), cast(Any, None),
                     cast(Any, _Auditor()), max_inputs=8, clock=lambda: 1000.0)
    kind._creator = cast(Any, _NoRefusal())
    return kind, calls


def test_when_a_line_is_refused_by_a_spent_daily_quota_then_it_is_answered_at_once_without_retrying(
        monkeypatch: Any) -> None:
    kind, calls = _quota_kind(monkeypatch, retry_after=7200.0, fail_times=99)
    writer = Principal("k1", "acme", "svc", "writer", ("writer",), "api_key")
    job = Job("batch_1", "acme", "batch", "running", owner_of(writer), {"input_file_id": "file-1"}, 1, 1000.0, 9e9)
    began = time.monotonic()
    outcomes = asyncio.run(kind.run(job, [(0, BatchLine("a", {"model": "m", "input": "x"}))]))
    assert time.monotonic() - began < 0.3 and len(calls) == 1  # no wait: the retries would be 0.35 s
    answer = json.loads(outcomes[0].payload)
    response = answer["response"]
    assert (outcomes[0].ok, response["status_code"], response["body"]["error"]["code"]) == (False, 429, "rate_limited")


def test_when_a_line_is_refused_by_a_short_quota_wait_then_it_is_tried_again(monkeypatch: Any) -> None:
    kind, calls = _quota_kind(monkeypatch, retry_after=0.02, fail_times=2)
    writer = Principal("k1", "acme", "svc", "writer", ("writer",), "api_key")
    job = Job("batch_1", "acme", "batch", "running", owner_of(writer), {"input_file_id": "file-1"}, 1, 1000.0, 9e9)
    outcomes = asyncio.run(kind.run(job, [(0, BatchLine("a", {"model": "m", "input": "x"}))]))
    assert len(calls) == 3 and outcomes[0].ok
    assert calls[1] - calls[0] >= 0.05 and calls[2] - calls[1] >= 0.1  # the retry waits were kept


def test_when_a_lines_pii_worker_is_lost_then_the_line_is_tried_again_not_answered_503(monkeypatch: Any) -> None:
    kind, calls = _quota_kind(monkeypatch, retry_after=1.0, fail_times=2, refusal=Unavailable)
    writer = Principal("k1", "acme", "svc", "writer", ("writer",), "api_key")
    job = Job("batch_1", "acme", "batch", "running", owner_of(writer), {"input_file_id": "file-1"}, 1, 1000.0, 9e9)
    outcomes = asyncio.run(kind.run(job, [(0, BatchLine("a", {"model": "m", "input": "x"}))]))
    assert len(calls) == 3 and outcomes[0].ok


def test_when_a_lines_remote_engine_is_restarting_then_the_line_is_tried_again_not_answered_503(
        monkeypatch: Any) -> None:
    kind, calls = _quota_kind(monkeypatch, retry_after=10.0, fail_times=2, refusal=ModelUnavailable)
    writer = Principal("k1", "acme", "svc", "writer", ("writer",), "api_key")
    job = Job("batch_1", "acme", "batch", "running", owner_of(writer), {"input_file_id": "file-1"}, 1, 1000.0, 9e9)
    outcomes = asyncio.run(kind.run(job, [(0, BatchLine("a", {"model": "m", "input": "x"}))]))
    assert len(calls) == 3 and outcomes[0].ok


def test_when_a_line_is_refused_unavailable_without_retry_after_then_it_is_answered_at_once(monkeypatch: Any) -> None:
    kind, calls = _quota_kind(monkeypatch, retry_after=None, fail_times=9, refusal=Unavailable)
    writer = Principal("k1", "acme", "svc", "writer", ("writer",), "api_key")
    job = Job("batch_1", "acme", "batch", "running", owner_of(writer), {"input_file_id": "file-1"}, 1, 1000.0, 9e9)
    outcomes = asyncio.run(kind.run(job, [(0, BatchLine("a", {"model": "m", "input": "x"}))]))
    answer = json.loads(outcomes[0].payload)
    assert len(calls) == 1 and answer["response"]["status_code"] == 503
