"""The memory cache is an LRU of spans and chunks bounded in bytes (vfs/cache.py)."""

from __future__ import annotations

from vfs.buffers import SpanBuffer
from vfs.cache import Chunk, MemoryCache


def test_least_recently_used_entries_leave_first_within_the_byte_budget():
    cache = MemoryCache(300)
    for i, name in enumerate("abc"):
        cache.put(name, range(i, i + 1), Chunk(i * 100, name.encode() * 100))
    entry = cache.get("a", 0)
    assert entry is not None and bytes(entry.view(0, 100)) == b"a" * 100  # a is now the most recently used
    cache.put("d", range(3, 4), Chunk(300, b"d" * 100))
    assert cache.get("b", 1) is None
    assert all(cache.peek(name, i) is not None for name, i in (("a", 0), ("c", 2), ("d", 3)))
    assert cache.used_bytes == 300


def test_one_entry_answers_for_every_chunk_it_covers_without_copying():
    buffer = SpanBuffer(400, start=1000)
    buffer[:] = bytes(range(200)) * 2
    span = Chunk(1000, memoryview(buffer))
    cache = MemoryCache(1000)
    cache.put("file", range(10, 14), span)
    assert all(cache.get("file", i) is span for i in range(10, 14))
    view = cache.get("file", 12).view(1200, 1250)  # type: ignore[union-attr]
    assert view.obj is buffer and bytes(view) == bytes(range(0, 50))
    assert cache.get("file", 14) is None


def test_a_newer_entry_takes_over_chunks_and_evicting_the_older_keeps_them():
    cache = MemoryCache(150)
    old, new = Chunk(0, b"o" * 100), Chunk(0, b"n" * 100)
    cache.put("file", range(0, 2), old)
    cache.put("file", range(1, 2), new)  # evicts old: over the budget
    assert cache.get("file", 0) is None and cache.get("file", 1) is new
    assert cache.used_bytes == 100


def test_an_entry_larger_than_the_cache_is_kept_alone():
    cache = MemoryCache(100)
    small, huge = Chunk(0, b"s" * 10), Chunk(10, b"h" * 101)
    cache.put("small", range(0, 1), small)
    cache.put("huge", range(0, 1), huge)
    assert cache.get("huge", 0) is huge and cache.get("small", 0) is None
    assert cache.max_bytes == 100


def test_a_discarded_entry_frees_its_chunks_and_bytes():
    cache = MemoryCache(1000)
    entry = Chunk(0, b"x" * 100)
    cache.put("file", range(0, 3), entry)
    cache.discard(entry)
    cache.discard(entry)  # twice is harmless
    assert cache.peek("file", 1) is None and cache.used_bytes == 0
