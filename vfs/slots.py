"""Connection slots with two priorities: a read someone waits for goes before
read-ahead. trio's CapacityLimiter is strictly FIFO, which would make a
player's seek wait behind megabytes of prefetch."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

URGENT = 0  # small reads someone waits for (a seek, a probe)
DEMAND = 1  # large reads someone waits for (a stream catching up)
BACKGROUND = 2  # read-ahead


class _Waiter:
    __slots__ = ("event", "granted", "abandoned")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.granted = False
        self.abandoned = False


class PrioritySlots:
    """`total` slots; only URGENT requests take the last `reserve` of them,
    and read-ahead (BACKGROUND) also leaves the `demand_reserve` before those
    to DEMAND. So a small read someone waits for, and a stream catching up,
    each find a free slot without waiting for a read-ahead transfer to end
    (and a stream never takes the seek's). Among waiters, priority decides."""

    def __init__(self, total: int, reserve: int = 0, demand_reserve: int = 0) -> None:
        self.total = total
        self.reserve = reserve
        self.demand_reserve = demand_reserve
        self.in_use = 0
        self._queue: list[tuple[int, int, _Waiter]] = []
        self._order = itertools.count()

    def set_total(self, total: int, reserve: int = 0) -> None:
        self.total = max(1, total)
        self.reserve = reserve
        self._grant()

    def _limit(self, priority: int) -> int:
        if priority == URGENT:
            return self.total
        if priority == DEMAND:
            return max(1, self.total - self.reserve)
        return max(1, self.total - self.reserve - self.demand_reserve)

    @asynccontextmanager
    async def slot(self, priority: int = URGENT) -> AsyncIterator[None]:
        if self.in_use < self._limit(priority) and not self._queue:
            self.in_use += 1
        else:
            waiter = _Waiter()
            heapq.heappush(self._queue, (priority, next(self._order), waiter))
            # An urgent read queued behind read-ahead still gets a reserved slot at once.
            self._grant()
            try:
                await waiter.event.wait()
            except BaseException:
                waiter.abandoned = True
                if waiter.granted:  # granted as we were cancelled: pass it on
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
        while self._queue:
            priority, _, waiter = self._queue[0]
            if waiter.abandoned:
                heapq.heappop(self._queue)
                continue
            if self.in_use >= self._limit(priority):
                return
            heapq.heappop(self._queue)
            waiter.granted = True
            self.in_use += 1
            waiter.event.set()
