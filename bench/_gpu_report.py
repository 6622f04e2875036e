"""Reads the report ``bench/gpu_check.sh`` writes, checks its shape and sums up its figures (standard library only).

The report is plain text: a ``# gpu_check.sh`` header line, then for each step a ``## step NAME`` line, what the
step printed (``throughput.py``'s own figures) and a closing ``-- step NAME: rc=N in S s`` line; ``COULD NOT:``
lines say what was left undone and why. The summary lists, per step, each throughput row as texts/s and its ratio
to the raw model's best measured in that step's own run.

    python bench/_gpu_report.py REPORT    # prints the summary; exit 1 if the report is malformed
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

HEADER = re.compile(r"^# gpu_check\.sh\s+\S+ \S+ UTC\s+device=(?P<device>\S+)")
STEP = re.compile(r"^## step (?P<name>[\w.-]+)")
END = re.compile(r"^-- step (?P<name>[\w.-]+): rc=(?P<rc>-?\d+) in (?P<seconds>\d+) s")
WORKERS = re.compile(r"^# throughput\.py .*\bworkers=(?P<workers>\d+)")
GATEWAY = re.compile(r"^gateway (?P<phase>\d+ texts?/request, \d+ clients)\s*:\s*(?P<tps>[\d.]+) texts/s\s+"
                     r"ratio to raw best (?P<ratio>[\d.]+)")
PARTS_HEAD = "## CPU per request by part"
PART = re.compile(r"(?P<part>[\w.-]+) (?P<ms>[\d.]+)")
PARTS = re.compile(r"^gateway (?P<phase>\d+ texts?/request, \d+ clients)\s*: (?P<parts>.*?)"
                   r"(?:  event loop's ceiling \d+ requests/s)?$")
STAGE = re.compile(r"^stage \(.*\) wait=(?P<wait>[\d.]+)ms\s+(?P<per>\d+) text/req x (?P<callers>\d+) callers:\s+"
                   r"(?P<tps>[\d.]+) texts/s\s+ratio to raw best (?P<ratio>[\d.]+)")


@dataclass(frozen=True)
class Row:
    step: str
    workers: int  # 0 for the in-process stage bench
    phase: str
    texts_per_s: float
    ratio: float


@dataclass(frozen=True)
class Cost:
    """What one request of a phase cost each part of the gateway, in CPU ms (one worker process)."""

    step: str
    phase: str
    parts: dict[str, float]

    def bottleneck(self) -> str:
        """The part other than the model that costs a request most, and the requests/s that part allows on one
        core (the PII workers are a pool, so theirs is per core too)."""
        governance = {p: ms for p, ms in self.parts.items() if p not in ("batcher-embed", "native")}
        if not governance:
            return "no part beside the model measured"
        part, ms = max(governance.items(), key=lambda item: item[1])
        return f"{part} {ms:.2f} ms a request: at most {1e3 / ms:.0f} requests/s per core"


@dataclass(frozen=True)
class Step:
    name: str
    rc: int | None  # None: the step never closed (the script was cut off)
    seconds: int


@dataclass(frozen=True)
class Report:
    device: str
    steps: list[Step]
    rows: list[Row]
    could_not: list[str]
    costs: list[Cost]


class MalformedReport(ValueError):
    """The text is not a gpu_check.sh report: no header, a step opened twice or closed without being opened."""


def parse(text: str) -> Report:
    lines = text.splitlines()
    header = next((HEADER.match(ln) for ln in lines if ln.startswith("# gpu_check.sh")), None)
    if header is None:
        raise MalformedReport("no '# gpu_check.sh <date> <time> UTC device=...' header line")
    steps: list[Step] = []
    rows: list[Row] = []
    could_not = [ln.removeprefix("COULD NOT:").strip() for ln in lines if ln.startswith("COULD NOT:")]
    costs: list[Cost] = []
    current, workers, in_parts = "", 0, False
    for ln in lines:
        if ln.startswith("## "):
            in_parts = ln.startswith(PARTS_HEAD)
        if m := STEP.match(ln):
            if current:
                raise MalformedReport(f"step {m['name']} opened while step {current} is open")
            current, workers = m["name"], 0
        elif m := END.match(ln):
            if m["name"] != current:
                raise MalformedReport(f"step {m['name']} closed but {current or 'no step'} is open")
            steps.append(Step(current, int(m["rc"]), int(m["seconds"])))
            current = ""
        elif m := WORKERS.match(ln):
            workers = int(m["workers"])
        elif current and in_parts and (m := PARTS.match(ln)):
            parts = {p["part"]: float(p["ms"]) for p in PART.finditer(m["parts"])}
            costs.append(Cost(current, m["phase"], parts))
        elif current and (m := GATEWAY.match(ln)):
            rows.append(Row(current, workers, m["phase"], float(m["tps"]), float(m["ratio"])))
        elif current and (m := STAGE.match(ln)):
            phase = f"{m['per']} text/request, {m['callers']} callers, wait {m['wait']} ms"
            rows.append(Row(current, 0, phase, float(m["tps"]), float(m["ratio"])))
    if current:
        steps.append(Step(current, None, 0))
    return Report(header["device"], steps, rows, could_not, costs)


def summary(report: Report) -> str:
    out = [f"device {report.device}; figures are texts/s and the ratio to the raw model's best in the same run"]
    for step in report.steps:
        state = "did not finish" if step.rc is None else f"rc={step.rc}, {step.seconds} s"
        out.append(f"{step.name} ({state})")
        out.extend(f"  {r.phase:<44} {r.texts_per_s:9.1f} texts/s  ratio {r.ratio:.2f}"
                   for r in report.rows if r.step == step.name)
        out.extend(f"  {c.phase:<44} beside the model: {c.bottleneck()}"
                   for c in report.costs if c.step == step.name)
    out.extend(f"could not: {c}" for c in report.could_not)
    return "\n".join(out)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        report = parse(Path(argv[0]).read_text("utf-8", errors="replace"))
    except MalformedReport as exc:
        print(f"malformed report: {exc}", file=sys.stderr)
        return 1
    print(summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
