"""Receiving a body into the caller's buffer (clients/ranged.py
`RangeClient._receive_raw`), over a local socket pair: every byte is
reported once and in order, a stall and a cut are told apart, and a
cancelled receive writes nothing more into the buffer."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import trio

from clients.errors import Stalled, TemporaryError
from clients.ranged import RangeClient, _Connection

MiB = 1 << 20


def pattern(n: int) -> bytes:
    return bytes(i * 7 % 251 for i in range(n))


def pair() -> tuple[socket.socket, trio.SocketStream]:
    a, b = socket.socketpair()
    return a, trio.SocketStream(trio.socket.from_stdlib_socket(b))


def sender(sock: socket.socket, data: bytes, pieces: int, pause: float, then_close: bool) -> None:
    """Sends `data` in `pieces` with `pause` seconds between them (a thread:
    the trio thread stays free to receive)."""
    step = -(-len(data) // pieces)
    for i in range(0, len(data), step):
        sock.sendall(data[i : i + step])
        time.sleep(pause)
    if then_close:
        sock.close()


async def receive(
    size: int, data: bytes, pieces: int = 1, pause: float = 0.0, close: bool = False, stall=2.0
):
    """Returns (buffer, on_data calls, error)."""
    a, stream = pair()
    client = RangeClient(stall_timeout=stall)
    connection = _Connection(stream, stream.socket.fileno())
    buffer = bytearray(size)
    calls: list[int] = []
    thread = threading.Thread(target=sender, args=(a, data, pieces, pause, close), daemon=True)
    thread.start()
    error: BaseException | None = None
    try:
        await client._receive_raw(connection, memoryview(buffer), calls.append, "test")
    except (Stalled, TemporaryError) as exc:
        error = exc
    thread.join(10)
    a.close()
    await stream.aclose()
    return buffer, calls, error


@pytest.mark.parametrize("size", [64 * 1024, MiB, 3 * MiB + 5])
async def test_every_byte_arrives_and_is_reported_once(size):
    data = pattern(size)
    buffer, calls, error = await receive(size, data, pieces=7, pause=0.01)
    assert error is None
    assert bytes(buffer) == data
    assert sum(calls) == size and all(n > 0 for n in calls)


async def test_a_large_body_that_stops_is_a_stall_with_its_bytes_reported():
    size = 2 * MiB
    sent = 300_000
    started = time.monotonic()
    buffer, calls, error = await receive(size, pattern(sent), stall=0.5)
    assert isinstance(error, Stalled)
    assert 0.5 <= time.monotonic() - started < 3
    assert sum(calls) == sent and bytes(buffer[:sent]) == pattern(sent)


async def test_a_large_body_cut_short_is_a_temporary_error():
    size = 2 * MiB
    buffer, calls, error = await receive(size, pattern(MiB), close=True)
    assert isinstance(error, TemporaryError) and not isinstance(error, Stalled)
    assert sum(calls) == MiB


async def test_a_cancelled_receive_ends_promptly():
    size = 2 * MiB
    a, stream = pair()
    client = RangeClient(stall_timeout=60)
    connection = _Connection(stream, stream.socket.fileno())
    buffer = bytearray(size)
    calls: list[int] = []
    a.sendall(pattern(1000))
    started = time.monotonic()
    with trio.move_on_after(0.3):
        await client._receive_raw(connection, memoryview(buffer), calls.append, "test")
    assert time.monotonic() - started < 2
    assert sum(calls) == 1000
    before = bytes(buffer)
    a.sendall(pattern(5000))
    await trio.sleep(0.3)
    assert bytes(buffer) == before  # nothing writes into it any more
    a.close()
    await stream.aclose()
