"""The detector's result type and interface, free of heavy imports so fakes and decide need no Presidio."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from gateway.policyfile import ScopePolicy


@dataclass(frozen=True)
class Finding:
    """One detected entity; offsets index the canonical text (never the detection view)."""

    entity_type: str
    start: int
    end: int
    score: float


class PIIDetector(Protocol):
    """Finds PII in canonical texts, batched; ``scopes[i]`` says which entity types matter for ``texts[i]``."""

    def analyze(self, texts: Sequence[str], scopes: Sequence[ScopePolicy]) -> list[list[Finding]]: ...
