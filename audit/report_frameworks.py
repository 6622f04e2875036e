"""The frameworks a report maps the log to: NIST AI RMF 1.0, EU AI Act Art. 12/19, ISO/IEC 42001 A.6.2.8.

Each framework is a list of controls (subcategory, article paragraph, Annex A control), each with the event
types and report sections that are its evidence, and the framework's controls this gateway produces no evidence
for, which the report lists as not covered rather than leaving out. Titles are short paraphrases.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from audit.events import EVENT_TYPES, SUBCATEGORIES, events_for

# The aggregate sections most telling for each NIST subcategory, beyond its mapped events' counts.
NIST_HIGHLIGHTS: dict[str, tuple[str, ...]] = {
    "GOVERN 1.4": ("policy_timeline", "by_decision"),
    "GOVERN 1.5": ("verification",),
    "GOVERN 1.6": ("models",),
    "MAP 1.5": ("policy_timeline", "noise"),
    "MAP 4.1": ("models",),
    "MAP 4.2": ("pii", "noise"),
    "MEASURE 2.1": ("models",),
    "MEASURE 2.4": ("by_decision", "denials"),
    "MEASURE 2.7": ("denials", "keys"),
    "MEASURE 2.8": ("verification",),
    "MEASURE 2.10": ("pii", "noise", "privacy", "ingest"),
    "MEASURE 2.13": ("models",),
    "MANAGE 1.3": ("denial_codes", "keys"),
    "MANAGE 2.4": ("keys", "models"),
    "MANAGE 3.2": ("models",),
    "MANAGE 4.1": ("denials",),
    "MANAGE 4.3": ("denials", "denial_codes"),
}

# Every subcategory of NIST AI RMF 1.0 (NIST AI 100-1, January 2023): 72 in all.
NIST_ALL = tuple(
    f"{fn} {cat}.{sub}"
    for fn, cats in (
        ("GOVERN", (7, 3, 2, 3, 2, 2)), ("MAP", (6, 3, 5, 2, 2)), ("MEASURE", (3, 13, 3, 3)), ("MANAGE", (4, 4, 2, 3)),
    )
    for cat, count in enumerate(cats, start=1)
    for sub in range(1, count + 1)
)
_ALL_EVENTS = tuple(EVENT_TYPES)
_RISK_EVENTS = ("authz.denied", "auth.failure", "crypto.integrity_failure", "drift.alert", "embeddings.create",
                "document.ingest", "policy.reload", "privacy.budget_exceeded", "model.register", "model.retire")


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    events: tuple[str, ...]
    sections: tuple[str, ...] = ()


@dataclass(frozen=True)
class Framework:
    key: str
    name: str
    controls: tuple[Control, ...]
    not_covered: tuple[str, ...]


def _nist() -> Framework:
    controls = tuple(Control(sid, title, events_for(sid), NIST_HIGHLIGHTS.get(sid, ()))
                     for sid, title in SUBCATEGORIES.items())
    return Framework("nist-ai-rmf", "NIST AI RMF 1.0", controls, tuple(s for s in NIST_ALL if s not in SUBCATEGORIES))


_EU = Framework("eu-ai-act", "EU AI Act (Regulation (EU) 2024/1689), Articles 12 and 19", (
    Control("Art. 12(1)", "Automatic recording of events (logs) over the lifetime of the system", _ALL_EVENTS,
            ("verification", "timeline")),
    Control("Art. 12(2)(a)", "Logs identify situations that may result in a risk or a substantial modification",
            _RISK_EVENTS, ("denials", "denial_codes", "policy_timeline")),
    Control("Art. 12(2)(b)", "Logs facilitate post-market monitoring",
            ("embeddings.create", "document.ingest", "collection.search", "drift.baseline", "drift.alert"),
            ("by_decision", "timeline")),
    Control("Art. 12(2)(c)", "Logs allow the operation of the system to be monitored",
            ("gateway.start", "gateway.stop", "overload.rejected", "rate.limited", "model.register", "model.retire"),
            ("models",)),
    Control("Art. 19(1)", "Automatically generated logs are kept (at least six months) under the provider's control",
            _ALL_EVENTS, ("verification", "retention")),
), ("Art. 12(3) (remote biometric identification systems)", "Art. 19(2) (financial institutions' record-keeping)"))

_ISO = Framework("iso-42001", "ISO/IEC 42001:2023 Annex A", (
    Control("A.6.2.8", "AI system recording of event logs", _ALL_EVENTS, ("verification", "timeline", "retention")),
), tuple(f"A.6.2.{n}" for n in range(2, 8)))

FRAMEWORKS: MappingProxyType[str, Framework] = MappingProxyType({f.key: f for f in (_nist(), _EU, _ISO)})
