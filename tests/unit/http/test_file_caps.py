"""The Files API's caps through real HTTP (uvicorn on a socket, the fake model): a tenant's stored bytes
(``files_max_tenant_bytes``) and the uploads in progress, per process (``files_max_concurrent_uploads``) and per
tenant (``files_max_tenant_uploads``). An upload past a cap is refused before its body is read, at once."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway.auth.apikeys import create_key
from gateway.bootstrap import Services
from gateway.http.app import create_app
from tests.unit.http.conftest import fake_services
from tests.uvicornkit import serving_app

BOUNDARY = "capsboundary"


@dataclass
class Served:
    url: str
    port: int
    services: Services

    def key(self, tenant: str) -> str:
        return create_key(self.services.apikeys, tenant, "uploader", "writer")[0]


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[Served]:
    services = fake_services(tmp_path, files_max_bytes=200_000, files_max_tenant_bytes=300_000,
                             files_max_concurrent_uploads=2, files_max_tenant_uploads=1)
    with serving_app(create_app(services)) as port:
        yield Served(f"http://127.0.0.1:{port}", port, services)


def body(content: bytes) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + content + f"\r\n--{BOUNDARY}--\r\n".encode()


def begin(gw: Served, key: str, payload: bytes, sent: int) -> socket.socket:
    """An upload whose headers and first ``sent`` bytes are sent; the rest waits (the upload stays in progress)."""
    conn = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    head = (f"POST /v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {len(payload)}\r\n\r\n")
    conn.sendall(head.encode() + payload[:sent])
    return conn


def answer(conn: socket.socket) -> str:
    """The status line and headers of the response on ``conn`` (within its timeout)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode("latin-1")


def upload(gw: Served, key: str, content: bytes) -> httpx.Response:
    return httpx.post(gw.url + "/v1/files", headers={"Authorization": f"Bearer {key}"},
                      files={"file": ("in.jsonl", content)}, data={"purpose": "batch"}, timeout=10)


def test_when_a_tenants_files_fill_its_allowance_then_its_next_upload_is_refused_before_its_body(gw: Served) -> None:
    acme, globex = gw.key("acme"), gw.key("globex")
    kept = upload(gw, acme, b"x" * 200_000)
    assert kept.status_code == 200, kept.text
    refused = upload(gw, acme, b"x" * 150_000)  # within the slack of the early check: refused once read
    assert refused.status_code == 413 and "files_max_tenant_bytes" in refused.json()["error"]["message"]
    assert upload(gw, globex, b"x" * 150_000).status_code == 200  # another tenant's allowance is its own
    # Headers only: the refusal comes without the gateway waiting for (or storing) the body.
    conn = begin(gw, acme, body(b"x" * 200_000), 0)
    start = time.monotonic()
    reply = answer(conn)
    conn.close()
    assert reply.startswith("HTTP/1.1 413") and time.monotonic() - start < 5, reply
    assert httpx.delete(gw.url + f"/v1/files/{kept.json()['id']}",
                        headers={"Authorization": f"Bearer {acme}"}).status_code == 200
    assert upload(gw, acme, b"x" * 150_000).status_code == 200  # a deleted file frees its room


def test_when_uploads_are_in_progress_then_the_extra_ones_are_refused_at_once_with_retry_after(gw: Served) -> None:
    acme, globex, initech = gw.key("acme"), gw.key("globex"), gw.key("initech")
    payload = body(b"x" * 3000)
    held = begin(gw, acme, payload, 200)
    time.sleep(0.5)  # the gateway has taken acme's slot and waits for the rest of the body
    start = time.monotonic()
    second = upload(gw, acme, b"y" * 10)
    assert second.status_code == 429 and time.monotonic() - start < 5, second.text
    assert second.headers["Retry-After"].isdigit() and "files_max_tenant_uploads" in second.json()["error"]["message"]
    other = begin(gw, globex, payload, 200)
    time.sleep(0.5)
    third = upload(gw, initech, b"z" * 10)  # two uploads in progress: the process's cap
    assert third.status_code == 429 and "files_max_concurrent_uploads" in third.json()["error"]["message"]
    held.sendall(payload[200:])
    assert answer(held).startswith("HTTP/1.1 200")
    held.close()
    other.close()  # an upload cut short gives its slot back
    time.sleep(0.5)
    assert upload(gw, initech, b"z" * 10).status_code == 200
    assert upload(gw, acme, b"y" * 10).status_code == 200


def test_when_an_upload_is_not_a_form_or_not_for_a_batch_then_it_is_a_clear_400(gw: Served) -> None:
    acme = gw.key("acme")
    r = httpx.post(gw.url + "/v1/files", headers={"Authorization": f"Bearer {acme}"}, content=b'{"a": 1}')
    assert r.status_code == 400 and "multipart/form-data" in r.json()["error"]["message"]
    r = httpx.post(gw.url + "/v1/files", headers={"Authorization": f"Bearer {acme}"},
                   files={"file": ("x.jsonl", b"{}")}, data={"purpose": "fine-tune"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "purpose"
    r = httpx.post(gw.url + "/v1/files", headers={"Authorization": f"Bearer {acme}"}, data={"purpose": "batch"},
                   files={"other": ("x.jsonl", b"{}")})
    assert r.status_code == 400 and r.json()["error"]["param"] == "file"
    assert upload(gw, acme, b"x").status_code == 200  # the refused uploads gave their slot back


def test_when_an_upload_without_content_length_passes_the_file_limit_then_it_is_a_413(tmp_path: Path) -> None:
    # attack16 (F12): a chunked upload past files_max_bytes met the app's own body limit (the same size) first,
    # whose error the route turned into a 400 "could not read the request body"
    services = fake_services(tmp_path, files_max_bytes=200_000, max_body_bytes=1_000)
    key = create_key(services.apikeys, "acme", "uploader", "writer")[0]
    payload = body(b"x" * 300_000)
    with serving_app(create_app(services)) as port:
        r = httpx.post(f"http://127.0.0.1:{port}/v1/files", timeout=10, content=iter([payload]), headers={
            "Authorization": f"Bearer {key}", "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    assert r.status_code == 413 and "file limit of 200000 bytes" in r.json()["error"]["message"]
