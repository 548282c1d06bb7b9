"""The API rate limiter: a sliding window, priorities, a reserve for
foreground calls and pauses after "too many requests" (clients/ratelimit.py).
Time is trio's mock clock: these tests wait minutes in microseconds."""

from __future__ import annotations

import trio
import trio.testing

from clients.ratelimit import BACKGROUND, FOREGROUND, RateLimiter


async def call_times(limiter: RateLimiter, priorities: list[int]) -> list[tuple[int, float]]:
    """Starts one call per priority (in this order) and returns (index, start time)."""
    started: list[tuple[int, float]] = []

    async def call(index: int, priority: int) -> None:
        await limiter.acquire(priority)
        started.append((index, trio.current_time()))

    async with trio.open_nursery() as nursery:
        for index, priority in enumerate(priorities):
            nursery.start_soon(call, index, priority)
            await trio.testing.wait_all_tasks_blocked()
    return started


async def test_at_most_limit_calls_in_any_window(autojump_clock):
    limiter = RateLimiter(3, window=60, reserve=0)
    t0 = trio.current_time()
    started = await call_times(limiter, [FOREGROUND] * 7)
    offsets = [round(when - t0, 3) for _, when in started]
    assert offsets == [0, 0, 0, 60, 60, 60, 120]
    assert limiter.calls == 7


async def test_foreground_calls_go_before_queued_background_ones(autojump_clock):
    limiter = RateLimiter(2, window=60, reserve=0)
    started = await call_times(limiter, [BACKGROUND, BACKGROUND, BACKGROUND, BACKGROUND, FOREGROUND])
    order = [index for index, _ in started]
    assert order[:2] == [0, 1]
    assert order[2] == 4  # the waiting foreground call is first in the next window
    assert order[3:] == [2, 3]


async def test_background_work_leaves_the_reserve_to_foreground_calls(autojump_clock):
    limiter = RateLimiter(10, window=60)  # reserve: a tenth, 1 call
    t0 = trio.current_time()
    started = dict(await call_times(limiter, [BACKGROUND] * 10 + [FOREGROUND]))
    assert sum(1 for when in started.values() if when == t0) == 10  # 9 background + 1 foreground
    assert started[10] == t0  # the foreground call: at once
    assert started[9] >= t0 + 60  # the 10th background: next window


async def test_a_pause_holds_every_call_back(autojump_clock):
    limiter = RateLimiter(100, window=60)
    t0 = trio.current_time()
    await limiter.acquire(FOREGROUND)
    limiter.pause(30)
    limiter.pause(5)  # a shorter pause never shortens a longer one
    await limiter.acquire(FOREGROUND)
    assert trio.current_time() - t0 >= 30


async def test_a_cancelled_waiter_leaves_the_queue(autojump_clock):
    limiter = RateLimiter(1, window=60, reserve=0)
    await limiter.acquire(FOREGROUND)
    with trio.move_on_after(10):
        await limiter.acquire(FOREGROUND)
        raise AssertionError("acquired within the window")
    t0 = trio.current_time()
    await limiter.acquire(BACKGROUND)  # nobody stale ahead of it: it waits only for the window
    assert trio.current_time() - t0 <= 51
