"""The download host: serves minted links with single-range `Range` semantics.

GET and HEAD, `Accept-Ranges: bytes`, 206 with `Content-Range`, 416 past the
end, and the data faults of `DataFaults` (latency, per-connection rate cap,
dropped connections, status bursts, ignored ranges, expired links).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from .content import iter_chunks
from .state import EmulatorState

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
SEND_CHUNK = 256 * 1024


class DroppedConnection(Exception):
    """Raised mid-body to make the server close the connection abruptly."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """Returns (start, end_exclusive), None for no/ignored range, or "416"."""
    if not header:
        return None
    match = RANGE_RE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None  # malformed or multi-range: RFC 9110 lets us ignore it
    first, last = match.group(1), match.group(2)
    if first == "":
        suffix = int(last)
        if suffix == 0:
            return "416"
        return max(0, size - suffix), size
    start = int(first)
    end = size if last == "" else min(size, int(last) + 1)
    if start >= size or (last != "" and int(last) < start):
        return "416"
    return start, end


class DataApp:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        faults = self.state.faults.data
        method = scope["method"]
        parts = scope["path"].strip("/").split("/")
        token = parts[-2] if len(parts) >= 2 else (parts[0] if parts else "")
        link = self.state.links.links.get(token)

        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)

        if method not in ("GET", "HEAD"):
            return await _plain(send, 405, b"method not allowed")
        if link is None:
            return await _plain(send, 404, b"not found")
        if link.expired():
            return await _plain(send, faults.expired_status, b"link expired")
        if faults.status_burst_count > 0:
            faults.status_burst_count -= 1
            return await _plain(send, faults.status_burst, b"injected error")

        content = link.content
        size = content.size
        headers = dict((k.decode().lower(), v.decode()) for k, v in scope["headers"])
        wanted = None if faults.ignore_range else parse_range(headers.get("range"), size)
        if wanted == "416":
            return await _plain(send, 416, b"range not satisfiable",
                                [(b"content-range", f"bytes */{size}".encode())])
        common = [
            (b"accept-ranges", b"bytes"),
            (b"content-type", b"application/force-download"),
            (b"content-disposition", b"attachment"),
        ]
        if wanted is None:
            status, start, end = 200, 0, size
        else:
            status, (start, end) = 206, wanted
            common.append((b"content-range", f"bytes {start}-{end - 1}/{size}".encode()))
        common.append((b"content-length", str(end - start).encode()))
        await send({"type": "http.response.start", "status": status, "headers": common})
        if method == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return

        self.state.stats.data_requests += 1
        drop_after = None
        if faults.drop_count > 0 and faults.drop_after_bytes >= 0:
            faults.drop_count -= 1
            drop_after = faults.drop_after_bytes
        sent = 0
        began = time.monotonic()
        for piece in iter_chunks(content, start, end, SEND_CHUNK):
            if drop_after is not None and sent + len(piece) > drop_after:
                piece = piece[: max(0, drop_after - sent)]
                if piece:
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
                    self.state.stats.data_bytes += len(piece)
                raise DroppedConnection(f"injected drop after {drop_after} bytes")
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            sent += len(piece)
            self.state.stats.data_bytes += len(piece)
            if faults.rate_bps:
                ahead = sent / faults.rate_bps - (time.monotonic() - began)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        await send({"type": "http.response.body", "body": b""})


async def _plain(send: Any, status: int, body: bytes, extra: list | None = None) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})
