"""Every audit event type the gateway emits, with its NIST AI RMF 1.0 and NIST AI 600-1 mapping.

One registry, mirrored row for row by the table in ``docs/nist-ai-rmf.md`` (a test keeps them equal), so
the report can say for each subcategory which recorded events are its evidence.

Every entry is a JSON object with at least: "v" (1), "time" (RFC 3339, UTC), "event" (a name below) and
"decision" (one of :data:`DECISIONS`); request entries add "tenant", "subject", "request_id", "key_id",
"role", "route" and "status". :data:`ENTRY_FIELDS` lists every field a reader (the report) relies on, with
the events that write it; ``docs/nist-ai-rmf.md`` mirrors it and a test checks both against what the
gateway writes. Entries never hold raw text or PII values.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

DECISIONS = ("allow", "deny", "block", "error")
REQUIRED_FIELDS = ("v", "time", "event", "tenant", "subject", "request_id", "decision")

DATA_PRIVACY = "Data Privacy"
INFORMATION_SECURITY = "Information Security"
GENAI_RISKS = (DATA_PRIVACY, INFORMATION_SECURITY)

# Short paraphrases of the NIST AI RMF 1.0 subcategories this gateway produces evidence for.
SUBCATEGORIES: MappingProxyType[str, str] = MappingProxyType(
    {
        "GOVERN 1.4": "Risk management is established through transparent policies, procedures and controls",
        "GOVERN 1.5": "Ongoing monitoring and periodic review of the risk management process",
        "GOVERN 1.6": "Mechanisms to inventory AI systems",
        "MAP 1.5": "Organizational risk tolerances are determined and documented",
        "MAP 4.1": "Legal and technology risks of components, including third-party models, are mapped",
        "MAP 4.2": "Internal risk controls for AI components are identified and documented",
        "MEASURE 2.1": "Test sets, metrics and tools used in TEVV are documented",
        "MEASURE 2.4": "Functionality and behavior of the system are monitored in production",
        "MEASURE 2.7": "Security and resilience are evaluated and documented",
        "MEASURE 2.8": "Transparency and accountability risks are examined and documented",
        "MEASURE 2.10": "Privacy risk is examined and documented",
        "MEASURE 2.13": "Effectiveness of the TEVV metrics and processes is evaluated",
        "MANAGE 1.3": "Responses to high-priority risks are developed, planned and documented",
        "MANAGE 2.4": "Mechanisms to supersede, disengage or deactivate AI systems",
        "MANAGE 3.2": "Pre-trained models are monitored as part of regular maintenance",
        "MANAGE 4.1": "Post-deployment monitoring, incident response, recovery and change management",
        "MANAGE 4.3": "Incidents and errors are tracked, responded to and communicated",
    }
)


@dataclass(frozen=True)
class EventType:
    """One audit event type: what it records and which outcomes it evidences."""

    name: str
    description: str
    subcategories: tuple[str, ...]
    genai_risks: tuple[str, ...] = ()


_DP, _IS = (DATA_PRIVACY,), (INFORMATION_SECURITY,)
_EVENTS = (
    EventType(
        "gateway.start",
        "The gateway started; records its version, the gateway and Casbin policy versions and the PII (spaCy) "
        "pipeline in force (the models in force: model.register)",
        ("GOVERN 1.6", "MAP 4.2", "MANAGE 4.1"),
    ),
    EventType("gateway.stop", "The gateway stopped (clean shutdown)", ("GOVERN 1.6", "MANAGE 4.1")),
    EventType(
        "privacy.protection_off",
        "The gateway started with vector_transform=identity: vectors leave and are stored without the keyed "
        "transform (an unsafe setting, for experiments)",
        ("GOVERN 1.6", "MEASURE 2.10", "MANAGE 1.3"),
        _DP,
    ),
    EventType(
        "policy.reload",
        "A policy version was loaded or refused: old and new versions (archived), what changed, per tenant",
        ("GOVERN 1.4", "GOVERN 1.5", "MAP 1.5", "MANAGE 1.3"),
    ),
    EventType(
        "auth.failure",
        "A missing, unknown, revoked or expired API key, a refused token, or a refused console sign-in (with why)",
        ("MEASURE 2.7", "MANAGE 4.3"),
        _IS,
    ),
    EventType(
        "auth.failure.aggregate",
        "Unauthenticated failures past the per-window burst, counted per route template and reason",
        ("MEASURE 2.7", "MANAGE 4.3"),
        _IS,
    ),
    EventType("authz.denied", "Casbin denied an authenticated caller the action", ("GOVERN 1.4", "MEASURE 2.7"), _IS),
    EventType("request.invalid", "A request was rejected as malformed or over a limit", ("MEASURE 2.4",)),
    EventType(
        "embeddings.create",
        "Text was embedded (or refused) after PII detection and policy decision",
        ("GOVERN 1.4", "MAP 4.2", "MEASURE 2.4", "MEASURE 2.10"),
        _DP,
    ),
    EventType(
        "pii.analyze",
        "Text was analyzed for PII without embedding; entity types and counts only",
        ("GOVERN 1.4", "MEASURE 2.10"),
        _DP,
    ),
    EventType(
        "collection.create",
        "A collection was created with its policy and model binding",
        ("GOVERN 1.6", "MAP 1.5"),
    ),
    EventType("collection.delete", "A collection and its vectors were deleted", ("GOVERN 1.6", "MANAGE 2.4"), _DP),
    EventType("collection.list", "A caller listed the collections of its tenant", ("MEASURE 2.8",)),
    EventType(
        "document.ingest",
        "Documents were embedded, protected, encrypted and stored",
        ("GOVERN 1.4", "MAP 4.2", "MEASURE 2.10"),
        _DP,
    ),
    EventType(
        "write.unfinished",
        "An earlier entry claimed a write (an ingest, a migration batch) that the store never committed: the "
        "process stopped between the two, and nothing was stored",
        ("MEASURE 2.8", "MANAGE 4.1"),
    ),
    EventType(
        "document.read",
        "A stored document (redacted text or metadata) was read",
        ("MEASURE 2.8", "MEASURE 2.10"),
        _DP,
    ),
    EventType("document.delete", "A stored document was deleted", ("MEASURE 2.10", "MANAGE 1.3"), _DP),
    EventType(
        "collection.search",
        "A collection was searched with a query vector kept inside the gateway",
        ("MEASURE 2.4", "MEASURE 2.10"),
        _DP,
    ),
    EventType(
        "crypto.integrity_failure",
        "A ciphertext failed authentication (tampered, moved or shredded)",
        ("MEASURE 2.7", "MANAGE 4.3"),
        _IS,
    ),
    EventType(
        "audit.witness_refused",
        "A witness refused to cosign an audit checkpoint; checkpoint signing is held until an operator acts",
        ("MEASURE 2.7", "MEASURE 2.8", "MANAGE 4.3"),
        _IS,
    ),
    EventType(
        "key.rotate",
        "The key-encryption key was rotated to a new version",
        ("MEASURE 2.7", "MANAGE 1.3"),
        _IS,
    ),
    EventType("key.rewrap", "A tenant data key was re-wrapped under the current key version", ("MEASURE 2.7",), _IS),
    EventType(
        "tenant.shred",
        "A tenant's data key was destroyed, crypto-shredding its data",
        ("MEASURE 2.10", "MANAGE 1.3", "MANAGE 2.4"),
        _DP,
    ),
    EventType(
        "retention.purge",
        "A retention sweep purged stored records past their policy's age (counts per collection, no contents)",
        ("GOVERN 1.4", "MEASURE 2.10", "MANAGE 1.3"),
        _DP,
    ),
    EventType("job.created", "A background job (a batch) was accepted, or refused before it ran (its input invalid)",
              ("GOVERN 1.4", "MEASURE 2.4")),
    EventType("job.resumed", "A runner took over a job after a stop or a crash, from its last durable item",
              ("MEASURE 2.4", "MANAGE 4.1")),
    EventType("job.cancelled", "A job was cancelled; the items answered before stay answered", ("MEASURE 2.4",)),
    EventType("job.completed", "A job answered all its items (counts of successes and failures)", ("MEASURE 2.4",)),
    EventType("job.read", "A caller read an ingest job's progress and result", ("MEASURE 2.8",)),
    EventType("job.cancel", "A caller asked an ingest job to stop", ("MEASURE 2.4",)),
    EventType("file.upload", "A file was uploaded for a batch, encrypted under the tenant's data key",
              ("GOVERN 1.4", "MEASURE 2.10"), _DP),
    EventType("file.read", "A caller read a file's description, content or the list of its tenant's files",
              ("MEASURE 2.8",)),
    EventType("file.delete", "A file was deleted", ("MEASURE 2.10", "MANAGE 1.3"), _DP),
    EventType("file.purge", "The retention sweep purged files and jobs past their expiry (counts, no contents)",
              ("MEASURE 2.10", "MANAGE 1.3"), _DP),
    EventType("batch.create", "A batch of embeddings requests was created from an uploaded file",
              ("GOVERN 1.4", "MEASURE 2.4")),
    EventType("batch.read", "A caller read a batch or the list of its tenant's batches", ("MEASURE 2.8",)),
    EventType("batch.cancel", "A caller asked a batch to stop", ("MEASURE 2.4",)),
    EventType(
        "batch.lines",
        "A group of a batch's lines was screened, decided, embedded and protected as the batch's creator: per line "
        "its custom_id digest, status and input digest, and the batch id (which batch a vector came from)",
        ("GOVERN 1.4", "MAP 4.2", "MEASURE 2.4", "MEASURE 2.10"),
        _DP,
    ),
    EventType(
        "apikey.create",
        "An API key was issued (its id and role, never the secret)",
        ("GOVERN 1.4", "MEASURE 2.7"),
        _IS,
    ),
    EventType("apikey.revoke", "An API key was revoked", ("MEASURE 2.7", "MANAGE 4.3"), _IS),
    EventType(
        "apikey.rotate",
        "An API key got a new secret; the previous one works until the grace window ends (never a secret)",
        ("MEASURE 2.7", "MANAGE 4.3"),
        _IS,
    ),
    EventType("audit.read", "The audit log, a checkpoint or a proof was read", ("GOVERN 1.5", "MEASURE 2.8")),
    EventType(
        "privacy.ledger.read",
        "A tenant's privacy spend ledger was read",
        ("MEASURE 2.8", "MEASURE 2.10"),
        _DP,
    ),
    EventType("usage.read", "A tenant's usage (tokens and requests per key, model and day) was read",
              ("GOVERN 1.5", "MEASURE 2.8")),
    EventType(
        "privacy.budget_exceeded",
        "A request was refused because the privacy budget is spent",
        ("MAP 1.5", "MEASURE 2.10", "MANAGE 1.3"),
        _DP,
    ),
    EventType(
        "privacy.ledger.accepted",
        "An operator accepted a privacy ledger holding fewer releases than the log recorded (deleted or rolled "
        "back); the tenant's spend counts from what it holds",
        ("MEASURE 2.10", "MANAGE 4.1"),
        _DP,
    ),
    EventType(
        "model.register",
        "A model was registered with its version and weight fingerprint",
        ("GOVERN 1.6", "MAP 4.1", "MANAGE 3.2"),
    ),
    EventType("model.retire", "A model version was retired from service", ("GOVERN 1.6", "MANAGE 2.4", "MANAGE 3.2")),
    EventType(
        "model.fingerprint_recorded",
        "A remote model's behavioural fingerprint was recorded at its engine's first answer",
        ("GOVERN 1.6", "MAP 4.1", "MANAGE 3.2"),
    ),
    EventType(
        "model.fingerprint_mismatch",
        "A remote model's engine no longer answers as the registered model; it is out of service",
        ("MEASURE 2.4", "MANAGE 3.2", "MANAGE 4.1"),
        _IS,
    ),
    EventType(
        "model.fingerprint_restored",
        "A remote model's engine answers as the registered model again; it is back in service",
        ("MANAGE 3.2", "MANAGE 4.1"),
    ),
    EventType("model.list", "A caller listed the models it may use (OpenAI-compatible /v1/models)", ("MAP 4.1",)),
    EventType(
        "collection.migrate",
        "A collection was re-embedded under a new model version",
        ("GOVERN 1.6", "MANAGE 3.2"),
    ),
    EventType(
        "drift.baseline",
        "An embedding drift baseline was recorded for a model",
        ("MEASURE 2.1", "MEASURE 2.13", "MANAGE 3.2"),
    ),
    EventType(
        "drift.alert",
        "Embedding drift exceeded its threshold",
        ("MEASURE 2.4", "MEASURE 2.13", "MANAGE 4.1", "MANAGE 4.3"),
    ),
    EventType("rate.limited", "A request was refused by a rate limit or a quota of its key or tenant",
              ("MEASURE 2.7", "MANAGE 1.3"), _IS),
    EventType(
        "overload.rejected",
        "A request was shed because the gateway was overloaded",
        ("MEASURE 2.7", "MANAGE 4.1"),
        _IS,
    ),
)

EVENT_TYPES: MappingProxyType[str, EventType] = MappingProxyType({e.name: e for e in _EVENTS})


def events_for(subcategory: str) -> tuple[str, ...]:
    """Names of the event types that are evidence for ``subcategory``."""
    return tuple(e.name for e in _EVENTS if subcategory in e.subcategories)


def events_for_risk(risk: str) -> tuple[str, ...]:
    """Names of the event types that bear on a NIST AI 600-1 risk."""
    return tuple(e.name for e in _EVENTS if risk in e.genai_risks)


def markdown_table() -> str:
    """The mapping as the Markdown table kept in ``docs/nist-ai-rmf.md``."""
    rows = ["| Event type | What it records | NIST AI RMF 1.0 | NIST AI 600-1 |", "|---|---|---|---|"]
    for e in _EVENTS:
        risks = ", ".join(e.genai_risks) or "-"
        rows.append(f"| `{e.name}` | {e.description} | {', '.join(e.subcategories)} | {risks} |")
    return "\n".join(rows) + "\n"


@dataclass(frozen=True)
class EntryField:
    """One field of an entry (dotted for a nested one) and the events that write it (empty: many)."""

    name: str
    meaning: str
    events: tuple[str, ...] = ()


_REQUESTS = ("embeddings.create", "document.ingest")
_FIELDS = (
    EntryField("v", "entry format version, 1"),
    EntryField("time", "RFC 3339 UTC time of the decision"),
    EntryField("event", "event type (the table above)"),
    EntryField("decision", "allow, deny, block or error"),
    EntryField("tenant", "tenant the request acted in; * or absent for a platform-wide event or an "
               "unauthenticated request (for a refused API key whose key id exists: that key's tenant)"),
    EntryField("subject", "the caller's subject: the name given when its API key was made (or the JWT subject), "
               "never the key id or secret"),
    EntryField("key_id", "public id of the caller's API key (for a failed authentication, of the key presented "
                         "when that key exists; an unknown key's id is the caller's own text and is not written)"),
    EntryField("role", "the caller's role"),
    EntryField("request_id", "request id, also returned to the caller in X-Request-Id"),
    EntryField("route", "method and matched route template of the request (never the path sent)"),
    EntryField("status", "HTTP status of the response"),
    EntryField("code", "error code of a refused request (e.g. pii_blocked, permission_denied, rate_limited); of a "
               "job's end: job_forgotten, tenant_shredded (a job of a tenant shredded by a shred that stopped before "
               "deleting it: ended failed at its next claim, its data deleted)"),
    EntryField("reason", "why a policy reload was refused; why an authentication failed: for an API key malformed "
               "key, unknown key, wrong secret, previous secret past its grace, revoked or expired, token without "
               "identity provider (the caller is told none of it), several credentials (more than one "
               "Authorization or X-API-Key header), invalid tenant: re-issue the key (a key made before tenant ids "
               "were lower case), for a token or a console sign-in the check that "
               "refused it; not_uploader: an input file's content asked by a caller other than its uploader "
               "(file.read, answered 404 as an unknown file)",
               ("policy.reload", "auth.failure", "file.read")),
    EntryField("claim", "the name of the claim a refused token lacked (reason missing_claim) or carried with an "
               "invalid value (reason invalid_claim: a tenant claim that is no valid tenant id, such as `ACME`); "
               "never the value", ("auth.failure",)),
    EntryField("limit", "{name, scope, value} of the quota a refused request hit: tokens_per_minute, tokens_per_day "
               "or requests_per_minute of the key or the tenant", ("rate.limited",)),
    EntryField("pii", "entity type to {count, action}; never values", ("embeddings.create", "document.ingest",
                                                                       "pii.analyze")),
    EntryField("model", "{name, version, fingerprint} of the model; a remote model's engine as {kind, hosts, model} "
               "(hosts only: never a credential, path or query)", ("embeddings.create", "document.ingest")),
    EntryField("observed_fingerprint", "the fingerprint a remote model's engine answered the probe with "
               "(dimension:N: vectors of another dimension than declared)", ("model.fingerprint_mismatch",)),
    EntryField("policy_version", "content hash of the gateway policy in force", ("embeddings.create",
                                                                                 "document.ingest")),
    EntryField("noise_sigma", "Gaussian noise sigma of the vectors released (or that would have been)", _REQUESTS),
    EntryField("privacy.scope", "the privacy ledger scope charged: embeddings, or for an ingest the collection, "
               "named by its digest (the entry's collection_digest)", _REQUESTS),
    EntryField("privacy.epsilon_worst_case", "the scope's formal epsilon after the request, L2 sensitivity 2",
               _REQUESTS),
    EntryField("privacy.epsilon_radius", "the scope's epsilon after the request for texts within the radius",
               _REQUESTS),
    EntryField("privacy.releases_new", "vectors released for the first time (repeats cost nothing)", _REQUESTS),
    EntryField("privacy.tenant_releases", "the tenant's distinct releases over all scopes after the request: a "
               "ledger found with fewer at a start is refused", _REQUESTS),
    EntryField("audited_releases", "the highest tenant_releases the log held for the tenant",
               ("privacy.ledger.accepted",)),
    EntryField("ledger_releases", "the releases the tenant's privacy ledger held when accepted",
               ("privacy.ledger.accepted",)),
    EntryField("documents", "per document: {id_digest, status (stored or blocked), chunks}", ("document.ingest",)),
    EntryField("count", "number of inputs, chunks or records the entry covers"),
    EntryField("completed", "{jobs, files} of the tenant deleted by a shred run again after it had stopped between "
               "destroying the keys and deleting the jobs (count is then 0)", ("tenant.shred",)),
    EntryField("dropped", "answers of a job's slice in flight dropped, never stored, because the job was deleted "
               "meanwhile (its tenant shredded; code job_forgotten)", ("job.cancelled",)),
    EntryField("tokens", "model tokens of the inputs embedded (usage.prompt_tokens), as usage and quotas count them",
               ("embeddings.create",)),
    EntryField("input_digest", "HMAC of the input under the tenant's key, not a hash of the raw text",
               ("embeddings.create",)),
    EntryField("what", "which read (audit.read) or which policy file (policy.reload: casbin or gateway)",
               ("audit.read", "policy.reload")),
    EntryField("kek_version", "the key-encryption key version made active", ("key.rotate", "key.rewrap")),
    EntryField("retired_kek_version", "a key-encryption key version retired", ("key.rotate",)),
    EntryField("old_version", "the policy version replaced (content hash)", ("policy.reload",)),
    EntryField("new_version", "the policy version put in force (content hash)", ("policy.reload",)),
    EntryField("changes", "what changed: entity actions, roles and rules added or removed, never values",
               ("policy.reload",)),
    EntryField("actor", "{user, host} of the operating-system account that ran a CLI action",
               ("apikey.create", "apikey.revoke", "apikey.rotate", "key.rotate", "key.rewrap", "tenant.shred",
                "usage.read", "privacy.ledger.accepted")),
)

ENTRY_FIELDS: MappingProxyType[str, EntryField] = MappingProxyType({f.name: f for f in _FIELDS})


def fields_table() -> str:
    """The field reference as the Markdown table kept in ``docs/nist-ai-rmf.md``."""
    rows = ["| Field | Meaning | Written by |", "|---|---|---|"]
    for f in _FIELDS:
        by = ", ".join(f"`{e}`" for e in f.events) or "many events"
        rows.append(f"| `{f.name}` | {f.meaning} | {by} |")
    return "\n".join(rows) + "\n"
