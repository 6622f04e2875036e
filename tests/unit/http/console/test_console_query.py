"""Filtering, paging and server-side proof checks over fake logs (no gateway)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from audit.canonical import canonical_json
from audit.checkpoint import sign_checkpoint
from audit.keys import generate_private_key
from audit.merkle import inclusion_proof, leaf_hash, list_subtree, root_from_leaf_hashes
from gateway.auditing.browse import Filters, find_page, parse_before, parse_filters
from gateway.auditing.evidence import inclusion, latest_checkpoint
from gateway.errors import BadRequest, Unavailable


def leaf(i: int, event: str = "embeddings.create", decision: str = "allow", tenant: str = "acme") -> bytes:
    entry = {"v": 1, "time": f"2025-01-01T00:{i // 60:02d}:{i % 60:02d}.000000Z", "event": event,
             "decision": decision, "tenant": tenant, "n": i}
    return canonical_json(entry)


class FakeLog:
    def __init__(self, leaves: list[bytes], corrupt_proofs: bool = False) -> None:
        self.leaves = leaves
        self.key = generate_private_key()
        self.corrupt = corrupt_proofs

    def size(self) -> int:
        return len(self.leaves)

    def entries(self, start: int, end: int) -> list[bytes]:
        return self.leaves[start:end]

    def checkpoint_now(self) -> str:
        root = root_from_leaf_hashes([leaf_hash(x) for x in self.leaves])
        return sign_checkpoint("test-origin", len(self.leaves), root, self.key, "test-key")

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        proof = inclusion_proof(index, tree_size, list_subtree([leaf_hash(x) for x in self.leaves[:tree_size]]))
        return [bytes(32), *proof[1:]] if self.corrupt else proof


def test_when_filters_select_a_few_then_pages_come_newest_first_with_a_cursor() -> None:
    log = FakeLog([leaf(i, decision="deny" if i % 10 == 0 else "allow") for i in range(100)])
    page = find_page(log, Filters(decision="deny"), page_size=3)
    assert [r.index for r in page.rows] == [90, 80, 70] and page.next_before == 70
    rest = find_page(log, Filters(decision="deny"), before=page.next_before, page_size=50)
    assert [r.index for r in rest.rows] == [60, 50, 40, 30, 20, 10, 0] and rest.next_before is None


def test_when_the_scan_budget_runs_out_then_the_page_says_where_to_continue() -> None:
    log = FakeLog([leaf(i) for i in range(100)])
    page = find_page(log, Filters(event="nothing.matches"), max_scan=30)
    assert page.rows == [] and page.scanned == 30 and page.next_before == 70


def test_when_a_time_range_is_given_then_bounds_are_inclusive_and_utc() -> None:
    log = FakeLog([leaf(i) for i in range(120)])
    f = parse_filters({"since": "2025-01-01T00:01", "until": "2025-01-01T00:01:05Z"})
    assert f.since == datetime(2025, 1, 1, 0, 1, tzinfo=UTC)
    assert [r.index for r in find_page(log, f).rows] == [65, 64, 63, 62, 61, 60]


def test_when_tenant_and_event_filter_then_both_must_hold() -> None:
    log = FakeLog([leaf(0, tenant="globex"), leaf(1, event="authz.denied"), leaf(2, event="authz.denied",
                                                                              tenant="globex")])
    rows = find_page(log, parse_filters({"event": "authz.denied", "tenant": "globex"})).rows
    assert [r.index for r in rows] == [2] and rows[0].entry["tenant"] == "globex"


@pytest.mark.parametrize("params", [{"decision": "perhaps"}, {"since": "last week"}, {"tenant": "x" * 200}])
def test_when_a_filter_is_malformed_then_bad_request_not_match_all(params: dict[str, str]) -> None:
    with pytest.raises(BadRequest):
        parse_filters(params)


def test_when_a_leaf_is_not_json_then_it_is_shown_as_unparseable_not_hidden() -> None:
    page = find_page(FakeLog([b"not json"]), Filters())
    assert page.rows[0].entry == {"unparseable": True}


def test_when_the_proof_holds_then_verified_and_when_it_is_corrupt_then_not() -> None:
    leaves = [leaf(i) for i in range(7)]
    good = FakeLog(leaves)
    ev = inclusion(good, 5, latest_checkpoint(good, good.key.public_key()))
    assert ev is not None and ev.verified and json.loads(ev.leaf)["n"] == 5
    bad = FakeLog(leaves, corrupt_proofs=True)
    ev_bad = inclusion(bad, 5, latest_checkpoint(bad, bad.key.public_key()))
    assert ev_bad is not None and not ev_bad.verified
    assert inclusion(good, 7, latest_checkpoint(good, good.key.public_key())) is None


def test_when_the_checkpoint_is_signed_by_another_key_then_the_console_refuses_to_present_it() -> None:
    log = FakeLog([leaf(0)])
    with pytest.raises(Unavailable, match="does NOT verify"):
        latest_checkpoint(log, generate_private_key().public_key())


def test_when_until_names_a_second_then_entries_within_that_second_match() -> None:
    leaves = [canonical_json({"v": 1, "time": "2025-01-01T00:01:05.750000Z", "event": "embeddings.create",
                              "decision": "allow", "tenant": "acme"})]
    assert [r.index for r in find_page(FakeLog(leaves), parse_filters({"until": "2025-01-01T00:01:05"})).rows] == [0]
    assert find_page(FakeLog(leaves), parse_filters({"until": "2025-01-01T00:01:04"})).rows == []
    # a bound given to the minute covers the whole minute (the old form cut "To 00:01" at 00:01:00)
    assert [r.index for r in find_page(FakeLog(leaves), parse_filters({"until": "2025-01-01T00:01"})).rows] == [0]


def test_when_subject_request_id_and_key_id_filter_then_each_must_hold() -> None:
    def entry(i: int, **fields: str) -> bytes:
        return canonical_json({"v": 1, "time": "2025-01-01T00:00:00Z", "event": "embeddings.create",
                               "decision": "allow", "tenant": "acme", "n": i, **fields})

    log = FakeLog([entry(0, subject="ann", request_id="r0", key_id="k0"), entry(1, subject="bob", request_id="r1",
                                                                                key_id="k1")])
    for name, value, want in (("subject", "bob", [1]), ("request_id", "r0", [0]), ("key_id", "k1", [1])):
        assert [r.index for r in find_page(log, parse_filters({name: value})).rows] == want, name


def test_when_audit_reads_are_excluded_then_the_auditors_own_views_do_not_fill_the_page() -> None:
    log = FakeLog([leaf(0), leaf(1, event="audit.read"), leaf(2, event="audit.read")])
    assert [r.index for r in find_page(log, parse_filters({"exclude_event": "audit.read"})).rows] == [0]


@pytest.mark.parametrize("params", [{"subjct": "ann"}, {"tenant": "acme", "x": "1"}, {"event": "no.such.event"},
                                    {"since": "2025-01-02T00:00", "until": "2025-01-01T00:00"}])
def test_when_a_filter_name_or_value_is_unknown_then_bad_request(params: dict[str, str]) -> None:
    with pytest.raises(BadRequest):
        parse_filters(params)


@pytest.mark.parametrize("raw", ["1" * 27, "\u00b2", "-1", "1.0", " 5", "\u0661"])
def test_when_the_cursor_is_not_a_short_ascii_number_then_bad_request(raw: str) -> None:
    with pytest.raises(BadRequest):
        parse_before(raw)


@pytest.mark.parametrize("until", ["2025-01-01T00:01", "2025-01-01T00:01:05", "2025-01-01T00:01:05.250000",
                                   "2025-01-01"])
def test_when_the_next_page_link_carries_until_then_it_covers_the_same_range(until: str) -> None:
    first = parse_filters({"until": until})
    again = parse_filters({"until": first.as_query()["until"]})
    assert again.until_end == first.until_end
