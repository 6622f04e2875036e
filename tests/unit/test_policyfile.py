from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import pytest

from gateway.errors import PolicyError
from gateway.observability.logs import JsonFormatter
from gateway.policy.loader import (
    ENTITY_KEYS,
    PATTERN_KEYS,
    PII_KEYS,
    RECOGNIZER_KEYS,
    SUB_KEYS,
    TENANT_KEYS,
    TOP_KEYS,
    PolicyHolder,
    load_policy,
    parse_policy,
)
from gateway.policy.quotas import LIMIT_NAMES, Limits
from gateway.policy.schema import build_policy  # noqa: F401  (the loader's validators must import)

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = "version: 1\ndefaults:\n  pii:\n    entities:\n      US_SSN: block\n"


def error_of(text: str) -> str:
    with pytest.raises(PolicyError) as info:
        parse_policy(text.encode(), source="p.yaml")
    return str(info.value)


def test_when_shipped_policy_loads_then_default_actions_match_the_design() -> None:
    policy = load_policy(ROOT / "policy" / "gateway.yaml")
    scope = policy.scope("anyone")
    actions = {k: v.action for k, v in scope.entities.items()}
    blocked_types = ("US_SSN", "CREDIT_CARD", "IBAN_CODE", "US_BANK_NUMBER", "US_PASSPORT", "US_ITIN", "UK_NINO",
                     "UK_NHS", "MEDICAL_RECORD_NUMBER")  # fmt: skip
    for blocked in blocked_types:
        assert actions[blocked] == "block"
    for redacted in ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "SWIFT_CODE", "DATE_OF_BIRTH"):
        assert actions[redacted] == "redact"
    assert scope.noise_sigma == 0.01 and scope.retain_text is True
    assert any(r.entity == "EMPLOYEE_ID" for r in policy.recognizers)
    assert policy.version.startswith("sha256:")


def test_when_collection_overrides_then_layers_merge() -> None:
    policy = load_policy(ROOT / "policy" / "gateway.yaml")
    hr = policy.scope("example-corp", "hr-notes")
    assert hr.entities["PERSON"].action == "pseudonymize"
    assert hr.entities["US_SSN"].action == "block"
    assert hr.entities["EMPLOYEE_ID"].action == "pseudonymize"
    assert hr.allow_list == ("Example Corp",) and hr.retain_text is False
    assert policy.scope("example-corp", "unknown").entities["PERSON"].action == "redact"
    assert "EMPLOYEE_ID" in policy.entity_types()


def test_when_tenant_changes_threshold_then_unpinned_entities_follow() -> None:
    text = MINIMAL + "      PERSON: {action: redact, threshold: 0.9}\ntenants:\n  t:\n    pii: {threshold: 0.7}\n"
    scope = parse_policy(text.encode()).scope("t")
    assert scope.entities["US_SSN"].threshold == 0.7 and scope.entities["PERSON"].threshold == 0.9


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("", 1, "empty"),
        ("version: 1\n", 1, "defaults is required"),
        ("version: 1\ndefaults:\n  noise: {sigma: 0.1}\n", 3, "defaults.pii.entities"),
        (MINIMAL + "      PERSON: shred\n", 6, "action of PERSON"),
        (MINIMAL + "      PERSON: {action: redact, threshold: 1.5}\n", 6, "threshold of PERSON"),
        (MINIMAL + "  noise:\n    sigma: -0.1\n", 7, "noise.sigma"),
        (MINIMAL + "  colour: blue\n", 6, "unknown key 'colour'"),
        (MINIMAL + "      NOT_A_TYPE: block\n", 6, "unknown entity type"),
        (MINIMAL + "      US_SSN: redact\n", 6, "duplicate key"),
        ("version: 2\ndefaults: {}\n", 1, "version: 1"),
        (MINIMAL + "recognizers:\n  - name: x\n    entity: EMP\n    patterns:\n      - regex: '(['\n", 10, "bad regex"),
        (MINIMAL + "recognizers:\n  - name: x\n    entity: EMP\n    patterns: [{regex: 'a*'}]\n", 9, "empty"),
        (
            MINIMAL + "recognizers:\n  - {name: x, entity: EMP, patterns: [{regex: 'E\\d+'}], validator: crc}\n",
            7,
            "validator",
        ),
        (MINIMAL + "    deny_list:\n      PERSON: [Falcon]\n", 7, "no pii.entities rule"),
        (MINIMAL + "  rate_limit: {requests_per_minute: 0}\n", 6, "requests_per_minute"),
        (MINIMAL + "  privacy_budget: {on_exceed: shrug}\n", 6, "on_exceed"),
        (MINIMAL + "  retain_text: maybe\n", 6, "retain_text"),
        ("version: 1\ndefaults: [\n", 3, "invalid YAML"),
    ],
)
def test_when_policy_is_invalid_then_error_names_file_and_line(text: str, line: int, fragment: str) -> None:
    message = error_of(text)
    assert message.startswith(f"p.yaml:{line}:"), message
    assert fragment in message


