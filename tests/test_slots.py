"""Connection slots: a read someone waits for never waits behind read-ahead."""

from __future__ import annotations

import trio
import trio.testing

from vfs.slots import BACKGROUND, DEMAND, URGENT, PrioritySlots


async def test_read_ahead_leaves_the_reserve_to_reads_someone_waits_for():
    slots = PrioritySlots(4, reserve=1)
    release = trio.Event()
    started = []

    async def hold(priority: int, name: str) -> None:
        async with slots.slot(priority):
            started.append(name)
            await release.wait()

    async with trio.open_nursery() as nursery:
        for i in range(4):
            nursery.start_soon(hold, BACKGROUND, f"ahead{i}")
        await trio.testing.wait_all_tasks_blocked()
        assert len(started) == 3                             # the fourth read-ahead waits
        nursery.start_soon(hold, DEMAND, "demand")
        await trio.testing.wait_all_tasks_blocked()
        assert started[-1] == "demand" and len(started) == 4  # took the reserve at once
        release.set()


async def test_waiting_reads_go_before_waiting_read_ahead():
    slots = PrioritySlots(1)
    order = []
    first = trio.Event()

    async def take(priority: int, name: str) -> None:
        async with slots.slot(priority):
            order.append(name)
            if name == "first":
                await first.wait()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(take, DEMAND, "first")
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(take, BACKGROUND, "ahead")
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(take, DEMAND, "demand")
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(take, URGENT, "urgent")
        await trio.testing.wait_all_tasks_blocked()
        first.set()
    assert order == ["first", "urgent", "demand", "ahead"]
