"""The memory cache: an LRU of runs of a file's bytes, bounded in bytes.

An entry is one span's buffer (vfs/reader.py) with how much of it has
arrived, or one chunk read back from the disk cache. Entries are looked up
by (file key, chunk index) through an index of the chunks each entry
covers, so a sequential stream costs one insertion per span (4 MiB) instead
of one per 128 KiB chunk, while a small probe span stays a small entry.

A span enters the cache when it starts, so its bytes can be read as they
arrive; its whole length counts from then on (its buffer exists from then
on). An entry larger than the whole cache still gets in, alone: a cache
smaller than a block must not turn every read into a new request.

The persistent tier is vfs/diskcache.py.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Hashable
from typing import Protocol

log = logging.getLogger(__name__)


class Entry(Protocol):
    """A run of a file's bytes: [start, start + length), of which the first
    `filled` have arrived (and are never written again)."""

    start: int
    length: int
    filled: int

    def view(self, lo: int, hi: int) -> memoryview: ...


class Chunk:
    """A complete run of bytes that is not a span's (a chunk from the disk cache)."""

    __slots__ = ("start", "length", "filled", "_data")

    def __init__(self, start: int, data: bytes | memoryview) -> None:
        self.start = start
        self.length = self.filled = len(data)
        self._data = memoryview(data)

    def view(self, lo: int, hi: int) -> memoryview:
        return self._data[lo - self.start : hi - self.start]


class MemoryCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used_bytes = 0
        # Least recently used first; each entry's key and the chunks it covers.
        self._lru: collections.OrderedDict[Entry, tuple[Hashable, range]] = collections.OrderedDict()
        self._index: dict[tuple[Hashable, int], Entry] = {}

    def put(self, key: Hashable, chunks: range, entry: Entry) -> None:
        """Caches `entry` as the holder of `key`'s chunks `chunks` (it replaces
        what held them before)."""
        if entry in self._lru:
            return
        self._lru[entry] = (key, chunks)
        self.used_bytes += entry.length
        for index in chunks:
            self._index[key, index] = entry
        while self.used_bytes > self.max_bytes and len(self._lru) > 1:
            self._evict()

    def get(self, key: Hashable, index: int) -> Entry | None:
        """The entry holding chunk `index` of `key` (now the most recently used)."""
        entry = self._index.get((key, index))
        if entry is not None:
            self._lru.move_to_end(entry)
        return entry

    def peek(self, key: Hashable, index: int) -> Entry | None:
        """Like `get`, but leaves the order alone."""
        return self._index.get((key, index))

    def discard(self, entry: Entry) -> None:
        """Drops `entry` (a span that ended without a byte)."""
        if entry in self._lru:
            self._unlink(entry, self._lru.pop(entry))

    def _evict(self) -> None:
        entry, where = self._lru.popitem(last=False)
        self._unlink(entry, where)

    def _unlink(self, entry: Entry, where: tuple[Hashable, range]) -> None:
        self.used_bytes -= entry.length
        key, chunks = where
        index = self._index
        for i in chunks:
            if index.get((key, i)) is entry:
                del index[key, i]
