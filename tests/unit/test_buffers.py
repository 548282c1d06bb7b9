"""Span buffers: recycled only when nothing can see them, and reads from
neighbouring chunks of one span answered without a copy."""

from __future__ import annotations

from vfs.buffers import BufferPool, SpanBuffer
from vfs.reader import _Pieces

BLOCK = 1 << 16


def test_a_buffer_with_a_live_view_is_never_handed_out_again():
    pool = BufferPool(BLOCK)
    first = pool.take(BLOCK, 0)
    first[:5] = b"hello"
    view = first.view(0, 5)
    del first
    second = pool.take(BLOCK, BLOCK)
    assert bytes(view) == b"hello"  # still the first span's bytes
    assert second.start == BLOCK
    second[:5] = b"world"
    assert bytes(view) == b"hello"


def test_a_buffer_nobody_refers_to_is_reused_and_spares_are_bounded():
    pool = BufferPool(BLOCK, spare=1)
    buffers = [pool.take(BLOCK, i * BLOCK) for i in range(4)]
    ids = {id(b) for b in buffers}
    del buffers
    again = pool.take(BLOCK, 0)
    assert id(again) in ids and again.start == 0
    assert len(pool._buffers) == 2  # the one in use and one spare; the rest were freed


def test_small_spans_are_not_pooled():
    pool = BufferPool(BLOCK)
    small = pool.take(4096, 0)
    assert len(small) == 4096 and len(pool._buffers) == 0


def test_neighbouring_pieces_of_one_span_become_one_view():
    buf = SpanBuffer(BLOCK, start=1000)
    buf[:] = bytes(range(256)) * (BLOCK // 256)
    pieces = _Pieces()
    pieces.add(buf.view(1000, 2000), 1000)
    pieces.add(buf.view(2000, 3000), 2000)
    result = pieces.result()
    assert isinstance(result, memoryview) and result.obj is buf
    assert bytes(result) == bytes(buf[0:2000])


def test_pieces_of_different_buffers_are_joined_in_order():
    a, b = SpanBuffer(BLOCK, start=0), SpanBuffer(BLOCK, start=BLOCK)
    a[:] = b"a" * BLOCK
    b[:] = b"b" * BLOCK
    pieces = _Pieces()
    pieces.add(a.view(BLOCK - 3, BLOCK), BLOCK - 3)
    pieces.add(b"xy", BLOCK)  # a chunk from the disk cache
    pieces.add(b.view(BLOCK + 2, BLOCK + 4), BLOCK + 2)
    assert bytes(pieces.result()) == b"aaaxybb"
