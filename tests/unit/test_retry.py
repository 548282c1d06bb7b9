"""The one retry policy (clients/retry.py), without a mount: Retry-After in its
two forms, jittered backoff, and a deadline that is never slept past."""

from __future__ import annotations

import email.utils

import pytest
import trio
import trio.testing

from clients.errors import AuthError, FileUnavailable, NotReady, RateLimited, Stalled, TemporaryError
from clients.retry import Backoff, Retrying, is_temporary, parse_retry_after


def test_retry_after_in_seconds_and_as_a_date():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    now = 1_800_000_000.0
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now=now) == 30.0
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    for junk in (None, "", "soon", "nan", "inf", "Wed, 99 Foo 2026 99:99:99 GMT"):
        assert parse_retry_after(junk) is None


def test_backoff_doubles_with_jitter_up_to_its_maximum():
    backoff = Backoff(initial=0.1, maximum=2.0, jitter=0.5)
    for attempt, ceiling in enumerate([0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]):
        delays = {backoff.delay(attempt) for _ in range(50)}
        assert all(ceiling * 0.5 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered: clients that failed together spread out


def test_temporary_and_permanent_failures():
    assert all(is_temporary(e) for e in (TemporaryError("x"), Stalled("x"), RateLimited("x"), NotReady("x")))
    assert not any(is_temporary(e) for e in (AuthError("x"), FileUnavailable("x"), ValueError()))


def test_waits_honour_retry_after_and_stop_at_the_deadline():
    async def main() -> None:
        retrying = Retrying(deadline=trio.current_time() + 10, backoff=Backoff(initial=1, jitter=0))
        started = trio.current_time()
        await retrying.wait(TemporaryError("x"))  # 1 s
        await retrying.wait(TemporaryError("x", retry_after=4))  # the server asks for 4 s
        assert trio.current_time() - started == pytest.approx(5)
        error = TemporaryError("busy", retry_after=30)
        with pytest.raises(TemporaryError) as info:
            await retrying.wait(error)  # would end past the deadline: fail now, not later
        assert info.value is error
        assert trio.current_time() - started == pytest.approx(5)
        retrying.reset()
        assert retrying.delay_for(TemporaryError("x")) == 1

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_attempts_and_the_longest_wait_bound_a_loop():
    async def main() -> None:
        retrying = Retrying(backoff=Backoff(initial=1, jitter=0), attempts=2, longest_wait=10)
        assert [retrying.delay_for(TemporaryError("x")) for _ in range(2)] == [1, 2]
        with pytest.raises(TemporaryError):
            retrying.delay_for(TemporaryError("a third retry"))
        patient = Retrying(longest_wait=10)
        with pytest.raises(RateLimited):  # the caller records a long wait instead of sleeping
            patient.delay_for(RateLimited("x", retry_after=60))
        assert patient.delay_for(RateLimited("x", retry_after=9)) == 9

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_loop_that_keeps_its_own_count_gets_the_same_schedule():
    backoff = Backoff(initial=2, maximum=16, jitter=0.5)
    for attempt, ceiling in enumerate([2, 4, 8, 16, 16]):
        assert all(ceiling * 0.5 <= backoff.wait(attempt) <= ceiling for _ in range(20))
    assert backoff.wait(0, retry_after=90) == 90  # the server's time, never sooner
    assert 8 <= backoff.wait(3, retry_after=1) <= 16  # nor a tight loop when it asks for less


def test_next_delay_says_none_where_delay_for_raises():
    async def main() -> None:
        retrying = Retrying(backoff=Backoff(initial=1, jitter=0), attempts=1)
        assert retrying.next_delay(TemporaryError("x")) == 1
        assert retrying.next_delay(TemporaryError("x")) is None
        assert retrying.attempt == 1  # a refused retry is not counted

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_failure_may_take_a_slower_schedule_under_the_same_bounds():
    """Real-Debrid's "too many requests" pauses longer than a 5xx retry; both
    count against one loop's attempts and its longest wait."""

    async def main() -> None:
        slow = Backoff(initial=5, maximum=30, jitter=0)
        retrying = Retrying(backoff=Backoff(initial=1, jitter=0), attempts=4, longest_wait=30)
        assert retrying.delay_for(TemporaryError("x")) == 1
        assert retrying.delay_for(RateLimited("x"), slow) == 10  # attempt 1 of the slow schedule
        assert retrying.delay_for(TemporaryError("x")) == 4
        assert retrying.delay_for(RateLimited("x", retry_after=12), slow) == 30
        with pytest.raises(RateLimited):
            retrying.delay_for(RateLimited("a fifth"), slow)
        patient = Retrying(longest_wait=30)
        with pytest.raises(TemporaryError):  # a wait of a minute reaches the caller
            patient.delay_for(TemporaryError("hoster in maintenance", retry_after=60))

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
