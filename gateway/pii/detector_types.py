"""The detector's result type and interface, free of heavy imports so fakes and decide need no Presidio."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from gateway.policy.loader import GatewayPolicy, ScopePolicy


#: From this length on, a text is screened on its own lane, one text at a time, under the detection budget
#: (``gateway.pipeline.stages``), and its pattern entity types are analyzed one at a time (``gateway.pii.detector``).
LONG_TEXT = 4096


@dataclass
class DetectionSpend:
    """Seconds of detection one request has used on the long-text lane, against its budget."""

    seconds: float = 0.0


@dataclass(frozen=True)
class Finding:
    """One detected entity; offsets index the canonical text (never the detection view)."""

    entity_type: str
    start: int
    end: int
    score: float


class PIIDetector(Protocol):
    """Finds PII in canonical texts, batched; ``scopes[i]`` says which entity types matter for ``texts[i]``.

    ``budget_s``: raise ``gateway.errors.DetectionTooCostly`` rather than take longer than this (None: no bound).
    ``rebuild``: detect what a reloaded policy asks for from the next call on. ``close``: release what the detector
    holds (a pool's worker processes); the composition root calls it at shutdown."""

    def analyze(
        self, texts: Sequence[str], scopes: Sequence[ScopePolicy], budget_s: float | None = None
    ) -> list[list[Finding]]: ...

    def rebuild(self, policy: GatewayPolicy) -> None: ...

    def close(self) -> None: ...
