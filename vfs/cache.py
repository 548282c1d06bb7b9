"""Block caches: memory LRU bounded in bytes.

Keys are (file key, block index); values are immutable block contents.
"""

from __future__ import annotations

import logging
from typing import Hashable

import cachetools

log = logging.getLogger(__name__)


class MemoryCache:
    def __init__(self, max_bytes: int) -> None:
        self._lru: cachetools.LRUCache = cachetools.LRUCache(maxsize=max_bytes, getsizeof=len)

    def get(self, key: Hashable) -> bytes | None:
        return self._lru.get(key)

    def put(self, key: Hashable, data: bytes) -> None:
        if len(data) <= self._lru.maxsize:
            self._lru[key] = data

    def __contains__(self, key: Hashable) -> bool:
        return key in self._lru

    @property
    def max_bytes(self) -> int:
        return int(self._lru.maxsize)

    @property
    def used_bytes(self) -> int:
        return int(self._lru.currsize)
