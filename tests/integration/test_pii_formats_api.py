"""Card schemes and lengths, phone formats, the newer identifiers and number-heavy PII-free text, through HTTP.

One real gateway (real Presidio, spaCy, model) on the shipped policy (``policy/gateway.yaml``); every check reads
``POST /v1/pii/analyze`` and, for blocks, ``POST /v1/embeddings`` (422). Regressions from issue 18: the public
evaluation set found 12-digit Maestro, 15-digit JCB (2131/1800) and 19-digit Visa numbers unblocked, and phone
numbers with extensions and international prefixes unredacted.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.integration.pii_http import analyze, person_spans
from tests.integration.server import GatewayProcess

pytestmark = pytest.mark.slow
MODEL = "all-MiniLM-L6-v2"


def luhn(body: str) -> str:
    """``body`` plus the check digit that makes it Luhn-valid (computed here, not by the code under test)."""
    total = 0
    for i, c in enumerate(reversed(body)):
        n = int(c) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return body + str((10 - total % 10) % 10)


# scheme -> a Luhn-valid number of each length it issues (12-19 digits)
CARDS: dict[str, str] = {
    "visa-13": luhn("422222222222"), "visa-16": luhn("411111111111111"), "visa-19": luhn("471673654091458825"),
    "mastercard-51": luhn("510510510510510"), "mastercard-2221": luhn("222100000000000"),
    "mastercard-2720": luhn("272099999999999"), "amex-34": luhn("34343434343434"), "amex-37": luhn("37828224631000"),
    "discover-6011": luhn("601111111111111"), "discover-65": luhn("650000000000000"),
    "diners-14": luhn("3056930902590"), "jcb-16": luhn("353011133330000"), "jcb-19": luhn("358900000000000000"),
    "jcb-2131-15": luhn("21311234567890"), "jcb-1800-15": luhn("18001234567890"),
    "maestro-12": luhn("50181234567"), "maestro-13": luhn("501812345678"), "maestro-15": luhn("67590000000000"),
    "maestro-19": luhn("675964982643845300"), "unionpay-16": luhn("620000000000000"),
    "unionpay-19": luhn("621234567890123456"), "rupay-16": luhn("608000000000000"), "mir-16": luhn("220012345678901"),
}  # fmt: skip


def grouped(number: str, sizes: tuple[int, ...], sep: str = " ") -> str:
    out, i = [], 0
    for size in sizes:
        out.append(number[i : i + size])
        i += size
    if i < len(number):
        out.append(number[i:])
    return sep.join(out)


@pytest.fixture(scope="module")
def gw(gateway: GatewayProcess) -> GatewayProcess:
    """The session's gateway: the shipped policy these checks read; the policy test restores what it edits."""
    return gateway


@pytest.fixture(scope="module")
def key(gw: GatewayProcess) -> str:
    return gw.make_key("globex", "app", "writer")


def applied(result: dict[str, Any]) -> dict[str, str]:
    return {f["entity_type"]: f["action"] for f in result["findings"] if f["outcome"] == "applied"}


def assert_blocked(gw: GatewayProcess, key: str, text: str, entity: str) -> None:
    result = analyze(gw, key, text)
    assert result["action"] == "block" and applied(result).get(entity) == "block", (text, result)
    r = httpx.post(gw.url + "/v1/embeddings", json={"model": MODEL, "input": text},
                   headers={"Authorization": f"Bearer {key}"}, timeout=120)
    assert r.status_code == 422 and r.json()["error"]["code"] == "pii_blocked", r.text


@pytest.mark.parametrize("scheme", sorted(CARDS))
def test_when_a_card_of_any_scheme_and_length_is_sent_then_it_is_blocked(
    gw: GatewayProcess, key: str, scheme: str
) -> None:
    assert_blocked(gw, key, f"Please charge my card {CARDS[scheme]} today.", "CREDIT_CARD")


