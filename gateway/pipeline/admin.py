"""Tenant administration use cases: rotate the tenant's data key, crypto-shred the tenant.

Admins act on their own tenant only (the Casbin domain is the principal's tenant). Platform-wide KEK rotation is
``gateway keys rotate``. ``remote``: the key and record stores are across a network (PostgreSQL), so their writes
run off the event loop.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from gateway.auth.apikeys import Principal
from gateway.crypto.envelope import Envelope
from gateway.errors import BadRequest
from gateway.pipeline.offload import off_loop
from gateway.pipeline.outcome import Outcome
from gateway.privacy.accountant import PrivacyLedger
from gateway.store.base import Store


@dataclass(frozen=True)
class ShredRequest:
    confirm: object  # must be the caller's tenant: the caller says which tenant it means to destroy


def shredded_scope() -> str:
    """A privacy ledger scope label for a shredded collection: random, so it links to no name."""
    return f"shredded-{uuid.uuid4().hex[:16]}"


async def rotate_key(principal: Principal, *, envelope: Envelope, remote: bool) -> Outcome:
    version = await off_loop(remote, envelope.rotate_tenant, principal.tenant)
    return Outcome({"tenant": principal.tenant, "key_version": version}, {"key_version": version})


async def shred_tenant(req: ShredRequest, principal: Principal, *, store: Store, ledger: PrivacyLedger,
                       remote: bool, background: Callable[[str], dict[str, int]] | None = None) -> Outcome:
    tenant = principal.tenant
    if req.confirm != tenant:
        raise BadRequest(f"confirm by sending {{\"confirm\": \"{tenant}\"}}: this destroys every key of the tenant",
                         param="confirm")
    forgotten = await off_loop(remote, shred, store, ledger, tenant)
    if background is not None:  # its files and jobs, which no key opens now: every list of them failed
        await off_loop(remote, background, tenant)
    return Outcome({"tenant": tenant, "shredded": True, "chunks_forgotten": forgotten}, {"count": forgotten})


def shred(store: Store, ledger: PrivacyLedger, tenant: str) -> int:
    """Crypto-shred ``tenant`` (the chunks forgotten); the privacy ledger keeps its spend under unlinkable scope
    labels instead of the collection names (released vectors stay released)."""
    names = [c.name for c in store.list_collections(tenant)]
    forgotten = store.shred_tenant(tenant)
    for name in names:
        ledger.rename_scope(tenant, name, shredded_scope())
    return forgotten
