"""The blocked-loop detector (vfs/blocking.py) reports a task step that holds
the trio thread, names the task and where it blocked, and stays quiet for
tasks that yield."""

from __future__ import annotations

import gc
import logging
import time

import trio

from vfs.blocking import ENV, BlockingDetector, install_from_env

THRESHOLD = 0.05


def blocks_the_loop() -> None:
    time.sleep(4 * THRESHOLD)  # what a synchronous fsync or sqlite query does


async def careless() -> None:
    await trio.sleep(0)
    blocks_the_loop()


async def polite() -> None:
    for _ in range(8):
        await trio.to_thread.run_sync(time.sleep, THRESHOLD / 4)
        await trio.sleep(THRESHOLD / 4)


async def test_a_blocking_step_is_reported_with_its_task_and_place(log_guard):
    log_guard.expect("trio thread blocked")
    detector = BlockingDetector(THRESHOLD)
    trio.lowlevel.add_instrument(detector)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(polite)
            nursery.start_soon(careless)
    finally:
        trio.lowlevel.remove_instrument(detector)
        detector.close()
    assert detector.reports == 1
    (record,) = [r for r in log_guard.records if r.name == "vfs.blocking"]
    assert record.levelno == logging.WARNING
    assert "careless" in record.getMessage()
    assert "blocks_the_loop" in record.getMessage()  # where: from the watchdog's look
    # The step slept (as in a synchronous system call): not on a CPU, and the report says so.
    asleep = float(record.getMessage().split(" ms asleep")[0].rsplit(", ", 1)[1])
    assert asleep >= 2 * THRESHOLD


async def test_tasks_that_yield_are_not_reported():
    detector = BlockingDetector(THRESHOLD)
    trio.lowlevel.add_instrument(detector)
    try:
        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(polite)
    finally:
        trio.lowlevel.remove_instrument(detector)
        detector.close()
    assert detector.reports == 0


async def test_the_environment_turns_it_on(log_guard):
    log_guard.expect("not a number of milliseconds")
    assert install_from_env({}) is None
    assert install_from_env({ENV: "0"}) is None
    assert install_from_env({ENV: "fast"}) is None
    assert len(log_guard.records) == 1
    detector = install_from_env({ENV: "75"})
    assert detector is not None and detector.threshold == 0.075
    trio.lowlevel.remove_instrument(detector)
    detector.close()


async def test_the_report_says_how_much_the_garbage_collector_took(log_guard):
    log_guard.expect("trio thread blocked")

    async def collects() -> None:
        await trio.sleep(0)
        garbage = []
        for _ in range(200_000):  # cycles, so that a full pass has work
            a: list[object] = []
            a.append(a)
            garbage.append(a)
        del garbage
        t0 = time.perf_counter()
        gc.collect()
        if time.perf_counter() - t0 < 2 * THRESHOLD:
            time.sleep(2 * THRESHOLD)

    detector = BlockingDetector(THRESHOLD)
    trio.lowlevel.add_instrument(detector)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(collects)
    finally:
        trio.lowlevel.remove_instrument(detector)
        detector.close()
    (record,) = [r for r in log_guard.records if r.name == "vfs.blocking"]
    collected = float(record.getMessage().split(" ms of it collecting garbage")[0].rsplit("(", 1)[1])
    assert collected > 0