@pytest.mark.parametrize(
    ("number", "sizes", "sep"),
    [
        (CARDS["visa-16"], (4, 4, 4, 4), " "),
        (CARDS["visa-16"], (4, 4, 4, 4), "-"),
        (CARDS["visa-16"], (4, 4, 4, 4), "."),
        (CARDS["amex-37"], (4, 6, 5), " "),
        (CARDS["visa-19"], (4, 4, 4, 4, 3), " "),
        (CARDS["maestro-12"], (4, 4, 4), "-"),
        (CARDS["jcb-2131-15"], (4, 4, 4, 3), " "),
    ],
)
def test_when_a_card_is_grouped_as_people_type_it_then_it_is_blocked(
    gw: GatewayProcess, key: str, number: str, sizes: tuple[int, ...], sep: str
) -> None:
    assert_blocked(gw, key, f"Visa card {grouped(number, sizes, sep)} expires 12/27.", "CREDIT_CARD")


def test_when_a_card_is_followed_by_its_cvv_then_it_is_still_blocked(gw: GatewayProcess, key: str) -> None:
    assert_blocked(gw, key, f"cc {grouped(CARDS['visa-16'], (4, 4, 4, 4))} 123", "CREDIT_CARD")


def test_when_a_twelve_digit_maestro_is_also_a_phone_shape_then_the_block_wins(gw: GatewayProcess, key: str) -> None:
    assert_blocked(gw, key, f"debit card {CARDS['maestro-12']}, call me about it", "CREDIT_CARD")


def test_when_a_short_luhn_number_has_no_card_word_then_it_is_not_blocked(gw: GatewayProcess, key: str) -> None:
    assert analyze(gw, key, f"Order {CARDS['maestro-12']} shipped from warehouse 4.")["action"] != "block"


@pytest.mark.parametrize(
    "phone",
    [
        "206.269.0743x9150", "+1-780-563-6083x7783", "001-366-486-9227x1383", "(591)341-7776", "(212) 555-0187",
        "212-555-0187 ext. 42", "1-800-555-0199", "+1 415 555 2671", "+44 20 7946 0958", "+44 (0)121 496 0584",
        "+49 30 901820", "+49(0)7090 05474", "01 23 45 67 89", "+33 1 23 45 67 89", "+91 98765 43210",
        "+1 (604) 555-0134",
    ],
)  # fmt: skip
def test_when_a_phone_number_is_written_as_people_write_them_then_it_is_redacted(
    gw: GatewayProcess, key: str, phone: str
) -> None:
    result = analyze(gw, key, f"You can reach me on {phone} after 3pm.")
    assert applied(result).get("PHONE_NUMBER") == "redact" and result["action"] == "redact", result


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("My ITIN is 912-70-1234.", "US_ITIN"),
        ("National insurance number AB 12 34 56 C on the payslip.", "UK_NINO"),
        ("NHS number 943 476 5919 for the patient.", "UK_NHS"),
        ("Wire it to IBAN NO93 8601 1117 947 please.", "IBAN_CODE"),
        ("Wire it to RU02 0445 2560 0407 0281 0412 3456 7890 1 please.", "IBAN_CODE"),
        ("Beneficiary IT60 X054 2811 1010 0000 0123 456, thanks.", "IBAN_CODE"),
        ("Patient chart MRN 00123456 was updated.", "MEDICAL_RECORD_NUMBER"),
    ],
)
def test_when_a_national_health_or_bank_identifier_is_sent_then_it_is_blocked(
    gw: GatewayProcess, key: str, text: str, entity: str
) -> None:
    assert_blocked(gw, key, text, entity)


@pytest.mark.parametrize(
    ("text", "entity"),
    [("Use SWIFT code DEUTDEFF500 for the transfer.", "SWIFT_CODE"), ("She was born on 1985-03-14.", "DATE_OF_BIRTH")],
)
def test_when_a_bic_or_date_of_birth_is_sent_then_it_is_redacted(
    gw: GatewayProcess, key: str, text: str, entity: str
) -> None:
    assert applied(analyze(gw, key, text)).get(entity) == "redact"


