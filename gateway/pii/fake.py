"""A regex detector with the real one's interface, for unit tests of other modules (no spaCy, no Presidio).

It reads the same detection view as the real detector, so evasion-folding is exercised in fast tests too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from gateway.errors import DetectionTooCostly
from gateway.pii.detector_types import Finding
from gateway.pii.normalize import detection_view
from gateway.policy.loader import GatewayPolicy, ScopePolicy

DEFAULT_PATTERNS: Mapping[str, str] = {
    "US_SSN": r"\b\d{3}[- .]\d{2}[- .]\d{4}\b",
    "CREDIT_CARD": r"\b(?:\d{4}[- ]?){3}\d{4}\b",
    "IBAN_CODE": r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b",
    "EMAIL_ADDRESS": r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b",
    "PHONE_NUMBER": r"(?<!\d)(?:\(\d{3}\) ?|\d{3}[-. ])\d{3}[-. ]\d{4}\b",
    "PERSON": r"\b(?:Alice|Bob|Carol|Dave|Eve|Mallory)(?: [A-Z][a-z]+)?\b",
}


class FakeDetector:
    """Deterministic regex detection (score ``score``) over the entity types each scope lists."""

    def __init__(self, patterns: Mapping[str, str] | None = None, score: float = 0.9) -> None:
        self._patterns = {k: re.compile(v) for k, v in (patterns or DEFAULT_PATTERNS).items()}
        self._score = score
        self.calls: list[int] = []  # batch sizes, so tests can check batching

    def rebuild(self, policy: GatewayPolicy) -> None:
        """Nothing to rebuild: the patterns do not depend on the policy (each scope lists its entity types)."""

    def close(self) -> None:
        """Nothing to release."""

    def analyze(
        self, texts: Sequence[str], scopes: Sequence[ScopePolicy], budget_s: float | None = None
    ) -> list[list[Finding]]:
        self.calls.append(len(texts))
        if budget_s is not None and budget_s <= 0:
            raise DetectionTooCostly("the detection budget is spent")
        out: list[list[Finding]] = []
        for text, scope in zip(texts, scopes, strict=True):
            view = detection_view(text)
            findings: list[Finding] = []
            for etype, pattern in self._patterns.items():
                if etype not in scope.entities:
                    continue
                for m in pattern.finditer(view.text):
                    start, end = view.to_canonical(m.start(), m.end())
                    findings.append(Finding(etype, start, end, self._score))
            out.append(sorted(findings, key=lambda f: (f.start, f.end)))
        return out
