"""A 3-2-4 SSN with a stray blank inside a group (``536-90-47 21``): a reader puts it back together at once.

Before: the dashes in an SSN's places plus one blank inside a group fell to the weak "nine digits grouped otherwise"
pattern (0.3), which counts only beside "ssn" or "social security", so the number passed on its own.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.pii.decide import decide
from gateway.pii.normalize import normalize
from gateway.policy.loader import GatewayPolicy

pytestmark = pytest.mark.slow


def _findings(presidio: Any, policy: GatewayPolicy, text: str) -> tuple[str, Any]:
    canonical = normalize(text)
    return canonical, presidio.analyze([canonical], [policy.scope("acme")])[0]


@pytest.mark.parametrize("text", [
    "my number is 536-90-47 21", "my number is 536-9 0-4721", "my number is 53 6-90-4721", "536-90-472 1 please",
    "536.90.47 21", "536-90-47\u00a021", "536-90-47\u200921", "5 36-9 0-47 21",
])
def test_when_a_stray_blank_sits_inside_a_group_of_an_ssn_then_it_is_blocked_without_a_context_word(
    presidio: Any, shipped_policy: GatewayPolicy, text: str
) -> None:
    canonical, findings = _findings(presidio, shipped_policy, text)
    assert decide(canonical, findings, shipped_policy.scope("acme"), b"k").blocked


@pytest.mark.parametrize("text", ["call 536 90 47 21", "version 1.2-3 4", "room 12-34 5", "2024-05-06 12:30",
                                  "the code 536-904-721"])
def test_when_no_dashes_stand_in_an_ssns_places_then_the_stray_blank_rule_finds_nothing(
    presidio: Any, shipped_policy: GatewayPolicy, text: str
) -> None:
    _, findings = _findings(presidio, shipped_policy, text)
    assert not any(f.entity_type == "US_SSN" and f.score >= 0.5 for f in findings)
