"""The one shared httpx client for API calls, and HTTP helpers shared with
the data path (`clients/ranged.py`)."""

from __future__ import annotations

import logging
from typing import NamedTuple
from urllib.parse import urlsplit

import httpx

from .retry import parse_retry_after

log = logging.getLogger(__name__)

USER_AGENT = "debridfs/0.1"
# What an expired direct link answers (a 200 to a ranged request counts too).
EXPIRED_STATUSES = {403, 404, 410, 503}


def make_http_client(max_connections: int = 64) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        http1=True,
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections, keepalive_expiry=30
        ),
        timeout=httpx.Timeout(30.0, connect=10.0),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=True,
    )


class Origin(NamedTuple):
    """Where a raw h11 request goes (`clients/ranged.py`, `clients/filepost.py`)."""

    scheme: str
    host: str
    port: int
    target: str  # path and query
    host_header: str  # the port only when the URL named one


def origin_of(url: str) -> Origin:
    parts = urlsplit(url)
    scheme = parts.scheme or "http"
    host = parts.hostname or ""
    port = parts.port or (443 if scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Origin(scheme, host, port, target, host if parts.port is None else f"{host}:{port}")


def redact_url(url: str | httpx.URL) -> str:
    """Scheme, host and path only: query strings may carry credentials."""
    parsed = httpx.URL(str(url))
    return f"{parsed.scheme}://{parsed.host}{':' + str(parsed.port) if parsed.port else ''}{parsed.path}"


def retry_after_seconds(response: httpx.Response) -> float | None:
    return parse_retry_after(response.headers.get("retry-after"))
