"""An HTTP POST whose body holds a file, the file's bytes sent with sendfile(2).

Uploads are the one place where debridfs sends hundreds of MiB. Through
httpx every piece of the body is read into memory in a worker thread, copied
into the socket, and each partial send of a large piece goes once more
through the trio scheduler: on a fast link that costs several times the CPU
of the receiver's side. Over plain HTTP the kernel can send the file itself:
`os.sendfile` moves page-cache pages into the socket with no copy through
Python. h11 (as in `clients/ranged.py`) frames the request around the file
(its `send_with_data_passthrough` accounts for the file's length without the
bytes) and parses the reply.

The file is sent in worker-thread slices of at most `SLICE_SECONDS`, each
waiting for the socket in poll(2): the trio thread never blocks, a
cancellation is honoured within a slice, and `progress` is called after each.
TLS has no sendfile: callers send https bodies another way (`plain_http`).
"""

from __future__ import annotations

import logging
import os
import select
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11
import trio

from .errors import TemporaryError
from .http import USER_AGENT, origin_of, redact_url

log = logging.getLogger(__name__)

SLICE_SECONDS = 0.2  # the longest one worker-thread hop sends before reporting back
READ_SIZE = 64 * 1024
MAX_REPLY = 1 << 20  # an upload host answers with a small envelope


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes


@dataclass(frozen=True)
class Timeouts:
    connect: float
    write: float  # without a byte accepted by the socket
    read: float  # for the reply, once the body is sent


class _FileBody:
    """Stands for the file's bytes in h11's accounting; h11 only takes its len()."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size


def plain_http(url: str) -> bool:
    """True when `url` can take this path: plain HTTP, not through a proxy
    (a proxy from the environment is honoured by the httpx path)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return False
    proxies = urllib.request.getproxies()
    if not (proxies.get("http") or proxies.get("all")):
        return True
    return bool(urllib.request.proxy_bypass(parts.hostname))


async def post_file(
    url: str,
    content_type: str,
    head: bytes,
    fd: int,
    size: int,
    tail: bytes,
    timeouts: Timeouts,
    progress: Callable[[int], None] | None = None,
) -> Reply:
    """POSTs `head`, `size` bytes of `fd` from offset 0, then `tail`, to a plain
    HTTP `url`; returns the reply. Transport failures are `TemporaryError`;
    the reply's status is the caller's to judge."""
    _scheme, host, port, target, host_header = origin_of(url)
    where = redact_url(url)
    protocol = h11.Connection(h11.CLIENT)
    request = protocol.send(
        h11.Request(
            method="POST",
            target=target,
            headers=[
                ("Host", host_header),
                ("User-Agent", USER_AGENT),
                ("Accept-Encoding", "identity"),
                ("Connection", "close"),
                ("Content-Type", content_type),
                ("Content-Length", str(len(head) + size + len(tail))),
            ],
        )
    )
    try:
        with trio.fail_after(timeouts.connect):
            stream = await trio.open_tcp_stream(host, port)
    except (OSError, trio.TooSlowError) as exc:
        raise TemporaryError(f"upload to {where}: {type(exc).__name__}") from None
    try:
        try:
            await _send_all(stream, request + protocol.send(h11.Data(data=head)), timeouts.write)
            protocol.send_with_data_passthrough(h11.Data(data=_FileBody(size)))  # type: ignore[arg-type]
            await _send_file(stream.socket, fd, size, timeouts.write, progress)
            await _send_all(
                stream, protocol.send(h11.Data(data=tail)) + protocol.send(h11.EndOfMessage()), timeouts.write
            )
        except (OSError, trio.BrokenResourceError) as exc:
            # The host may have answered and closed early (a refusal): read it.
            log.debug("upload to %s: sending stopped: %s", where, type(exc).__name__)
        return await _read_reply(stream, protocol, timeouts.read)
    except (OSError, trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError) as exc:
        raise TemporaryError(f"upload to {where}: {type(exc).__name__}") from None
    except trio.TooSlowError:
        raise TemporaryError(f"upload to {where}: timed out") from None
    finally:
        with trio.CancelScope(shield=True):
            await stream.aclose()


async def _send_all(stream: trio.SocketStream, data: bytes, timeout: float) -> None:
    with trio.fail_after(timeout):
        await stream.send_all(data)


async def _send_file(
    sock: trio.socket.SocketType,
    fd: int,
    size: int,
    timeout: float,
    progress: Callable[[int], None] | None,
) -> None:
    offset = 0
    last_progress = trio.current_time()
    while offset < size:
        sent = await trio.to_thread.run_sync(_send_slice, sock.fileno(), fd, offset, size - offset)
        now = trio.current_time()
        if sent:
            offset += sent
            last_progress = now
            if progress is not None:
                progress(offset)
        elif now - last_progress > timeout:
            raise trio.TooSlowError
    await trio.lowlevel.checkpoint()


def _send_slice(sock_fd: int, fd: int, offset: int, count: int) -> int:
    """In a worker thread: sendfile(2) until `count` bytes are sent or the
    slice's time is up; returns the bytes sent (0: the socket took none)."""
    poller = select.poll()
    poller.register(sock_fd, select.POLLOUT)
    deadline = time.monotonic() + SLICE_SECONDS
    sent = 0
    while sent < count:
        try:
            n = os.sendfile(sock_fd, fd, offset + sent, count - sent)
        except BlockingIOError:
            n = -1
        if n == 0:
            raise TemporaryError(
                f"the file is shorter than announced ({offset + sent} of {offset + count} bytes)"
            )
        if n > 0:
            sent += n
        left = deadline - time.monotonic()
        if left <= 0:
            break
        if n < 0 and not poller.poll(left * 1000):
            break
    return sent


async def _read_reply(stream: trio.SocketStream, protocol: h11.Connection, timeout: float) -> Reply:
    status = 0
    body = bytearray()
    with trio.fail_after(timeout):
        while True:
            event = protocol.next_event()
            if event is h11.NEED_DATA:
                protocol.receive_data(bytes(await stream.receive_some(READ_SIZE)))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_REPLY:
                    raise h11.RemoteProtocolError("reply too large")
            elif isinstance(event, h11.EndOfMessage):
                return Reply(status, bytes(body))
            elif isinstance(event, h11.ConnectionClosed):
                raise h11.RemoteProtocolError("connection closed before the reply")
