"""Read-ahead arithmetic of the read engine (vfs/reader.py), with an in-memory
origin instead of HTTP: which byte ranges a reader's pattern makes us fetch."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import trio
import trio.testing

from vfs.cache import MemoryCache
from vfs.config import ReadConfig
from vfs.reader import CHUNK, READ_AHEAD_AFTER, ReadEngine, RemoteFile
from vfs.sources.base import DirectLink, Source

MiB = 1 << 20
SIZE = 96 * MiB + 12345
BLOCK = 4 * MiB
READ_AHEAD_MAX = 16 * MiB


PERIOD = bytes(range(251))  # a prime period: a misplaced chunk shows


def expected(offset: int, length: int) -> bytes:
    start = offset % len(PERIOD)
    return (PERIOD * (length // len(PERIOD) + 2))[start : start + length]


class Origin:
    """Stands in for clients/ranged.py: records every ranged request."""

    def __init__(self) -> None:
        self.requests: list[tuple[int, int]] = []

    async def fetch_into(
        self,
        url: str,
        start: int,
        buffer: memoryview,
        size: int | None,
        on_data: Callable[[int], None],
        **options: Any,
    ) -> None:
        self.requests.append((start, len(buffer)))
        buffer[:] = expected(start, len(buffer))
        await trio.lowlevel.checkpoint()
        on_data(len(buffer))

    def fetched_end(self) -> int:
        return max((start + length for start, length in self.requests), default=0)


class OneFile(Source):
    name = "unit"

    async def resolve(self, ref: Any, *, refresh: bool = False) -> DirectLink:
        return DirectLink("http://127.0.0.1:9/file", SIZE)


@pytest.fixture
async def engine_and_origin() -> AsyncIterator[tuple[ReadEngine, Origin]]:
    origin = Origin()
    config = ReadConfig(read_ahead_max=READ_AHEAD_MAX, prefetch_budget=64 * MiB)
    engine = ReadEngine(origin, MemoryCache(1 << 30), config, BLOCK)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        engine.nursery = nursery
        yield engine, origin
        nursery.cancel_scope.cancel()


def open_file(engine: ReadEngine) -> RemoteFile:
    return engine.open(("unit", "file"), OneFile(), None, SIZE)


async def read(remote: RemoteFile, offset: int, size: int) -> bytes:
    data = bytes(await remote.read(offset, size))
    await trio.testing.wait_all_tasks_blocked()  # let read-ahead spans run
    return data


async def test_a_probe_of_the_tail_fetches_only_what_it_touches(engine_and_origin):
    engine, origin = engine_and_origin
    remote = open_file(engine)
    assert await read(remote, SIZE - 1000, 4096) == expected(SIZE - 1000, 1000)  # clamped at EOF
    assert origin.requests == [(SIZE - SIZE % CHUNK, SIZE % CHUNK)]
    assert await read(remote, 10 * MiB + 5, 100) == expected(10 * MiB + 5, 100)
    assert origin.requests[1:] == [(10 * MiB, CHUNK)]


async def test_a_second_read_costs_no_request(engine_and_origin):
    engine, origin = engine_and_origin
    remote = open_file(engine)
    first = await read(remote, 5 * MiB, 3 * CHUNK)
    count = len(origin.requests)
    assert await read(remote, 5 * MiB, 3 * CHUNK) == first
    assert len(origin.requests) == count


async def test_requests_stay_within_one_block(engine_and_origin):
    engine, origin = engine_and_origin
    remote = open_file(engine)
    data = await read(remote, BLOCK - CHUNK, 3 * BLOCK)  # crosses three block boundaries
    assert data == expected(BLOCK - CHUNK, 3 * BLOCK)
    for start, length in origin.requests:
        assert 0 < length <= BLOCK
        assert start // BLOCK == (start + length - 1) // BLOCK


async def test_sequential_reading_ramps_read_ahead_up_to_its_maximum(engine_and_origin):
    engine, origin = engine_and_origin
    remote = open_file(engine)
    ahead: dict[int, int] = {}
    position = 0
    while position < 64 * MiB:
        assert await read(remote, position, CHUNK) == expected(position, CHUNK)
        position += CHUNK
        ahead[position] = origin.fetched_end() - position
    # A reader that has read less than READ_AHEAD_AFTER may be a probe: nothing ahead.
    assert all(value <= CHUNK for pos, value in ahead.items() if pos < READ_AHEAD_AFTER)
    assert ahead[2 * READ_AHEAD_AFTER] > 0
    # The window grows with what was read, never beyond read_ahead_max (plus a block of rounding).
    assert ahead[4 * MiB] < ahead[32 * MiB]
    assert max(ahead.values()) <= READ_AHEAD_MAX + BLOCK
    assert ahead[60 * MiB] >= READ_AHEAD_MAX - BLOCK


async def test_a_seek_starts_over_without_read_ahead(engine_and_origin):
    engine, origin = engine_and_origin
    remote = open_file(engine)
    for position in range(0, 8 * MiB, CHUNK):
        await read(remote, position, CHUNK)
    before = len(origin.requests)
    await read(remote, 80 * MiB, CHUNK)  # a player's seek
    assert origin.requests[before:] == [(80 * MiB, CHUNK)]
