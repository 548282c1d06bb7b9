"""The read engine: read(offset, size) of a remote file, served from chunks.

Granularity: 128 KiB chunks; one HTTP request (a "span")
covers a run of missing chunks, at most one block (`block_size`, 4 MiB by
default), aligned to blocks. A read nobody has asked for before fetches only
the chunks it touches, so a media server's probe of a file's tail costs
little more than what it reads.

Single flight: every chunk being fetched is registered in `inflight`; readers
of it wait on its span and are served as soon as their bytes have arrived,
not when the span is done. A span is one memory cache entry from its start
(vfs/cache.py): reads take its arrived bytes as views of its buffer (no
copy), and receiving costs no bookkeeping per chunk.

Read-ahead: reads are matched to "cursors" (a few per file, for players that
open a file twice). A cursor that sees sequential reads grows its window from
`INITIAL_WINDOW` doubling to `read_ahead_max`, and keeps that much ahead
fetched in parallel spans, up to the file's connection limit (the provider's
`chunks`/`maxChunks`, capped by `max_connections_per_file`) and the global
one. A read that matches no cursor (a seek) cancels the file's read-ahead that
has not started yet; demand reads take connection slots before read-ahead.
Read-ahead in flight across all files is capped by `prefetch_budget`.

Failures: every transfer is watched for progress (`clients/ranged.py`): no
byte for `stall_timeout` abandons it, and the span resumes at its last byte on
a new connection. `_download` is the one retry loop of a span, with the
policy of `clients/retry.py` (jittered backoff, `Retry-After`, the span's
deadline) and these rules per kind of failure:

- expired link (403/404/410/503, a range ignored): resolved again at once; a
  fresh link that fails the same way with a 4xx means the file is gone;
- unreachable host (refused, reset or silent connect): resolved again at once
  (services hand out other hosts), then backoff;
- stall: retried at once (the stall already waited);
- an HTML page, a wrong range or length, 5xx, a dropped connection, 429:
  backoff, honouring `Retry-After`;
- the second failure of a kind (and every second one after it) resolves the
  link again, except 429 (another link has the same limit).

Progress (a byte received) forgets earlier failures. Every read ends within
`timeout` (EIO after that); counts go to `ReadStats` (`.debridfs/stats`).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import trio

from clients.errors import (
    BadResponse,
    ErrorPage,
    LinkExpired,
    RateLimited,
    RemoteError,
    Stalled,
    TemporaryError,
    Unreachable,
)
from clients.ranged import RangeClient
from clients.retry import Retrying

from .buffers import BufferPool, SpanBuffer
from .cache import Chunk, MemoryCache
from .config import ReadConfig
from .diskcache import DiskCache
from .readstats import ReadStats
from .slots import BACKGROUND, DEMAND, URGENT, PrioritySlots
from .sources.base import DirectLink, Ref, Source

log = logging.getLogger(__name__)

CHUNK = 128 * 1024
INITIAL_WINDOW = 512 * 1024
READ_AHEAD_AFTER = 1 << 20  # sequential bytes read before read-ahead starts (probes read less)
FAST_RAMP_AFTER = 8 << 20  # past this streak the window doubles what was read (a stream, not a peek)
SMALL_READ = 256 * 1024  # demand spans up to this size jump the queue
FAILURE_MEMORY = 2.0  # seconds a failed range fails at once (the kernel retries)
ACTIVE_SECONDS = 2.0  # a cursor used this recently shares the memory cache
MAX_CURSORS = 4
HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".shtml")
# Kinds of transfer failure (most specific first) and how the retry loop treats them.
FAILURE_KINDS: tuple[tuple[type[RemoteError], str], ...] = (
    (Stalled, "stall"),
    (Unreachable, "unreachable"),
    (ErrorPage, "page"),
    (BadResponse, "bad"),
    (LinkExpired, "expired"),
    (RateLimited, "rate"),
    (TemporaryError, "transfer"),
)
RESOLVE_AT_ONCE = {"expired", "unreachable"}  # the first failure resolves the link again
NO_BACKOFF = {"stall"}  # the stall window was the wait
NEVER_RESOLVE = {"rate"}


class ReadTimeout(RemoteError):
    pass


class Span:
    """One ranged request: bytes [start, start + length) of a file."""

    def __init__(self, start: int, length: int, prefetch: bool, buf: SpanBuffer) -> None:
        self.start = start
        self.length = length
        self.prefetch = prefetch
        self.buf = buf
        self.filled = 0
        self.started = False  # holds a connection (read-ahead can no longer be cancelled)
        self.error: BaseException | None = None
        self.done = False
        self.cancel_scope = trio.CancelScope()
        self._changed = trio.Event()
        self._waiting = 0

    @property
    def end(self) -> int:
        return self.start + self.length

    def notify(self) -> None:
        if self._waiting:
            event, self._changed = self._changed, trio.Event()
            event.set()

    def finish(self, error: BaseException | None) -> None:
        self.error = error
        self.done = True
        self._changed.set()

    async def wait_for(self, end: int) -> None:
        """Waits until the bytes before absolute offset `end` have arrived."""
        while self.start + self.filled < end:
            if self.done:
                raise self.error or TemporaryError("transfer ended early")
            self._waiting += 1
            try:
                await self._changed.wait()
            finally:
                self._waiting -= 1

    def view(self, lo: int, hi: int) -> memoryview:
        return self.buf.view(lo, hi)


class _Pieces:
    """The buffers that answer one read. pyfuse3 takes any contiguous buffer:
    pieces that are neighbours in one span's buffer become one view of it (a
    1 MiB read from eight cached chunks costs no copy); only pieces from
    different buffers are joined. Arrived bytes of a span are never written
    again while a view exists (vfs/buffers.py), so the views are stable."""

    __slots__ = ("parts", "buf", "lo", "hi")

    def __init__(self) -> None:
        self.parts: list[memoryview | bytes] = []
        self.buf: SpanBuffer | None = None  # the run of neighbours being merged
        self.lo = self.hi = 0

    def add(self, piece: memoryview | bytes, pos: int) -> None:
        buf = piece.obj if isinstance(piece, memoryview) else None
        if not isinstance(buf, SpanBuffer):
            self._close_run()
            self.parts.append(piece)
            return
        if buf is self.buf and pos == self.hi:
            self.hi += len(piece)
            return
        self._close_run()
        self.buf, self.lo, self.hi = buf, pos, pos + len(piece)

    def _close_run(self) -> None:
        if self.buf is not None:
            self.parts.append(self.buf.view(self.lo, self.hi))
            self.buf = None

    def result(self) -> memoryview | bytes:
        self._close_run()
        return self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)


class Cursor:
    """One sequential stream through a file."""

    __slots__ = ("next_offset", "window", "used_at", "ahead", "streak")

    def __init__(self, offset: int) -> None:
        self.next_offset = offset
        self.window = 0
        self.used_at = time.monotonic()
        self.ahead = offset  # read-ahead has been started up to here
        self.streak = 0  # bytes read in sequence so far


class ReadEngine:
    def __init__(
        self,
        ranged: RangeClient,
        cache: MemoryCache,
        config: ReadConfig,
        block_size: int,
        disk: DiskCache | None = None,
    ) -> None:
        self.ranged = ranged
        self.cache = cache
        self.disk = disk
        self.config = config
        self.block_size = max(block_size, CHUNK)
        self.buffers = BufferPool(self.block_size)
        self.connections = PrioritySlots(
            config.max_connections,
            reserve=max(1, config.max_connections // 8),
            demand_reserve=max(1, config.max_connections // 8),
        )
        self.prefetch_bytes = 0  # read-ahead in flight, all files together
        self.nursery: trio.Nursery | None = None
        self.files: dict[Any, RemoteFile] = {}
        self.stats = ReadStats()

    def open(self, key: Any, source: Source, ref: Ref | None, size: int, name: str = "") -> RemoteFile:
        remote = self.files.get(key)
        if remote is None or remote.size != size:
            remote = RemoteFile(self, key, source, ref, size, name)
            self.files[key] = remote
        remote.opened += 1
        remote.released_at = None
        return remote

    def window_share(self) -> int:
        """The most read-ahead one cursor may keep: active cursors share half
        the memory cache, so read-ahead is not evicted before it is read."""
        cutoff = time.monotonic() - ACTIVE_SECONDS
        active = sum(
            1 for remote in self.files.values() for cursor in remote.cursors if cursor.used_at >= cutoff
        )
        return max(INITIAL_WINDOW, self.cache.max_bytes // (2 * max(1, active)))

    def release(self, remote: RemoteFile) -> None:
        remote.opened -= 1
        if remote.opened <= 0:
            remote.released_at = time.monotonic()
        self._expire_released()

    def _expire_released(self) -> None:
        # Read state (link, cursors) outlives a close for a few seconds: players reopen.
        cutoff = time.monotonic() - self.config.keep_open_seconds
        for key, remote in list(self.files.items()):
            if remote.opened <= 0 and remote.released_at is not None and remote.released_at < cutoff:
                remote.cancel_prefetch()
                del self.files[key]


class RemoteFile:
    """Read state of one remote file, shared by all its open handles."""

    def __init__(
        self, engine: ReadEngine, key: Any, source: Source, ref: Ref | None, size: int, name: str = ""
    ) -> None:
        self.engine = engine
        self.key = key
        self.source = source
        self.ref = ref
        self.size = size
        self.html = name.lower().endswith(HTML_SUFFIXES)  # an HTML reply may be the file itself
        self.disk_key = repr(key)
        self.opened = 0
        self.released_at: float | None = None
        self.link: DirectLink | None = None
        self._link_lock = trio.Lock()
        # No reserve per file: a seek cancels the file's read-ahead that has not
        # started, and the global reserve keeps room for it.
        self.slots = PrioritySlots(engine.config.max_connections_per_file)
        self.inflight: dict[int, Span] = {}
        self.cursors: list[Cursor] = []
        # Ranges whose fetch just failed: when a read fails, the kernel asks again
        # at once, and waiting the whole timeout twice would double the bound.
        self.failures: list[tuple[int, int, float, BaseException]] = []

    # Reading

    async def read(self, offset: int, size: int) -> bytes | memoryview:
        end = min(self.size, offset + size)
        if offset >= end:
            return b""
        self._raise_recent_failure(offset, end)
        pieces = _Pieces()
        # The cache first: what it holds needs no planning (nor checking chunk
        # by chunk whether it is missing), and the entries it touches become the
        # most recently used before read-ahead adds more.
        pos = self._take_cached(pieces, offset, end)
        self._plan(offset, end, pos)
        if pos == end:
            # All in memory (a stream behind its read-ahead, nearly every read):
            # no timeout scope, no trip through the trio loop.
            return pieces.result()
        with trio.move_on_after(self.engine.config.timeout) as scope:
            return await self._gather(pieces, pos, end)
        assert scope.cancelled_caught
        error = ReadTimeout(
            f"read of {end - offset} bytes at {offset} not served in {self.engine.config.timeout:.0f}s"
        )
        self.failures.append((offset, end, time.monotonic(), error))
        raise error

    def _plan(self, offset: int, end: int, missing_from: int) -> None:
        """Follows the read's stream, starts fetching what it misses (nothing
        before `missing_from`) and tops up the stream's read-ahead."""
        cursor = self._cursor_for(offset, end)
        self._ensure(missing_from, end, prefetch=False)
        if cursor.window:
            # Top the window up a whole block at a time, from where this cursor's
            # read-ahead got to: topping it up by each read's size would make
            # requests as small as reads, and rechecking the whole window chunk
            # by chunk on every read would cost more than the read.
            start = max(end, cursor.ahead)
            target = min(self.size, end + cursor.window)
            step = min(self.engine.block_size, max(CHUNK, cursor.window // 2))
            if target < self.size:
                target -= target % step
            if target - start >= step or (target == self.size and start < target):
                cursor.ahead = max(cursor.ahead, self._ensure(start, target, prefetch=True))

    def _take_cached(self, pieces: _Pieces, offset: int, end: int) -> int:
        """Adds the arrived bytes the memory cache holds from `offset` on;
        returns where they stop (`end` when it holds them all)."""
        get = self.engine.cache.get
        key = self.key
        pos = offset
        while pos < end:
            entry = get(key, pos // CHUNK)
            if entry is None:
                return pos
            hi = min(end, entry.start + entry.filled)
            if hi <= pos:
                return pos
            pieces.add(entry.view(pos, hi), pos)
            pos = hi
        return pos

    def _arrived(self, index: int) -> bool:
        """Whether the memory cache holds all of chunk `index`."""
        entry = self.engine.cache.peek(self.key, index)
        return entry is not None and entry.start + entry.filled >= min(
            entry.start + entry.length, (index + 1) * CHUNK
        )

    async def _gather(self, pieces: _Pieces, pos: int, end: int) -> bytes | memoryview:
        """The rest of a read, from the disk cache and the spans fetching it."""
        disk = self.engine.disk
        while (pos := self._take_cached(pieces, pos, end)) < end:
            index = pos // CHUNK
            if disk is not None and index not in self.inflight and disk.has(self.disk_key, self.size, index):
                cached = await disk.read(self.disk_key, self.size, index)
                if cached is not None:
                    chunk = Chunk(index * CHUNK, cached)
                    self.engine.cache.put(self.key, range(index, index + 1), chunk)
                    hi = min(end, (index + 1) * CHUNK)
                    pieces.add(chunk.view(pos, hi), pos)
                    pos = hi
                    continue
            span = self.inflight.get(index)
            if span is None:  # evicted or failed since _ensure: fetch it now
                self._ensure(pos, end, prefetch=False)
                span = self.inflight[index]
            # Take as much of this span as the read needs in one piece.
            hi = min(end, span.end)
            try:
                await span.wait_for(hi)
            except TemporaryError:
                if span.prefetch and span.cancel_scope.cancel_called:
                    continue  # read-ahead dropped by a seek: fetch on demand
                raise
            pieces.add(span.view(pos, hi), pos)
            pos = hi
        return pieces.result()

    def _raise_recent_failure(self, offset: int, end: int) -> None:
        if not self.failures:
            return
        now = time.monotonic()
        self.failures = [f for f in self.failures if now - f[2] < FAILURE_MEMORY]
        for start, stop, _when, error in self.failures:
            if start < end and offset < stop:
                raise error

    def _cursor_for(self, offset: int, end: int) -> Cursor:
        """Finds the stream this read continues, or starts a new one (a seek)."""
        slack = self.engine.block_size
        for cursor in self.cursors:
            # The kernel reorders and splits requests a little: allow some slack.
            if cursor.next_offset - slack <= offset <= cursor.next_offset + slack:
                if offset >= cursor.next_offset - CHUNK:
                    # The window follows consumption (twice what was read): a player that reads 2 s after a
                    # seek must not pull 64 MiB; a cp soon reads at full width.
                    cursor.streak += end - offset
                    if cursor.streak >= READ_AHEAD_AFTER:
                        cursor.window = min(
                            self.engine.config.read_ahead_max,
                            self.engine.window_share(),
                            max(
                                INITIAL_WINDOW, cursor.streak * (2 if cursor.streak >= FAST_RAMP_AFTER else 1)
                            ),
                        )
                cursor.next_offset = max(cursor.next_offset, end)
                cursor.used_at = time.monotonic()
                return cursor
        self.cancel_prefetch()
        cursor = Cursor(end)
        self.cursors.append(cursor)
        if len(self.cursors) > MAX_CURSORS:
            self.cursors.remove(min(self.cursors, key=lambda c: c.used_at))
        return cursor

    def _ensure(self, offset: int, end: int, prefetch: bool) -> int:
        """Starts spans for the chunks of [offset, end) neither cached nor in flight;
        returns how far that got (read-ahead stops at the prefetch budget)."""
        if offset >= end:
            return offset
        disk = self.engine.disk
        block = self.engine.block_size
        first, last = offset // CHUNK, (end - 1) // CHUNK
        run_start: int | None = None
        for index in range(first, last + 2):
            missing = (
                index <= last
                and index not in self.inflight
                and not self._arrived(index)
                and not (disk is not None and disk.has(self.disk_key, self.size, index))
            )
            # A span never crosses a block boundary, so spans stay aligned and bounded.
            if run_start is not None and (not missing or (index * CHUNK) % block == 0):
                if not self._start_span(run_start * CHUNK, min(self.size, index * CHUNK), prefetch):
                    return run_start * CHUNK
                run_start = None
            if missing and run_start is None:
                run_start = index
        return end

    def _start_span(self, start: int, end: int, prefetch: bool) -> bool:
        length = end - start
        engine = self.engine
        if prefetch and engine.prefetch_bytes + length > engine.config.prefetch_budget:
            return False
        span = Span(start, length, prefetch, engine.buffers.take(length, start))
        chunks = range(start // CHUNK, math.ceil(end / CHUNK))
        for index in chunks:
            self.inflight[index] = span
        # Cached from the start: a read takes the bytes that have arrived.
        engine.cache.put(self.key, chunks, span)
        if prefetch:
            engine.prefetch_bytes += length
        assert engine.nursery is not None
        engine.nursery.start_soon(self._run_span, span)
        return True

    def cancel_prefetch(self) -> None:
        """Drops read-ahead that has not started transferring."""
        for span in set(self.inflight.values()):
            if span.prefetch and not span.started:
                span.cancel_scope.cancel()

    # Fetching

    async def _run_span(self, span: Span) -> None:
        error: BaseException | None = None
        try:
            with span.cancel_scope:
                priority = BACKGROUND if span.prefetch else URGENT if span.length <= SMALL_READ else DEMAND
                deadline = trio.current_time() + self.engine.config.timeout
                with trio.fail_at(deadline):
                    await self._link()  # knows the connection limit before taking a slot
                    async with self.slots.slot(priority), self.engine.connections.slot(priority):
                        span.started = True
                        await self._download(span, Retrying(deadline))
            if span.cancel_scope.cancelled_caught:
                error = TemporaryError("read-ahead cancelled")
        except trio.TooSlowError:
            error = ReadTimeout(f"{span.length} bytes at {span.start} not received in time")
        except RemoteError as exc:
            error = exc
        except Exception as exc:  # one broken transfer must not take the mount down
            log.exception("unexpected error fetching %d bytes at %d", span.length, span.start)
            error = exc
        finally:
            for index in range(span.start // CHUNK, math.ceil(span.end / CHUNK)):
                if self.inflight.get(index) is span:
                    del self.inflight[index]
            if span.prefetch:
                self.engine.prefetch_bytes -= span.length
            if span.filled == 0:
                self.engine.cache.discard(span)
            span.finish(error)
        if error is not None and not span.cancel_scope.cancelled_caught:
            self.engine.stats.add(self.source.name, "failed_reads")
            self.failures.append((span.start, span.end, time.monotonic(), error))
            log.info("fetch of %d bytes at %d of %s failed: %s", span.length, span.start, self.key, error)

    async def _link(self, refresh: bool = False, failed: DirectLink | None = None) -> DirectLink:
        if self.link is not None and not refresh and not self._link_lock.locked():
            # Every span asks twice: a lock is a checkpoint (a trip through the
            # trio loop) each time, and the link is known nearly always.
            return self.link
        async with self._link_lock:
            if self.link is None or (refresh and self.link is failed):
                if refresh:
                    self.engine.stats.add(self.source.name, "resolutions")
                self.link = await self.source.resolve(self.ref, refresh=refresh)
                limit = self.engine.config.max_connections_per_file
                if self.link.max_connections:
                    limit = min(limit, self.link.max_connections)
                self.slots.set_total(limit)
            return self.link

    async def _download(self, span: Span, retrying: Retrying) -> None:
        disk = self.engine.disk
        next_chunk = span.start // CHUNK  # the first chunk not yet handed to the disk cache

        def on_data(n: int) -> None:
            # The span is in the memory cache already: its arrived bytes are readable.
            span.filled += n
            span.notify()

        def on_data_to_disk(n: int) -> None:
            nonlocal next_chunk
            assert disk is not None
            span.filled += n
            arrived = span.start + span.filled
            while next_chunk * CHUNK < span.end and min(span.end, (next_chunk + 1) * CHUNK) <= arrived:
                lo = next_chunk * CHUNK
                disk.store(self.disk_key, self.size, next_chunk, span.view(lo, min(span.end, lo + CHUNK)))
                next_chunk += 1
            span.notify()

        stats = self.engine.stats
        provider = self.source.name
        failures: dict[str, int] = {}  # failures of each kind since the last progress
        while span.filled < span.length:
            link = await self._link()
            before = span.filled
            stats.add(provider, "transfers")
            try:
                await self.engine.ranged.fetch_into(
                    link.url,
                    link.offset + span.start + span.filled,
                    memoryview(span.buf)[span.filled :],
                    self.size if link.total is None else link.total,
                    on_data if disk is None else on_data_to_disk,
                    html=self.html,
                )
            except (LinkExpired, TemporaryError, RateLimited) as exc:
                error = exc
            else:
                # Done, or the server sent a shorter range than asked: ask for the rest.
                failures.clear()
                retrying.reset()
                continue
            if span.filled > before:
                failures.clear()
                retrying.reset()
            kind = next(kind for cls, kind in FAILURE_KINDS if isinstance(error, cls))
            n = failures[kind] = failures.get(kind, 0) + 1
            if kind == "stall":
                stats.add(provider, "stalls")
            if kind == "expired" and n >= 2 and (error.status or 0) < 500:
                raise error  # a fresh link fails the same way: the file is gone
            resolve = kind not in NEVER_RESOLVE and (n % 2 == 0 or (n == 1 and kind in RESOLVE_AT_ONCE))
            wait = kind not in NO_BACKOFF and not (n == 1 and kind in RESOLVE_AT_ONCE)
            delay = retrying.delay_for(error) if wait else 0.0
            stats.add(provider, "retries")
            log.info(
                "transfer at %d failed (%s); retrying in %.2fs%s",
                span.start + span.filled,
                error,
                delay,
                " with a fresh link" if resolve else "",
            )
            await trio.sleep(delay)
            if resolve:
                await self._link(refresh=True, failed=link)
