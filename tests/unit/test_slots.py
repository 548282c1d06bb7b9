"""Connection slots (vfs/slots.py): cancelled waiters never leak a slot, and
a raised total grants waiters at once. Priorities and the reserve are tested
in tests/test_slots.py."""

from __future__ import annotations

import trio
import trio.testing

from vfs.slots import BACKGROUND, DEMAND, URGENT, PrioritySlots


async def hold(slots: PrioritySlots, priority: int, order: list[str], name: str, release: trio.Event) -> None:
    async with slots.slot(priority):
        order.append(name)
        await release.wait()


async def test_a_cancelled_waiter_does_not_leak_its_slot():
    slots = PrioritySlots(1)
    order: list[str] = []
    release = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(hold, slots, URGENT, order, "holder", release)
        await trio.testing.wait_all_tasks_blocked()
        with trio.CancelScope() as scope:
            scope.cancel()
            async with slots.slot(BACKGROUND):
                order.append("never")
        nursery.start_soon(hold, slots, BACKGROUND, order, "next", release)
        await trio.testing.wait_all_tasks_blocked()
        release.set()
    assert order == ["holder", "next"] and slots.in_use == 0


async def test_a_waiter_cancelled_as_it_is_granted_passes_the_slot_on_at_once():
    slots = PrioritySlots(1)
    order: list[str] = []
    release_holder, release_rest = trio.Event(), trio.Event()
    cancelled = trio.CancelScope()

    async def holder() -> None:
        async with slots.slot(URGENT):
            order.append("holder")
            await release_holder.wait()
        # In the same step as the release that granted `doomed` its slot.
        cancelled.cancel()

    async def doomed() -> None:
        with cancelled:
            await hold(slots, URGENT, order, "doomed", release_rest)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(holder)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(doomed)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(hold, slots, BACKGROUND, order, "next", release_rest)
        await trio.testing.wait_all_tasks_blocked()
        release_holder.set()
        await trio.testing.wait_all_tasks_blocked()
        assert order[0] == "holder" and order[-1] == "next" and slots.in_use == 1
        release_rest.set()
    assert slots.in_use == 0


async def test_raising_the_total_grants_waiters():
    slots = PrioritySlots(1)
    order: list[str] = []
    done = trio.Event()
    async with trio.open_nursery() as nursery:
        for name in ("a", "b", "c", "d"):
            nursery.start_soon(hold, slots, DEMAND, order, name, done)
            await trio.testing.wait_all_tasks_blocked()
        assert order == ["a"]
        slots.set_total(3)
        await trio.testing.wait_all_tasks_blocked()
        assert order[0] == "a" and set(order) == {"a", "b", "c"}  # b and c run in either order
        done.set()


async def test_a_stream_catching_up_takes_the_demand_reserve_and_leaves_the_seeks():
    # Read-ahead holds what it may; a large read someone waits for gets a slot
    # at once (never waits for a read-ahead transfer to end), and the last slot
    # stays for a small urgent read.
    slots = PrioritySlots(4, reserve=1, demand_reserve=1)
    order: list[str] = []
    done = trio.Event()
    async with trio.open_nursery() as nursery:
        for name, priority in (
            ("bg1", BACKGROUND),
            ("bg2", BACKGROUND),
            ("bg3", BACKGROUND),
            ("demand1", DEMAND),
            ("demand2", DEMAND),
            ("urgent", URGENT),
        ):
            nursery.start_soon(hold, slots, priority, order, name, done)
            await trio.testing.wait_all_tasks_blocked()
        assert order == ["bg1", "bg2", "demand1", "urgent"] and slots.in_use == 4
        done.set()
    assert sorted(order) == ["bg1", "bg2", "bg3", "demand1", "demand2", "urgent"]
    assert slots.in_use == 0


async def test_waiters_are_served_by_priority_then_in_order():
    slots = PrioritySlots(1)
    order: list[str] = []
    release = {name: trio.Event() for name in ("first", "bg1", "bg2", "demand", "urgent")}
    async with trio.open_nursery() as nursery:
        nursery.start_soon(hold, slots, URGENT, order, "first", release["first"])
        await trio.testing.wait_all_tasks_blocked()
        for name, priority in (
            ("bg1", BACKGROUND),
            ("bg2", BACKGROUND),
            ("demand", DEMAND),
            ("urgent", URGENT),
        ):
            nursery.start_soon(hold, slots, priority, order, name, release[name])
            await trio.testing.wait_all_tasks_blocked()
        for name in ("first", "urgent", "demand", "bg1", "bg2"):
            release[name].set()
            await trio.testing.wait_all_tasks_blocked()
    assert order == ["first", "urgent", "demand", "bg1", "bg2"]
    assert slots.in_use == 0
