"""/metrics parses with the Prometheus parser and counts outcomes; planted PII and keys reach no metric, no log."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from gateway.http.app import create_app
from gateway.observability.logs import (
    JsonFormatter,
    Vetted,
    VettedName,
    configure_logging,
    request_id_var,
    safe_value,
    scrub,
)
from tests.unit.http.conftest import App, app, fake_services  # noqa: F401 - the in-process gateway fixture

PLANTED_EMAIL = "mallory.secret@example.org"
PLANTED_SSN = "123-45-6789"


def _families(text: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    out: dict[str, list[tuple[str, dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        out[family.name] = [(s.name, s.labels, s.value) for s in family.samples]
    return out


def test_when_requests_are_served_then_metrics_parse_and_count_them(app: App) -> None:  # noqa: F811
    key = app.key("acme", "svc", "writer")
    ok = app.client.post("/v1/embeddings", json={"input": f"write to {PLANTED_EMAIL}", "model": "all-MiniLM-L6-v2"},
                         headers=app.auth(key))
    assert ok.status_code == 200
    denied = app.client.post("/v1/embeddings", json={"input": "x"}, headers=app.auth("gk_nope_nope"))
    assert denied.status_code == 401
    body = app.client.get("/metrics")
    assert body.status_code == 200
    families = _families(body.text)
    requests = families["gateway_requests"]
    assert ("gateway_requests_total", {"route": "POST /v1/embeddings", "decision": "allow", "status": "200"},
            1.0) in requests
    assert any(s[1]["decision"] == "deny" and s[1]["status"] == "401" for s in requests)
    pii = families["gateway_pii_entities"]
    assert ("gateway_pii_entities_total", {"entity_type": "EMAIL_ADDRESS", "action": "redact"}, 1.0) in pii
    assert any(s[0] == "gateway_batch_size_count" and s[1]["batcher"] == "embed" and s[2] >= 1
               for s in families["gateway_batch_size"])
    stages = {s[1]["stage"] for s in families["gateway_stage_duration_seconds"] if s[0].endswith("_count")}
    assert {"pii", "embed", "ledger", "audit", "store"} <= stages
    assert any(s[0] == "gateway_batch_size_count" and s[1]["batcher"] == "ledger" and s[2] >= 1
               for s in families["gateway_batch_size"])
    assert {s[1]["queue"] for s in families["gateway_queue_depth"]} == {"pii", "pii-long", "embed", "ledger",
                                                                        "usage"}
    tokens = ok.json()["usage"]["prompt_tokens"]
    assert ("gateway_tokens_total", {"tenant": "acme", "model": "all-MiniLM-L6-v2"}, float(tokens)) in \
        families["gateway_tokens"]
    assert families["gateway_audit_log_entries"][0][2] >= 2


def test_when_pii_and_keys_are_planted_then_neither_metrics_nor_logs_show_them(app: App) -> None:  # noqa: F811
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        key = app.key("acme", "svc", "writer")
        text = f"SSN {PLANTED_SSN}, mail {PLANTED_EMAIL}, key {key}"
        app.client.post("/v1/embeddings", json={"input": text}, headers=app.auth(key))
        app.client.post("/v1/embeddings", json={"input": text}, headers=app.auth(key + "x"))
        logging.getLogger("gateway.test").warning("caller sent %s with %s", text, key)
        logging.getLogger("gateway.test").error(f"interpolated by mistake: {text}")
        try:
            raise ValueError(text)
        except ValueError:
            logging.getLogger("gateway.test").exception("failed")
        metrics = app.client.get("/metrics").text
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    logs = stream.getvalue()
    assert "caller sent" in logs and "ValueError" in logs
    secret = key.split("_", 2)[2]  # gk_<id>_<secret>; the secret itself may hold "_"
    for planted in (PLANTED_SSN, PLANTED_EMAIL, key, secret, "mallory"):
        assert planted not in logs
        assert planted not in metrics


def test_when_a_record_is_formatted_then_it_is_one_json_object_with_the_request_id() -> None:
    import json

    token = request_id_var.set("req123")
    try:
        record = logging.LogRecord("gateway.x", logging.INFO, __file__, 1, "stored %s chunks in %s", (3, "docs"),
                                   None)
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    data = json.loads(line)
    assert data["request_id"] == "req123" and data["args"] == [3, "docs"] and data["level"] == "INFO"
    assert "\n" not in line


def test_when_values_look_like_secrets_or_pii_then_only_their_shape_is_logged() -> None:
    assert safe_value("collection.search") == "collection.search"
    assert safe_value("John Smith") == "<str len=10>"
    assert safe_value("4111 1111 1111 1111").startswith("<str")
    assert safe_value("gk_0123456789abcdef_s3cr3t") .startswith("<str")
    assert scrub("card 4111-1111-1111-1111 for a@b.co") == "card <redacted> for <redacted>"


def test_when_a_metric_exists_then_docs_observability_lists_it() -> None:
    from pathlib import Path

    from gateway.observability.metrics import GatewayMetrics

    doc = (Path(__file__).resolve().parents[3] / "docs" / "observability.md").read_text()
    metrics = GatewayMetrics()
    metrics.sources.audit_size = lambda: 1
    metrics.sources.audit_checkpoint = lambda: "note"
    names = {f.name for f in text_string_to_metric_families(metrics.render().decode())}
    counters = {"gateway_requests", "gateway_pii_entities", "gateway_drift_alerts", "gateway_migrated_records",
                "gateway_audit_witness_refusals", "gateway_audit_witness_unavailable", "gateway_engine_errors",
                "gateway_tokens", "gateway_quota_refusals", "gateway_cpu_seconds"}
    for name in sorted(n for n in names if not n.endswith("_created")):
        shown = name + "_total" if name in counters else name
        assert f"`{shown}`" in doc, name


def test_when_a_metrics_token_is_set_then_metrics_need_it(app: App) -> None:  # noqa: F811
    import dataclasses

    app.services.settings = dataclasses.replace(app.services.settings, metrics_token="s3cret-scraper-token")
    assert "s3cret" not in repr(app.services.settings)
    assert app.client.get("/metrics").status_code == 401
    assert app.client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = app.client.get("/metrics", headers={"Authorization": "Bearer s3cret-scraper-token"})
    assert ok.status_code == 200 and b"gateway_" in ok.content


def test_when_the_app_has_started_then_records_still_go_through_the_json_scrubbing_handler(tmp_path: Path) -> None:
    # Regression: Litestar's default logging configuration replaced the root handler at start-up, so records
    # logged after it (policy reloads, replica messages) came out in plain text, unscrubbed.
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("INFO", stream)  # before the app starts: the start-up is what replaced it
        with TestClient(create_app(fake_services(tmp_path))):
            logging.getLogger("gateway.bootstrap").info("after start-up: contact %s", PLANTED_EMAIL)
        lines = [line for line in stream.getvalue().splitlines() if "after start-up" in line]
        assert len(lines) == 1
        record = json.loads(lines[0])
        assert record["logger"] == "gateway.bootstrap" and PLANTED_EMAIL not in lines[0]
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_when_a_value_is_vetted_then_it_is_written_scrubbed_rather_than_as_a_shape() -> None:
    vetted = safe_value(Vetted("gateway.yaml:13: action of PERSON must be one of block, redact"))
    assert vetted == "gateway.yaml:13: action of PERSON must be one of block, redact"
    assert safe_value(Vetted(f"line 3 mentions {PLANTED_EMAIL}")) == "line 3 mentions <redacted>"
    assert safe_value("gateway.yaml:13: action of PERSON must be one of block, redact").startswith("<str len=")


def _formatted(msg: str, *args: object) -> dict[str, object]:
    record = logging.LogRecord("gateway.x", logging.INFO, __file__, 1, msg, args, None)
    return dict(json.loads(JsonFormatter().format(record)))


POLICY_VERSION = "sha256:53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def test_when_a_policy_reload_is_rejected_then_the_line_names_the_version_kept_and_why() -> None:
    # Regression: the line read "policy reload rejected, keeping version %s: %s" with args ["<str len=71>", ...].
    reason = Vetted("gateway.yaml:13: action of PERSON must be one of block, redact")
    line = _formatted("policy reload rejected, keeping version %s: %s", VettedName(POLICY_VERSION), reason)
    assert line["message"] == f"policy reload rejected, keeping version {POLICY_VERSION}: {reason}"
    assert line["args"] == [POLICY_VERSION, reason]


def test_when_the_model_starts_then_the_line_is_filled_with_its_name_version_mode_and_device() -> None:
    line = _formatted("model %s version %s: transformer runs %s on %s", VettedName("all-MiniLM-L6-v2"),
                      VettedName("1.10.0"), VettedName("traced"), VettedName("cuda:0"))
    assert line["message"] == "model all-MiniLM-L6-v2 version 1.10.0: transformer runs traced on cuda:0"


def test_when_arguments_are_hidden_then_the_message_is_filled_with_their_shapes_only() -> None:
    line = _formatted("caller %s sent %s (%d items)", "svc", f"SSN {PLANTED_SSN}", 3)
    assert line["message"] == "caller svc sent <str len=15> (3 items)"
    assert PLANTED_SSN not in json.dumps(line)
    assert _formatted("%d items from %s", "many", "svc")["message"] == "%d items from %s"  # does not fit: template
    assert _formatted(f"mail {PLANTED_EMAIL} by %s", "svc")["message"] == "mail <redacted> by svc"


def test_when_a_vetted_name_is_not_shaped_like_a_name_then_it_is_hidden_as_any_string() -> None:
    for unsafe in (f"x {PLANTED_SSN}", PLANTED_EMAIL, "gk_0123456789abcdef_s3cr3t", "x" * 101):
        assert safe_value(VettedName(unsafe)).startswith("<str len=")
    assert safe_value(VettedName(POLICY_VERSION)) == POLICY_VERSION
    assert safe_value(POLICY_VERSION) == "<str len=71>"  # unwrapped, the same value stays hidden


def test_when_faiss_reports_the_cpu_builds_it_could_not_load_then_the_gateway_log_leaves_them_out() -> None:
    # Regression: every start logged eleven faiss.loader lines ("Could not load library with AVX512 support due to:
    # ModuleNotFoundError ...") that read like errors to an operator; a warning from it still shows.
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("INFO", stream)
        logging.getLogger("faiss.loader").info("Could not load library with AVX2 support due to: ...")
        logging.getLogger("faiss.loader").warning("a real problem")
        assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == ["a real problem"]
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_when_a_vetted_reason_names_a_policy_file_by_an_absolute_path_then_the_path_is_kept_the_rest_scrubbed() -> None:
    # Regression: with the policy dir at /etc/gateway/policy (deploy/), a refused reload logged "<redacted>.yaml:12".
    reason = "/etc/gateway/policy/gateway.yaml:12: action of PERSON must be one of allow, block"
    assert safe_value(Vetted(reason)) == reason
    assert safe_value(Vetted(f"/srv/policy/gateway.yaml:3: line mentions {PLANTED_EMAIL}")) == (
        "/srv/policy/gateway.yaml:3: line mentions <redacted>")
    assert "gk_" not in safe_value(Vetted("gk_0123456789abcdef_secretsecretsecret.yaml:1: x"))
