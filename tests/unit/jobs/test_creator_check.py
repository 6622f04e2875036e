"""A job's creator is asked again before each group of items: an active key, and Casbin still allowing the act."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from gateway.auth.apikeys import ApiKeyRecord, Principal
from gateway.errors import Forbidden, Unauthenticated
from gateway.jobs.base import CreatorCheck

KEY = Principal("k1", "acme", "loader", "writer", ("writer",), "api_key")
TOKEN = Principal("t1", "acme", "alice", "writer", ("writer",), "oidc")


@dataclass
class Keys:
    records: dict[str, ApiKeyRecord] = field(default_factory=dict)

    def find(self, key_id: str) -> ApiKeyRecord | None:
        return self.records.get(key_id)


@dataclass
class Rules:
    allowed: set[tuple[str, str, str]] = field(default_factory=set)

    def allowed_for(self, principal: Principal, obj: str, act: str) -> bool:
        return (principal.role, obj, act) in self.allowed


def check(keys: Keys, rules: Rules) -> CreatorCheck:
    authorizer = type("A", (), {"allowed": lambda _self, p, o, a: rules.allowed_for(p, o, a)})()
    return CreatorCheck(cast(Any, keys), cast(Any, authorizer), "documents", "write")


def record(**changes: Any) -> ApiKeyRecord:
    base = {"key_id": "k1", "tenant": "acme", "subject": "loader", "role": "writer", "digest": "d",
            "created_at": "2026-01-01T00:00:00+00:00"}
    return ApiKeyRecord(**{**base, **changes})


def test_when_the_key_is_active_and_allowed_then_there_is_no_refusal() -> None:
    assert check(Keys({"k1": record()}), Rules({("writer", "documents", "write")})).refusal(KEY) is None


def test_when_the_key_is_revoked_expired_or_gone_then_the_creator_is_unauthenticated() -> None:
    rules = Rules({("writer", "documents", "write")})
    for keys in (Keys({"k1": record(revoked_at="2026-02-01T00:00:00+00:00")}),
                 Keys({"k1": record(expires_at="2026-02-01T00:00:00+00:00")}), Keys()):
        assert isinstance(check(keys, rules).refusal(KEY), Unauthenticated)


def test_when_the_role_lost_the_right_then_the_creator_is_forbidden_and_a_token_is_not_looked_up_as_a_key() -> None:
    refusal = check(Keys({"k1": record()}), Rules()).refusal(KEY)
    assert isinstance(refusal, Forbidden) and "documents" in refusal.message
    assert check(Keys(), Rules({("writer", "documents", "write")})).refusal(TOKEN) is None
