"""The report of bench/gpu_check.sh: its shape is checked and its figures summed up per step."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench._gpu_report import MalformedReport, Row, main, parse, summary

REPORT = """\
# gpu_check.sh  2026-12-06 17:40 UTC  device=cuda  quick=0  workers='1 4 8'  budget=480s
machine: Linux 6.18 x86_64; 16 CPUs: Intel(R) Xeon(R) Processor
## step stage-only (timeout 90 s): python throughput.py --stage-only --device cuda --texts 4096

# throughput.py --stage-only  2026-12-06 17:41 UTC  device=cuda  cpus=16  Intel(R) Xeon(R) Processor
raw sentence-transformers: batch1=173 (p50 4.70 ms)  b64=4672  b256=6139  best=b256  tokenizer-only count_tokens=90000
stage (batcher+exact tokens+HMAC+noise) wait=2ms  1 text/req x 1024 callers:     3010 texts/s  ratio to raw best 0.49  \
mean batch 180
stage (batcher+exact tokens+HMAC+noise) wait=2ms 32 text/req x 1024 callers:     5100 texts/s  ratio to raw best 0.83  \
mean batch 256
### progress of stage-only (stderr)
[   3.0s] model loaded on cuda; fingerprint verified
-- step stage-only: rc=0 in 61 s
## step gateway-workers-1 (timeout 120 s): python throughput.py --device cuda --no-search --workers 1 --port 9400

# throughput.py  2026-12-06 17:43 UTC  device=cuda  workers=1  cpus=16  Intel(R) Xeon(R) Processor
## embeddings (texts/s)
raw sentence-transformers (one encode call over all texts): batch1=173.3  b64=4671.6  b256=6139.4  best=b256
gateway 1 text/request, 64 clients     :   285.3 texts/s  ratio to raw best 0.05  to raw batch1 1.65  p50 200 ms
gateway 32 texts/request, 128 clients  :   857.1 texts/s  ratio to raw best 0.14  to raw batch1 4.95  p50 900 ms
## search: not measured (--no-search, or PostgreSQL)
-- step gateway-workers-1: rc=0 in 104 s
COULD NOT: run workers above 1: they need PostgreSQL today and none is reachable or startable here
## step gateway-workers-4 (timeout 120 s): python throughput.py --device cuda --no-search --workers 4
# throughput.py  2026-12-06 17:45 UTC  device=cuda  workers=4  cpus=16  Intel(R) Xeon(R) Processor
gateway 1 text/request, 64 clients     :   901.0 texts/s  ratio to raw best 0.15  to raw batch1 5.20  p50 70 ms
"""


def test_when_a_report_is_read_then_each_figure_is_tied_to_its_step_and_worker_count() -> None:
    report = parse(REPORT)
    assert report.device == "cuda"
    assert [(s.name, s.rc, s.seconds) for s in report.steps] == [
        ("stage-only", 0, 61), ("gateway-workers-1", 0, 104), ("gateway-workers-4", None, 0)]
    assert report.rows == [
        Row("stage-only", 0, "1 text/request, 1024 callers, wait 2 ms", 3010.0, 0.49),
        Row("stage-only", 0, "32 text/request, 1024 callers, wait 2 ms", 5100.0, 0.83),
        Row("gateway-workers-1", 1, "1 text/request, 64 clients", 285.3, 0.05),
        Row("gateway-workers-1", 1, "32 texts/request, 128 clients", 857.1, 0.14),
        Row("gateway-workers-4", 4, "1 text/request, 64 clients", 901.0, 0.15),
    ]
    assert report.could_not == [
        "run workers above 1: they need PostgreSQL today and none is reachable or startable here"]


def test_when_a_step_was_cut_off_then_the_summary_says_it_did_not_finish_and_keeps_its_figures() -> None:
    text = summary(parse(REPORT))
    assert "gateway-workers-4 (did not finish)" in text
    assert "901.0 texts/s  ratio 0.15" in text
    assert "could not: run workers above 1" in text


@pytest.mark.parametrize("text", [
    "no header at all\n",
    REPORT.replace("-- step stage-only: rc=0 in 61 s\n", ""),  # a step opened while another is open
    REPORT.replace("-- step gateway-workers-1: rc=0", "-- step gateway-workers-9: rc=0"),  # closes the wrong step
])
def test_when_the_report_is_malformed_then_it_is_refused(text: str) -> None:
    with pytest.raises(MalformedReport):
        parse(text)


def test_when_run_as_a_script_then_a_malformed_report_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(REPORT)
    bad.write_text("# not a report\n")
    assert main([str(good)]) == 0
    assert "stage-only (rc=0, 61 s)" in capsys.readouterr().out
    assert main([str(bad)]) == 1


def test_when_a_run_measured_cpu_by_part_then_the_summary_names_what_bounds_one_text_requests() -> None:
    text = REPORT.replace(
        "## search: not measured (--no-search, or PostgreSQL)\n-- step gateway-workers-1",
        "## CPU per request by part (ms; gateway_cpu_seconds_total)\n"
        "gateway 1 text/request, 64 clients     : event-loop 1.05, pii-workers 0.90, batcher-embed 0.40, native 0.20"
        "  event loop's ceiling 952 requests/s\n"
        "## latency at low load (1 client, 1 text)\n"
        "gateway HTTP round trip : p50 9.0 ms  p99 20.0 ms\n"
        "## search: not measured (--no-search, or PostgreSQL)\n-- step gateway-workers-1")
    report = parse(text)
    [cost] = report.costs
    assert (cost.step, cost.phase) == ("gateway-workers-1", "1 text/request, 64 clients")
    assert cost.parts == {"event-loop": 1.05, "pii-workers": 0.9, "batcher-embed": 0.4, "native": 0.2}
    assert "beside the model: event-loop 1.05 ms a request: at most 952 requests/s per core" in summary(report)
    assert len(report.rows) == 5  # the parts' lines are no throughput rows
