"""Span buffers, recycled.

A span (one ranged request, vfs/reader.py) receives its bytes into one
buffer, and the memory cache keeps views of it. Fresh memory costs a
thousand page faults per 4 MiB, about as much CPU as receiving the bytes, so
block-sized buffers are taken again once nothing refers to them: no span, no
cached chunk, no read in progress. That is told by the reference count:
every live view (a memoryview made from the buffer, and its slices) holds the
buffer through its managed buffer, so a count of "only the pool" means no
view can see the bytes change.

Buffers are private anonymous mappings, not `bytearray`s: a fresh
`bytearray` is zeroed twice, by the kernel as its pages fault in and by a
memset; a mapping's pages are zeroed once, by the kernel, where the socket
first writes them.

`SpanBuffer` also remembers where in the file it starts, so a read that
covers several cached chunks of one span is answered with one view of the
span instead of a joined copy.
"""

from __future__ import annotations

import collections
import logging
import mmap
import sys

log = logging.getLogger(__name__)

# sys.getrefcount(buf) of a buffer that only the pool's loop holds: the loop's
# variable and getrefcount's argument.
_FREE_REFS = 2


class SpanBuffer(mmap.mmap):
    """A span's bytes; `start` is the file offset of its first byte."""

    __slots__ = ("start",)
    start: int

    def __new__(cls, length: int, start: int = 0) -> SpanBuffer:
        # Private: a shared anonymous mapping is shmem, with dearer page faults.
        self = super().__new__(cls, -1, length, flags=mmap.MAP_PRIVATE)
        self.start = start
        return self

    def __init__(self, length: int, start: int = 0) -> None:
        pass  # made in __new__, as mmap wants

    def view(self, lo: int, hi: int) -> memoryview:
        """The file's bytes [lo, hi), which must lie in this buffer."""
        return memoryview(self)[lo - self.start : hi - self.start]


class BufferPool:
    """Hands out buffers of `size` bytes, reusing those nobody refers to; keeps
    at most `spare` unused ones (the rest go back to the allocator)."""

    def __init__(self, size: int, spare: int = 4) -> None:
        self.size = size
        self.spare = spare
        self._buffers: collections.deque[SpanBuffer] = collections.deque()

    def take(self, length: int, start: int) -> SpanBuffer:
        if length != self.size:
            # Smaller spans (probes, seeks) are not pooled: a pooled buffer would
            # keep a whole block alive for a small cached chunk.
            return SpanBuffer(length, start)
        found: SpanBuffer | None = None
        spare = 0
        for _ in range(len(self._buffers)):
            buf = self._buffers.popleft()
            if sys.getrefcount(buf) > _FREE_REFS:
                self._buffers.append(buf)  # a span or a view still uses it
            elif found is None:
                found = buf
            elif spare < self.spare:
                spare += 1
                self._buffers.append(buf)
            # else: dropped; its memory goes back
        if found is None:
            found = SpanBuffer(length, start)
        else:
            found.start = start
        self._buffers.append(found)
        return found
