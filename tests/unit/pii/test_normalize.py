from __future__ import annotations

from gateway.pii.normalize import detection_view, normalize


def test_when_text_has_zero_width_and_controls_then_canonical_drops_them() -> None:
    assert normalize("078\u200b-05\u200d-\u00ad1120\x07\ufeff") == "078-05-1120"


def test_when_text_has_newline_and_tab_then_they_are_kept() -> None:
    assert normalize("a\tb\r\nc") == "a\tb\nc"


def test_when_text_has_fullwidth_digits_then_nfkc_makes_them_ascii() -> None:
    assert normalize("\uff10\uff17\uff18") == "078"


def test_when_text_is_plain_ascii_then_view_is_identical_and_offsets_identity() -> None:
    view = detection_view("Bob paid 12 dollars")
    assert view.text == "Bob paid 12 dollars"
    assert view.to_canonical(0, 3) == (0, 3)


def test_when_digits_are_arabic_indic_then_view_has_ascii_at_same_offsets() -> None:
    canonical = normalize("SSN \u0660\u0667\u0668-\u0660\u0665-\u0661\u0661\u0662\u0660")
    view = detection_view(canonical)
    assert view.text == "SSN 078-05-1120"
    assert view.to_canonical(4, 15) == (4, len(canonical))


def test_when_email_has_cyrillic_homoglyphs_then_view_is_latin() -> None:
    assert detection_view("j\u043ehn@\u0435xample.com").text == "john@example.com"


def test_when_identifier_is_split_across_lines_then_view_joins_and_maps_back() -> None:
    canonical = "my ssn is 078-05-\n1120."
    view = detection_view(canonical)
    assert view.text == "my ssn is 078-05-1120."
    start = view.text.index("078")
    assert view.to_canonical(start, start + 11) == (10, 22)
    assert canonical[10:22] == "078-05-\n1120"


def test_when_line_breaks_in_the_middle_of_a_group_then_it_is_dropped() -> None:
    assert detection_view("491-8\n4-5637").text == "491-84-5637"


def test_when_prose_spans_lines_then_words_are_not_joined() -> None:
    assert detection_view("line one\nline two").text == "line one\nline two"


def test_when_separators_are_stretched_then_they_collapse() -> None:
    assert detection_view("123 -- 45 -- 6789").text == "123-45-6789"


def test_when_letter_o_stands_for_zero_in_a_number_then_view_has_digit() -> None:
    assert detection_view("SSN 237-2\u041e-136\u041e").text == "SSN 237-20-1360"


def test_when_bank_code_letters_touch_digits_then_they_are_not_folded() -> None:
    assert detection_view("GB67OFFI70455853043520").text == "GB67OFFI70455853043520"


def test_when_ipv4_address_then_dots_are_kept() -> None:
    assert detection_view("host 192.168.100.200").text == "host 192.168.100.200"


def test_when_card_uses_dots_then_view_uses_hyphens() -> None:
    assert detection_view("4111.1111.1111.1111").text == "4111-1111-1111-1111"


def test_when_a_capitalized_word_follows_a_digit_run_then_the_view_keeps_it_whole() -> None:
    """A chat export's stamp before a name: the view used to take the name's capital as a group of the run and
    split it off the rest of the word ("[12-03-25-10:32:01-A lex")."""
    assert detection_view("[12/03/25, 10:32:01] Alex: ok").text.endswith("] Alex: ok")
    assert "Tristan Peron:" in detection_view("12/03/2025, 10:32 - Tristan Peron: see you").text
    assert detection_view("SSN 078 05 1120 Abc").text == "SSN 078 05 1120 Abc"
    assert detection_view("536/90/4721 Bob").text == "536-90-4721 Bob"


def test_when_a_number_ends_a_sentence_before_a_name_then_the_view_keeps_them_apart() -> None:
    """names14: "12. Chidi" became "12.Chidi", which spaCy reads as one CARDINAL, and the name was lost."""
    assert detection_view("In room 12. Chidi Okafor will host.").text == "In room 12. Chidi Okafor will host."
    assert detection_view("1. Kavya Iyer (backend)").text == "1. Kavya Iyer (backend)"
    assert detection_view("room 12.\nChidi Okafor").text == "room 12.\nChidi Okafor"


def test_when_digits_and_separators_stretch_an_identifier_then_they_still_collapse() -> None:
    assert detection_view("SSN 078 .  05 .  1120").text == "SSN 078-05-1120"
    assert detection_view("ID 12. 34AB").text == "ID 12.34AB"
    assert detection_view("ref 12. AB34").text == "ref 12.AB34"
