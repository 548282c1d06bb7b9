"""Keeping long-lived objects out of the garbage collector's full passes.

A full collection walks every container object the process holds, on the
thread that happened to allocate: with a large library in memory (50,000
file nodes, the details of 5,000 torrents) one pass held the trio thread for
70-110 ms, inside whatever request was running. Objects that `gc.freeze()`
moved to the permanent generation are never walked again; they are still
freed as usual when their last reference goes (only a reference cycle among
them would stay).

The mount freezes what start-up made (vfs/mount.py). Whatever makes many
long-lived objects later (the tree's nodes, a sync's torrent details) counts
them with `made`; every `FREEZE_EVERY` of them, the young generations are
collected (cheap: they are small) and everything alive is frozen, so a full
pass never walks more than about that many objects.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

FREEZE_EVERY = 20_000  # long-lived objects made between two freezes

_made = 0


def made(count: int = 1) -> None:
    """Counts `count` objects that will live long (nodes, torrent details)."""
    global _made
    _made += count
    if _made >= FREEZE_EVERY:
        freeze()


def freeze() -> None:
    """Collects the young generations, then freezes everything alive."""
    global _made
    _made = 0
    gc.collect(1)
    gc.freeze()
    log.debug("froze the heap")
