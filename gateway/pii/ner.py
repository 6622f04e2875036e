"""spaCy NER, run only where a name can be.

spaCy's statistical NER is most of the PII stage's cost (about 400 short texts/s on one core, slower than the
embedding model). The small English model essentially only tags PERSON/LOCATION/ORG/NRP on capitalized
words, so ``windows`` mode runs NER on short windows (a few words either side) around runs of capitalized
words that are not stop words, and maps the entities back. Texts with no candidate skip NER entirely.
``full`` mode runs NER on whole texts (needed for DATE_TIME, which is not capitalized). PERSON also comes from
the cues around names (``name_cues``), in both modes.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from gateway.pii.name_cues import LIST_ITEM, cue_spans, group_named, line_heads, listed_lines, listed_with, repeated
from gateway.pii.name_shapes import LOWER, UPPER, caps_lines, in_spans, restore_case
from gateway.pii.name_words import DEPARTMENTS, GREETINGS
from gateway.pii.tokens import make_doc

NerMode = Literal["windows", "full"]
SPACY_TO_PRESIDIO = {
    "PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION",
    "NORP": "NRP", "ORG": "ORGANIZATION", "DATE": "DATE_TIME", "TIME": "DATE_TIME",
}  # fmt: skip
_CAPITALIZED = re.compile(rf"\b[{UPPER}](?:[{LOWER}'\u2019\-]*[{LOWER}]|\.)?(?:[{UPPER}][{LOWER}]+)?\b")
_WORD = re.compile(r"\S+")
_DIGIT_WORD = re.compile(r"(?<!\S)[^\s0-9]*[0-9]")  # anchored at a word start: each word is scanned once
# A capitalized word listed with another ("Smith, Rivera and Mills"): the text may hold a list of names.
_LIST_HINT = re.compile(r"[A-Z][a-z]+(?:,[ ]?(?:and |& |or )?|[ ](?:and|&|or)[ ])[A-Z][a-z]")
_PERSON_WORD = re.compile(r"[A-Z][a-z]+(?:['\u2019][A-Z]?[a-z]+)?|[A-Z]\.")
_ORG_WORDS = frozenset(
    ["inc", "llc", "ltd", "plc", "corp", "co", "company", "group", "bank", "holdings", "partners", "associates",
     "sons", "brothers", "university", "college", "school", "institute", "hospital", "foundation", "trust", "fund",
     "capital", "bancorp", "insurance", "services", "solutions", "systems", "technologies", "labs", "media",
     "studios", "airlines", "motors", "energy", "international", "global", "agency", "council", "committee",
     "board", "department", "ministry", "office", "union", "club", "church", "center", "centre"]
)
_NOT_PERSON_WORDS = _ORG_WORDS | DEPARTMENTS  # no word of a name-shaped ORG: a company's or a department's
CONTEXT_WORDS = 4  # words of context on each side of a candidate; enough for the small model's features
_TAGGING = ("tok2vec", "tagger")  # the tagger (and the tok2vec it listens to): run only when PERSON is wanted
NER_SCORE = 0.85  # spaCy gives no confidence; Presidio uses this default for its spaCy entities


@dataclass(frozen=True)
class NerEntity:
    entity_type: str
    start: int  # offsets into the text that was analyzed (the detection view)
    end: int


def candidate_windows(text: str, stop_words: frozenset[str], context: int = CONTEXT_WORDS) -> list[tuple[int, int]]:
    """Merged [start, end) windows around capitalized non-stop-words; empty when the text has none."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    if not words:
        return []
    hits: list[int] = []
    for m in _CAPITALIZED.finditer(text):
        if m.group().lower().rstrip(".") in stop_words:
            continue
        hits.append(m.start())
    if not hits:
        return []
    starts = [w[0] for w in words]
    windows: list[tuple[int, int]] = []
    for pos in hits:
        i = max(bisect.bisect_right(starts, pos) - 1, 0)
        lo = words[max(i - context, 0)][0]
        hi = words[min(i + context, len(words) - 1)][1]
        if windows and lo <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(hi, windows[-1][1]))
        else:
            windows.append((lo, hi))
    return windows


