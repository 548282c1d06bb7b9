"""The memory cache is an LRU bounded in bytes (vfs/cache.py)."""

from __future__ import annotations

from vfs.cache import MemoryCache


def test_least_recently_used_chunks_leave_first_within_the_byte_budget():
    cache = MemoryCache(300)
    cache.put("a", b"a" * 100)
    cache.put("b", b"b" * 100)
    cache.put("c", b"c" * 100)
    assert cache.get("a") == b"a" * 100  # a is now the most recently used
    cache.put("d", b"d" * 100)
    assert "b" not in cache
    assert all(key in cache for key in "acd")


def test_views_are_kept_without_copying():
    buffer = bytearray(b"0123456789")
    view = memoryview(buffer)[2:6]
    cache = MemoryCache(100)
    cache.put(("file", 0), view)
    assert cache.get(("file", 0)) is view


def test_a_chunk_larger_than_the_cache_is_not_kept_and_evicts_nothing():
    cache = MemoryCache(100)
    cache.put("small", b"s" * 10)
    cache.put("huge", b"h" * 101)
    assert "huge" not in cache and cache.get("small") == b"s" * 10
    assert cache.get("missing") is None
    assert cache.max_bytes == 100
