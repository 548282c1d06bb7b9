"""`debridfs verify FILE`: read a file through the mount and compare its md5
with the one its service gave (the `user.md5` attribute). On a terminal a
progress line (bytes, rate, ETA) is redrawn while it reads."""

from __future__ import annotations

import errno
import hashlib
import os
import sys
import time
from pathlib import Path
from typing import TextIO

from .units import human_duration, human_size

CHUNK = 8 << 20
PROGRESS_EVERY = 0.5  # seconds between redraws


def verify_file(path: Path, progress: TextIO | None = None, every: float = PROGRESS_EVERY) -> int:
    """0 when the md5 matches, 1 otherwise; prints one result line. Progress
    goes to `progress` (default: stderr when it is a terminal) every `every` s."""
    if progress is None and sys.stderr.isatty():
        progress = sys.stderr
    try:
        expected = os.getxattr(path, "user.md5").decode().strip().lower()
    except OSError as exc:
        if exc.errno in (errno.ENODATA, getattr(errno, "ENOATTR", errno.ENODATA), errno.ENOTSUP):
            return report(f"{path}: no md5 known for this file (no user.md5 attribute)")
        return report(f"{path}: {exc.strerror}")
    digest = hashlib.md5()
    done = 0
    started = last = time.monotonic()
    try:
        total = os.stat(path).st_size
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
                done += len(chunk)
                now = time.monotonic()
                if progress is not None and now - last >= every:
                    last = now
                    progress.write("\r" + progress_line(path, done, total, now - started) + "\033[K")
                    progress.flush()
    except OSError as exc:
        clear(progress)
        return report(f"{path}: read failed: {exc.strerror}")
    clear(progress)
    actual = digest.hexdigest()
    if actual == expected:
        print(f"OK  {path}")
        return 0
    print(f"MISMATCH  {path}: expected md5 {expected}, got {actual}")
    return 1


def progress_line(path: Path, done: int, total: int, elapsed: float) -> str:
    rate = done / elapsed if elapsed > 0 else 0
    percent = 100 * done / total if total else 100
    eta = human_duration((total - done) / rate) if rate else "?"
    return (
        f"verifying {path.name}: {percent:.0f}% {human_size(done)} of {human_size(total)}, "
        f"{human_size(rate)}/s, {eta} left"
    )


def clear(progress: TextIO | None) -> None:
    if progress is not None:
        progress.write("\r\033[K")
        progress.flush()


def report(message: str) -> int:
    print(f"debridfs: {message}", file=sys.stderr, flush=True)
    return 1
