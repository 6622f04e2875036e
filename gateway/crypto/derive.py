"""Per-tenant secrets derived from the one HMAC root key (``hmac.key``).

Each (tenant, purpose) pair gets its own 32-byte key through HKDF-SHA256 (RFC 5869), so a secret leaked
for one purpose (say, the noise PRF of tenant A) says nothing about another
(A's input digests, or tenant B's noise).
Deterministic on purpose: the same text must give the same digest and the same noise after a restart.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.crypto._encoding import length_prefixed
from gateway.crypto.secrets import SecretBytes

PURPOSES = frozenset({"input-digest", "noise", "pseudonym", "transform", "ledger-check"})
SECRET_BYTES = 32
# A fixed salt separates this use of the root key from any other; changing it changes every derived secret.
_SALT = b"governed-embedding-gateway/tenant-secret/v1"


def tenant_secret(root: SecretBytes, tenant: str, purpose: str) -> bytes:
    """The 32-byte secret of ``tenant`` for ``purpose`` (one of ``PURPOSES``)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}; expected one of {sorted(PURPOSES)}")
    if not tenant:
        raise ValueError("tenant must not be empty")
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=SECRET_BYTES, salt=_SALT, info=length_prefixed(purpose, tenant)
    )
    return hkdf.derive(root.get_secret())


def input_digest(root: SecretBytes, tenant: str, text: str) -> str:
    """Hex HMAC-SHA256 of ``text`` under the tenant's input-digest secret: what audit and provenance record.

    Keyed, so that a digest in the audit log cannot be confirmed by hashing guessed texts without the key, and
    per tenant, so that equal texts of two tenants cannot be linked.
    """
    key = tenant_secret(root, tenant, "input-digest")
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()
