"""Hosts the az CLI reaches on its own, answered here so that they are not egress.

az 2.91 contacts two hosts besides the Azure APIs a command uses (seen in the emulator's egress
log of `az login` … `az group delete`):

| host | what az does | the local answer |
|---|---|---|
| `azcliprod.blob.core.windows.net` | the version check: `HEAD /cli` (connectivity), then `GET /cli/azure-cli-core/setup.py` and `/cli/azure-cli-telemetry/setup.py` for the latest `VERSION = "…"` | `HEAD`: 200; anything else: Blob Storage's 404 `BlobNotFound`, so az finds no newer version and says nothing |
| `dc.services.visualstudio.com` | telemetry (Application Insights `POST /v2/track`, from a background process) | 200 `{"itemsReceived": n, "itemsAccepted": n, "errors": []}`: accepted and dropped |

Nothing is forwarded, and nothing az sends there is kept. `azure-emulator run` does not count
attempts to reach these hosts as egress (`is_benign`).
"""
from __future__ import annotations

import gzip
import json
from typing import Any

from .wire import Request, Response, blob_error, telemetry_refusal

VERSION_CHECK_HOST = "azcliprod.blob.core.windows.net"
TELEMETRY_HOST = "dc.services.visualstudio.com"
BENIGN_HOSTS: frozenset[str] = frozenset({VERSION_CHECK_HOST, TELEMETRY_HOST})


def is_benign(host: str) -> bool:
    """Whether a host is one of az's own (version check, telemetry), answered locally."""
    return host.lower().rstrip(".") in BENIGN_HOSTS


def _version_check(req: Request) -> Response:
    if req.method == "HEAD":
        return Response(200, None, {"x-ms-request-id": "azure-emulator"}, content_type="application/xml")
    return blob_error(404, "BlobNotFound", "The specified blob does not exist.")


def _items(body: bytes) -> int:
    """How many telemetry items a track request holds (a JSON array, or one JSON object a line; maybe gzipped)."""
    if body[:2] == b"\x1f\x8b":
        try:
            body = gzip.decompress(body)
        except OSError:
            return 0
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return 0
    try:
        parsed: Any = json.loads(text)
    except json.JSONDecodeError:
        return len([line for line in text.splitlines() if line.strip()])
    return len(parsed) if isinstance(parsed, list) else 1


def _telemetry(req: Request) -> Response:
    if req.method != "POST":
        return telemetry_refusal(405)
    count = _items(req.body)
    return Response(200, {"itemsReceived": count, "itemsAccepted": count, "errors": []})


def handle(req: Request) -> Response:
    """The local answer for a request to one of BENIGN_HOSTS."""
    if req.host == VERSION_CHECK_HOST:
        return _version_check(req)
    return _telemetry(req)
