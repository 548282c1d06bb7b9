"""The hoster side of the emulated world: links like
`https://rapidgator.net/file/<id>/<name>.html` that link services (the portal,
Premiumize, RapidShare, Real-Debrid's /unrestrict) turn into direct links.

Library section `hoster_links`: a list of
    {"url": str, "name": str, "content": {content spec}, "offline": bool (default false),
     "md5": str (optional; computed from content when absent)}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from .content import Content, content_from_spec, md5_of
from .dataserver import DataApp
from .state import EmulatorState


@dataclass
class HosterLink:
    url: str
    name: str
    content: Content
    offline: bool
    md5_hex: str | None

    @property
    def host(self) -> str:
        from urllib.parse import urlsplit

        host = urlsplit(self.url).hostname or ""
        return host.removeprefix("www.")

    def md5(self) -> str:
        if self.md5_hex is None:
            self.md5_hex = md5_of(self.content)
        return self.md5_hex


def _normalise(url: str) -> str:
    return url.strip().rstrip("/").replace("http://", "https://", 1)


def hoster_links(state: EmulatorState) -> dict[str, HosterLink]:
    """All hoster links, keyed by normalised URL (built once, cached on the state)."""
    cached = state.services.get("_hoster_links")
    if cached is None:
        cached = {}
        for entry in state.library.get("hoster_links", []):
            link = HosterLink(
                entry["url"],
                entry["name"],
                content_from_spec(entry["content"]),
                bool(entry.get("offline", False)),
                entry.get("md5"),
            )
            cached[_normalise(link.url)] = link
        state.services["_hoster_links"] = cached
    return cached


def find_hoster_link(state: EmulatorState, url: str) -> HosterLink | None:
    return hoster_links(state).get(_normalise(url))


class DataDelegate(Response):
    """Hands a request to the data host under a rewritten path (a service's own
    download URL serving minted content), optionally with a Range header."""

    def __init__(self, app: DataApp, path: str, range_header: str | None = None) -> None:
        self.app, self.path, self.range_header = app, path, range_header
        self.background = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = list(scope["headers"])
        if self.range_header:
            headers.append((b"range", self.range_header.encode()))
        await self.app({**scope, "path": self.path, "headers": headers}, receive, send)


def sample_hoster_links() -> list[dict[str, Any]]:
    return [
        {
            "url": "https://rapidgator.net/file/0123456789abcdef0123456789abcdef/sample.one.mkv.html",
            "name": "sample.one.mkv",
            "content": {"size": 24 * 1024 * 1024, "seed": 9001},
        },
        {
            "url": "https://rg.to/file/fedcba9876543210fedcba9876543210/sample.two.mp4.html",
            "name": "sample.two.mp4",
            "content": {"size": 8 * 1024 * 1024, "seed": 9002},
        },
        {
            "url": "https://rapidgator.net/file/00000000000000000000000000000000/gone.avi.html",
            "name": "gone.avi",
            "content": {"size": 1000, "seed": 9003},
            "offline": True,
        },
    ]
