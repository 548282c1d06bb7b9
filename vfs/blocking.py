"""Debug mode: reports every time the trio thread is busy too long without yielding.

Everything runs on one trio thread (docs/invariants.md): a task step that
blocks (a synchronous fsync, a sqlite query, hashing a large buffer) stalls
every FUSE request meanwhile. With `DEBRIDFS_DEBUG_BLOCKING_MS=N` in the
environment, a trio instrument times each task step and logs a WARNING
naming the task, and where it was while it blocked, for every step that kept
the thread for more than N ms. The test suite turns it on (tests/mounting.py),
so the mount fixture's log guard fails a test that blocks the loop.

Time the thread spent runnable but waiting for a CPU is not counted: on a
loaded machine another process may hold the CPU for a while, which is not
our code blocking. The kernel tells how long that was (the run-queue wait in
/proc/thread-self/schedstat); where it does not, the wall time counts.
A watchdog thread looks at the trio thread's stack while a step runs long,
so the report says where it blocked, not only which task. The report also
says how much of the step the garbage collector took (a full collection
walks every object the process holds: it fires inside whatever step happens
to allocate, far from the code that made the objects).
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from types import FrameType

import trio

log = logging.getLogger(__name__)

ENV = "DEBRIDFS_DEBUG_BLOCKING_MS"
STACK_FRAMES = 4  # innermost frames shown in a report


def install_from_env(environ: Mapping[str, str] = os.environ) -> BlockingDetector | None:
    """Adds a detector to the running trio loop when `ENV` asks for one."""
    value = environ.get(ENV, "").strip()
    if not value:
        return None
    try:
        threshold_ms = float(value)
    except ValueError:
        log.warning("%s=%r is not a number of milliseconds; not checking for blocking", ENV, value)
        return None
    if threshold_ms <= 0:
        return None
    detector = BlockingDetector(threshold_ms / 1000)
    trio.lowlevel.add_instrument(detector)
    log.info("reporting trio task steps longer than %.0f ms", threshold_ms)
    return detector


def _stack_summary(frame: FrameType | None) -> str:
    if frame is None:
        return ""
    frames = traceback.extract_stack(frame)[-STACK_FRAMES:]
    return " <- ".join(f"{os.path.basename(f.filename)}:{f.lineno} {f.name}" for f in reversed(frames))


class BlockingDetector(trio.abc.Instrument):
    """Times task steps on the thread it was made on (the trio thread)."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.reports = 0
        self._thread = threading.get_ident()
        try:
            self._schedstat: int | None = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        except OSError:
            self._schedstat = None
        # Written by the trio thread, read by the watchdog: plain attributes
        # (one reference each; the GIL makes each read and write whole).
        self._step = 0
        self._started: float | None = None
        self._ran_before = 0
        self._waited_before = 0
        self._where = ""
        self._gc_started: float | None = None
        self._gc_time = 0.0  # spent collecting garbage during the current step
        gc.callbacks.append(self._gc_callback)
        self._stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="blocking-watchdog", daemon=True)
        self._watchdog.start()

    def _sched_ns(self) -> tuple[int, int]:
        """Nanoseconds this thread has spent on a CPU, and runnable but waiting
        for one; (0, 0) where the kernel does not say."""
        if self._schedstat is None:
            return 0, 0
        try:
            fields = os.pread(self._schedstat, 128, 0).split()
            return int(fields[0]), int(fields[1])
        except (OSError, ValueError, IndexError):
            return 0, 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self._step += 1
        self._where = ""
        self._gc_time = 0.0
        self._ran_before, self._waited_before = self._sched_ns()
        self._started = time.perf_counter()

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        started, self._started = self._started, None
        if started is None:
            return
        wall = time.perf_counter() - started
        if wall <= self.threshold:
            return
        ran_ns, waited_ns = self._sched_ns()
        waited = (waited_ns - self._waited_before) / 1e9
        # Neither on a CPU nor waiting for one: asleep in a system call, or
        # waiting for the GIL that a worker thread holds.
        asleep = max(0.0, wall - waited - (ran_ns - self._ran_before) / 1e9) if ran_ns else 0.0
        busy = wall - waited
        if busy <= self.threshold:
            return
        where = self._where
        # Starting a worker thread waits until the OS runs that thread: on a
        # loaded machine the wait is the machine's, and this thread's run-queue
        # time does not show it.
        level = logging.INFO if "_thread_cache.py" in where else logging.WARNING
        if level == logging.WARNING:
            self.reports += 1
        log.log(
            level,
            "trio thread blocked for %.0f ms by task %s%s (%.0f ms of it collecting garbage, "
            "%.0f ms asleep in a system call or waiting for the GIL; "
            "%.0f ms more waiting for a CPU not counted)",
            busy * 1000,
            task.name,
            f" at {where}" if where else "",
            self._gc_time * 1000,
            asleep * 1000,
            waited * 1000,
        )

    def _gc_callback(self, phase: str, info: dict[str, int]) -> None:
        if threading.get_ident() != self._thread:
            return
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started is not None:
            self._gc_time += time.perf_counter() - self._gc_started
            self._gc_started = None

    def after_run(self) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._gc_callback in gc.callbacks:
            gc.callbacks.remove(self._gc_callback)
        if self._schedstat is not None:
            os.close(self._schedstat)
            self._schedstat = None

    def _watch(self) -> None:
        """Looks at the trio thread's stack once per step that runs long."""
        interval = self.threshold / 2
        while not self._stop.wait(interval):
            step, started = self._step, self._started
            if started is None or time.perf_counter() - started <= self.threshold:
                continue
            where = _stack_summary(sys._current_frames().get(self._thread))
            if self._step == step and not self._where:
                self._where = where
