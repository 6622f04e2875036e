"""The real detector on the shipped policy (one Presidio instance per session; marked slow)."""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest

from gateway.pii.decide import decide
from gateway.pii.normalize import normalize
from gateway.policy.loader import GatewayPolicy, parse_policy

pytestmark = pytest.mark.slow
SECRET = b"test-secret"


def run(detector: Any, policy: GatewayPolicy, raw: str, tenant: str = "t", collection: str | None = None) -> Any:
    text = normalize(raw)
    scope = policy.scope(tenant, collection)
    return decide(text, detector.analyze([text], [scope])[0], scope, SECRET)


@pytest.mark.parametrize(
    ("raw", "blocked_type"),
    [
        ("My SSN is 078-05-1120", "US_SSN"),
        ("Please charge 4111 1111 1111 1111 today", "CREDIT_CARD"),
        ("Wire to GB82 WEST 1234 5698 7654 32 please", "IBAN_CODE"),
        ("My SSN is 078\u200b-05\u200c-1120", "US_SSN"),
        ("SSN \uff10\uff17\uff18-\uff10\uff15-\uff11\uff11\uff12\uff10", "US_SSN"),
        ("SSN \u0660\u0667\u0668-\u0660\u0665-\u0661\u0661\u0662\u0660", "US_SSN"),
        ("my number is 123 45 6789", "US_SSN"),
        ("my number is 123.45.6789", "US_SSN"),
        ("my ssn is 078-05-\n1120", "US_SSN"),
        ("ssn: 123456789", "US_SSN"),
        ("card 4111.1111.1111.1111", "CREDIT_CARD"),
    ],
)
def test_when_default_policy_sees_blocked_identifier_then_it_blocks(
    presidio: Any, shipped_policy: GatewayPolicy, raw: str, blocked_type: str
) -> None:
    decision = run(presidio, shipped_policy, raw)
    assert decision.blocked and blocked_type in decision.blocked_types


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Bob Smith lives in Ohio", "<PERSON> lives in Ohio"),
        ("Mail john.doe@example.com now", "Mail <EMAIL_ADDRESS> now"),
        ("Write to j\u043ehn@\u0435xample.com", "Write to <EMAIL_ADDRESS>"),
        ("Call me at (212) 555-0143 tomorrow", "Call me at <PHONE_NUMBER> tomorrow"),
    ],
)
def test_when_default_policy_sees_redactable_pii_then_it_redacts(
    presidio: Any, shipped_policy: GatewayPolicy, raw: str, expected: str
) -> None:
    decision = run(presidio, shipped_policy, raw)
    assert not decision.blocked and decision.text == expected


@pytest.mark.parametrize(
    "raw",
    [
        "The Q3 revenue grew 12% to $4.5M; invoice 2024-0042 was paid on 03/15/2024.",
        "Please review the attached report before the meeting on Monday.",
        "Order 482913 shipped from warehouse 3 on 2024-05-02.",
        "Release v2.14.3 fixes the ledger reconciliation bug.",
    ],
)
def test_when_text_is_pii_free_business_then_not_blocked(
    presidio: Any, shipped_policy: GatewayPolicy, raw: str
) -> None:
    decision = run(presidio, shipped_policy, raw)
    assert not decision.blocked and decision.text == normalize(raw)


def test_when_collection_pseudonymizes_then_doc_and_query_share_token(
    presidio: Any, shipped_policy: GatewayPolicy
) -> None:
    doc = run(presidio, shipped_policy, "Bob Smith approved the loan.", "example-corp", "hr-notes")
    query = run(presidio, shipped_policy, "What did Bob Smith approve?", "example-corp", "hr-notes")
    match = re.match(r"<PERSON [a-z]+ [a-z]+>", doc.text)
    assert match is not None and match.group(0) in query.text


def test_when_policy_adds_custom_recognizer_then_rebuild_detects_it(presidio: Any) -> None:
    policy = parse_policy(
        b"version: 1\ndefaults:\n  pii:\n    entities:\n      ACCOUNT_ID: block\n"
        b"recognizers:\n  - name: acct\n    entity: ACCOUNT_ID\n"
        b"    patterns: [{regex: '\\bAC\\d{8}\\b', score: 0.3}]\n    context: [account]\n"
    )
    from gateway.pii.detector import PresidioDetector

    detector = PresidioDetector(policy=policy)
    assert run(detector, policy, "account AC12345678 is frozen").blocked
    assert not run(detector, policy, "reference AC12345678 only").blocked  # 0.3 < 0.5 without context


def test_when_detecting_emails_then_no_network_connection_is_attempted(
    presidio: Any, shipped_policy: GatewayPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert run(presidio, shipped_policy, "reach me at someone@example.co.uk").text == "reach me at <EMAIL_ADDRESS>"


def test_when_batch_analyzed_then_results_align_with_inputs(presidio: Any, shipped_policy: GatewayPolicy) -> None:
    scope = shipped_policy.scope("t")
    texts = ["no pii here", "My SSN is 078-05-1120", "Bob Smith lives in Ohio"]
    found = presidio.analyze(texts, [scope] * 3)
    assert found[0] == [] and found[1][0].entity_type in {"US_SSN", "PHONE_NUMBER"}
    assert any(f.entity_type == "PERSON" for f in found[2])
