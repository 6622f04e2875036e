"""PII detection: the interface, a fake for tests, and the Presidio detector (offline, batched).

``PresidioDetector`` reads each text's detection view (see ``normalize``), runs spaCy NER only where the policy
needs it (by default only around capitalized words, and once per distinct sentence piece of a long text:
``ner_pieces``), runs Presidio's pattern recognizers with context
enhancement on the precomputed tokens, and reports every finding in canonical-text offsets.

Thread safety: the spaCy steps (NER, tokenizing) and ``rebuild`` serialize on an internal lock (spaCy pipelines
are not documented as thread-safe); the folding and Presidio's pattern recognizers run outside it, so a long text
screened on its own lane holds up the lane of short texts only for its spaCy steps. Call ``analyze`` with batches
from the micro-batcher rather than per request.

Cost: every stage is linear in the text (``tests/hardening/test_linear_time.py`` times each on adversarial
strings). ``analyze``'s ``budget_s`` bounds one call: it is checked between stages (and, for a long text, between
entity types), and a call past it raises ``DetectionTooCostly`` rather than keep the detector from everyone else.
It fails closed: a text that could not be screened in time is refused, never passed on unscreened.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from presidio_analyzer.nlp_engine import SpacyNlpEngine

from gateway.errors import DetectionTooCostly
from gateway.pii.detector_types import LONG_TEXT, Finding, PIIDetector
from gateway.pii.digit_bound import has_digit, needs_digit
from gateway.pii.fake import FakeDetector
from gateway.pii.ner import NER_SCORE, NerMode, run_ner
from gateway.pii.ner_pieces import ner_by_pieces
from gateway.pii.normalize import detection_view
from gateway.pii.readings import READING_ENTITIES, readings
from gateway.pii.recognizers import NER_ENTITIES, build_recognizers
from gateway.pii.spacy_pipeline import DEFAULT_SPACY_MODEL, pipeline_path
from gateway.pii.spacy_pipeline import load as load_pipeline
from gateway.pii.tokens import BisectContextEnhancer, Lemmas, TokenStarts, make_doc
from gateway.policy.loader import GatewayPolicy, ScopePolicy

__all__ = ["FakeDetector", "Finding", "PIIDetector", "PresidioDetector"]

# Texts whose NER runs in one hold of the spaCy lock. A light tenant's text, screened on the express worker
# (``express_batch_size``), waits for at most this many of a full batch's texts rather than all 32: on 2 busy
# cores its detection waited up to 60-120 ms for the whole batch (``bench/fairness.py``).
NER_LOCK_TEXTS = 8


@dataclass(frozen=True)
class _Engine:
    analyzer: Any  # presidio_analyzer.AnalyzerEngine, None when no pattern entity is needed
    nlp_engine: Any
    pattern_entities: frozenset[str]
    ner_entities: frozenset[str]
    digit_bound: frozenset[str]  # entity types no recognizer of which can find one in a text without a digit


class PresidioDetector:
    """Presidio + spaCy, offline; loads only the recognizers and spaCy components the policy needs."""

    def __init__(
        self,
        spacy_model: str = DEFAULT_SPACY_MODEL,
        *,
        policy: GatewayPolicy,
        ner_mode: NerMode = "windows",
        batch_size: int = 256,
    ) -> None:
        self._pipeline = pipeline_path(spacy_model)
        self._nlp = load_pipeline(self._pipeline)
        self._ner_mode = ner_mode
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._engine = self._build(policy)

    def _build(self, policy: GatewayPolicy) -> _Engine:
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

        wanted = policy.entity_types()
        ner_entities = frozenset(wanted & NER_ENTITIES)
        recognizers = build_recognizers(wanted - NER_ENTITIES, policy.recognizers, policy.phone_regions)
        context_words = frozenset(w.lower() for r in recognizers for w in (r.context or ()))
        nlp_engine = _ContextNlpEngine(
            context_words, models=[{"lang_code": "en", "model_name": str(self._pipeline)}]
        )
        nlp_engine.nlp = {"en": self._nlp}  # type: ignore[assignment]  # share the one loaded pipeline; Presidio only reads its vocab
        analyzer = None
        if recognizers:
            analyzer = AnalyzerEngine(
                registry=RecognizerRegistry(recognizers=recognizers, supported_languages=["en"]),
                nlp_engine=nlp_engine,
                supported_languages=["en"],
                # Whole words: Presidio's default substring match read "cc" in "accounts" and "ext" in "text".
                context_aware_enhancer=BisectContextEnhancer(
                    context_prefix_count=6, context_suffix_count=3, context_matching_mode="whole_word"
                ),
            )
        pattern_entities = frozenset(e for r in recognizers for e in r.supported_entities)
        digit_bound = frozenset(
            e for e in pattern_entities if all(needs_digit(r) for r in recognizers if e in r.supported_entities)
        )
        return _Engine(analyzer, nlp_engine, pattern_entities, ner_entities, digit_bound)

    def rebuild(self, policy: GatewayPolicy) -> None:
        """Swap in recognizers for a new policy (built outside the lock, swapped under it)."""
        engine = self._build(policy)
        with self._lock:
            self._engine = engine

    def close(self) -> None:
        """Nothing to release: the pipeline lives as long as the process."""

    def analyze(
        self, texts: Sequence[str], scopes: Sequence[ScopePolicy], budget_s: float | None = None
    ) -> list[list[Finding]]:
        """Findings per canonical text, batched through spaCy; offsets are canonical. ``budget_s`` bounds the
        call."""
        if len(texts) != len(scopes):
            raise ValueError("texts and scopes differ in length")
        return self._analyze(self._engine, texts, scopes, _Budget(budget_s))

    def _analyze(
        self, engine: _Engine, texts: Sequence[str], scopes: Sequence[ScopePolicy], budget: _Budget
    ) -> list[list[Finding]]:
        views = [detection_view(t) for t in texts]
        budget.check()
        ner_needed = [frozenset(s.entities) & engine.ner_entities for s in scopes]
        ner_index = [i for i, need in enumerate(ner_needed) if need]
        ner_found: dict[int, list[Finding]] = {}
        if ner_index:
            wanted = frozenset().union(*(ner_needed[i] for i in ner_index))
            entities = []
            for at in range(0, len(ner_index), NER_LOCK_TEXTS):  # the lock is taken for a few texts at a time
                with self._lock:
                    entities.extend(ner_by_pieces(
                        [views[i].text for i in ner_index[at : at + NER_LOCK_TEXTS]],
                        lambda pieces: run_ner(self._nlp, pieces, wanted, self._ner_mode, self._batch_size),
                    ))
            budget.check()
            for i, found in zip(ner_index, entities, strict=True):
                ner_found[i] = [
                    Finding(e.entity_type, e.start, e.end, NER_SCORE) for e in found if e.entity_type in ner_needed[i]
                ]
        out: list[list[Finding]] = []
        for i, (view, scope) in enumerate(zip(views, scopes, strict=True)):
            raw = list(ner_found.get(i, ()))
            pattern_types = [e for e in scope.entities if e in engine.pattern_entities]
            if pattern_types and engine.analyzer is not None:
                raw.extend(self._patterns(engine, view.text, pattern_types, budget))
                # Other readings (``gateway.pii.readings``), for the structured identifiers only.
                reading_types = [e for e in pattern_types if e in READING_ENTITIES]
                for reading in readings(view.text) if reading_types else ():
                    sought = [e for e in reading_types if e in reading.entities]
                    for f in self._patterns(engine, reading.text, sought, budget) if sought else ():
                        start, end = reading.to_view(f.start, f.end)
                        raw.append(Finding(f.entity_type, start, end, f.score))
            findings = []
            for f in raw:
                start, end = view.to_canonical(f.start, f.end)
                findings.append(Finding(f.entity_type, start, end, f.score))
            out.append(sorted(findings, key=lambda f: (f.start, f.end, f.entity_type)))
        return out


    def _patterns(self, engine: _Engine, text: str, entities: list[str], budget: _Budget) -> list[Finding]:
        """Presidio's pattern recognizers for ``entities`` on ``text`` (offsets in ``text``); a text without a digit
        skips the types that need one (``digit_bound``)."""
        from presidio_analyzer.nlp_engine import NlpArtifacts

        if not has_digit(text):
            entities = [e for e in entities if e not in engine.digit_bound]
            if not entities:
                return []

        with self._lock:
            doc = make_doc(self._nlp, text)
        artifacts = NlpArtifacts(
            entities=[],
            tokens=doc,
            tokens_indices=TokenStarts(doc),
            lemmas=Lemmas(t.lower_ for t in doc),  # no lemmatizer is loaded: lower-cased words stand in
            nlp_engine=engine.nlp_engine,
            language="en",
        )
        budget.check()
        # A long text one entity type at a time, so the budget is checked between the recognizers.
        groups = [[e] for e in entities] if len(text) >= LONG_TEXT else [entities]
        out: list[Finding] = []
        for group in groups:
            results = engine.analyzer.analyze(text=text, language="en", entities=group, nlp_artifacts=artifacts)
            out.extend(Finding(r.entity_type, r.start, r.end, float(r.score)) for r in results)
            budget.check()
        return out


class _ContextNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine, except that a recognizer's context word is never a stop word: Presidio looks for
    context only among the words that are not, and spaCy lists "call" ("call me at ...") as one."""

    def __init__(self, context_words: frozenset[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._context_words = context_words

    def is_stopword(self, word: str, language: str) -> bool:
        return word.lower() not in self._context_words and bool(super().is_stopword(word, language))


class _Budget:
    """A deadline for one ``analyze`` call; ``check`` raises ``DetectionTooCostly`` once it has passed."""

    def __init__(self, seconds: float | None) -> None:
        self._seconds = seconds
        self._deadline = time.monotonic() + seconds if seconds is not None else None

    def check(self) -> None:
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise DetectionTooCostly.within(self._seconds)
