from __future__ import annotations

from gateway.pii.decide import Decision, EntityOutcome, decide, explain, pii_summary, pseudonym
from gateway.pii.detector_types import Finding
from gateway.pii.fake import FakeDetector
from gateway.policy.loader import EntityRule, ScopePolicy

SECRET = b"tenant-secret-0123456789abcdef"


def scope(**actions: str) -> ScopePolicy:
    return ScopePolicy(entities={k: EntityRule(v, 0.5) for k, v in actions.items()})  # type: ignore[arg-type]


def run(text: str, sc: ScopePolicy, secret: bytes = SECRET) -> tuple[list[Finding], object]:
    findings = FakeDetector().analyze([text], [sc])[0]
    return findings, decide(text, findings, sc, secret)


def test_when_blocked_type_found_then_decision_blocks_and_text_is_empty() -> None:
    _, d = run("My SSN is 078-05-1120", scope(US_SSN="block", PERSON="redact"))
    assert d.blocked and d.text == "" and d.blocked_types == ("US_SSN",)  # type: ignore[attr-defined]


def test_when_redact_then_typed_placeholders_replace_values() -> None:
    _, d = run("Bob Smith wrote to bob@example.com", scope(PERSON="redact", EMAIL_ADDRESS="redact"))
    assert d.text == "<PERSON> wrote to <EMAIL_ADDRESS>"  # type: ignore[attr-defined]
    assert d.entities["PERSON"].count == 1  # type: ignore[attr-defined]


def test_when_pseudonymize_then_same_value_same_token_across_texts() -> None:
    sc = scope(PERSON="pseudonymize")
    _, doc = run("Bob Smith lives in Ohio", sc)
    _, query = run("where does Bob Smith live", sc)
    token = pseudonym("PERSON", "Bob Smith", SECRET)
    assert pseudonym("PERSON", "BOB  SMITH", SECRET) == token
    assert token in doc.text and token in query.text  # type: ignore[attr-defined]
    entity, first, second = token.strip("<>").split(" ")
    assert entity == "PERSON" and first.isalpha() and second.isalpha()


def test_when_tenant_secret_differs_then_pseudonyms_differ() -> None:
    assert pseudonym("PERSON", "Bob Smith", b"a") != pseudonym("PERSON", "Bob Smith", b"b")


def test_when_action_allow_then_text_unchanged_but_counted() -> None:
    _, d = run("Bob Smith said hi", scope(PERSON="allow"))
    assert d.text == "Bob Smith said hi" and d.entities["PERSON"].action == "allow"  # type: ignore[attr-defined]


def test_when_score_below_entity_threshold_then_finding_ignored() -> None:
    sc = ScopePolicy(entities={"US_SSN": EntityRule("block", 0.95)})
    findings = [Finding("US_SSN", 0, 11, 0.9)]
    assert not decide("078-05-1120", findings, sc, SECRET).blocked
    assert explain("078-05-1120", findings, sc)[0].outcome == "below_threshold"


def test_when_value_is_allow_listed_then_not_redacted() -> None:
    sc = ScopePolicy(entities={"PERSON": EntityRule("redact", 0.5)}, allow_list=("Alice Cooper",))
    findings = [Finding("PERSON", 0, 12, 0.9)]
    assert decide("Alice Cooper sings", findings, sc, SECRET).text == "Alice Cooper sings"


def test_when_deny_list_term_present_then_it_is_a_finding_even_with_homoglyphs() -> None:
    sc = ScopePolicy(entities={"PERSON": EntityRule("block", 0.5)}, deny_list={"PERSON": ("Project Falcon",)})
    d = decide("status of pr\u043eject  falcon?", [], sc, SECRET)
    assert d.blocked and d.blocked_types == ("PERSON",)


def test_when_findings_overlap_then_higher_score_wins() -> None:
    sc = scope(US_SSN="block", PHONE_NUMBER="redact")
    findings = [Finding("PHONE_NUMBER", 0, 11, 0.6), Finding("US_SSN", 0, 11, 0.85)]
    d = decide("078-05-1120", findings, sc, SECRET)
    assert d.blocked
    outcomes = {e.entity_type: e.outcome for e in explain("078-05-1120", findings, sc)}
    assert outcomes == {"US_SSN": "applied", "PHONE_NUMBER": "overlapped"}


def test_when_equal_scores_overlap_then_longer_span_wins() -> None:
    sc = scope(PERSON="redact", LOCATION="redact")
    findings = [Finding("LOCATION", 0, 3, 0.85), Finding("PERSON", 0, 9, 0.85)]
    assert decide("Bob Smith", findings, sc, SECRET).text == "<PERSON>"


def test_when_type_has_no_rule_then_explain_says_no_rule_and_decide_ignores() -> None:
    sc = scope(PERSON="redact")
    findings = [Finding("IP_ADDRESS", 0, 7, 0.9)]
    assert explain("1.2.3.4", findings, sc)[0].outcome == "no_rule"
    assert decide("1.2.3.4", findings, sc, SECRET).text == "1.2.3.4"


def test_when_no_findings_then_text_is_returned_unchanged() -> None:
    d = decide("Quarterly revenue grew 4%", [], scope(PERSON="redact"), SECRET)
    assert not d.blocked and d.text == "Quarterly revenue grew 4%" and not d.entities


def test_when_fake_detector_reads_evasions_then_offsets_are_canonical() -> None:
    found = FakeDetector().analyze(
        ["ssn \u0660\u0667\u0668-\u0660\u0665-\u0661\u0661\u0662\u0660"], [scope(US_SSN="block")]
    )[0]
    assert found and (found[0].start, found[0].end) == (4, 15)


def test_when_one_span_is_read_as_card_and_as_phone_then_the_stricter_action_wins() -> None:
    # A 12-digit Maestro number that the phone recognizer scores higher than the card recognizer does.
    sc = scope(CREDIT_CARD="block", PHONE_NUMBER="redact")
    findings = [Finding("PHONE_NUMBER", 8, 20, 0.75), Finding("CREDIT_CARD", 8, 20, 0.55)]
    d = decide("my card 501812345678", findings, sc, SECRET)
    assert d.blocked and d.blocked_types == ("CREDIT_CARD",)


def test_when_decisions_share_an_entity_type_then_the_summary_sums_counts_and_keeps_the_first_action() -> None:
    first = Decision(False, "x", {"PERSON": EntityOutcome(2, "redact")}, ())
    second = Decision(False, "y", {"PERSON": EntityOutcome(1, "pseudonymize"),
                                   "EMAIL_ADDRESS": EntityOutcome(3, "redact")}, ())
    assert pii_summary([first, second]) == {"PERSON": {"count": 3, "action": "redact"},
                                            "EMAIL_ADDRESS": {"count": 3, "action": "redact"}}
    assert pii_summary([]) == {}