@pytest.mark.parametrize(
    "text",
    [
        "Order #4615449757 has shipped and will arrive Thursday.",
        "Invoice INV-2024-318096 is overdue by 14 days.",
        "Your UPS tracking number is 1Z999AA10123456784.",
        "USPS tracking 9400 1000 0000 0000 0000 00 was delivered.",
        "Please order ISBN 978-3-16-148410-0 for the compliance library.",
        "The reference text is ISBN 0-306-40615-2.",
        "Job finished at 2024-05-06T12:34:56Z (1714998896) with no errors.",
        "Upgrade the agent to version 10.0.19045.3803 before the audit.",
        "The account balance is $12,345,678.90 as of this morning.",
        "SKU 144-5431-3654 is out of stock in 3 warehouses.",
        "Ticket INC0012345 was escalated to tier 2.",
        "GPS fix at 40.712776, -74.005974 logged 20240506123456.",
        "The meeting was moved to 2024-05-06 at 10:30 in room 4.12.",
    ],
)
def test_when_business_text_is_full_of_numbers_but_free_of_pii_then_it_is_not_blocked(
    gw: GatewayProcess, key: str, text: str
) -> None:
    result = analyze(gw, key, text)
    assert result["action"] != "block", result


def phone_span(result: dict[str, Any], text: str) -> list[str]:
    return [text[f["start"] : f["end"]] for f in result["findings"]
            if f["entity_type"] == "PHONE_NUMBER" and f["outcome"] == "applied"]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("Please register (258)4\u041e5-6\u041e11 for alerts.", "(258)4\u041e5-6\u041e11"),  # O for 0, parentheses
        ("Fax: 536.233.995\u041ex865", "536.233.995\u041ex865"),  # O for 0 right before the extension
        ("They're not answering at 930.850.1496x6706", "930.850.1496x6706"),  # x6706 once read as a PERSON
        ("I would like to stop receiving messages to 6702217477", "6702217477"),  # bare ten digits
        ("Please have the manager call me at 9554 7601 72 today", "9554 7601 72"),  # regrouped, "call" nearby
        ("I would like to stop receiving messages to 67992\n83689", "67992\n83689"),  # a line break inside
        ("Ryan Bennett\nJasonhaven, LA 82601\n2507 0617 03", "2507 0617 03"),  # regrouped, under an address
        ("Brenda Aguirre\nReeves LLC\n487 755 9645x72310", "487 755 9645x72310"),  # once joined to "LLC"
        ("479-32\n4-9190\n53754 Michelle Place", "479-32\n4-9190"),  # broken, then a house number's line
    ],
)
def test_when_a_phone_is_disguised_bare_or_regrouped_then_it_is_redacted(
    gw: GatewayProcess, key: str, text: str, phone: str
) -> None:
    result = analyze(gw, key, text)
    assert result["action"] == "redact" and phone_span(result, text) == [phone], result


@pytest.mark.parametrize(
    "text", ["Call the clinic at +1-473-845-3157x997 tomorrow.", "The hospital number is 001-473-845-3157."]
)
def test_when_a_phone_that_passes_the_nhs_check_is_near_a_health_word_then_it_is_redacted_not_blocked(
    gw: GatewayProcess, key: str, text: str
) -> None:
    # Issue 18 regression: the ten digits pass the NHS mod-11 check, and the NHS finding's block won the overlap.
    result = analyze(gw, key, text)
    assert result["action"] == "redact" and "UK_NHS" not in applied(result), result
    r = httpx.post(gw.url + "/v1/embeddings", json={"model": MODEL, "input": text},
                   headers={"Authorization": f"Bearer {key}"}, timeout=120)
    assert r.status_code == 200 and "PHONE_NUMBER=" in r.headers["X-Gateway-PII"], (r.status_code, r.text[:200])


def test_when_phones_are_listed_with_commas_then_each_is_redacted_whole(gw: GatewayProcess, key: str) -> None:
    text = "Numbers: +1-572-874-9207, 001-869-572-0119x77679"  # once read as one run, the first one was hidden
    assert phone_span(analyze(gw, key, text), text) == ["+1-572-874-9207", "001-869-572-0119x77679"]


