"""The detection view joins a value wrapped across lines, but never two lines of a form (regressions from the
public evaluation set: ``Phone:\\n9466495726\\n\\nE-mail:\\nbob@example.net`` read as one token hid both)."""

from __future__ import annotations

import pytest

from gateway.pii.normalize import detection_view


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SSN: 078-05-1120\nName: Bob", "SSN: 078-05-1120\nName: Bob"),
        ("Phone:\n9466495726\n\nE-mail:\nbob@example.net", "Phone:\n9466495726\n\nE-mail:\nbob@example.net"),
        ("Mobile: 8216737673\nDesk: (510)848-2988", "Mobile: 8216737673\nDesk: (510)848-2988"),
        ("mail bob@example.com\nWebsite: x", "mail bob@example.com\nWebsite: x"),
        ("827-460-9613\n917-902-3595", "827-460-9613\n917-902-3595"),
        ("078-05-1120\n219-09-9999", "078-05-1120\n219-09-9999"),
        ("4111 1111 1111 1111\n5500 0000 0000 0004", "4111 1111 1111 1111\n5500 0000 0000 0004"),
        # A letter glued after a number is split off (issue 17: ``536-90-4721x`` must not hide the SSN), extensions too.
        ("(761)911-1440x12\n350-505-5667", "(761)911-1440 x12\n350-505-5667"),
        ("Lake Davidbury, RI 39707\n001-366-486-9227x1383", "Lake Davidbury, RI 39707\n001-366-486-9227 x1383"),
        # An address's last line (town, state, ZIP) before a number on the next line: bare, regrouped, or broken.
        ("Lindafurt, DE 73844\n2186386975", "Lindafurt, DE 73844\n2186386975"),
        ("Alexburgh, MO 53401\n55663\n42039", "Alexburgh, MO 53401\n5566342039"),
        ("FPO AA 39757\n4484904897", "FPO AA 39757\n4484904897"),
        # A value broken once, then rejoined, ends its line: the house number on the next line is another value.
        ("479-32\n4-9190\n53754 Michelle Place", "479-324-9190\n53754 Michelle Place"),
        # A word of capitals on the line before a number is a word (a company's LLC), not part of an identifier.
        ("Reeves LLC\n487 755 9645x72310", "Reeves LLC\n487 755 9645 x72310"),
        # A list of whole values, comma or semicolon and a space between them, is no run to join.
        ("+1-572-874-9207, 001-869-572-0119", "+1-572-874-9207, 001-869-572-0119"),
        ("078-05-1120; 219-09-9999", "078-05-1120; 219-09-9999"),
    ],
)
def test_when_lines_of_a_form_hold_values_then_the_view_keeps_the_line_breaks(text: str, expected: str) -> None:
    assert detection_view(text).text == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IBAN GB82WEST\n12345698765432", "IBAN GB82WEST12345698765432"),
        ("ssn 491-8\n4-5637", "ssn 491-84-5637"),
        ("write bob@exa\nmple.com", "write bob@example.com"),
        ("write bob\n@example.com", "write bob@example.com"),
        ("my e-mail bob@e\nxample.com?", "my e-mail bob@example.com?"),
        ("card 41111111\n11111111", "card 4111111111111111"),
        ("IBAN FI7029896\n578000507", "IBAN FI7029896578000507"),
        ("card 4111 1111 11\n11 1111", "card 4111 1111 1111 1111"),
        ("card 4834 7285 5\n689 8329 826", "card 4834 7285 5689 8329 826"),
        ("IBAN GB62 XFFE 029\n7 5698 7654 32", "IBAN GB62 XFFE 0297 5698 7654 32"),
        ("ssn 078-05-\n1120\n2 forms", "ssn 078-05-1120\n2 forms"),
        ("card 4111 1111 11\n11 1111\n2 apples", "card 4111 1111 1111 1111\n2 apples"),
        ("ssn 536, 90, 4721", "ssn 536-90-4721"),  # items shorter than a value: one number, re-separated
        ("card 4111 1111, 1111 1111", "card 4111 1111-1111 1111"),  # so is a comma inside one value
    ],
)
def test_when_one_value_is_wrapped_across_lines_then_the_view_joins_it(text: str, expected: str) -> None:
    assert detection_view(text).text == expected
