"""Long-lived objects leave the collector's full passes (vfs/heap.py): every
FREEZE_EVERY counted objects, what is alive is frozen; frozen objects are still
freed when their last reference goes."""

from __future__ import annotations

import gc
import weakref

import pytest

from vfs import heap


class Thing:
    pass


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(heap, "FREEZE_EVERY", 10)
    monkeypatch.setattr(heap, "_made", 0)
    yield
    gc.unfreeze()


def test_objects_are_frozen_every_freeze_every(small_batches):
    gc.unfreeze()
    kept = [Thing() for _ in range(10)]
    heap.made(9)
    assert gc.get_freeze_count() == 0
    heap.made(1)
    assert gc.get_freeze_count() >= len(kept)
    walked = {id(o) for o in gc.get_objects()}  # what a full pass walks (not the frozen)
    assert not any(id(t) in walked for t in kept)


def test_a_frozen_object_is_still_freed(small_batches):
    thing = Thing()
    gone = weakref.ref(thing)
    heap.made(10)
    assert gc.get_freeze_count() > 0
    del thing
    assert gone() is None
