"""Fetching a running gateway's log and checkpoint over HTTP (stdlib only), for ``verify --url``.

The gateway is not trusted: what it serves is verified exactly like an export. ``fetch`` is injectable
so tests need no server.
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping

from audit.errors import AuditError, VerificationError

PAGE_SIZE = 1000
Fetch = Callable[[str, Mapping[str, str]], bytes]


def server_explanation(body: bytes) -> str:
    """The server's own words from an error body: a problem document's detail, or the first line of text."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        for key in ("detail", "title", "message"):
            if isinstance(doc.get(key), str):
                return str(doc[key])[:300]
        error = doc.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:300]
    text = body.decode("utf-8", "replace").strip()
    return text.splitlines()[0][:300] if text else "(no explanation in the body)"


def urllib_fetch(url: str, headers: Mapping[str, str]) -> bytes:
    """GET ``url`` with ``headers``; http(s) only. An HTTP error carries the server's explanation."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise AuditError(f"gateway URL must be http or https, got {parts.scheme or 'no scheme'!r}")
    request = urllib.request.Request(url, headers=dict(headers))  # noqa: S310 (scheme checked above)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            body: bytes = response.read()
    except urllib.error.HTTPError as exc:
        raise AuditError(f"GET {parts.path}: HTTP {exc.code}: {server_explanation(exc.read())}") from None
    except urllib.error.URLError as exc:
        raise AuditError(f"cannot reach {parts.scheme}://{parts.netloc}: {exc.reason}") from None
    return body


class GatewayClient:
    """Reads ``/v1/audit/checkpoint`` and ``/v1/audit/entries`` with an auditor API key."""

    def __init__(self, base_url: str, api_key: str, fetch: Fetch = urllib_fetch) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._fetch = fetch

    def checkpoint(self) -> str:
        """The latest signed checkpoint note."""
        return self._fetch(f"{self._base}/v1/audit/checkpoint", self._headers).decode("utf-8")

    def entries(self, size: int) -> list[bytes]:
        """The leaf bytes of entries [0, size), fetched in pages."""
        leaves: list[bytes] = []
        while len(leaves) < size:
            end = min(size, len(leaves) + PAGE_SIZE)
            query = urllib.parse.urlencode({"start": len(leaves), "end": end})
            body = self._fetch(f"{self._base}/v1/audit/entries?{query}", self._headers)
            try:
                items = json.loads(body)["entries"]
                if None in items:  # a tenant auditor's key: other tenants' entries come as leaf hashes only
                    raise VerificationError(
                        "the gateway withholds other tenants' entries from this key, so the whole log cannot be "
                        "checked with it: verify with a platform-auditor key or an export (gateway-audit export)")
                page = [base64.b64decode(e, validate=True) for e in items]
            except (ValueError, KeyError, TypeError, binascii.Error) as exc:
                raise VerificationError(f"gateway returned a malformed entries page at {len(leaves)}") from exc
            if not page:
                raise VerificationError(f"gateway returned no entries at {len(leaves)} (size {size})")
            leaves.extend(page[: end - len(leaves)])
        return leaves

    def inclusion(self, index: int, tree_size: int) -> tuple[bytes, list[bytes]]:
        """The leaf bytes of entry ``index`` and its inclusion proof in the tree of ``tree_size`` entries."""
        query = urllib.parse.urlencode({"index": index, "tree_size": tree_size})
        body = self._fetch(f"{self._base}/v1/audit/proofs/inclusion?{query}", self._headers)
        try:
            doc = json.loads(body)
            return base64.b64decode(doc["entry"], validate=True), [bytes.fromhex(p) for p in doc["proof"]]
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise VerificationError(f"gateway returned a malformed inclusion proof for entry {index}") from exc

    def consistency(self, first: int, second: int) -> list[bytes]:
        """The consistency proof from the tree of ``first`` entries to the tree of ``second`` entries."""
        query = urllib.parse.urlencode({"first": first, "second": second})
        body = self._fetch(f"{self._base}/v1/audit/proofs/consistency?{query}", self._headers)
        try:
            return [bytes.fromhex(p) for p in json.loads(body)["proof"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise VerificationError(f"gateway returned a malformed consistency proof {first}->{second}") from exc
