"""The PII stage through HTTP: the session's real gateway (real Presidio, spaCy, model) on a policy of our own,
hot-reloaded in for this module and the shipped one reloaded after it (a gateway of its own cost a start).

``fixtures/pii_policy.yaml`` exercises every option: tenants "acme" and "lenient" and the defaults (any other
tenant, here "globex"), collection overrides, thresholds, allow/deny lists and two custom recognizers. Every
check reads the gateway's answers: ``/v1/pii/analyze``, the ``X-Gateway-PII`` header of ``/v1/embeddings`` and
the collection routes. The reload test runs last (module order) and restores the policy it changed.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.pii.normalize import normalize
from tests.integration.pii_http import analyze
from tests.integration.server import GatewayProcess

pytestmark = pytest.mark.slow
POLICY = Path(__file__).parent / "fixtures" / "pii_policy.yaml"
MODEL = "all-MiniLM-L6-v2"
TWINS = ["Margaret Thornton", "Kenji Watanabe", "Daniel Okafor", "Priya Raman", "Liam Gallagher", "Sofia Alvarez"]
TWIN_TEXT = "{} approved the travel budget for the Denver office on Tuesday."


@pytest.fixture(scope="module")
def gw(gateway: GatewayProcess) -> Iterator[GatewayProcess]:
    path = gateway.policy_dir / "gateway.yaml"
    shipped = path.read_bytes()
    probe = gateway.make_key("globex", "pii-api-reload", "writer")
    version = _wait_for_version(gateway, probe, "", timeout=60.0)
    path.write_bytes(POLICY.read_bytes())
    try:
        assert _wait_for_version(gateway, probe, version, timeout=60.0) != version, "the policy was not reloaded"
        yield gateway
    finally:
        path.write_bytes(shipped)
        deadline = time.monotonic() + 60
        while _wait_for_version(gateway, probe, "") != version:  # the other suites on the session's gateway need it
            assert time.monotonic() < deadline, "the shipped policy was not reloaded"
            time.sleep(0.2)


@pytest.fixture(scope="module")
def keys(gw: GatewayProcess) -> dict[str, str]:
    return {
        "acme": gw.make_key("acme", "policy-author", "writer"),
        "acme-auditor": gw.make_key("acme", "compliance", "auditor"),
        "globex": gw.make_key("globex", "app", "writer"),
        "lenient": gw.make_key("lenient", "app", "writer"),
    }


def call(gw: GatewayProcess, key: str, method: str, path: str, body: Any = None, **kw: Any) -> httpx.Response:
    return httpx.request(method, gw.url + path, json=body, headers={"Authorization": f"Bearer {key}"},
                         timeout=120, **kw)


def applied(result: dict[str, Any]) -> dict[str, str]:
    """Entity type -> action of the findings the policy acted on."""
    return {f["entity_type"]: f["action"] for f in result["findings"] if f["outcome"] == "applied"}


def embed(gw: GatewayProcess, key: str, text: str) -> httpx.Response:
    return call(gw, key, "POST", "/v1/embeddings", {"model": MODEL, "input": text})


# --- actions, per tenant and per collection -------------------------------------------------------------------

@pytest.mark.parametrize(("tenant", "text", "action", "header"), [
    ("globex", "My SSN is 078-05-1120.", "block", None),
    ("globex", "Card 4111 1111 1111 1111 on file", "block", None),
    ("globex", "Wire to GB82 WEST 1234 5698 7654 32 today", "block", None),
    ("globex", "Write to jane.roe@example.com please", "redact", "EMAIL_ADDRESS=1;redact"),
    ("acme", "Write to jane.roe@example.com please", "pseudonymize", "EMAIL_ADDRESS=1;pseudonymize"),
    ("lenient", "Write to jane.roe@example.com please", "allow", "EMAIL_ADDRESS=1;allow"),
    ("globex", "The quarterly report is attached.", "none", "none"),
])
def test_when_a_tenant_sends_pii_then_its_action_applies_in_analyze_and_embeddings(
    gw: GatewayProcess, keys: dict[str, str], tenant: str, text: str, action: str, header: str | None
) -> None:
    assert analyze(gw, keys[tenant], text)["action"] == action
    r = embed(gw, keys[tenant], text)
    if header is None:
        assert r.status_code == 422 and r.json()["error"]["code"] == "pii_blocked", r.text
    else:
        assert r.status_code == 200, r.text
        assert r.headers["X-Gateway-PII"] == header


def test_when_the_policy_redacts_or_pseudonymizes_then_the_stored_text_holds_placeholders(
    gw: GatewayProcess, keys: dict[str, str]
) -> None:
    key = keys["acme"]
    assert call(gw, key, "POST", "/v1/collections", {"name": "mailroom", "model": MODEL}).status_code == 201
    text = "Margaret Thornton wrote from jane.roe@example.com about the renewal."
    r = call(gw, key, "POST", "/v1/collections/mailroom/documents", {"documents": [{"id": "m1", "text": text}]})
    assert r.status_code == 200 and r.headers["X-Gateway-PII"] == "EMAIL_ADDRESS=1;pseudonymize, PERSON=1;redact"
    hit = call(gw, key, "POST", "/v1/collections/mailroom/search", {"query": "renewal mail", "k": 1}).json()
    stored = hit["results"][0]["text"]
    assert stored.startswith("<PERSON> wrote from <EMAIL_ADDRESS ") and "about the renewal." in stored
    assert "Thornton" not in json.dumps(hit) and "jane.roe" not in json.dumps(hit)


def test_when_a_collection_overrides_the_tenant_then_ingest_follows_the_collection(
    gw: GatewayProcess, keys: dict[str, str]
) -> None:
    key = keys["acme"]
    assert call(gw, key, "POST", "/v1/collections", {"name": "legal", "model": MODEL}).status_code == 201
    docs = [{"id": "email", "text": "Counsel is reachable at jane.roe@example.com"},
            {"id": "phone", "text": "Counsel is reachable at 212-555-0187"}]
    r = call(gw, key, "POST", "/v1/collections/legal/documents", {"documents": docs})
    assert r.status_code == 200, r.text
    outcome = {x["document_id"]: x for x in r.json()["results"]}
    assert outcome["email"]["status"] == "blocked" and outcome["email"]["blocked_types"] == ["EMAIL_ADDRESS"]
    assert outcome["phone"]["status"] == "stored" and outcome["phone"]["pii"] == {
        "PHONE_NUMBER": {"count": 1, "action": "allow"}}
    hit = call(gw, key, "POST", "/v1/collections/legal/search", {"query": "counsel phone", "k": 1}).json()
    assert hit["results"][0]["text"] == docs[1]["text"]  # allowed: unchanged, but still counted and audited
    legal = analyze(gw, key, docs[0]["text"], collection="legal")
    assert legal["action"] == "block" and analyze(gw, key, docs[0]["text"])["action"] == "pseudonymize"


# --- thresholds, allow and deny lists, custom recognizers ----------------------------------------------------

def test_when_a_tenant_pins_a_high_person_threshold_then_names_fall_below_it(
    gw: GatewayProcess, keys: dict[str, str]
) -> None:
    text = "Margaret Thornton approved the travel budget."
    [person] = analyze(gw, keys["lenient"], text)["findings"]
    assert (person["outcome"], person["score"], person["threshold"]) == ("below_threshold", 0.85, 0.9)
    assert embed(gw, keys["lenient"], text).headers["X-Gateway-PII"] == "none"
    assert embed(gw, keys["globex"], text).headers["X-Gateway-PII"] == "PERSON=1;redact"


def test_when_a_phone_scores_at_its_entity_threshold_then_it_counts(gw: GatewayProcess, keys: dict[str, str]) -> None:
    # No phone word nearby ("call" now counts as one, and would lift the score to 0.75).
    [phone] = analyze(gw, keys["globex"], "Try me at 555-014-2233 tomorrow")["findings"]
    assert (phone["entity_type"], phone["score"], phone["threshold"], phone["outcome"]) == (
        "PHONE_NUMBER", 0.4, 0.4, "applied")  # under the 0.5 default, at the entity's own 0.4


def test_when_the_company_name_appears_then_the_allow_list_keeps_it(gw: GatewayProcess, keys: dict[str, str]) -> None:
    text = "Walter Acme founded Acme Corp; Margaret Thornton runs sales."
    result = analyze(gw, keys["acme"], text)
    outcomes = {text[f["start"]:f["end"]]: f["outcome"] for f in result["findings"]}
    assert outcomes == {"Walter Acme": "allow_listed", "Acme Corp": "allow_listed", "Margaret Thornton": "applied"}
    assert embed(gw, keys["acme"], text).headers["X-Gateway-PII"] == "PERSON=1;redact"
    # Another tenant has no such allow list: its founder is a person like any other.
    assert embed(gw, keys["globex"], text).headers["X-Gateway-PII"] == "PERSON=2;redact"


def test_when_a_deny_list_term_appears_then_it_is_a_finding_the_detector_never_made(
    gw: GatewayProcess, keys: dict[str, str]
) -> None:
    text = "Ask the Night  Auditor about the vault."
    [finding] = analyze(gw, keys["acme"], text)["findings"]
    assert (finding["entity_type"], finding["source"], finding["outcome"], finding["score"]) == (
        "PERSON", "deny_list", "applied", 1.0)
    assert text[finding["start"]:finding["end"]] == "the Night  Auditor"  # case and spacing folded
    assert embed(gw, keys["acme"], text).headers["X-Gateway-PII"] == "PERSON=1;redact"
    assert analyze(gw, keys["globex"], text)["findings"] == []


@pytest.mark.parametrize(("text", "found", "status"), [
    ("badge EMP-12345674 issued", "applied", 422),  # Luhn-valid: blocked
    ("code EMP-12345674 issued", "applied", 422),  # a validated match scores 1.0, context or not
    ("badge EMP-12345675 issued", None, 200),  # Luhn fails: dropped even beside a context word
])
def test_when_a_custom_recognizer_with_a_validator_matches_then_the_checksum_decides(
    gw: GatewayProcess, keys: dict[str, str], text: str, found: str | None, status: int
) -> None:
    findings = analyze(gw, keys["acme"], text)["findings"]
    assert [f["outcome"] for f in findings] == ([found] if found else [])
    r = embed(gw, keys["acme"], text)
    assert r.status_code == status
    if status == 422:
        assert "EMPLOYEE_ID" in r.json()["error"]["message"]
    assert analyze(gw, keys["globex"], text)["findings"] == []  # a type no rule of globex's names is not sought


@pytest.mark.parametrize(("text", "score", "outcome"), [
    ("see case CR1234567 today", 0.65, "applied"),
    ("see CR1234567 today", 0.3, "below_threshold"),
])
def test_when_a_custom_recognizer_has_context_words_then_they_lift_a_weak_match(
    gw: GatewayProcess, keys: dict[str, str], text: str, score: float, outcome: str
) -> None:
    [finding] = analyze(gw, keys["acme"], text)["findings"]
    assert (finding["entity_type"], finding["score"], finding["outcome"]) == ("CASE_REF", score, outcome)


# --- evasions ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "value"), [
    pytest.param("ssn 078\u200b-05\u200b-1120 on file", "078-05-1120", id="zero-width"),
    pytest.param("ssn \uff10\uff17\uff18-\uff10\uff15-\uff11\uff11\uff12\uff10 on file", "078-05-1120",
                 id="full-width"),
    pytest.param("ssn \u0660\u0667\u0668-\u0660\u0665-\u0661\u0661\u0662\u0660 on file",
                 "\u0660\u0667\u0668-\u0660\u0665-\u0661\u0661\u0662\u0660", id="arabic-indic"),
    pytest.param("ssn \u0966\u096d\u096e-\u0966\u096b-\u0967\u0967\u0968\u0966 on file",
                 "\u0966\u096d\u096e-\u0966\u096b-\u0967\u0967\u0968\u0966", id="devanagari"),
    pytest.param("ssn 123 45 6789 on file", "123 45 6789", id="spaces"),
    pytest.param("ssn 123.45.6789 on file", "123.45.6789", id="dots"),
    pytest.param("ssn 078-05-\n1120 on file", "078-05-\n1120", id="line-break"),
])
def test_when_an_ssn_is_disguised_then_it_is_still_blocked_at_canonical_offsets(
    gw: GatewayProcess, keys: dict[str, str], raw: str, value: str
) -> None:
    result = analyze(gw, keys["globex"], raw)
    assert result["blocked_types"] == ["US_SSN"]
    [ssn] = [f for f in result["findings"] if f["entity_type"] == "US_SSN"]
    assert normalize(raw)[ssn["start"]:ssn["end"]] == value
    r = embed(gw, keys["globex"], raw)
    assert r.status_code == 422 and "US_SSN" in r.json()["error"]["message"]


def test_when_an_email_uses_homoglyphs_then_it_is_still_redacted(gw: GatewayProcess, keys: dict[str, str]) -> None:
    raw = "write to j\u043ehn.d\u043ee@\u0435xample.com today"  # Cyrillic o, o, e
    [email] = analyze(gw, keys["globex"], raw)["findings"]
    assert (email["entity_type"], raw[email["start"]:email["end"]]) == ("EMAIL_ADDRESS", raw[9:29])
    assert embed(gw, keys["globex"], raw).headers["X-Gateway-PII"] == "EMAIL_ADDRESS=1;redact"


# --- the call is audited without values --------------------------------------------------------------------

def test_when_analyze_is_called_then_the_audit_entry_has_types_and_counts_only(
    gw: GatewayProcess, keys: dict[str, str]
) -> None:
    r = call(gw, keys["acme"], "POST", "/v1/pii/analyze",
             {"texts": ["ssn 078-05-1120", "Margaret Thornton, jane.roe@example.com"]})
    index = int(r.headers["X-Gateway-Audit-Index"])
    page = call(gw, keys["acme-auditor"], "GET", "/v1/audit/entries", params={"start": index, "end": index + 1})
    entry = json.loads(base64.b64decode(page.json()["entries"][0]))
    assert (entry["event"], entry["decision"], entry["count"], entry["blocked"]) == ("pii.analyze", "allow", 2, 1)
    assert entry["pii"] == {"US_SSN": {"count": 1, "action": "block"}, "PERSON": {"count": 1, "action": "redact"},
                            "EMAIL_ADDRESS": {"count": 1, "action": "pseudonymize"}}
    # whole values, not digit fragments: time stamps, request ids and digests may hold "078" by chance
    assert not any(v in json.dumps(entry) for v in ("078-05", "05-1120", "Thornton", "jane.roe"))
    assert not any(v in r.text for v in ("078-05", "05-1120", "Thornton", "jane.roe"))


# --- pseudonyms that still search --------------------------------------------------------------------------

def _collection_of_twins(gw: GatewayProcess, key: str, name: str) -> None:
    """Documents that differ only by the person they name, plus one more document about the first person."""
    assert call(gw, key, "POST", "/v1/collections", {"name": name, "model": MODEL}).status_code == 201
    docs = [{"id": f"p{i}", "text": TWIN_TEXT.format(n)} for i, n in enumerate(TWINS)]
    docs.append({"id": "lease", "text": f"{TWINS[0]} signed the lease for the Chicago warehouse."})
    r = call(gw, key, "POST", f"/v1/collections/{name}/documents", {"documents": docs})
    assert r.status_code == 200 and all(x["status"] == "stored" for x in r.json()["results"]), r.text


def _ranked(gw: GatewayProcess, key: str, name: str, person: str) -> list[dict[str, Any]]:
    r = call(gw, key, "POST", f"/v1/collections/{name}/search", {"query": f"What did {person} approve?", "k": 7})
    assert r.status_code == 200, r.text
    return list(r.json()["results"])


def _misranked(gw: GatewayProcess, key: str, name: str) -> dict[str, list[str]]:
    """Person -> ranking, for every person whose documents do not come first when a search names them."""
    out: dict[str, list[str]] = {}
    for i, person in enumerate(TWINS):
        theirs = {f"p{i}", "lease"} if i == 0 else {f"p{i}"}
        ranking = [h["document_id"] for h in _ranked(gw, key, name, person)]
        if set(ranking[: len(theirs)]) != theirs:
            out[person] = ranking
    return out


@pytest.fixture(scope="module")
def people(gw: GatewayProcess, keys: dict[str, str]) -> dict[str, str]:
    """The same documents in three collections: PERSON pseudonymized, redacted (the tenant's rule) and allowed."""
    names = {"pseudonymize": "people", "redact": "people-redacted", "allow": "people-allowed"}
    for name in names.values():
        _collection_of_twins(gw, keys["acme"], name)
    return names


def test_when_person_is_pseudonymized_then_one_name_is_one_token_and_no_name_is_stored(
    gw: GatewayProcess, keys: dict[str, str], people: dict[str, str]
) -> None:
    hits = _ranked(gw, keys["acme"], people["pseudonymize"], TWINS[0])
    texts = {h["document_id"]: h["text"] for h in hits}
    tokens = {d: t.split(">")[0] + ">" for d, t in texts.items()}
    assert tokens["p0"] == tokens["lease"] and tokens["p0"].startswith("<PERSON ")
    assert len({tokens[f"p{i}"] for i in range(len(TWINS))}) == len(TWINS)
    assert not any(part in json.dumps(hits) for n in TWINS for part in n.split())


def test_when_names_are_allowed_then_a_search_naming_a_person_ranks_their_document_first(
    gw: GatewayProcess, keys: dict[str, str], people: dict[str, str]
) -> None:
    """The control: with the names in the text, the model tells these documents apart."""
    assert _misranked(gw, keys["acme"], people["allow"]) == {}


def test_when_person_is_redacted_then_documents_differing_only_by_name_tie_and_the_name_is_lost(
    gw: GatewayProcess, keys: dict[str, str], people: dict[str, str]
) -> None:
    hits = _ranked(gw, keys["acme"], people["redact"], TWINS[0])
    twins = [h for h in hits if h["document_id"] != "lease"]
    assert {h["text"] for h in twins} == {TWIN_TEXT.format("<PERSON>")}
    assert max(h["score"] for h in twins) - min(h["score"] for h in twins) < 1e-5  # same text, same vector


def test_when_person_is_pseudonymized_then_a_search_naming_a_person_ranks_their_document_first(
    gw: GatewayProcess, keys: dict[str, str], people: dict[str, str]
) -> None:
    # Pseudonyms are keyed, so each run's keys draw new ones, and how much of a pseudonym's word pieces the query
    # shares with its document varies: over 108 (person, key set) draws the own document led by 0.05 to 0.49 in
    # cosine, and about one full test run in 25 saw one person's document second, behind "lease" (the other
    # document that names someone). Twins under redaction tie, so even that is far from chance (1 in 6).
    misranked = _misranked(gw, keys["acme"], people["pseudonymize"])
    assert len(misranked) <= 1, misranked
    for person, ranking in misranked.items():
        assert f"p{TWINS.index(person)}" in ranking[:2], (person, ranking)


# --- hot reload: last, it edits the running gateway's policy ------------------------------------------------

def _wait_for_version(gw: GatewayProcess, key: str, old: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        version = str(call(gw, key, "POST", "/v1/pii/analyze", {"text": "hello"}).json()["policy_version"])
        if version != old:
            return version
        time.sleep(0.2)
    return old


def test_when_a_broken_policy_is_written_then_it_is_rejected_and_a_fixed_one_then_takes_effect(
    gw: GatewayProcess, keys: dict[str, str]
) -> None:
    path = gw.policy_dir / "gateway.yaml"
    good = path.read_text()
    key, email = keys["globex"], "Write to jane.roe@example.com please, from 10.1.2.3"
    before = call(gw, key, "POST", "/v1/pii/analyze", {"text": email}).json()
    try:
        path.write_text(good.replace("      PERSON: redact\n", "      PERSON: obliterate\n"))
        assert _wait_for_version(gw, key, before["policy_version"], timeout=2.0) == before["policy_version"]
        # the reason reaches the JSON log; the long temporary path before it is scrubbed as a token-like run
        assert ".yaml:13: action of PERSON must be one of" in gw.log_path.read_text()
        assert embed(gw, key, email).headers["X-Gateway-PII"] == "EMAIL_ADDRESS=1;redact"  # the good one serves

        path.write_text(good.replace("      EMAIL_ADDRESS: redact\n",
                                     "      EMAIL_ADDRESS: block\n      IP_ADDRESS: redact\n"))
        after = _wait_for_version(gw, key, before["policy_version"])
        assert after != before["policy_version"]
        result = call(gw, key, "POST", "/v1/pii/analyze", {"text": email}).json()["results"][0]
        assert applied(result) == {"EMAIL_ADDRESS": "block", "IP_ADDRESS": "redact"}  # new recognizer built too
        r = embed(gw, key, email)
        assert r.status_code == 422 and "EMAIL_ADDRESS" in r.json()["error"]["message"]
    finally:
        path.write_text(good)
    assert _wait_for_version(gw, key, after) == before["policy_version"]
