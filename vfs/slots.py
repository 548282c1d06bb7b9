"""Connection slots with two priorities: a read someone waits for goes before
read-ahead. trio's CapacityLimiter is strictly FIFO, which would make a
player's seek wait behind megabytes of prefetch."""

from __future__ import annotations

import heapq
import itertools
from contextlib import asynccontextmanager
from typing import AsyncIterator

import trio

URGENT = 0
BACKGROUND = 1


class _Waiter:
    __slots__ = ("event", "granted", "abandoned")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.granted = False
        self.abandoned = False


class PrioritySlots:
    def __init__(self, total: int) -> None:
        self.total = total
        self.in_use = 0
        self._queue: list[tuple[int, int, _Waiter]] = []
        self._order = itertools.count()

    def set_total(self, total: int) -> None:
        self.total = max(1, total)
        self._grant()

    @asynccontextmanager
    async def slot(self, priority: int = URGENT) -> AsyncIterator[None]:
        if self.in_use < self.total and not self._queue:
            self.in_use += 1
        else:
            waiter = _Waiter()
            heapq.heappush(self._queue, (priority, next(self._order), waiter))
            try:
                await waiter.event.wait()
            except BaseException:
                waiter.abandoned = True
                if waiter.granted:       # granted as we were cancelled: pass it on
                    self._release()
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        self.in_use -= 1
        self._grant()

    def _grant(self) -> None:
        while self._queue and self.in_use < self.total:
            _, _, waiter = heapq.heappop(self._queue)
            if waiter.abandoned:
                continue
            waiter.granted = True
            self.in_use += 1
            waiter.event.set()
