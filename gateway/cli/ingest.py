"""``gateway collections ingest --dir DOCS --collection NAME``: a client of a running gateway that ingests a folder.

It reads the folder's text files (a document each, its id the file's path under the folder), posts them in as few
requests as the gateway's limits allow to ``POST /v1/collections/{name}/documents`` with ``Prefer: respond-async``
(RFC 7240), follows each 202's ``Location`` to ``GET /v1/jobs/{id}`` and draws a progress bar (documents and chunks
done, failures) until the job ends. A gateway that answers synchronously (200) is followed too: its per-document
results are the job's outcome. Every refusal is printed with its code and request id; nothing is retried silently.

Exit status: 0 every document ingested; 1 some were skipped or failed (each is listed); 2 the gateway refused or
could not be reached.
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

from gateway.cli.common import ProgressBar
from gateway.settings import Settings

_DOC_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,255}\Z")  # the gateway's rule (pipeline.collections)
TERMINAL = frozenset({"completed", "failed", "cancelled", "expired"})
DEFAULT_EXTENSIONS = "txt,md,rst,text"


class IngestError(Exception):
    """The gateway refused, or could not be reached: nothing more is sent."""


@dataclass(frozen=True)
class Source:
    id: str
    text: str


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class Failure:
    document_id: str
    code: str
    detail: str = ""


@dataclass
class Progress:
    """One job's state as ``GET /v1/jobs/{id}`` (or a synchronous answer) reports it."""

    status: str
    documents_done: int = 0
    chunks_done: int = 0
    failures: list[Failure] = field(default_factory=list)
    error: str = ""


def read_folder(root: Path, extensions: Sequence[str], max_chars: int) -> tuple[list[Source], list[Skipped]]:
    """The folder's text files, sorted by path; what cannot be a document is skipped with its reason."""
    if not root.is_dir():
        raise IngestError(f"{root} is not a directory")
    wanted = {"." + e.strip().lstrip(".").lower() for e in extensions if e.strip()}
    sources: list[Source] = []
    skipped: list[Skipped] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in wanted):
        rel = path.relative_to(root).as_posix()
        if not _DOC_ID.match(rel):
            skipped.append(Skipped(rel, "its path is not a document id (1-256 letters, digits and ._:/@-; "
                                        "no spaces); rename it"))
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            skipped.append(Skipped(rel, "not UTF-8 text"))
            continue
        except OSError as exc:
            skipped.append(Skipped(rel, f"cannot be read: {exc.strerror or exc}"))
            continue
        if not text.strip():
            skipped.append(Skipped(rel, "empty"))
        elif len(text) > max_chars:
            skipped.append(Skipped(rel, f"{len(text)} characters; the gateway's limit is {max_chars} "
                                        "(max_text_chars): split it"))
        else:
            sources.append(Source(rel, text))
    return sources, skipped


def groups(sources: Sequence[Source], max_documents: int, max_bytes: int) -> Iterator[list[Source]]:
    """Consecutive requests' documents: at most ``max_documents`` each and under ``max_bytes`` of JSON."""
    group: list[Source] = []
    size = 20  # {"documents": []}
    for s in sources:
        cost = len(json.dumps({"id": s.id, "text": s.text}).encode("utf-8")) + 1
        if group and (len(group) >= max_documents or size + cost > max_bytes):
            yield group
            group, size = [], 20
        group.append(s)
        size += cost
    if group:
        yield group


def _refusal(r: httpx.Response) -> IngestError:
    try:
        body = r.json()
    except ValueError:
        body = {}
    if isinstance(body, dict) and isinstance(body.get("error"), dict):  # OpenAI's shape
        body = body["error"]
    detail = body.get("detail") or body.get("message") or r.reason_phrase if isinstance(body, dict) else r.text
    code = body.get("code", "") if isinstance(body, dict) else ""
    rid = r.headers.get("x-request-id", "")
    hint = {401: " (check the API key)", 403: " (the key's role may not write documents)",
            404: " (no such collection in the key's tenant: create it first)"}.get(r.status_code, "")
    return IngestError(f"the gateway answered {r.status_code} {code}: {detail}{hint}"
                       + (f" [request id {rid}]" if rid else ""))


