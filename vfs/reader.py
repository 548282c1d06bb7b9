"""The read engine: read(offset, size) of a remote file, served from blocks.

Blocks are aligned (`block_size`). A block is fetched once however many
readers want it ("single flight"), in a task of the engine's nursery so that
a reader giving up does not cancel a fetch others share, and readers are
served from the in-flight buffer as soon as their bytes have arrived.
Sequential reading grows a read-ahead window; direct links that fail the way
expired links fail are re-resolved once; transfers that break resume from the
last byte received; nothing waits longer than `timeout`.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import httpx
import trio

from clients.errors import LinkExpired, RemoteError, TemporaryError
from clients.http import open_range
from .cache import MemoryCache
from .config import ReadConfig
from .sources.base import DirectLink, Source

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0)


class ReadTimeout(RemoteError):
    pass


class BlockFetch:
    """A block being downloaded: its buffer fills from the front."""

    def __init__(self, length: int) -> None:
        self.buf = bytearray(length)
        self.filled = 0
        self.error: BaseException | None = None
        self.done = False
        self._changed = trio.Event()

    def _notify(self) -> None:
        event, self._changed = self._changed, trio.Event()
        event.set()

    def add(self, chunk: bytes) -> int:
        n = min(len(chunk), len(self.buf) - self.filled)
        self.buf[self.filled:self.filled + n] = chunk[:n] if n < len(chunk) else chunk
        self.filled += n
        self._notify()
        return n

    def finish(self, error: BaseException | None = None) -> None:
        self.error = error
        self.done = True
        self._notify()

    async def wait_for(self, end: int) -> None:
        while self.filled < end:
            if self.done:
                raise self.error or TemporaryError("transfer ended early")
            await self._changed.wait()


class ReadEngine:
    def __init__(self, http: httpx.AsyncClient, cache: MemoryCache, config: ReadConfig,
                 block_size: int) -> None:
        self.http = http
        self.cache = cache
        self.config = config
        self.block_size = block_size
        self.connections = trio.CapacityLimiter(config.max_connections)
        self.nursery: trio.Nursery | None = None
        self.files: dict[Any, RemoteFile] = {}

    def open(self, key: Any, source: Source, ref: Any, size: int) -> "RemoteFile":
        remote = self.files.get(key)
        if remote is None or remote.size != size:
            remote = RemoteFile(self, key, source, ref, size)
            self.files[key] = remote
        remote.opened += 1
        remote.released_at = None
        return remote

    def release(self, remote: "RemoteFile") -> None:
        remote.opened -= 1
        if remote.opened <= 0:
            remote.released_at = time.monotonic()
            self._expire_released()

    def _expire_released(self) -> None:
        cutoff = time.monotonic() - self.config.keep_open_seconds
        for key, remote in list(self.files.items()):
            if remote.opened <= 0 and remote.released_at is not None and remote.released_at < cutoff:
                del self.files[key]


class RemoteFile:
    """Read state of one remote file, shared by all its open handles."""

    def __init__(self, engine: ReadEngine, key: Any, source: Source, ref: Any, size: int) -> None:
        self.engine = engine
        self.key = key
        self.source = source
        self.ref = ref
        self.size = size
        self.opened = 0
        self.released_at: float | None = None
        self.link: DirectLink | None = None
        self._link_lock = trio.Lock()
        self.inflight: dict[int, BlockFetch] = {}
        self.next_offset = 0           # where a sequential reader would read next
        self.window = 0                # read-ahead, in blocks

    async def read(self, offset: int, size: int) -> bytes:
        if offset >= self.size or size <= 0:
            return b""
        end = min(self.size, offset + size)
        with trio.move_on_after(self.engine.config.timeout) as scope:
            data = await self._read(offset, end)
        if scope.cancelled_caught:
            raise ReadTimeout(f"read of {end - offset} bytes at {offset} timed out")
        return data

    async def _read(self, offset: int, end: int) -> bytes:
        bs = self.engine.block_size
        first, last = offset // bs, (end - 1) // bs
        self._plan_read_ahead(offset, end, last)
        parts = []
        for index in range(first, last + 1):
            block_start = index * bs
            lo = max(offset, block_start) - block_start
            hi = min(end, block_start + bs) - block_start
            parts.append(await self._block_range(index, lo, hi))
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def _block_range(self, index: int, lo: int, hi: int) -> bytes:
        cached = self.engine.cache.get((self.key, index))
        if cached is not None:
            return cached[lo:hi]
        fetch = self._start_fetch(index)
        await fetch.wait_for(hi)
        return bytes(fetch.buf[lo:hi])

    def _plan_read_ahead(self, offset: int, end: int, last_block: int) -> None:
        bs = self.engine.block_size
        # The kernel reorders requests a little; treat anything within a block as sequential.
        sequential = self.next_offset - bs <= offset <= self.next_offset + bs and offset > 0
        if sequential:
            limit = max(2, self.engine.config.read_ahead_max // bs)
            self.window = min(limit, max(2, self.window * 2))
        else:
            self.window = 0
        self.next_offset = end
        last_index = (self.size - 1) // bs
        for index in range(last_block + 1, min(last_index, last_block + self.window) + 1):
            if (self.key, index) not in self.engine.cache:
                self._start_fetch(index)

    def _start_fetch(self, index: int) -> BlockFetch:
        fetch = self.inflight.get(index)
        if fetch is None:
            bs = self.engine.block_size
            length = min(bs, self.size - index * bs)
            fetch = BlockFetch(length)
            self.inflight[index] = fetch
            assert self.engine.nursery is not None
            self.engine.nursery.start_soon(self._fetch, index, fetch)
        return fetch

    async def _link(self, refresh: bool = False, failed: DirectLink | None = None) -> DirectLink:
        async with self._link_lock:
            if self.link is None or (refresh and self.link is failed):
                self.link = await self.source.resolve(self.ref, refresh=refresh)
            return self.link

    async def _fetch(self, index: int, fetch: BlockFetch) -> None:
        bs = self.engine.block_size
        start = index * bs
        error: BaseException | None = None
        try:
            with trio.fail_after(self.engine.config.timeout):
                await self._download(start, fetch)
            self.engine.cache.put((self.key, index), bytes(fetch.buf))
        except trio.TooSlowError:
            error = ReadTimeout(f"block {index} of {self.key} not received in time")
        except RemoteError as exc:
            error = exc
        except Exception as exc:  # keep one broken transfer from taking the mount down
            log.exception("unexpected error fetching block %d", index)
            error = exc
        finally:
            self.inflight.pop(index, None)
            fetch.finish(error)
        if error is not None:
            log.info("block %d of %s failed: %s", index, self.key, error)

    async def _download(self, start: int, fetch: BlockFetch) -> None:
        refreshed = False
        attempt = 0
        length = len(fetch.buf)
        while fetch.filled < length:
            link = await self._link()
            pos = start + fetch.filled
            try:
                async with self.engine.connections:
                    async with open_range(self.engine.http, link.url, pos, start + length,
                                          self.size) as response:
                        async for chunk in response.aiter_raw():
                            if fetch.add(chunk) < len(chunk) or fetch.filled >= length:
                                break
                if fetch.filled < length:
                    raise TemporaryError("transfer ended early")
            except LinkExpired as exc:
                if refreshed:
                    raise
                refreshed = True
                log.info("direct link failed (%s); resolving it again", exc)
                await self._link(refresh=True, failed=link)
            except (TemporaryError, httpx.TransportError) as exc:
                if attempt >= len(RETRY_DELAYS):
                    raise TemporaryError(f"giving up after {attempt} retries: {exc}") from None
                delay = getattr(exc, "retry_after", None) or RETRY_DELAYS[attempt]
                attempt += 1
                log.info("transfer at %d failed (%s); retry %d in %.1fs", pos, exc, attempt, delay)
                await trio.sleep(delay)


def blocks_for(offset: int, size: int, block_size: int) -> range:
    return range(offset // block_size, math.ceil((offset + size) / block_size))
