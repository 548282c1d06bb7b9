"""The download host: serves minted links with single-range `Range` semantics.

GET and HEAD, `Accept-Ranges: bytes`, 206 with `Content-Range`, 416 past the
end, and the data faults of `DataFaults` (latency, per-connection rate cap,
dropped connections, status bursts, ignored ranges, expired links, silence
before or inside a response with the connection left open, HTML error pages
with status 200, a range other than the one asked for; links on a host that
refuses connections are minted by `LinkRegistry`).
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
ERROR_PAGE = (
    b"<!DOCTYPE html><html><head><title>Link expired</title></head><body>"
    b"<h1>This download link has expired</h1><p>Please generate a new one.</p></body></html>"
)
WRONG_RANGE_SHIFT = 4096  # a wrong range starts this far from the asked start


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
        stall_after = None
        if method == "GET" and faults.stall_count > 0:
            faults.stall_count -= 1
            stall_after = faults.stall_after_bytes
            if stall_after < 0:
                await asyncio.sleep(faults.stall_seconds)
                stall_after = None
        if method == "GET" and faults.html_count > 0:
            faults.html_count -= 1
            self.state.stats.data_requests += 1
            return await _plain(send, 200, ERROR_PAGE, content_type=b"text/html; charset=utf-8")

        content = link.content
        size = content.size
        headers = dict((k.decode().lower(), v.decode()) for k, v in scope["headers"])
        wanted = None if faults.ignore_range else parse_range(headers.get("range"), size)
        if wanted == "416":
            return await _plain(
                send, 416, b"range not satisfiable", [(b"content-range", f"bytes */{size}".encode())]
            )
        common = [
            (b"accept-ranges", b"bytes"),
            (b"content-type", faults.content_type.encode()),
            (b"content-disposition", b"attachment"),
        ]
        if wanted is None:
            status, start, end = 200, 0, size
        else:
            status, (start, end) = 206, wanted
            if method == "GET" and faults.wrong_range_count > 0:
                # A cache answering for another client's range: bytes and header agree, but
                # they are not what was asked.
                faults.wrong_range_count -= 1
                shift = WRONG_RANGE_SHIFT if start < WRONG_RANGE_SHIFT else -WRONG_RANGE_SHIFT
                start, end = start + shift, min(size, end + shift)
            if faults.max_range_bytes > 0:
                end = min(end, start + faults.max_range_bytes)  # RFC 9110 allows a shorter range
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
            if stall_after is not None and sent + len(piece) > stall_after:
                # Silence with the connection open: the client must notice by itself.
                piece = piece[: max(0, stall_after - sent)]
                if piece:
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
                    self.state.stats.data_bytes += len(piece)
                await asyncio.sleep(faults.stall_seconds)
                raise DroppedConnection(f"injected stall after {stall_after} bytes")
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


async def _plain(
    send: Any, status: int, body: bytes, extra: list | None = None, content_type: bytes = b"text/plain"
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})
