"""Use cases of the audit API (``/v1/audit``) and of the console's log pages, over the audit backend.

Each takes what its handler parsed (and the caller's scope, ``audit.report_scope.TenantScope``) and returns the
response data with the fields of the route's ``audit.read`` entry. Reads of the log go through ``AuditReader``
(off the event loop on PostgreSQL); the console's heavier work (scanning entries backwards, verifying the
whole log for a report, waiting for witnesses) runs on a worker thread. Another tenant's entry is shown as its
RFC 9162 leaf hash only (``audit.merkle.leaf_hash``), enough to recompute the root, never its content.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from audit.backend import AuditLogBackend
from audit.checkpoint import parse_checkpoint
from audit.keys import Ed25519PublicKey
from audit.merkle import leaf_hash
from audit.policy_archive import ArchiveTampered, NotArchived, parse_version
from audit.report_csv import render_csv
from audit.report_html import render_html
from audit.report_scope import ReportScope, TenantScope
from gateway.auditing import browse, evidence
from gateway.auditing.evidence import InclusionEvidence, SignedCheckpoint
from gateway.auditing.reader import AuditReader
from gateway.errors import BadRequest, Forbidden, NotFound, Unavailable
from gateway.policy.changes import PolicyVersions
from gateway.witnessing.publisher import WitnessPublisher

MAX_PAGE = 1000
WITNESS_WAIT_S = 10.0  # for the witnesses' cosignatures of a checkpoint signed just now


@dataclass(frozen=True)
class AuditRead:
    """A use case's answer: the response data (a JSON object, or a text) and its audit entry's fields."""

    content: Any
    audit: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InclusionRequest:
    index: int
    tree_size: int | None  # None: the latest signed checkpoint's size
    scope: TenantScope
    auditor: bool  # granted ``audit read``; otherwise a consumer asking for its own tenant's receipt
    tenant: str


@dataclass(frozen=True)
class EntriesPage:
    page: browse.Page
    audit: dict[str, Any]


@dataclass(frozen=True)
class Receipt:
    evidence: InclusionEvidence
    entry: dict[str, Any]
    signed: SignedCheckpoint
    cosigned: dict[str, Any]
    audit: dict[str, Any]


@dataclass(frozen=True)
class SignedView:
    signed: SignedCheckpoint
    audit: dict[str, Any]


class AuditQueries:
    def __init__(self, log: AuditLogBackend, *, remote: bool, public_key: Ed25519PublicKey,
                 witnesses: WitnessPublisher | None, versions: PolicyVersions | None,
                 digest: Callable[[str | None, str], str], reports: asyncio.Semaphore | None = None) -> None:
        """``reports``: held while a report is built (it verifies the whole log in a worker thread), shared by the
        process's queries: 12 reports at once took every thread ``asyncio.to_thread`` has, and other tenants'
        requests waited for one (a file listing 0.01 s, then 1.7 s, up to 8.6 s)."""
        self._reports = reports if reports is not None else asyncio.Semaphore(1)
        self._log = log
        self._digest = digest  # the auditor's keyed digest of a caller-chosen id, per tenant
        self._reader = AuditReader(log, remote=remote)
        self._public_key = public_key
        self._witnesses = witnesses
        self._versions = versions

    # ---- the API ------------------------------------------------------------------------------------------
    async def checkpoint(self) -> AuditRead:
        """The latest signed checkpoint note, with the witnesses' cosignatures where there are witnesses."""
        note = await self._reader.checkpoint_now()
        if self._witnesses is not None:
            note = await asyncio.to_thread(self._witnesses.published, note, WITNESS_WAIT_S)
        return AuditRead(note, {"what": "checkpoint"})

    async def entries(self, scope: TenantScope, start: int | None, end: int | None) -> AuditRead:
        """Entries [start, end) (at most ``MAX_PAGE``); those outside ``scope`` as their leaf hash only."""
        size = await self._reader.size()
        start = 0 if start is None else start
        end = min(min(size, start + MAX_PAGE) if end is None else end, size)
        if start > end:
            raise BadRequest(f"'start' ({start}) is past 'end' ({end}); the log has {size} entries", param="start")
        if end - start > MAX_PAGE:
            raise BadRequest(f"at most {MAX_PAGE} entries per page", param="end")
        shown: list[str | None] = []
        withheld: list[dict[str, Any]] = []
        for index, leaf in enumerate(await self._reader.entries(start, end), start):
            if scope.sees_leaf(leaf):
                shown.append(base64.b64encode(leaf).decode("ascii"))
            else:
                shown.append(None)
                withheld.append({"index": index, "leaf_hash": leaf_hash(leaf).hex()})
        return AuditRead(
            {"start": start, "end": end, "tree_size": size, "entries": shown, "withheld": withheld},
            {"what": "entries", "start": start, "end": end, "scope": _label(scope), "withheld": len(withheld)},
        )

    async def inclusion(self, request: InclusionRequest) -> AuditRead:
        """One entry's audit path; a proof at a size other than a signed checkpoint's matches none."""
        index = request.index
        tree_size = await self._signed_size() if request.tree_size is None else request.tree_size
        size = await self._reader.size()
        if tree_size > size or index >= tree_size:
            raise NotFound(
                f"no entry {index} in a tree of {tree_size} entries (the log has {size}; proofs default to the "
                "latest signed checkpoint's size: fetch /v1/audit/checkpoint, which signs one, then pass its size)"
            )
        if not await self._may_see(request):
            raise Forbidden("proofs are served only for entries of the caller's own tenant")
        leaf = (await self._reader.entries(index, index + 1))[0]
        proof = await self._reader.inclusion_proof(index, tree_size)
        return AuditRead(
            {"index": index, "tree_size": tree_size, "leaf_hash": leaf_hash(leaf).hex(),
             "entry": base64.b64encode(leaf).decode("ascii"), "proof": [p.hex() for p in proof]},
            {"what": "inclusion_proof", "index": index, "tree_size": tree_size},
        )

    async def consistency(self, first: int, second: int | None) -> AuditRead:
        """Proof that the tree of ``second`` entries (all by default) extends the tree of ``first``."""
        size = await self._reader.size()
        second = size if second is None else second
        if not 0 < first <= second <= size:
            raise BadRequest(f"need 0 < first <= second <= {size}", param="first")
        proof = await self._reader.consistency_proof(first, second)
        return AuditRead({"first": first, "second": second, "proof": [p.hex() for p in proof]},
                         {"what": "consistency_proof", "first": first, "second": second})

    async def policy_text(self, scope: TenantScope, version: str) -> AuditRead:
        """The archived text of a policy version: every tenant's settings, so for platform auditors only."""
        try:
            parse_version(version)
        except ValueError as exc:
            raise BadRequest(str(exc), param="version") from None
        if scope.tenant is not None:
            raise Forbidden("archived policy texts cover every tenant: a platform-auditor key reads them")
        if self._versions is None:
            raise NotFound(f"policy version {version} is not in the archive")
        try:
            text = self._versions.archive.get(version)
        except NotArchived as exc:
            raise NotFound(str(exc)) from None
        except ArchiveTampered as exc:
            raise Unavailable(str(exc)) from None
        return AuditRead(text, {"what": "policy_text", "version": version})

    async def _signed_size(self) -> int:
        latest = await self._reader.latest_checkpoint()
        return 0 if latest is None else parse_checkpoint(latest).size

    async def _may_see(self, request: InclusionRequest) -> bool:
        """Auditors: their scope; a consumer (receipts only): its own tenant's entries."""
        if request.auditor:
            return request.scope.sees_leaf((await self._reader.entries(request.index, request.index + 1))[0])
        return await self._reader.entry_tenant(request.index) == request.tenant

    # ---- the console --------------------------------------------------------------------------------------
    async def browse(self, filters: browse.Filters, before: int | None, scope: TenantScope,
                     reader_tenant: str) -> EntriesPage:
        """One page of matching entries the scope sees, newest first, from the cursor ``before``; the entry of this
        read names the id filters as the reader's tenant's keyed digests, never as typed."""
        page = await asyncio.to_thread(browse.find_page, self._log, filters, before, scope=scope)
        cursor = None if before is None else min(before, page.tree_size)
        as_audit = filters.as_audit(lambda value: self._digest(reader_tenant, value))
        return EntriesPage(page, {"what": "console.entries", "returned": len(page.rows), "before": cursor,
                                  "filters": as_audit or None, "scope": scope.tenant or "*"})

    async def signed_checkpoint(self) -> SignedView:
        signed = await self._signed()
        return SignedView(signed, {"what": "console.checkpoint", "tree_size": signed.checkpoint.size})

    async def receipt(self, index: int, scope: TenantScope) -> Receipt:
        """What ``gateway-audit prove`` checks, for one entry the scope may read, verified here."""
        signed = await self._signed()
        ev = await asyncio.to_thread(evidence.inclusion, self._log, index, signed)
        if ev is None:
            raise NotFound(f"no entry #{index} in the signed tree of {signed.checkpoint.size} entries")
        if not scope.sees_leaf(ev.leaf):
            raise Forbidden(f"entry #{index} belongs to another tenant; your key reads its own tenant's entries")
        cosigned = evidence.witnessing(signed, [] if self._witnesses is None else self._witnesses.keys)
        return Receipt(ev, browse.parse_entry(ev.leaf), signed, cosigned,
                       {"what": "console.inclusion_proof", "index": index, "tree_size": signed.checkpoint.size,
                        "verified": ev.verified, "cosigned_by": len(cosigned["cosigned"])})

    async def report(self, scope: ReportScope, framework: str, fmt: str) -> AuditRead:
        """The evidence report over the verified log, rendered as ``fmt`` (json, csv or html)."""
        async with self._reports:  # the others wait here, on the event loop, not in a worker thread
            report = await asyncio.to_thread(evidence.report, self._log, self._public_key, scope, framework)
        if fmt == "json":
            body = json.dumps(report, indent=2, sort_keys=True) + "\n"
        elif fmt == "csv":
            body = render_csv(report)
        else:
            body = render_html(report)
        return AuditRead(body, {"what": f"console.report.{fmt}", "entries": report["summary"].get("entries", 0),
                                "verification": report["verification"]["status"], "framework": framework,
                                "scope": scope.tenant or "*"})

    async def _signed(self) -> SignedCheckpoint:
        return await asyncio.to_thread(evidence.latest_checkpoint, self._log, self._public_key, self._publish())

    def _publish(self) -> Callable[[str], str] | None:
        """The witnesses' cosignatures added to a checkpoint, as the checkpoint route serves it (None without)."""
        witnesses = self._witnesses
        return None if witnesses is None else lambda note: witnesses.published(note, WITNESS_WAIT_S)


def _label(scope: TenantScope) -> str:
    return "*" if scope.tenant is None else scope.tenant
