"""Counts of how the download hosts behaved since the mount, per provider:
what `MOUNT/.debridfs/stats` shows, so a user can see a bad host."""

from __future__ import annotations

import collections
import logging
import time

log = logging.getLogger(__name__)

# What is counted, in the order the table shows it.
COUNTERS = ("transfers", "stalls", "retries", "resolutions", "failed_reads")


class ReadStats:
    def __init__(self) -> None:
        self.since = time.time()
        self.counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)

    def add(self, provider: str, counter: str, n: int = 1) -> None:
        self.counts[provider][counter] += n

    def get(self, provider: str, counter: str) -> int:
        return self.counts[provider][counter] if provider in self.counts else 0

    def text(self) -> bytes:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        lines = [
            f"# reads since the mount ({started}), per provider",
            "# transfers: ranged requests started; stalls: transfers abandoned after "
            "[read] stall_timeout without a byte;",
            "# retries: transfers tried again after a failure; resolutions: direct links "
            "resolved again; failed_reads: spans that ended in an error",
            "",
        ]
        header = f"{'provider':<16}" + "".join(f"{name:>14}" for name in COUNTERS)
        lines.append(header)
        for provider in sorted(self.counts):
            row = self.counts[provider]
            lines.append(f"{provider:<16}" + "".join(f"{row[name]:>14}" for name in COUNTERS))
        return ("\n".join(lines) + "\n").encode()
