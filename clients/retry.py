"""The one retry policy: which failures are worth another try, how long to wait.

Every retry loop in debridfs takes its answers from here:

- `is_temporary(exc)`: worth another try (5xx, dropped or silent connections,
  rate limits, a service still preparing a file) or not (the file is gone,
  credentials are wrong).
- `parse_retry_after(value)`: a `Retry-After` header, in seconds or as an
  HTTP date; the only place it is parsed.
- `Backoff`: one schedule. The delay doubles from `initial` up to `maximum`,
  with jitter (so clients that failed together do not come back together),
  and is never shorter than what the server asked for. `Backoff.wait(attempt,
  retry_after)` serves loops that keep their own count (waiting links,
  journalled uploads).
- `Retrying`: the state of one loop around a call: its count, and the bounds.
  It never sleeps past the caller's deadline: when the next try could not
  start before it, the loop gives up at once with the last error instead of
  sleeping into a timeout.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import time
from dataclasses import dataclass

import trio

from .errors import NotReady, RateLimited, RemoteError, TemporaryError

log = logging.getLogger(__name__)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value (delta-seconds or HTTP-date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


# Failures that may go away by themselves (as opposed to one that needs the
# user, or a file that is gone): asking the same thing again may work.
TEMPORARY: tuple[type[RemoteError], ...] = (TemporaryError, RateLimited, NotReady)


def is_temporary(exc: BaseException) -> bool:
    return isinstance(exc, TEMPORARY)


@dataclass(frozen=True)
class Backoff:
    initial: float = 0.1
    maximum: float = 8.0
    multiplier: float = 2.0
    jitter: float = 0.5  # the delay is drawn from [(1 - jitter) * d, d]

    def delay(self, attempt: int) -> float:
        ceiling = min(self.maximum, self.initial * self.multiplier**attempt)
        return ceiling * (1.0 - self.jitter * random.random())

    def wait(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before try `attempt + 1` (`attempt` 0: the first retry): the
        backoff, or what the server asked for if longer. For loops that keep
        their own count (a background task, a journalled record); a loop
        around one call uses `Retrying`."""
        delay = self.delay(attempt)
        return delay if retry_after is None else max(delay, retry_after)


DEFAULT_BACKOFF = Backoff()


class Retrying:
    """The backoff state of one retry loop: at most `attempts` retries, none
    that the server wants delayed past `longest_wait`, none that could not
    start before the trio `deadline`.

        retrying = Retrying(deadline=trio.current_time() + timeout)
        while True:
            try:
                return await attempt()
            except TemporaryError as exc:
                delay = retrying.delay_for(exc)   # raises exc when no retry is left
                log.info("%s; retrying in %.1fs", exc, delay)
                await trio.sleep(delay)
    """

    def __init__(
        self,
        deadline: float = math.inf,
        backoff: Backoff = DEFAULT_BACKOFF,
        attempts: float = math.inf,
        longest_wait: float = math.inf,
    ) -> None:
        self.deadline = deadline
        self.backoff = backoff
        self.attempts = attempts
        self.longest_wait = longest_wait
        self.attempt = 0

    def reset(self) -> None:
        """Progress was made: the next failure starts from the shortest delay."""
        self.attempt = 0

    def next_delay(self, exc: RemoteError, backoff: Backoff | None = None) -> float | None:
        """Seconds to wait before the next try: the backoff (this loop's, or
        `backoff` for a failure that wants a slower schedule), or what the
        server asked for if longer. None when there is no next try."""
        delay = (backoff or self.backoff).wait(self.attempt, exc.retry_after)
        if (
            self.attempt >= self.attempts
            or delay > self.longest_wait
            or trio.current_time() + delay >= self.deadline
        ):
            return None
        self.attempt += 1
        return delay

    def delay_for(self, exc: RemoteError, backoff: Backoff | None = None) -> float:
        """Like `next_delay`, but raises `exc` when there is no next try."""
        delay = self.next_delay(exc, backoff)
        if delay is None:
            raise exc
        return delay

    async def wait(self, exc: RemoteError) -> None:
        """Sleeps before the next try, or raises `exc` at once if there is none."""
        await trio.sleep(self.delay_for(exc))
