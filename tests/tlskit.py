"""A small PKI for the TLS tests: an internal CA, another CA, server certificates (for 127.0.0.1 and for another
host) and a client certificate, written as PEM files as a bank's PKI would hand them out."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime.now(datetime.UTC)


def _write(path: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> tuple[str, str]:
    path.with_suffix(".key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                           serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))
    path.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path.with_suffix(".pem")), str(path.with_suffix(".key"))


def _cert(name: str, issuer: tuple[ec.EllipticCurvePrivateKey, x509.Name] | None = None,
          san: x509.GeneralName | None = None, client: bool = False
          ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer, issuer_name = issuer or (key, subject)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(NOW - datetime.timedelta(minutes=5))
               .not_valid_after(NOW + datetime.timedelta(days=1)))
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    else:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if san is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([san]), critical=False)
    return key, builder.sign(signer, hashes.SHA256())


@dataclass
class Pki:
    ca: str
    other_ca: str
    server: tuple[str, str]
    wrong_host: tuple[str, str]
    client: tuple[str, str]


def make_pki(d: Path) -> Pki:
    ca_key, ca = _cert("Bank Internal CA")
    other_key, other = _cert("Another CA")
    signer = (ca_key, ca.subject)
    loopback = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    return Pki(
        ca=_write(d / "ca", ca_key, ca)[0],
        other_ca=_write(d / "other-ca", other_key, other)[0],
        server=_write(d / "server", *_cert("engine", signer, loopback)),
        wrong_host=_write(d / "wrong-host", *_cert("engine", signer, x509.DNSName("infinity.bank.internal"))),
        client=_write(d / "client", *_cert("gateway", signer, client=True)),
    )
