"""``pii_types`` reads short texts (a batch's custom_ids) a group at a time: each finding is its own text's."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from gateway.pii.detector_types import Finding
from gateway.pii.fields import pii_types
from gateway.policy.loader import EntityRule, ScopePolicy

SCOPE = ScopePolicy(entities={"US_SSN": EntityRule("block", 0.5), "PERSON": EntityRule("allow", 0.5)})


async def _ssn_detect(texts: Sequence[str], scope: ScopePolicy) -> list[list[Finding]]:
    calls.append(len(texts))
    return [[Finding("US_SSN", m.start(), m.end(), 0.9) for m in re.finditer(r"\d{3}-\d{2}-\d{4}", t)]
            + [Finding("PERSON", m.start(), m.end(), 0.9) for m in re.finditer(r"Alice", t)] for t in texts]


calls: list[int] = []


def test_when_custom_ids_are_read_in_groups_then_each_finding_counts_for_its_own_id_only() -> None:
    ids = [f"req-{n}" for n in range(150)]
    ids[3], ids[70], ids[149], ids[5] = "emp-078-05-1120", "078-05-1120", "x078-05-1120", "Alice"
    calls.clear()
    found = asyncio.run(pii_types(_ssn_detect, ids, SCOPE, group=64))
    assert calls == [3]  # 150 ids: three texts in one detection request
    assert [i for i, types in enumerate(found) if types] == [3, 70, 149]  # PERSON is allowed: it does not count
    assert found[3] == ["US_SSN"]
