"""A document blocked for PII in a metadata label says which entity types blocked it (attack16, F7).

Before: ``{"metadata": {"ssn": "536-90-4721"}}`` blocked the document, but its PII summary was empty, so the
response said ``X-Gateway-PII: none``, the ``document.ingest`` entry (decision ``block``) had ``pii: {}`` and the
metrics counted nothing.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.pii.decide import pii_summary
from gateway.pii.detector_types import Finding
from gateway.pii.fields import screen_documents
from gateway.policy.loader import ScopePolicy, load_policy

_SSN = re.compile(r"\d{3}-\d{2}-\d{4}")
_EMAIL = re.compile(r"\w+@example\.com")


async def _detect(texts: Sequence[str], scope: ScopePolicy) -> list[list[Finding]]:
    return [[Finding("US_SSN", m.start(), m.end(), 0.85) for m in _SSN.finditer(t)]
            + [Finding("EMAIL_ADDRESS", m.start(), m.end(), 1.0) for m in _EMAIL.finditer(t)] for t in texts]


@dataclass
class _Doc:
    id: str
    metadata: dict[str, Any]


def _summary(metadata: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    scope = load_policy(Path("policy/gateway.yaml")).scope("acme")
    [verdict] = asyncio.run(screen_documents(_detect, [_Doc("d1", metadata)], scope, b"s" * 32))
    return verdict.blocked_types, pii_summary(verdict.decisions)


def test_when_a_label_holds_a_blocked_entity_then_the_summary_names_it_as_a_block() -> None:
    assert _summary({"ssn": "536-90-4721"}) == (["US_SSN"], {"US_SSN": {"count": 1, "action": "block"}})


def test_when_a_label_holds_a_redacted_entity_then_the_document_is_blocked_and_says_so() -> None:
    # a label cannot be half redacted: the e-mail blocks the document, and the summary says it did
    assert _summary({"owner": "jane@example.com"}) == (
        ["EMAIL_ADDRESS"], {"EMAIL_ADDRESS": {"count": 1, "action": "block"}})


def test_when_labels_hold_no_pii_then_the_summary_is_empty() -> None:
    assert _summary({"dept": "hr", "year": 2026}) == ([], {})
