"""Ranged GETs of direct links, read straight into the caller's buffer.

This is the data path of every read, so it avoids per-chunk work: h11 parses
the response head, then a Content-Length body is read from the socket
directly into the block buffer (one copy, from the kernel), in pieces as
large as the socket gives, with one trip through the trio loop per piece.
Connections are kept alive and pooled per host. TLS goes through `trio.SSLStream` (one extra copy).

Every response is validated before a byte reaches the caller's buffer:
status, `Content-Range` (start, end, total), a `Content-Length` that matches
it, and no HTML page where the file is not HTML. A server may send less than
asked (a shorter `Content-Range`); the caller asks again for the rest.

Failures are typed for the caller's retry policy (`clients/retry.py`):
responses that expired links give become `LinkExpired`; a connection that
cannot be made is `Unreachable`; no byte for `stall_timeout` (before the head
or inside the body) is `Stalled`; an HTML page is `ErrorPage`; a wrong range
or length is `BadResponse`; 5xx, resets and short bodies are `TemporaryError`.
The caller resumes from the last byte it received.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import ssl
from collections import defaultdict
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

import h11
import trio

from .errors import (
    BadResponse,
    ErrorPage,
    LinkExpired,
    RateLimited,
    RemoteError,
    Stalled,
    TemporaryError,
    Unreachable,
)
from .http import EXPIRED_STATUSES, USER_AGENT, Origin, origin_of, redact_url
from .retry import parse_retry_after

log = logging.getLogger(__name__)

CONTENT_RANGE_RE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
HTML_TYPES = ("text/html", "application/xhtml+xml")
# The response head is read in small pieces: what comes with it of the body
# goes through h11 and two copies, the rest straight into the buffer.
HEAD_READ = 4 * 1024
FRAMED_READ = 64 * 1024  # chunked bodies and bodies drained to keep a connection
MAX_REDIRECTS = 5
MAX_IDLE_PER_HOST = 16
RECV_BUFFER = 4 << 20


_USER_AGENT = USER_AGENT.encode()


@functools.lru_cache(maxsize=256)
def _parts_of(url: str) -> tuple[Origin, str, bytes, bytes]:
    """The origin, a description for messages (no query: it may hold
    credentials), and the request's target and Host header: parsed once per
    direct link, which every span of a file asks again."""
    origin = origin_of(url)
    where = f"{origin.scheme}://{origin.host}:{origin.port}{urlsplit(url).path}"
    return origin, where, origin.target.encode("ascii"), origin.host_header.encode("ascii")


class _Connection:
    def __init__(self, stream: trio.abc.Stream, fd: int | None) -> None:
        self.stream = stream
        self.fd = fd  # set for plain TCP: the body is read from the socket straight into the buffer
        self.pending = b""  # body bytes that arrived with the head

    def take_pending(self, view: memoryview) -> int:
        n = min(len(view), len(self.pending))
        view[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    async def send_all(self, data: bytes) -> None:
        """Sends a request: on plain TCP in one write (a request fits in an idle
        socket's buffer), without a trip through the trio loop; the wait for
        the response is the next one."""
        if self.fd is not None:
            try:
                data = data[os.write(self.fd, data) :]
            except BlockingIOError:
                pass
            if not data:
                return
        await self.stream.send_all(data)

    async def receive_head(self, max_bytes: int) -> bytes:
        """Some of the response head. On plain TCP it waits first: right after
        the request, a read would only find the socket empty."""
        if self.fd is None:
            return bytes(await self.stream.receive_some(max_bytes))  # trio may hand a bytearray
        while True:
            await trio.lowlevel.wait_readable(self.fd)
            try:
                return os.read(self.fd, max_bytes)
            except BlockingIOError:
                continue

    async def receive_into(self, view: memoryview) -> int:
        if self.pending:
            return self.take_pending(view)
        data = await self.stream.receive_some(len(view))
        view[: len(data)] = data
        return len(data)

    async def aclose(self) -> None:
        with trio.move_on_after(1) as scope:
            scope.shield = True
            await self.stream.aclose()


class RangeClient:
    """Keeps connections per (scheme, host, port) and fetches byte ranges.

    `stall_timeout` bounds every wait for the network: connecting, the
    response head, and each piece of the body (a progress watchdog).
    """

    def __init__(self, stall_timeout: float = 5.0) -> None:
        self.stall_timeout = stall_timeout
        self._idle: dict[tuple[str, str, int], list[_Connection]] = defaultdict(list)
        self._ssl = ssl.create_default_context()

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                await connection.aclose()
        self._idle.clear()

    async def _connect(self, scheme: str, host: str, port: int) -> _Connection:
        key = (scheme, host, port)
        if self._idle[key]:
            return self._idle[key].pop()
        try:
            with trio.fail_after(self.stall_timeout):
                tcp = await trio.open_tcp_stream(host, port)
                tcp.setsockopt(trio.socket.IPPROTO_TCP, trio.socket.TCP_NODELAY, 1)
                # Larger socket buffers: fewer, bigger recv calls per block.
                tcp.socket.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_RCVBUF, RECV_BUFFER)
                if scheme == "https":
                    tls = trio.SSLStream(tcp, self._ssl, server_hostname=host, https_compatible=True)
                    await tls.do_handshake()
                    return _Connection(tls, None)
                return _Connection(tcp, tcp.socket.fileno())
        except (OSError, trio.TooSlowError, trio.BrokenResourceError) as exc:
            raise Unreachable(f"cannot connect to {host}:{port}: {type(exc).__name__}") from None

    def _release(self, key: tuple[str, str, int], connection: _Connection) -> None:
        if len(self._idle[key]) < MAX_IDLE_PER_HOST:
            self._idle[key].append(connection)
        else:
            trio.lowlevel.spawn_system_task(connection.aclose)

    async def fetch_into(
        self,
        url: str,
        start: int,
        buffer: memoryview,
        size: int | None,
        on_data: Callable[[int], None],
        *,
        html: bool = False,
    ) -> None:
        """Receives bytes [start, start+len(buffer)) of `url` into `buffer`, or
        a first part of them when the server sends less.

        Calls `on_data(n)` after every piece; on failure the bytes received so
        far stay in the buffer and were reported, so the caller can resume.
        `html`: the file itself is an HTML page (else an HTML reply is an error).
        """
        for _ in range(MAX_REDIRECTS + 1):
            location = await self._fetch_once(url, start, buffer, size, on_data, html)
            if location is None:
                return
            url = urljoin(url, location)
        raise TemporaryError(f"{redact_url(url)}: too many redirects")

    async def _fetch_once(
        self,
        url: str,
        start: int,
        buffer: memoryview,
        size: int | None,
        on_data: Callable[[int], None],
        html: bool,
    ) -> str | None:
        (scheme, host, port, _, _), where, target, host_header = _parts_of(url)
        key = (scheme, host, port)
        end = start + len(buffer)

        connection = await self._connect(scheme, host, port)
        reusable = False
        try:
            protocol = h11.Connection(h11.CLIENT)
            request = protocol.send(
                h11.Request(
                    method=b"GET",
                    target=target,
                    headers=[
                        (b"Host", host_header),
                        (b"User-Agent", _USER_AGENT),
                        (b"Accept-Encoding", b"identity"),
                        (b"Range", b"bytes=%d-%d" % (start, end - 1)),
                    ],
                )
            )
            request += protocol.send(h11.EndOfMessage())
            try:
                with trio.fail_after(self.stall_timeout):
                    await connection.send_all(request)
                    response = await self._read_head(connection, protocol)
            except trio.TooSlowError:
                raise Stalled(f"{where}: no response in {self.stall_timeout:g}s") from None
            headers = {name.decode().lower(): value.decode("latin-1") for name, value in response.headers}
            status = response.status_code

            if status in (301, 302, 303, 307, 308) and "location" in headers:
                reusable = await self._drain(connection, protocol)
                return headers["location"]
            expected = self._check_response(status, headers, where, start, end, size, html)
            body = buffer[:expected]
            if headers.get("transfer-encoding", "").lower() == "chunked" or "content-length" not in headers:
                await self._receive_framed(connection, protocol, body, on_data, where)
                return None
            connection.pending = self._buffered_body(protocol, expected)
            await self._receive_raw(connection, body, on_data, where)
            reusable = headers.get("connection", "").lower() != "close"
            return None
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError) as exc:
            raise TemporaryError(f"{where}: connection failed: {type(exc).__name__}") from None
        finally:
            if reusable:
                self._release(key, connection)
            else:
                await connection.aclose()

    async def _read_head(self, connection: _Connection, protocol: h11.Connection) -> h11.Response:
        while True:
            event = protocol.next_event()
            if event is h11.NEED_DATA:
                data = await connection.receive_head(HEAD_READ)
                if not data:
                    raise TemporaryError("connection closed before the response")
                protocol.receive_data(data)
                continue
            if isinstance(event, h11.Response):
                return event
            if isinstance(event, h11.ConnectionClosed):
                raise TemporaryError("connection closed before the response")

    @staticmethod
    def _buffered_body(protocol: h11.Connection, length: int) -> bytes:
        """Body bytes that came in the same packets as the head (taken as h11
        holds them, not as h11 `Data` events); from here on the body bypasses
        h11."""
        return protocol.trailing_data[0][:length]

    async def _drain(self, connection: _Connection, protocol: h11.Connection) -> bool:
        """Reads a small body (redirect, error page) to keep the connection usable."""
        if protocol.their_state is h11.DONE:
            return True
        with trio.move_on_after(5):
            while True:
                event = protocol.next_event()
                if event is h11.NEED_DATA:
                    data = await connection.stream.receive_some(FRAMED_READ)
                    if not data:
                        return False
                    protocol.receive_data(bytes(data))  # h11 is typed for bytes; trio may hand a bytearray
                elif isinstance(event, h11.EndOfMessage):
                    return True
                elif isinstance(event, h11.ConnectionClosed):
                    return False
        return False

    async def _receive_raw(
        self, connection: _Connection, buffer: memoryview, on_data: Callable[[int], None], where: str
    ) -> None:
        filled = 0
        fd = connection.fd
        drained = False  # the last read emptied the socket: wait before the next
        # One cancel scope whose deadline moves: a new scope per recv costs more
        # than the recv itself on a fast link.
        with trio.CancelScope() as scope:
            while filled < len(buffer):
                if fd is None or connection.pending:
                    scope.deadline = trio.current_time() + self.stall_timeout
                    n = await connection.receive_into(buffer[filled:])
                elif drained:
                    # The one trip through the trio loop per piece (trio's
                    # recv_into takes two, and a failed recv when the socket is
                    # empty): a piece is whatever arrived meanwhile.
                    scope.deadline = trio.current_time() + self.stall_timeout
                    await trio.lowlevel.wait_readable(fd)
                    drained = False
                    continue
                else:
                    try:
                        n = os.readv(fd, [buffer[filled:]])  # releases the GIL
                    except BlockingIOError:
                        drained = True
                        continue
                    drained = n < len(buffer) - filled
                if n == 0:
                    raise TemporaryError(f"{where}: connection closed after {filled} of {len(buffer)} bytes")
                filled += n
                on_data(n)
        if scope.cancelled_caught:
            raise Stalled(f"{where}: no data for {self.stall_timeout:g}s after {filled} bytes")

    async def _receive_framed(
        self,
        connection: _Connection,
        protocol: h11.Connection,
        buffer: memoryview,
        on_data: Callable[[int], None],
        where: str,
    ) -> None:
        """The slow path for chunked bodies: let h11 do the framing."""
        filled = 0
        while filled < len(buffer):
            event = protocol.next_event()
            if event is h11.NEED_DATA:
                with trio.move_on_after(self.stall_timeout) as scope:
                    data = await connection.stream.receive_some(FRAMED_READ)
                if scope.cancelled_caught:
                    raise Stalled(f"{where}: no data for {self.stall_timeout:g}s after {filled} bytes")
                if not data:
                    raise TemporaryError(f"{where}: connection closed after {filled} bytes")
                protocol.receive_data(bytes(data))  # h11 is typed for bytes; trio may hand a bytearray
            elif isinstance(event, h11.Data):
                n = min(len(event.data), len(buffer) - filled)
                buffer[filled : filled + n] = event.data[:n]
                filled += n
                on_data(n)
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                raise TemporaryError(f"{where}: body ended after {filled} bytes")

    @staticmethod
    def _check_response(
        status: int, headers: dict[str, str], where: str, start: int, end: int, size: int | None, html: bool
    ) -> int:
        """Raises unless the response carries bytes from `start` on; returns
        how many of [start, end) it carries."""
        if (
            status in (200, 206)
            and not html
            and headers.get("content-type", "").split(";")[0].strip().lower() in HTML_TYPES
        ):
            raise ErrorPage(f"{where}: HTTP {status} with an HTML page, not the file", status=status)
        if status == 206:
            content_range = headers.get("content-range", "")
            match = CONTENT_RANGE_RE.fullmatch(content_range.strip())
            if not match:
                raise BadResponse(f"{where}: unreadable Content-Range {content_range!r}", status=status)
            first, last, total = int(match.group(1)), int(match.group(2)), match.group(3)
            if size is not None and total != "*" and int(total) != size:
                raise LinkExpired(f"{where}: file size changed to {total}", status=status)
            if first != start or last < first or last >= end:
                raise BadResponse(
                    f"{where}: Content-Range {content_range!r} for bytes {start}-{end - 1}", status=status
                )
            expected = last + 1 - first
        elif status == 200:
            if not (start == 0 and size is not None and end >= size):
                raise LinkExpired(f"{where}: server ignored the range request", status=status)
            expected = end - start
            if "content-length" in headers and headers["content-length"].strip() != str(expected):
                # An error page instead of the file (RapidShare answers `ERROR: ...` with 200).
                raise LinkExpired(
                    f"{where}: answered 200 with {headers['content-length']} bytes, not the file",
                    status=status,
                )
        else:
            if status in EXPIRED_STATUSES:
                raise LinkExpired(f"{where}: HTTP {status}", status=status)
            retry_after = parse_retry_after(headers.get("retry-after"))
            if status == 429:
                raise RateLimited(f"{where}: HTTP 429", retry_after=retry_after, status=status)
            if status >= 500:
                raise TemporaryError(f"{where}: HTTP {status}", retry_after=retry_after, status=status)
            raise RemoteError(f"{where}: HTTP {status}", status=status)
        length = headers.get("content-length")
        if length is not None and length.strip() != str(expected):
            raise BadResponse(f"{where}: Content-Length {length} for {expected} bytes", status=status)
        return expected
