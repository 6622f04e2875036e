"""Audit routes: checkpoints, entries and proofs for auditors; a consumer may prove its own receipts.

Reading the log is itself audited (``audit.read``). A tenant's auditor (or admin) reads its own tenant's
entries and the platform-wide ones (``audit.report_scope``); another tenant's entry comes back as its leaf
hash only, enough to recompute the root, never its content. A ``platform-auditor`` reads every entry.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

from litestar import Request, Response, get

from audit.checkpoint import parse_checkpoint
from audit.policy_archive import ArchiveTampered, NotArchived, parse_version
from audit.report_scope import TenantScope
from gateway.bootstrap import Services
from gateway.errors import BadRequest, Forbidden, NotFound, Unavailable
from gateway.http.audit_scope import scope_of
from gateway.http.guard import Call, Guard, Reply, governed

MAX_PAGE = 1000
WITNESS_WAIT_S = 10.0  # for the witnesses' cosignatures of a checkpoint signed just now
MAX_DIGITS = 15  # an index or size far beyond any log, still exact in canonical JSON
AUDITOR = Guard(event="audit.read", obj="audit", act="read")
RECEIPTS = Guard(event="audit.read", obj="receipts", act="read")


def _int_param(call: Call, name: str, default: int | None = None) -> int:
    raw = call.request.query_params.get(name)
    if raw is None:
        if default is None:
            raise BadRequest(f"query parameter '{name}' is required", param=name)
        return default
    # ASCII digits only: int() would also take '²'-free Unicode digits, '1_000', ' 7' and a sign.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= MAX_DIGITS):
        raise BadRequest(f"query parameter '{name}' must be a whole number of 1 to {MAX_DIGITS} digits 0-9",
                         param=name)
    return int(raw)


def _leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


async def _checkpoint(call: Call) -> Reply:
    note = call.services.audit_log.checkpoint_now()
    if call.services.witnesses is not None:  # published with the witnesses' cosignatures
        note = await asyncio.to_thread(call.services.witnesses.published, note, WITNESS_WAIT_S)
    return Reply(note.encode("utf-8"), media_type="text/plain; charset=utf-8", audit={"what": "checkpoint"})


async def _entries(call: Call) -> Reply:
    size = call.services.audit_log.size()
    start = _int_param(call, "start", 0)
    end = min(_int_param(call, "end", min(size, start + MAX_PAGE)), size)
    if start > end:
        raise BadRequest(f"'start' ({start}) is past 'end' ({end}); the log has {size} entries", param="start")
    if end - start > MAX_PAGE:
        raise BadRequest(f"at most {MAX_PAGE} entries per page", param="end")
    leaves = call.services.audit_log.entries(start, end)
    scope = _scope(call)
    shown: list[str | None] = []
    withheld: list[dict[str, Any]] = []
    for index, leaf in enumerate(leaves, start):
        if scope.sees_leaf(leaf):
            shown.append(base64.b64encode(leaf).decode("ascii"))
        else:
            shown.append(None)
            withheld.append({"index": index, "leaf_hash": _leaf_hash(leaf).hex()})
    return Reply(
        {"start": start, "end": end, "tree_size": size, "entries": shown, "withheld": withheld},
        audit={"what": "entries", "start": start, "end": end, "scope": _label(scope), "withheld": len(withheld)},
    )


def _signed_size(call: Call) -> int:
    """The size of the latest signed checkpoint: a proof at any other size matches no checkpoint."""
    latest = call.services.audit_log.latest_checkpoint()
    return 0 if latest is None else parse_checkpoint(latest).size


def _scope(call: Call) -> TenantScope:
    return scope_of(call.services.authorizer, call.principal)


def _label(scope: TenantScope) -> str:
    return "*" if scope.tenant is None else scope.tenant


def _may_see(call: Call, index: int) -> bool:
    """Auditors: their scope; a consumer (receipts only): its own tenant's entries."""
    if call.services.authorizer.allowed(call.principal, "audit", "read"):
        return _scope(call).sees_leaf(call.services.audit_log.entries(index, index + 1)[0])
    return bool(call.services.audit_log.entry_tenant(index) == call.principal.tenant)


async def _inclusion(call: Call) -> Reply:
    log = call.services.audit_log
    index = _int_param(call, "index")
    tree_size = _int_param(call, "tree_size", _signed_size(call))
    if tree_size > log.size() or index >= tree_size:
        raise NotFound(
            f"no entry {index} in a tree of {tree_size} entries (the log has {log.size()}; proofs default to the "
            "latest signed checkpoint's size: fetch /v1/audit/checkpoint, which signs one, then pass its size)"
        )
    if not _may_see(call, index):
        raise Forbidden("proofs are served only for entries of the caller's own tenant")
    leaf = log.entries(index, index + 1)[0]
    proof = log.inclusion_proof(index, tree_size)
    return Reply(
        {"index": index, "tree_size": tree_size, "leaf_hash": _leaf_hash(leaf).hex(),
         "entry": base64.b64encode(leaf).decode("ascii"), "proof": [p.hex() for p in proof]},
        audit={"what": "inclusion_proof", "index": index, "tree_size": tree_size},
    )


async def _consistency(call: Call) -> Reply:
    log = call.services.audit_log
    first = _int_param(call, "first")
    second = _int_param(call, "second", log.size())
    if not 0 < first <= second <= log.size():
        raise BadRequest(f"need 0 < first <= second <= {log.size()}", param="first")
    proof = log.consistency_proof(first, second)
    return Reply(
        {"first": first, "second": second, "proof": [p.hex() for p in proof]},
        audit={"what": "consistency_proof", "first": first, "second": second},
    )


async def _policy_text(call: Call) -> Reply:
    version = str(call.request.path_params["version"])
    try:
        parse_version(version)
    except ValueError as exc:
        raise BadRequest(str(exc), param="version") from None
    if _scope(call).tenant is not None:  # the text names every tenant's settings
        raise Forbidden("archived policy texts cover every tenant: a platform-auditor key reads them")
    versions = call.services.policy_versions
    if versions is None:
        raise NotFound(f"policy version {version} is not in the archive")
    try:
        text = versions.archive.get(version)
    except NotArchived as exc:
        raise NotFound(str(exc)) from None
    except ArchiveTampered as exc:
        raise Unavailable(str(exc)) from None
    return Reply(text, media_type="text/plain; charset=utf-8", audit={"what": "policy_text", "version": version})


@get("/v1/audit/checkpoint", summary="The latest signed checkpoint (signed note, text/plain)")
async def checkpoint(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, RECEIPTS, _checkpoint)


@get("/v1/audit/entries", summary="Audit entries [start, end) as base64 leaf bytes (auditors)")
async def entries(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, AUDITOR, _entries)


@get("/v1/audit/proofs/inclusion", summary="Inclusion proof of one entry (auditors, or a consumer's own receipt)")
async def inclusion(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, RECEIPTS, _inclusion)


@get("/v1/audit/proofs/consistency", summary="Consistency proof between two tree sizes")
async def consistency(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, RECEIPTS, _consistency)


@get("/v1/audit/policies/{version:str}", summary="The archived text of a policy version (platform auditors)")
async def policy_text(request: Request[Any, Any, Any], services: Services) -> Response[Any]:
    return await governed(request, services, AUDITOR, _policy_text)
