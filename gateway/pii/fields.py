"""What a caller stores besides text goes through the PII policy too: document ids, metadata keys and values,
collection names, the ``user`` field of ``/v1/embeddings``, and the Batch API's file names, ``metadata`` and
``custom_id``s (``docs/policy.md``, ``metadata_free_text``; ``docs/batch.md``).

* A document id, a metadata key or a collection name is a name, stored and shown to every reader: any finding that
  counts (any action but ``allow``) refuses the request with a 400 naming the field and the entity types.
* The embeddings ``user`` field is not stored, but OpenAI asks for an opaque id of the end user there, and a value
  with an address or a name in it says the client sends identities: refused like a name, so it never travels on.
* A metadata value in a field the scope lists as free text is decided like text: ``block`` blocks the document,
  ``redact``/``pseudonymize`` findings are replaced in the stored value.
* Any other metadata value is a label: any finding that counts blocks the document (a label is not half redacted).
* A document's metadata values are also read side by side (``gateway.pii.readings.joined_items``): an identifier
  split one group per value blocks the document.
* A number is screened as the digits it is written with (``4111111111111111`` is a card number whether it is sent
  as a string or as a JSON number), and is always a label: a number cannot be half redacted.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.errors import BadRequest
from gateway.pii.decide import Decision, EntityOutcome, decide
from gateway.pii.detector_types import Finding
from gateway.pii.normalize import normalize
from gateway.pii.readings import joined_items
from gateway.policy.loader import ScopePolicy

Detect = Callable[[Sequence[str], ScopePolicy], Awaitable[list[list[Finding]]]]


@dataclass
class FieldsVerdict:
    """One document's stored fields after screening."""

    metadata: dict[str, Any]
    blocked_types: list[str] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)  # for the document's PII summary (free text, blocks)


async def screen_name(detect: Detect, name: str, scope: ScopePolicy, param: str, what: str = "a name") -> None:
    """Refuse (400) a name that carries PII."""
    [findings] = await detect([normalize(name)], scope)
    _refuse_if_pii(normalize(name), findings, scope, param, _STORED.format(what=what))


async def screen_labels(detect: Detect, labels: dict[str, str], scope: ScopePolicy, param: str) -> None:
    """Refuse (400) string pairs (a batch's ``metadata``) whose key or value carries PII; a value is read with its
    key before it, as a document's metadata label is. Neither is echoed."""
    texts = [normalize(t) for key, value in labels.items() for t in (key, f"{key}: {value}")]
    for text, found in zip(texts, await detect(texts, scope) if texts else [], strict=True):
        _refuse_if_pii(text, found, scope, param, _STORED.format(what="a metadata key or value"))


async def pii_types(detect: Detect, texts: Sequence[str], scope: ScopePolicy, group: int = 256) -> list[list[str]]:
    """Per text, the entity types that count (any action but ``allow``): empty for a text free of PII.

    Short texts (a batch's custom_ids) are read ``group`` at a time, joined by a blank line into one text: one
    detection per group, not per text (creating a batch of 5,000 lines took 12.6 s on 2 cores with one detection per
    custom_id, 4.0 s in groups of 64, 2.9 s in groups of 256). A finding counts for
    each text it overlaps, so an identifier split across two of them counts for both."""
    normalized = [normalize(t) for t in texts]
    groups = [normalized[i:i + group] for i in range(0, len(normalized), group)]
    found = await detect([_JOIN.join(g) for g in groups], scope) if groups else []
    out: list[list[str]] = []
    for members, findings in zip(groups, found, strict=True):
        start = 0
        for text in members:
            end = start + len(text)
            mine = [replace(f, start=max(f.start, start) - start, end=min(f.end, end) - start)
                    for f in findings if f.start < end and f.end > start]
            out.append(_counted(text, mine, scope))
            start = end + len(_JOIN)
    return out


_JOIN = "\n\n"