def parse_job(body: dict[str, Any]) -> Progress:
    """A job object of ``GET /v1/jobs/{id}``: its status, documents and chunks done, failures per document."""
    counts = body.get("progress") or {}
    failures = [Failure(str(f.get("document_id", "?")), str(f.get("code", "failed")), str(f.get("detail", "")))
                for f in body.get("failures") or [] if isinstance(f, dict)]
    error = body.get("error") or ""
    if isinstance(error, dict):
        error = f"{error.get('code', '')}: {error.get('message') or error.get('detail') or ''}"
    return Progress(str(body.get("status", "")), int(counts.get("documents_done", 0)),
                    int(counts.get("chunks_done", 0)), failures, str(error))


def parse_sync(body: dict[str, Any]) -> Progress:
    """A synchronous ingest answer (the gateway did not apply ``respond-async``) as a finished job."""
    results = body.get("results") or []
    failures = [Failure(str(r.get("document_id")), "pii_blocked", ", ".join(r.get("blocked_types") or []))
                for r in results if r.get("status") != "stored"]
    return Progress("completed", len(results), sum(int(r.get("chunks", 0)) for r in results), failures)


class Client:
    """The HTTP side: one keep-alive connection, the key in every request, refusals raised as ``IngestError``."""

    def __init__(self, http: httpx.Client, poll_s: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self._http, self._poll_s, self._sleep = http, poll_s, sleep

    def _send(self, method: str, url: str, **kw: Any) -> httpx.Response:
        try:
            return self._http.request(method, url, **kw)
        except httpx.TimeoutException:
            raise IngestError(f"no answer from the gateway at {self._http.base_url} in time") from None
        except httpx.HTTPError as exc:
            raise IngestError(f"cannot reach the gateway at {self._http.base_url}: {exc}") from None

    def submit(self, collection: str, docs: Sequence[Source]) -> str | Progress:
        """The job's URL (202), or the finished outcome where the gateway answered synchronously (200)."""
        r = self._send("POST", f"/v1/collections/{collection}/documents",
                       json={"documents": [{"id": d.id, "text": d.text} for d in docs]},
                       headers={"Prefer": "respond-async"})
        if r.status_code == 202:
            location = str(r.headers.get("location") or "")
            if not location:
                raise IngestError("the gateway accepted the job (202) but sent no Location to follow")
            return location
        if r.status_code == 200:
            return parse_sync(r.json())
        raise _refusal(r)

    def follow(self, location: str, on_progress: Callable[[Progress], None]) -> Progress:
        while True:
            r = self._send("GET", location)
            if r.status_code != 200:
                raise _refusal(r)
            state = parse_job(r.json())
            on_progress(state)
            if state.status in TERMINAL:
                return state
            self._sleep(self._poll_s)


@dataclass
class Tally:
    """Documents and chunks over every request of one run, and the failures (each printed once, as it appears)."""

    total: int
    bar: ProgressBar
    out: TextIO
    documents: int = 0
    chunks: int = 0
    failures: list[Failure] = field(default_factory=list)  # of the finished requests
    _current: list[Failure] = field(default_factory=list)  # of the request in progress

    def show(self, state: Progress) -> None:
        for f in state.failures[len(self._current):]:
            self.out.write(f"\nfailed: {f.document_id}: {f.code}{' (' + f.detail + ')' if f.detail else ''}\n")
        self._current = list(state.failures)
        failed = len(self.failures) + len(self._current)
        self.bar(self.documents + state.documents_done, self.total,
                 f"documents, {self.chunks + state.chunks_done} chunks" + (f", {failed} failed" if failed else ""))

    def finish(self, state: Progress) -> None:
        self.show(state)
        self.documents += state.documents_done
        self.chunks += state.chunks_done
        self.failures += self._current
        self._current = []


def run(client: Client, collection: str, sources: Sequence[Source], max_documents: int, max_bytes: int,
        tally: Tally) -> list[str]:
    """Ingest every group; the jobs' error lines (a job that failed as a whole), empty when none failed."""
    errors: list[str] = []
    for group in groups(sources, max_documents, max_bytes):
        submitted = client.submit(collection, group)
        state = submitted if isinstance(submitted, Progress) else client.follow(submitted, tally.show)
        tally.finish(state)
        if state.status != "completed":
            errors.append(f"job {submitted if isinstance(submitted, str) else ''} ended {state.status}"
                          f"{': ' + state.error if state.error else ''}")
    return errors


def _key(args: argparse.Namespace) -> str:
    if args.key_file:
        try:
            key = Path(args.key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise IngestError(f"cannot read the key file {args.key_file}: {exc.strerror or exc}") from None
        if not key:
            raise IngestError(f"the key file {args.key_file} is empty")
        return key
    if not sys.stdin.isatty():
        raise IngestError("no API key: pass --key-file FILE (a file holding the key alone)")
    return getpass.getpass("API key: ").strip()


def ingest_command(settings: Settings, args: argparse.Namespace) -> int:
    err = sys.stderr
    try:
        sources, skipped = read_folder(Path(args.dir), args.ext.split(","), settings.max_text_chars)
        for s in skipped:
            print(f"skipped: {s.path}: {s.reason}", file=err)
        if not sources:
            print(f"error: no documents to ingest in {args.dir} (extensions {args.ext})", file=err)
            return 2
        url = args.url or f"http://{settings.host}:{settings.port}"
        headers = {"Authorization": f"Bearer {_key(args)}"}
        tally = Tally(len(sources), ProgressBar(f"ingesting into {args.collection}"), err)
        with httpx.Client(base_url=url, headers=headers, timeout=settings.request_timeout_s + 30) as http:
            errors = run(Client(http, args.poll_interval), args.collection, sources,
                         min(args.max_documents or settings.max_documents_per_ingest,
                             settings.max_documents_per_ingest),
                         int(settings.max_body_bytes * 0.9), tally)
    except IngestError as exc:
        print(f"\nerror: {exc}", file=err)
        return 2
    for line in errors:
        print(f"error: {line}", file=err)
    print(f"{tally.documents - len(tally.failures)} of {len(sources)} documents ingested into {args.collection} "
          f"({tally.chunks} chunks); {len(tally.failures)} failed, {len(skipped)} skipped")
    for f in tally.failures:
        print(f"  failed: {f.document_id}: {f.code}{' (' + f.detail + ')' if f.detail else ''}")
    return 1 if tally.failures or skipped or errors else 0


def add_ingest_command(collections: Any) -> None:
    ingest = collections.add_parser("ingest", help="ingest a folder of text files through a running gateway "
                                                   "(an ingest job per request, with a progress bar)")
    ingest.add_argument("--dir", required=True, help="folder of text files; a document per file, its id the path")
    ingest.add_argument("--collection", required=True)
    ingest.add_argument("--url", help="the gateway's base URL (default: http://HOST:PORT of the settings)")
    ingest.add_argument("--key-file", help="file holding the API key (default: asked for on a terminal)")
    ingest.add_argument("--ext", default=DEFAULT_EXTENSIONS, help=f"extensions read (default {DEFAULT_EXTENSIONS})")
    ingest.add_argument("--max-documents", type=int, default=0, help="documents per request (default: the limit)")
    ingest.add_argument("--poll-interval", type=float, default=0.5, help="seconds between progress polls")
    ingest.set_defaults(func=ingest_command)