def test_when_ten_digits_follow_an_order_label_then_they_are_not_a_phone(gw: GatewayProcess, key: str) -> None:
    text = "Invoice number 2125550187 was paid in full."
    assert phone_span(analyze(gw, key, text), text) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("She named him Alejandro", "Alejandro"),  # named/called + pronoun
        ("I'm so jealous! said Eric to Sophia", "Sophia"),  # said X to Y
        ("In case of my child's account, we need to add Candace Raymond as guardian", "Candace Raymond"),
        ("One of the most depressing songs. Don't go to town, Brandon!", "Brandon"),  # vocative, end
        ("Carmen, can I please speak to your boss?", "Carmen"),  # vocative, start
        ("Christian had given Jon his address: 477 Andrea Landing", "Christian"),  # a subject with "his"
        ("Follow up with Sara Mills in a couple of months.", "Sara Mills"),  # follow up with
        ("Our 3 founders: Berry, Farmer and Mcclain.", "Farmer"),  # a list that holds a name
        ("Amanda Riley\n\nVisual merchandiser\n\nPersonal Info:\nPhone:\n518-720-8738", "Amanda Riley"),  # card
        ("Bailey is a very sympathetic person. They are also good listeners.", "Bailey"),  # said to be a person
        ("What's your name? Curtis Gonzales", "Curtis Gonzales"),  # the answer to a name question
        ("My name is Kyle and I need help", "Kyle"),  # the cues that were there before
        ("Kind regards,\nMargaret Thornton", "Margaret Thornton"),
        ("Please call Dr. Okafor tomorrow", "Okafor"),
        ("Tamsin Hale was born in Leeds in 1961.", "Tamsin Hale"),  # what only a person goes through
        ("Emily Ellis 212-555-0187", "Emily Ellis"),  # a contact list's line
        ('"It is over," Hannah Bloom explained.', "Hannah Bloom"),  # the speaker after a quotation
        ("Participants: Okafor, Chidi", "Okafor, Chidi"),  # surname first after a label for people
        ("Brian Keller, 41, of Denver was arrested.", "Brian Keller"),  # an age in apposition
        ("Thanks to Connor for the recommendation!", "Connor"),  # thanks and dedications (tagger-checked)
    ],
)
def test_when_a_name_cue_surrounds_a_name_then_the_name_is_redacted(
    gw: GatewayProcess, key: str, text: str, name: str
) -> None:
    result = analyze(gw, key, text)
    assert name in person_spans(result, text) and result["action"] == "redact", result
    r = httpx.post(gw.url + "/v1/embeddings", json={"model": MODEL, "input": text},
                   headers={"Authorization": f"Bearer {key}"}, timeout=120)
    assert r.status_code == 200 and "PERSON=" in r.headers["X-Gateway-PII"], r.headers


@pytest.mark.parametrize(
    "text",
    [
        "Compliance, can you confirm the budget by Friday?",
        "Operations, please approve the purchase order.",
        "Thanks to Finance for the quick turnaround!",  # a department where a thanked person would stand
        "Shout out to Legal for the review.",
    ],
)
def test_when_a_weak_cue_points_at_a_team_then_it_is_not_a_person(gw: GatewayProcess, key: str, text: str) -> None:
    assert person_spans(analyze(gw, key, text), text) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Thanks,\nDustin", "Dustin"),  # a letter's closing, the name on the next line
        ("Prepared by: Amber Wells", "Amber Wells"),  # a form's label
        ("Beneficiary: Flavia Cignaroli", "Flavia Cignaroli"),
        ("Ayten Gute, Head of Risk", "Ayten Gute"),  # a name over its job title
        ("-- \nFrédéric Courtois\nAcme Corp", "Frédéric Courtois"),  # a signature, accented capitals
        ("Jessica Oneal <jessica.oneal@example.com>", "Jessica Oneal"),  # the address spells the name
        ("We need Graeme's signature on page two.", "Graeme"),  # what only a person has
        ("Good morning Tiffany, the file is attached.", "Tiffany"),  # a greeting, the tagger agrees
        ("Attn: SAMANTHA GRIMES, Accounts Payable", "SAMANTHA GRIMES"),  # a name in capitals
        ("Dear Ms NICOLAS, please find the invoice attached.", "NICOLAS"),
        ("my name is john smith and I lost my card", "john smith"),  # lower case after the strongest cue
    ],
)
def test_when_a_newer_name_cue_surrounds_a_name_then_the_name_is_redacted(
    gw: GatewayProcess, key: str, text: str, name: str
) -> None:
    result = analyze(gw, key, text)
    assert any(name in span for span in person_spans(result, text)) and result["action"] == "redact", result


