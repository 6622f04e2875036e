"""Fetching a running gateway's log and checkpoint over HTTP (stdlib only), for ``verify --url``.

The gateway is not trusted: what it serves is verified exactly like an export. ``fetch`` is injectable
so tests need no server.
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping

from audit.errors import VerificationError

PAGE_SIZE = 1000
Fetch = Callable[[str, Mapping[str, str]], bytes]


def urllib_fetch(url: str, headers: Mapping[str, str]) -> bytes:
    """GET ``url`` with ``headers``; http(s) only."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise VerificationError("gateway URL must be http or https")
    request = urllib.request.Request(url, headers=dict(headers))  # noqa: S310 (scheme checked above)
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        body: bytes = response.read()
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
