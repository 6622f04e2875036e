"""Cue words grouped by first character match exactly what the plain alternation matches
(``gateway.pii.alternation``)."""

from __future__ import annotations

import itertools
import re

import pytest

from gateway.pii import name_cues
from gateway.pii.alternation import by_first_character, first_characters
from gateway.pii.name_shapes import NAME


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("dear", {"d"}),
        ("Mr\\.?", {"m"}),
        ("(?:his|her|their) name", {"h", "t"}),
        ("['\u2019]s name", {"'", "\u2019"}),
        ("(?:co-?)?founders?", {"c", "f"}),
        ("b?cc:?", {"b", "c"}),
        ("[a-c]x", {"a", "b", "c"}),
        ("x?", None),  # may match nothing
        ("\\w+", None),  # a category
        ("(?=a)a", None),  # a lookaround
        ("\u0130stanbul", None),  # lower-cases to two characters
        ("(", None),
    ],
)
def test_first_characters(pattern: str, expected: set[str] | None) -> None:
    assert first_characters(pattern) == expected


def test_an_unreadable_alternative_leaves_the_plain_alternation() -> None:
    assert by_first_character(["dear", "\\w+ said"]) == "(?:dear|\\w+ said)"


CUES = ["my name is", "name is", "dear", "DEAR", "Dear", "hi", "met with", "meeting with", "Thanks,\n", "thanks to",
        "Prepared by:", "prepared by", "Mr.", "mr", "Ms", "cc:", "bcc", "c/o", "follow up with", "followed up with",
        "interviewed with", "lunch with", "dedicated the song to", "her name:", "Sara's maiden name",
        "Sara\u2019s full name", "cofounder:", "co-founders", "Account holder -", "patient:", "thank you",
        "Best,\n", "regards, ", "call", "called", "calls him", "\u212aid", "\u017fon", "Father", "sir", "RIP"]
NAMES = ["Ana Ruiz", "Okafor", "JOHN", "van der Berg", "ana", "O'Neil", "Dr. Who", "Finance"]


def corpus() -> list[str]:
    texts = []
    for cue, name in itertools.product(CUES, NAMES):
        texts += [f"{cue} {name}", f"Then {cue} {name} left.", f"{cue}{name}", f"x{cue} {name}", f"{cue}\n{name}",
                  f"{cue} Him {name}", f"{cue} You {name}", f"{cue.title()} Her {name}", f"{cue} With {name}"]
    return texts


@pytest.mark.parametrize("words", [name_cues._BEFORE, name_cues._WEAK_BEFORE], ids=["strong", "weak"])
def test_grouped_cues_match_as_the_plain_alternation(words: tuple[str, ...]) -> None:
    tail = r"[ \t]*\n?[ \t]*" + NAME + r"(?![\w'\u2019-])"
    plain = re.compile(r"(?i:\b(?:" + "|".join(words) + "))" + tail)
    grouped = re.compile(r"(?i:\b" + by_first_character(words) + ")" + tail)
    assert grouped.pattern != plain.pattern  # every cue word could be read: the grouping is in use
    found = 0
    for text in corpus():
        expected = [(m.span(), m.span(1)) for m in plain.finditer(text)]
        assert [(m.span(), m.span(1)) for m in grouped.finditer(text)] == expected, text
        found += len(expected)
    assert found > 100  # the corpus exercises the cues