@pytest.mark.parametrize(
    "text",
    [
        "Dear valued customer, your statement is ready.",  # a role noun, not a name
        "Regards,\nThe Reception Team",  # a team
        "Kind regards,\nInitech LLC",  # a company
        "Order Number: 4411 has shipped.",  # a label
        "Billing Team <billing.team@globex.com>",  # a team's mailbox
        "IMPORTANT NOTICE: TREASURY CHANGES",  # a line in capitals is no row of names
        "The SSN field and the ATM PIN are masked.",  # acronyms
    ],
)
def test_when_a_newer_cue_meets_a_team_a_label_or_capitals_then_no_person_is_found(
    gw: GatewayProcess, key: str, text: str
) -> None:
    assert person_spans(analyze(gw, key, text), text) == []


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("He gave me 9306 5308 65 as his home number.", "9306 5308 65"),  # a person's own number, regrouped
        ("My cell number is 4362.3186.03", "4362.3186.03"),
        ("Ring 8087 3684 03 after lunch.", "8087 3684 03"),  # "ring" is a phone word
        ("The switchboard is 2193 0193 35.", "2193 0193 35"),
    ],
)
def test_when_regrouped_digits_are_a_persons_number_or_near_a_phone_word_then_they_are_redacted(
    gw: GatewayProcess, key: str, text: str, phone: str
) -> None:
    result = analyze(gw, key, text)
    assert result["action"] == "redact" and phone_span(result, text) == [phone], result


GERMAN = "Anna erreichen Sie unter 030 12345678 ab Montag."  # a Berlin number, no English phone word


def _reloaded(gw: GatewayProcess, key: str, old: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.post(gw.url + "/v1/pii/analyze", json={"text": "hello"}, headers={"Authorization": f"Bearer {key}"},
                       timeout=120)
        if r.json()["policy_version"] != old:
            return str(r.json()["policy_version"])
        time.sleep(0.2)
    return old


def test_when_the_policy_lists_phone_regions_then_the_detector_reads_them_and_rejects_unknown_codes(
    gw: GatewayProcess, key: str
) -> None:
    """Last in the module: it edits the running gateway's policy (hot reload) and restores it."""
    path = gw.policy_dir / "gateway.yaml"
    good = path.read_text()
    shipped = "phone_regions: [US, GB, DE, FR, IN, CA]\n"
    assert shipped in good
    version = str(httpx.post(gw.url + "/v1/pii/analyze", json={"text": "hello"},
                             headers={"Authorization": f"Bearer {key}"}, timeout=120).json()["policy_version"])
    assert phone_span(analyze(gw, key, GERMAN), GERMAN) == []  # DE listed, but not first: needs a phone word
    try:
        path.write_text(good.replace(shipped, "phone_regions: [DE, US]\n"))
        german = _reloaded(gw, key, version)
        assert german != version
        assert phone_span(analyze(gw, key, GERMAN), GERMAN) == ["030 12345678"]

        line = good.splitlines().index(shipped.strip()) + 1
        path.write_text(good.replace(shipped, "phone_regions: [DE, XX]\n"))
        assert _reloaded(gw, key, german, timeout=2.0) == german  # rejected: the DE-first policy still serves
        assert f".yaml:{line}: phone_regions: unknown region code 'XX'" in gw.log_path.read_text()
        assert phone_span(analyze(gw, key, GERMAN), GERMAN) == ["030 12345678"]
    finally:
        path.write_text(good)
    assert _reloaded(gw, key, german) == version
