"""Progress of long background work (a first sync of a large library): a log
line with counts and an ETA every few seconds, and the same text for `.status`
files and `debridfs status`."""

from __future__ import annotations

import logging
import time

from .units import human_duration

LOG_EVERY = 5.0  # seconds between progress lines


class Progress:
    def __init__(self, what: str, total: int, logger: logging.Logger, every: float = LOG_EVERY) -> None:
        self.what = what
        self.total = total
        self.done = 0
        self.log = logger
        self.every = every
        self.started = time.monotonic()
        self._logged = self.started

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._logged >= self.every and self.done < self.total:
            self._logged = now
            self.log.info("%s", self.text())

    def eta(self) -> float | None:
        elapsed = time.monotonic() - self.started
        if self.done <= 0 or elapsed <= 0:
            return None
        return (self.total - self.done) * elapsed / self.done

    def text(self) -> str:
        percent = 100 * self.done / self.total if self.total else 100
        eta = self.eta()
        left = f", about {human_duration(eta)} left" if eta is not None else ""
        return f"{self.what}: {self.done} of {self.total} ({percent:.0f}%){left}"

    def finished(self) -> str:
        elapsed = human_duration(time.monotonic() - self.started)
        return f"{self.what}: {self.done} of {self.total} in {elapsed}"
