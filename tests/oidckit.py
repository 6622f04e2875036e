"""Minting tokens for the OIDC tests: local key pairs, their JWKS, and signed (or deliberately broken) JWTs."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

ISSUER = "https://idp.example.test/"
AUDIENCE = "embedding-gateway"


@dataclass
class Signer:
    """One signing key of the test provider: ``alg`` RS256, ES256 or EdDSA."""

    alg: str
    kid: str
    key: Any = field(init=False)

    def __post_init__(self) -> None:
        if self.alg == "RS256":
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif self.alg == "ES256":
            self.key = ec.generate_private_key(ec.SECP256R1())
        else:
            self.key = ed25519.Ed25519PrivateKey.generate()

    def jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.alg)
        doc: dict[str, Any] = json.loads(algorithm.to_jwk(self.key.public_key()))
        doc.update({"kid": self.kid, "use": "sig", "alg": self.alg})
        return doc

    def token(self, claims: dict[str, Any] | None = None, **header: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice@acme", "tenant": "acme", "roles": ["writer"],
                "iat": now, "nbf": now, "exp": now + 300, **(claims or {})}
        return jwt.encode(body, self.key, algorithm=self.alg, headers={"kid": self.kid, **header})


def jwks(*signers: Signer) -> dict[str, Any]:
    return {"keys": [s.jwk() for s in signers]}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned(claims: dict[str, Any], kid: str) -> str:
    """An ``alg: none`` token."""
    return f"{b64(json.dumps({'alg': 'none', 'kid': kid}).encode())}.{b64(json.dumps(claims).encode())}."


def hmac_with_public_key(signer: Signer, claims: dict[str, Any]) -> str:
    """HS256 signed with the PEM of the provider's public key: the classic algorithm-confusion attack."""
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import serialization

    pem = signer.key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    head = b64(json.dumps({"alg": "HS256", "kid": signer.kid, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    mac = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"
