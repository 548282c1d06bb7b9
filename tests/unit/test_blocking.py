"""The blocked-loop detector (vfs/blocking.py) reports a task step that holds
the trio thread, names the task and where it blocked, and stays quiet for
tasks that yield."""

from __future__ import annotations

import logging
import time

import trio

from vfs.blocking import ENV, BlockingDetector, install_from_env

THRESHOLD = 0.05


def blocks_the_loop() -> None:
    time.sleep(4 * THRESHOLD)       # what a synchronous fsync or sqlite query does


async def careless() -> None:
    await trio.sleep(0)
    blocks_the_loop()


async def polite() -> None:
    for _ in range(8):
        await trio.to_thread.run_sync(time.sleep, THRESHOLD / 4)
        await trio.sleep(THRESHOLD / 4)


async def test_a_blocking_step_is_reported_with_its_task_and_place(caplog):
    detector = BlockingDetector(THRESHOLD)
    trio.lowlevel.add_instrument(detector)
    try:
        with caplog.at_level(logging.WARNING, logger="vfs.blocking"):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(polite)
                nursery.start_soon(careless)
    finally:
        trio.lowlevel.remove_instrument(detector)
        detector.close()
    assert detector.reports == 1
    (record,) = [r for r in caplog.records if r.name == "vfs.blocking"]
    assert record.levelno == logging.WARNING
    assert "careless" in record.getMessage()
    assert "blocks_the_loop" in record.getMessage()       # where: from the watchdog's look


async def test_tasks_that_yield_are_not_reported(caplog):
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


async def test_the_environment_turns_it_on(caplog):
    assert install_from_env({}) is None
    assert install_from_env({ENV: "0"}) is None
    with caplog.at_level(logging.WARNING):
        assert install_from_env({ENV: "fast"}) is None
    assert "not a number" in caplog.text
    detector = install_from_env({ENV: "75"})
    assert detector is not None and detector.threshold == 0.075
    trio.lowlevel.remove_instrument(detector)
    detector.close()
