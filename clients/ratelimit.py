"""A per-account API rate limiter with priorities.

A sliding window of the last call times (like the services count them):
at most `per_minute` calls in any `window` seconds. Waiters are served in
priority order (FOREGROUND before BACKGROUND, first come first served
within a priority), and BACKGROUND work may only use the window up to
`limit - reserve`, so that a read waiting for a link never queues behind a
long background sync. `pause(seconds)` holds every call back after the
service said "too many requests".
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging

import trio

log = logging.getLogger(__name__)

FOREGROUND = 0  # someone is waiting: a read needs a link, a user lists an unknown directory
BACKGROUND = 1  # sync, info prefetch


class _Waiter:
    __slots__ = ("priority", "seq", "event")

    def __init__(self, priority: int, seq: int) -> None:
        self.priority = priority
        self.seq = seq
        self.event = trio.Event()

    def __lt__(self, other: _Waiter) -> bool:
        return (self.priority, self.seq) < (other.priority, other.seq)


class RateLimiter:
    def __init__(self, per_minute: int, *, window: float = 61.0, reserve: int | None = None) -> None:
        # The window is a little longer than the service's minute: our clock
        # starts before the request reaches the service.
        self.limit = max(1, int(per_minute))
        self.window = window
        self.reserve = max(1, self.limit // 10) if reserve is None else reserve
        if self.reserve >= self.limit:
            self.reserve = self.limit - 1
        self._times: collections.deque[float] = collections.deque()
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()
        self._paused_until = 0.0
        self.calls = 0

    def _capacity(self, priority: int) -> int:
        return self.limit if priority <= FOREGROUND else self.limit - self.reserve

    def _delay(self, priority: int) -> float:
        """Seconds until a call of `priority` may start (0: now)."""
        now = trio.current_time()
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()
        wait = max(0.0, self._paused_until - now)
        capacity = self._capacity(priority)
        if len(self._times) >= capacity:
            # the call that must leave the window before we fit
            oldest = self._times[len(self._times) - capacity]
            wait = max(wait, oldest + self.window - now)
        return wait

    def pause(self, seconds: float) -> None:
        """Holds back every call for `seconds` (after a 429 / "slow down")."""
        until = trio.current_time() + seconds
        if until > self._paused_until:
            self._paused_until = until
            log.info("API calls paused for %.1fs (rate limited)", seconds)
            self._wake_head()

    def _wake_head(self) -> None:
        if self._waiters:
            self._waiters[0].event.set()

    async def acquire(self, priority: int = BACKGROUND) -> None:
        """Waits for a slot and takes it."""
        if not self._waiters and self._delay(priority) == 0:
            self._take()
            return
        waiter = _Waiter(priority, next(self._seq))
        heapq.heappush(self._waiters, waiter)
        try:
            while True:
                if self._waiters[0] is waiter:
                    delay = self._delay(priority)
                    if delay == 0:
                        heapq.heappop(self._waiters)
                        self._take()
                        self._wake_head()
                        return
                    with trio.move_on_after(delay):
                        await waiter.event.wait()
                else:
                    await waiter.event.wait()
                waiter.event = trio.Event()
        except BaseException:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                heapq.heapify(self._waiters)
                self._wake_head()
            raise

    def _take(self) -> None:
        self._times.append(trio.current_time())
        self.calls += 1
