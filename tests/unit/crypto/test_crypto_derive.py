"""Per-tenant derivations, checked against an independent RFC 5869 HKDF written with the stdlib."""

from __future__ import annotations

import hashlib
import hmac
import struct

import pytest

from gateway.crypto import PURPOSES, SecretBytes, input_digest, tenant_secret

ROOT = SecretBytes(bytes(range(100, 132)))
SALT = b"governed-embedding-gateway/tenant-secret/v1"


def rfc5869_one_block(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def info(purpose: str, tenant: str) -> bytes:
    return b"".join(struct.pack(">I", len(p.encode())) + p.encode() for p in (purpose, tenant))


@pytest.mark.parametrize("purpose", sorted(PURPOSES))
def test_when_derived_then_it_is_hkdf_sha256_of_purpose_and_tenant(purpose: str) -> None:
    expected = rfc5869_one_block(ROOT.get_secret(), SALT, info(purpose, "acme"))
    assert tenant_secret(ROOT, "acme", purpose) == expected


def test_when_tenant_or_purpose_differs_then_secrets_differ() -> None:
    secrets = {tenant_secret(ROOT, tenant, purpose) for tenant in ("acme", "globex") for purpose in PURPOSES}
    assert len(secrets) == 2 * len(PURPOSES)


def test_when_purpose_is_unknown_or_tenant_empty_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown purpose"):
        tenant_secret(ROOT, "acme", "encryption")
    with pytest.raises(ValueError, match="tenant"):
        tenant_secret(ROOT, "", "noise")


def test_when_digesting_input_then_it_is_hex_hmac_under_the_tenant_secret() -> None:
    key = tenant_secret(ROOT, "acme", "input-digest")
    expected = hmac.new(key, "Grüße".encode(), hashlib.sha256).hexdigest()

    assert input_digest(ROOT, "acme", "Grüße") == expected
    assert input_digest(ROOT, "globex", "Grüße") != expected
