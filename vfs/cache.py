"""The memory cache: an LRU of chunks bounded in bytes (cachetools).

Keys are (file key, chunk index); values are immutable buffers (views of the
span that fetched them, see vfs/reader.py). The persistent tier is
vfs/diskcache.py.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable

import cachetools

log = logging.getLogger(__name__)


class MemoryCache:
    def __init__(self, max_bytes: int) -> None:
        self._lru: cachetools.LRUCache[Hashable, bytes | memoryview] = cachetools.LRUCache(
            maxsize=max_bytes, getsizeof=len
        )

    def get(self, key: Hashable) -> bytes | memoryview | None:
        return self._lru.get(key)

    def put(self, key: Hashable, data: bytes | memoryview) -> None:
        if len(data) <= self._lru.maxsize:
            self._lru[key] = data

    def __contains__(self, key: Hashable) -> bool:
        return key in self._lru

    @property
    def used_bytes(self) -> int:
        return int(self._lru.currsize)

    @property
    def max_bytes(self) -> int:
        return int(self._lru.maxsize)