def test_when_custom_recognizer_declared_then_its_entity_is_usable() -> None:
    text = MINIMAL + (
        "      EMPLOYEE_ID: pseudonymize\nrecognizers:\n  - name: emp\n    entity: EMPLOYEE_ID\n"
        "    patterns: [{regex: 'EMP-\\d{6}', score: 0.6}]\n    context: [employee]\n    validator: luhn\n"
    )
    policy = parse_policy(text.encode())
    spec = policy.recognizers[0]
    assert spec.patterns == (("EMP-\\d{6}", 0.6),) and spec.validator == "luhn" and spec.context == ("employee",)


def test_when_file_breaks_then_holder_keeps_good_policy(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(MINIMAL)
    holder = PolicyHolder(path)
    good = holder.current()
    path.write_text(MINIMAL + "      PERSON: shred\n")
    os.utime(path, ns=(1, 1))
    assert holder.reload_if_changed() is False
    assert holder.current() is good and holder.last_error is not None
    path.write_text(MINIMAL + "      PERSON: redact\n")
    os.utime(path, ns=(2, 2))
    assert holder.reload_if_changed() is True
    assert holder.current().version != good.version and holder.last_error is None
    assert holder.reload_if_changed() is False


def test_when_a_reload_is_rejected_or_taken_then_the_json_log_names_the_policy_versions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Regression: the kept version was logged as "<str len=71>" in an unfilled "keeping version %s: %s".
    path = tmp_path / "gateway.yaml"
    path.write_text(MINIMAL)
    holder = PolicyHolder(path)
    good = holder.current().version
    with caplog.at_level(logging.INFO, logger="gateway.policy.loader"):
        path.write_text(MINIMAL + "      PERSON: shred\n")
        os.utime(path, ns=(1, 1))
        holder.reload_if_changed()
        path.write_text(MINIMAL + "      PERSON: redact\n")
        os.utime(path, ns=(2, 2))
        holder.reload_if_changed()
    rejected, taken = (json.loads(JsonFormatter().format(r))["message"] for r in caplog.records)
    assert rejected.startswith(f"policy reload rejected, keeping version {good}: ") and "action of PERSON" in rejected
    assert taken == f"policy reloaded: version {holder.current().version}"


def test_when_first_load_fails_then_holder_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text("version: 1\n")
    with pytest.raises(PolicyError):
        PolicyHolder(path)


def test_when_loader_accepts_a_key_then_docs_policy_md_documents_it() -> None:
    doc = (ROOT / "docs" / "policy.md").read_text()
    keys = set(TOP_KEYS | TENANT_KEYS | PII_KEYS | ENTITY_KEYS | RECOGNIZER_KEYS | PATTERN_KEYS)
    for section, subs in SUB_KEYS.items():
        keys |= {f"{section}.{s}" for s in subs}
    keys |= set(LIMIT_NAMES)
    missing = sorted(k for k in keys if not re.search(rf"`{re.escape(k)}`", doc))
    assert not missing, f"undocumented policy keys: {missing}"


def test_when_a_tenant_changes_only_the_action_then_the_inherited_threshold_stays() -> None:
    policy = parse_policy(
        b"version: 1\ndefaults:\n  pii:\n    entities:\n      US_BANK_NUMBER: {action: block, threshold: 0.4}\n"
        b"tenants:\n  acme:\n    pii:\n      entities:\n        US_BANK_NUMBER: redact\n"
    )
    rule = policy.scope("acme").entities["US_BANK_NUMBER"]
    assert (rule.action, rule.threshold) == ("redact", 0.4)


def test_when_retention_days_set_per_tenant_and_collection_then_scopes_layer_them() -> None:
    text = MINIMAL + "  retention_days: 365\ntenants:\n  acme:\n    retention_days: 90\n    collections:\n" \
        "      notes: {retention_days: 7}\n      keep: {retention_days: null}\n"
    policy = parse_policy(text.encode())
    assert policy.scope("other", "x").retention_days == 365
    assert policy.scope("acme", "docs").retention_days == 90
    assert policy.scope("acme", "notes").retention_days == 7
    assert policy.scope("acme", "keep").retention_days is None
    assert parse_policy(MINIMAL.encode()).scope("acme").retention_days is None


@pytest.mark.parametrize("bad", ["0", "-3", "1.5", "true", "forever", "40000"])
def test_when_retention_days_is_not_a_whole_positive_number_then_the_policy_is_refused(bad: str) -> None:
    assert "retention_days" in error_of(MINIMAL + f"  retention_days: {bad}\n")


def test_when_the_file_names_no_phone_regions_then_the_default_six_apply() -> None:
    policy = parse_policy(MINIMAL.encode(), source="p.yaml")
    assert policy.phone_regions == ("US", "GB", "DE", "FR", "IN", "CA")
    assert load_policy(ROOT / "policy" / "gateway.yaml").phone_regions == ("US", "GB", "DE", "FR", "IN", "CA")


def test_when_phone_regions_are_listed_then_the_policy_keeps_their_order() -> None:
    policy = parse_policy(("version: 1\nphone_regions: [GB, IE]\n" + MINIMAL[11:]).encode(), source="p.yaml")
    assert policy.phone_regions == ("GB", "IE")


@pytest.mark.parametrize(
    ("regions", "message"),
    [
        ("[US, XX]", "p.yaml:2: phone_regions: unknown region code 'XX'"),
        ("[us]", "p.yaml:2: phone_regions: unknown region code 'us'"),
        ("[USA]", "p.yaml:2: phone_regions: unknown region code 'USA'"),
        ("[]", "p.yaml:2: phone_regions must list at least one region"),
        ("[US, GB, US]", "p.yaml:2: phone_regions lists a region twice"),
        ("US", "p.yaml:2: phone_regions must be a list of strings"),
        ("[1]", "p.yaml:2: phone_regions must be a list of strings"),
    ],
)
def test_when_phone_regions_hold_an_unknown_code_then_loading_fails_with_file_and_line(
    regions: str, message: str
) -> None:
    assert error_of(f"version: 1\nphone_regions: {regions}\n" + MINIMAL[11:]).startswith(message)


def test_when_a_region_code_is_refused_then_the_logged_reason_is_whole_not_redacted() -> None:
    # Regression: "ISO 3166-1" is a digit run, so the log scrubber wrote "ISO <redacted> alpha-2" in the reason.
    from gateway.observability.logs import Vetted, safe_value

    reason = error_of("version: 1\nphone_regions: [us]\n" + MINIMAL[11:])
    assert "<redacted>" not in safe_value(Vetted(reason))
    assert safe_value(Vetted(reason)) == reason


def test_when_a_tenant_has_a_scheduling_weight_then_its_scope_carries_it_and_a_bad_one_is_refused() -> None:
    import yaml

    from gateway.policy.loader import parse_policy

    def with_weight(weight: object) -> bytes:
        doc = yaml.safe_load((ROOT / "policy" / "gateway.yaml").read_text())
        doc.setdefault("tenants", {}).setdefault("gold", {})["scheduling"] = {"weight": weight}
        return yaml.safe_dump(doc).encode()

    policy = parse_policy(with_weight(3))
    assert policy.scope("gold").scheduling_weight == 3.0 and policy.scope("other").scheduling_weight == 1.0
    for bad in (0, -1, 1000, "heavy"):
        with pytest.raises(PolicyError, match=r"scheduling\.weight"):
            parse_policy(with_weight(bad))


QUOTAS = MINIMAL + """  quotas:
    key: {tokens_per_minute: 1000, tokens_per_day: 50000}
tenants:
  acme:
    quotas:
      tenant: {requests_per_minute: 60}
      key: {tokens_per_day: 9000}
      keys:
        0123456789abcdef: {tokens_per_minute: 5, tokens_per_day: null}
"""


def test_when_quotas_are_layered_then_each_limit_overrides_alone_and_a_named_key_gets_its_own() -> None:
    policy = parse_policy(QUOTAS.encode(), source="p.yaml")
    acme = policy.scope("acme").quotas
    assert acme.tenant == Limits(requests_per_minute=60)
    assert acme.for_key("fedcba9876543210") == Limits(tokens_per_minute=1000, tokens_per_day=9000)
    assert acme.for_key("0123456789abcdef") == Limits(tokens_per_minute=5, tokens_per_day=None)
    other = policy.scope("globex").quotas
    assert other.tenant == Limits() and other.for_key("0123456789abcdef") == Limits(1000, 50000)


@pytest.mark.parametrize(("fragment", "message"), [
    ("  quotas:\n    key: {tokens_per_minute: 0}\n", "must be a positive integer or null"),
    ("  quotas:\n    key: {tokens_per_minute: 1.5}\n", "must be a positive integer or null"),
    ("  quotas:\n    key: {tokens_per_hour: 10}\n", "unknown key 'tokens_per_hour'"),
    ("  quotas:\n    team: {tokens_per_day: 10}\n", "unknown key 'team'"),
    ("  quotas:\n    keys: {alice: {tokens_per_day: 10}}\n", "16 lower-case hex digits"),
])
def test_when_a_quota_is_malformed_then_the_policy_is_refused_with_its_line(fragment: str, message: str) -> None:
    error = error_of(MINIMAL + fragment)
    assert message in error and error.startswith("p.yaml:")


def test_when_a_collection_sets_quotas_then_the_policy_is_refused_saying_where_quotas_go() -> None:
    text = MINIMAL + "tenants:\n  acme:\n    collections:\n      docs:\n        quotas: {}\n"
    error = error_of(text)
    assert error.startswith(f"p.yaml:{len(text.splitlines())}: quotas in tenants.acme.collections.docs: ")
    assert "set them under the tenant (tenants.T.quotas) or defaults" in error


def test_when_a_collection_has_an_unknown_key_then_the_error_names_the_collection_by_its_path() -> None:
    text = MINIMAL + "tenants:\n  acme:\n    collections:\n      docs:\n        colour: blue\n"
    assert "unknown key 'colour' in tenants.acme.collections.docs (allowed: " in error_of(text)
