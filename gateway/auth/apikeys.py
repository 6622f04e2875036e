"""API keys: random 256-bit secrets, stored only as SHA-256 digests, compared in constant time.

A key reads ``gk_<key id>_<secret>``. The key id is public and only locates the record; the secret never leaves
the caller. Records live in the store so a key created by the CLI works on a running gateway at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from gateway.errors import BadRequest, Unauthenticated
from gateway.pii.checksums import iban_ok, luhn_ok

ROLES = ("admin", "writer", "reader", "auditor", "platform-auditor")
EXPIRY_FORMAT = "an ISO 8601 time with a time zone, e.g. 2027-01-31T00:00:00+00:00"
_KEY_RE = re.compile(r"^gk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})\Z")
_JWT_RE = re.compile(r"^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\Z")  # a JWS compact serialization
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}\Z")
# A tenant id is lower case: "ACME" and "acme" would otherwise be two tenants (two key sets, quotas, audit scopes)
# of one customer. Upper case is refused, never folded, so that no two spellings ever name one tenant.
# Nor does it end with a dot: "acme.com." names "acme.com" wherever a tenant id is read as a domain.
_TENANT_RE = re.compile(r"^(?!.*\.\Z)[a-z0-9][a-z0-9._@-]{0,63}\Z")
INVALID_TENANT = "invalid-tenant"  # the status of a key whose tenant breaks that rule (made before it)


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str
    tenant: str
    subject: str
    role: str
    digest: str
    created_at: str
    expires_at: str | None = None
    revoked_at: str | None = None
    previous_digest: str | None = None  # the secret before the last rotation, accepted until previous_expires_at
    previous_expires_at: str | None = None
    last_used_at: str | None = None  # to the minute, written in the background (``auth.last_used``)


@dataclass(frozen=True)
class Principal:
    """Who is calling: established by a valid key or token, never by anything the caller asserts.

    ``role`` is what entries and pages show; ``roles`` what Casbin binds (an API key's one role, or a token's
    roles and identity-provider groups, which ``policy.csv``'s grouping rules map to roles per tenant).
    """

    key_id: str
    tenant: str
    subject: str
    role: str
    roles: tuple[str, ...] = ()
    method: str = "api_key"  # or "oidc"

    @property
    def bound_roles(self) -> tuple[str, ...]:
        return self.roles or (self.role,)

    @property
    def casbin_subject(self) -> str:
        if self.method == "api_key":
            return f"key:{self.key_id}"
        # A token's subject may hold roles in several tenants (one token each): its Casbin binding is per tenant.
        return f"{self.method}:{self.tenant}:{self.key_id}:{self.role}"


class ApiKeyRepository(Protocol):
    def insert(self, record: ApiKeyRecord) -> None: ...
    def find(self, key_id: str) -> ApiKeyRecord | None: ...
    def revoke(self, key_id: str, when: str) -> bool: ...
    def rotate(self, key_id: str, digest: str, previous_expires_at: str) -> bool: ...
    def touch(self, used: Mapping[str, str]) -> None: ...
    def list(self, tenant: str | None = None) -> list[ApiKeyRecord]: ...


# The ``api_keys`` columns, in ``ApiKeyRecord``'s field order: both backends keep the same table.
KEY_COLUMNS = ("key_id, tenant, subject, role, digest, created_at, expires_at, revoked_at, previous_digest, "
               "previous_expires_at, last_used_at")


def list_query(tenant: str | None, mark: str) -> tuple[str, tuple[str, ...]]:
    """The SELECT (with ``mark``, ``?`` or ``%s``, as its placeholder) and parameters of ``list``: oldest first."""
    if tenant is None:
        return f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at", ()  # noqa: S608 - constant columns
    return f"SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant = {mark} ORDER BY created_at", (tenant,)  # noqa: S608


def validate_name(kind: str, value: str) -> str:
    if not _NAME_RE.match(value):
        raise BadRequest(f"{kind} must be 1-64 characters of letters, digits, '.', '_', '@' or '-'", param=kind)
    return value


def is_tenant_id(value: object) -> bool:
    """Whether ``value`` is a valid tenant id: the one rule for API keys' tenants and tokens' tenant claims."""
    return isinstance(value, str) and _TENANT_RE.match(value) is not None


def validate_tenant(value: str) -> str:
    if not is_tenant_id(value):
        raise BadRequest("tenant must be 1-64 characters of lower-case letters, digits, '.', '_', '@' or '-', not "
                         "ending with '.' (upper case is refused: one tenant, one spelling)", param="tenant")
    return value


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def parse_expiry(value: str, now: datetime) -> str:
    """An expiry time in UTC, to the second; it must name its time zone and lie after ``now``.

    A value without a zone (a date alone included) is refused rather than read in the local zone of whichever
    host runs the CLI, which would move the expiry by hours without anyone noticing.
    """
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("no time zone")
        expiry = moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: a zone offset that pushes year 9999 past the end
        raise BadRequest(f"expires must be {EXPIRY_FORMAT}", param="expires_at") from None
    if expiry <= now:
        raise BadRequest("expires must be in the future", param="expires_at")
    return expiry.isoformat(timespec="seconds")


def key_status(record: ApiKeyRecord, now: datetime) -> str:
    """``revoked``, ``expired``, ``invalid-tenant`` or ``active``: only an active key authenticates.

    ``invalid-tenant``: a key created before tenant ids were lower case (``ACME``). It is refused, never folded into
    ``acme`` (they may be two tenants, each with its own data key, quotas and audit scope): re-issue it."""
    if record.revoked_at is not None:
        return "revoked"
    if record.expires_at is not None and datetime.fromisoformat(record.expires_at) <= now:
        return "expired"
    if not is_tenant_id(record.tenant):
        return INVALID_TENANT
    return "active"


_SSN = re.compile(r"(?<![0-9])[0-9]{3}-[0-9]{2}-[0-9]{4}(?![0-9])|^[0-9]{9}\Z")
_DIGIT_RUN = re.compile(r"[0-9](?:[0-9.-]*[0-9])?")
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]{15,34}")


def refuse_identifiers(kind: str, value: str) -> None:
    """Refuse a tenant or subject that holds an SSN, a payment card number or an IBAN. Both are written into every
    audit entry for ever (no shred removes them), onto stored provenance and ``/metrics`` (the tenant): the
    session 18 attack made a key with the subject ``536-90-4721``. An e-mail address stays allowed: it is how
    enterprises name people and services (``docs/identity.md``)."""
    found = identifier_in(value)
    if found is not None:  # the kind of identifier, never the value
        raise BadRequest(f"{kind} holds what reads as {found}: it would be written into every audit entry for "
                         "ever; use an opaque name or id", param=kind)


def identifier_in(value: str) -> str | None:
    """What ``value`` holds that reads as an SSN, a payment card number or an IBAN (in words), or None."""
    if _SSN.search(value):
        return "a social security number"
    for run in _DIGIT_RUN.findall(value):
        digits = run.replace("-", "").replace(".", "")
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits):
            return "a payment card number"
    if any(iban_ok(run) for run in _ALNUM_RUN.findall(value)):
        return "an IBAN"
    return None


def create_key(
    repo: ApiKeyRepository,
    tenant: str,
    subject: str,
    role: str,
    expires_at: str | None = None,
    now: datetime | None = None,
) -> tuple[str, ApiKeyRecord]:
    """Make a new key; returns the plaintext key (shown once) and its stored record."""
    moment = now or datetime.now(UTC)
    validate_tenant(tenant)
    validate_name("subject", subject)
    refuse_identifiers("tenant", tenant)
    refuse_identifiers("subject", subject)
    if role not in ROLES:
        raise BadRequest(f"role must be one of {', '.join(ROLES)}", param="role")
    if expires_at is not None:
        expires_at = parse_expiry(expires_at, moment)
    key_id = secrets.token_hex(8)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
    created_at = moment.isoformat(timespec="seconds")
    record = ApiKeyRecord(key_id, tenant, subject, role, _digest(secret), created_at, expires_at)
    repo.insert(record)
    return f"gk_{key_id}_{secret}", record


_DUMMY_DIGEST = _digest("x" * 43)


def authenticate(repo: ApiKeyRepository, presented: str | None, now: datetime | None = None) -> Principal:
    """Resolve a presented key to its principal, or raise ``Unauthenticated`` (one message for every cause).

    The secret is compared with the current digest and, during a rotation's grace window, the previous one: both
    comparisons always run, in constant time, so timing tells neither which key ids exist nor which secret matched.
    """
    message = "Invalid, revoked or expired API key"
    match = _KEY_RE.match(presented or "")
    if match is None:  # a JWT here means this gateway has no identity provider set (oidc_*): say so to the auditor
        reason = "token without identity provider" if _JWT_RE.match(presented or "") else "malformed key"
        raise Unauthenticated(message, detail={"audit": {"reason": reason}})
    key_id, secret = match.groups()
    record = repo.find(key_id)
    moment = now or datetime.now(UTC)
    presented_digest = _digest(secret).encode()
    current = record.digest if record is not None else _DUMMY_DIGEST
    previous = (record.previous_digest if record is not None else None) or _DUMMY_DIGEST
    ok = hmac.compare_digest(current.encode(), presented_digest)
    ok_previous = hmac.compare_digest(previous.encode(), presented_digest)
    if record is not None and ok_previous and not ok:
        grace = record.previous_expires_at
        ok = grace is not None and datetime.fromisoformat(grace) > moment
    # The same answer for every cause; the audit entry says which, and an existing key's failures are its tenant's
    # (its auditors see a revoked key still in use, or guesses at a key's secret).
    if record is None:  # no key_id on the refusal: the id is the caller's text
        raise Unauthenticated(message, detail={"audit": {"reason": "unknown key"}})
    status = key_status(record, moment)
    if ok and status == INVALID_TENANT:  # the caller holds this key: it may learn why, and what the operator does
        raise _of_key(record, Unauthenticated(
            "this API key's tenant id is no longer valid (tenant ids are lower case); ask the operator to re-issue "
            "the key for the tenant's lower-case id", detail={"audit": {"reason": "invalid tenant: re-issue the key"}}))
    if not ok or status != "active":
        why = status if ok else "previous secret past its grace" if ok_previous else "wrong secret"
        raise _of_key(record, Unauthenticated(message, detail={"audit": {"reason": why, "tenant": record.tenant}}))
    return Principal(record.key_id, record.tenant, record.subject, record.role)


def _of_key(record: ApiKeyRecord, refusal: Unauthenticated) -> Unauthenticated:
    """The refusal of a key that exists, naming it for its audit entry. An unknown key's id is never named: it is
    the caller's 16 hex digits, and 16 decimal digits are hex (``gk_4111111111111111_...`` put a card number into
    the signed log for ever, session 18)."""
    refusal.key_id = record.key_id
    return refusal


GRACE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_grace(value: str) -> timedelta:
    """A rotation's overlap window: ``0``, or a number with a unit (``90s``, ``30m``, ``24h``, ``7d``; at most 30
    days)."""
    unit = value[-1:] if value[-1:] in GRACE_UNITS else ""
    if not unit and value.strip() != "0":
        # A bare "24" read as seconds would end the old secret before the service has the new one.
        raise BadRequest("grace must be 0 or a number with s, m, h or d, e.g. 24h", param="grace")
    try:
        seconds = float(value[: len(value) - len(unit)]) * GRACE_UNITS.get(unit, 1)
    except ValueError:
        raise BadRequest("grace must be a number with s, m, h or d, e.g. 24h", param="grace") from None
    if not 0 <= seconds <= 30 * 86400:
        raise BadRequest("grace must be between 0 and 30 days", param="grace")
    return timedelta(seconds=seconds)


def rotate_key(repo: ApiKeyRepository, key_id: str, grace: timedelta, now: datetime | None = None
               ) -> tuple[str, ApiKeyRecord]:
    """A new secret for the same key id (its role, tenant, expiry and history stay); the old secret keeps working
    for ``grace``. Returns the new plaintext key (shown once) and the record as it was before."""
    moment = now or datetime.now(UTC)
    record = repo.find(key_id)
    if record is None or key_status(record, moment) != "active":
        raise BadRequest(f"no active key {key_id}", param="key_id")
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
    until = (moment + grace).isoformat(timespec="seconds")
    if not repo.rotate(key_id, _digest(secret), until):
        raise BadRequest(f"no active key {key_id}", param="key_id")
    return f"gk_{key_id}_{secret}", record


def key_id_of(presented: str | None) -> str | None:
    """The public key id of a well-formed key, never the secret. Not for the audit of a refusal: an unknown key's
    id is the caller's own text (``Unauthenticated.key_id`` is set only for a key that exists)."""
    match = _KEY_RE.match(presented or "")
    return match.group(1) if match else None