def run_ner(
    nlp: Any, texts: Sequence[str], wanted: frozenset[str], mode: NerMode, batch_size: int = 256
) -> list[list[NerEntity]]:
    """NER entities of the ``wanted`` Presidio types for each text, in that text's offsets."""
    stop_words: frozenset[str] = frozenset(nlp.Defaults.stop_words)
    if "PERSON" in wanted:  # names in capitals given back their case, offsets unchanged (``name_shapes``)
        texts = [restore_case(text) for text in texts]
    jobs: list[tuple[int, int, str]] = []  # (text index, offset of the piece, piece)
    for index, text in enumerate(texts):
        if mode == "full":
            jobs.append((index, 0, text))
            continue
        windows = candidate_windows(text, stop_words)
        covered = sum(e - s for s, e in windows)
        if windows and covered > 0.7 * len(text):
            jobs.append((index, 0, text))  # mostly covered anyway: one pass keeps full context
        else:
            jobs.extend((index, s, text[s:e]) for s, e in windows)
    out: list[list[NerEntity]] = [[] for _ in texts]
    person = "PERSON" in wanted
    tagging = [name for name in _TAGGING if name in nlp.pipe_names]
    # Pre-tokenized in linear time (spaCy's tokenizer is quadratic on a long chunk with many affixes).
    with nlp.select_pipes(disable=tagging):
        docs: Iterator[Any] = nlp.pipe((make_doc(nlp, piece) for _, _, piece in jobs), batch_size=batch_size)
        for (index, offset, _), doc in zip(jobs, docs, strict=True):
            for ent in doc.ents:
                etype = SPACY_TO_PRESIDIO.get(ent.label_)
                if etype == "ORGANIZATION" and person and person_shaped(ent.text):
                    etype = "PERSON"
                if etype not in wanted:
                    continue
                start, end = ent.start_char, ent.end_char
                if etype == "PERSON":
                    skip = greeting_length(ent.text)  # "Dear Ms Legaspi": the greeting is no part of the name
                    name = ent.text[skip:]
                    if group_named(name) or _department(name):
                        continue  # "Billing Team", "The Reception Team": the model reads a team as a person
                    start += skip
                    end = start + name_part(name)
                if end > start:
                    out[index].append(NerEntity(etype, offset + start, offset + end))
    if not person:
        return out
    # The cues people put around names, where the statistical model misses them. A weak cue's word, or a list's
    # member, counts where the tagger reads a proper noun; the tagger runs only on the texts that have one.
    cues = [cue_spans(text, stop_words) for text in texts]
    for i, text in enumerate(texts):
        shouted = caps_lines(text)  # the tagger reads every word of a line in capitals as a proper noun
        if shouted:
            cues[i] = [c for c in cues[i] if not (c[2] and in_spans(shouted, c[0], c[1]))]
    heads = [line_heads(text) for text in texts]
    tagged = {i for i, text in enumerate(texts) if any(weak for *_, weak in cues[i]) or _LIST_HINT.search(text)}
    tagged.update(i for i, text in enumerate(texts) if heads[i] or LIST_ITEM.search(text))
    proper: dict[int, set[int]] = {i: set() for i in tagged}  # offsets of words read as NNP or NNPS
    common: dict[int, dict[int, str]] = {i: {} for i in tagged}  # offsets of words read as NN or NNS: the tag
    if tagged and tagging:
        tag_jobs = [job for job in jobs if job[0] in tagged]
        with nlp.select_pipes(disable=[name for name in nlp.pipe_names if name not in tagging]):
            docs = nlp.pipe((make_doc(nlp, piece) for _, _, piece in tag_jobs), batch_size=batch_size)
            for (index, offset, _), doc in zip(tag_jobs, docs, strict=True):
                proper[index].update(offset + t.idx for t in doc if t.tag_ in ("NNP", "NNPS"))
                common[index].update((offset + t.idx, t.tag_) for t in doc if t.tag_ in ("NN", "NNS"))
    else:
        proper.clear()  # no tagger in this pipeline: the weak cues count as they are
        common.clear()
    for index, text in enumerate(texts):
        nouns = proper.get(index)
        labels = {(s, e) for s, e in heads[index] if _label(text, s, e, common.get(index, {}))}
        for start, end, weak in cues[index]:
            if (start, end) in labels:
                continue
            if not weak or nouns is None or _proper(text, start, end, nouns):
                out[index].append(NerEntity("PERSON", start, end))
        people = [(e.start, e.end) for e in out[index] if e.entity_type == "PERSON"]
        if people:
            listed = listed_with(text, people, stop_words) + listed_lines(text, people, stop_words)
            people += [(s, e) for s, e in listed if nouns is None or _proper(text, s, e, nouns)]
            people += repeated(text, people, stop_words)
            out[index] = [e for e in out[index] if e.entity_type != "PERSON"]
            out[index].extend(NerEntity("PERSON", s, e) for s, e in people)
    return out


def _label(text: str, start: int, end: int, common: dict[int, str]) -> bool:
    """Whether a line's head before a colon is a label ("Approvers: Morales, Roc\u00edo", "Sponsor: Ana Ruiz"), not a
    chat line's speaker ("Summer: done"): the tagger reads its words as common nouns, and one is plural or a
    capitalized value follows the colon."""
    if not _proper(text, start, end, set(common)):
        return False
    value = text[end + 1 : end + 3].lstrip(" ")
    return any(common[start + m.start()] == "NNS" for m in _WORD.finditer(text[start:end])) or (
        value[:1].isupper() or value[:1].isdigit()
    )


def _proper(text: str, start: int, end: int, proper: set[int]) -> bool:
    """Whether the tagger read every word of ``text[start:end]`` as a proper noun."""
    return all(start + m.start() in proper for m in _WORD.finditer(text[start:end]))


def person_shaped(text: str) -> bool:
    """An ORG entity of the small model that reads as a person's name: two or three capitalized words (one is
    too often a brand) after any greeting, none of them a word of company names or a department ("Dear Legal",
    "Hello Finance" are a greeting and a department). The small model tags many names ORG."""
    words = text[greeting_length(text) :].split(" ")
    if not 2 <= len(words) <= 3:
        return False
    return all(_PERSON_WORD.fullmatch(w) and w.lower() not in _NOT_PERSON_WORDS for w in words)


def greeting_length(text: str) -> int:
    """The length of the greeting words an entity starts with ("Dear ", "Hello "; "Good Morning "), 0 if none."""
    skip = 0
    for word in text.split(" ")[:-1]:
        if word.lower().rstrip(",!") not in GREETINGS:
            break
        skip += len(word) + 1
    return skip


def _department(name: str) -> bool:
    """Whether every word of a PERSON entity is a department's ("Legal", "Finance Ops"): a department is no one."""
    return all(w.lower() in DEPARTMENTS for w in name.split())


def name_part(text: str) -> int:
    """The length of a PERSON entity up to its first word with a digit or its first line break: the small model
    reads a phone's extension (``x6706``) or a house number after a name as part of a person, and the longer
    PERSON finding then hides the phone number it overlaps; it reads a header's next label as part of a name
    ("Barbora Sedl\u00e1\u010dkov\u00e1\nSubject")."""
    text = text.split("\n", 1)[0]
    m = _DIGIT_WORD.search(text)
    return len(text) if m is None else len(text[: m.start()].rstrip())