async def screen_user(detect: Detect, user: str, scope: ScopePolicy) -> None:
    """Refuse (400) an embeddings ``user`` value that carries PII; the value is neither stored nor logged."""
    [findings] = await detect([normalize(user)], scope)
    _refuse_if_pii(normalize(user), findings, scope, "user",
                   "'user' identifies the end user to the gateway; send an opaque identifier (a hash or an id)")


async def screen_documents(
    detect: Detect, docs: Sequence[Any], scope: ScopePolicy, secret: bytes
) -> list[FieldsVerdict]:
    """Screen each document's id, metadata keys and metadata values, numbers included (see the module docstring)."""
    texts: list[str] = []
    where: list[tuple[int, str, str]] = []  # (document, kind, metadata key)
    for i, doc in enumerate(docs):
        texts.append(normalize(doc.id))
        where.append((i, "id", ""))
        for key, value in doc.metadata.items():
            texts.append(normalize(str(key)))
            where.append((i, "key", key))
            text = _screened_text(value)
            if text is not None:
                free = isinstance(value, str) and key in scope.metadata_free_text
                # A label is screened with its key before it, as a reader sees it: the key is the value's context
                # ({"ssn": "536904721"} is an SSN; the second outside attack stored it). Free text is decided alone,
                # since its redacted form is what gets stored.
                texts.append(normalize(text if free else f"{key}: {text}"))
                where.append((i, "value" if isinstance(value, str) else "number", key))
        # The values side by side, as a reader sees them: one group of an identifier per value is the identifier.
        joined = joined_items([normalize(t) for t in map(_screened_text, doc.metadata.values()) if t is not None])
        if joined is not None:
            texts.append(joined.text)
            where.append((i, "joined", ""))
    findings = await detect(texts, scope) if texts else []
    verdicts = [FieldsVerdict(dict(doc.metadata)) for doc in docs]
    for text, found, (i, kind, key) in zip(texts, findings, where, strict=True):
        if kind == "id":
            _refuse_if_pii(text, found, scope, f"documents[{i}].id", _STORED.format(what="a document id"))
            continue
        if kind == "key":
            _refuse_if_pii(text, found, scope, f"documents[{i}].metadata", _STORED.format(what="a metadata key"))
            continue
        decision = decide(text, found, scope, secret)
        verdict = verdicts[i]
        if not decision.entities or (kind == "joined" and not decision.blocked):
            continue
        if key in scope.metadata_free_text and kind == "value" and not decision.blocked:
            verdict.metadata[key] = decision.text
            verdict.decisions.append(decision)
            continue
        # A value that blocks its document: its entity types go into the document's PII summary as blocks, so the
        # header, the metrics and the audit entry say why (they said no PII at all). The values side by side are
        # counted only for types no single value already blocked on.
        types = decision.blocked_types if decision.blocked else tuple(decision.entities)
        new = [t for t in types if t not in verdict.blocked_types] if kind == "joined" else list(types)
        verdict.decisions.append(_blocking(decision, new))
        verdict.blocked_types.extend(t for t in types if t not in verdict.blocked_types)
    return verdicts


def _blocking(decision: Decision, types: Sequence[str]) -> Decision:
    """The summary of a label that blocks its document: its entity types of ``types``, each as a block."""
    entities = {t: EntityOutcome(decision.entities[t].count, "block") for t in types if t in decision.entities}
    return Decision(True, "", entities, tuple(entities))


def _screened_text(value: Any) -> str | None:
    """The text a metadata value is screened as; None for values that cannot carry an identifier."""
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        # 4.111111111111111e15 is the card number 4111111111111111: screen the integer it denotes.
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


_STORED = "{what} is stored and shown to every reader; use an opaque identifier"


def _counted(text: str, found: Sequence[Finding], scope: ScopePolicy) -> list[str]:
    decision = decide(text, found, scope, b"")
    return sorted(t for t, o in decision.entities.items() if o.action != "allow")


def _refuse_if_pii(text: str, found: Sequence[Finding], scope: ScopePolicy, param: str, why: str) -> None:
    counted = _counted(text, found, scope)
    if counted:  # the entity types, never the value
        raise BadRequest(f"{param} carries PII ({', '.join(counted)}): {why}", param=param)
