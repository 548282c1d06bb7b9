"""Spool files compute md5 and size as data arrives, in order or not."""

from __future__ import annotations

import hashlib
import os
import random

import trio

from vfs.spool import HASH_BATCH, SpoolFile


async def write_all(spool: SpoolFile, pieces: list[tuple[int, bytes]]) -> None:
    async with trio.open_nursery() as nursery:
        for offset, data in pieces:
            spool.write(offset, data)
            if spool.hash_backlog:
                await spool.hash_pending()
            elif spool.wants_hashing:
                nursery.start_soon(spool.hash_pending)
            await trio.sleep(0)


async def test_sequential_writes_hash_in_the_background(tmp_path):
    data = random.Random(1).randbytes(3 * HASH_BATCH + 12345)
    spool = SpoolFile.create(tmp_path)
    await write_all(spool, [(o, data[o : o + 131072]) for o in range(0, len(data), 131072)])
    assert spool.size == len(data)
    assert await spool.digest() == hashlib.md5(data).hexdigest()
    spool.discard()
    assert not os.listdir(tmp_path)


async def test_out_of_order_writes_and_truncation_still_give_the_right_md5(tmp_path):
    data = bytearray(random.Random(2).randbytes(HASH_BATCH + 5000))
    spool = SpoolFile.create(tmp_path)
    pieces = [(o, bytes(data[o : o + 65536])) for o in range(0, len(data), 65536)]
    pieces[3], pieces[4] = pieces[4], pieces[3]
    await write_all(spool, pieces)
    assert await spool.digest() == hashlib.md5(data).hexdigest()
    spool.truncate(1000)
    assert await spool.digest() == hashlib.md5(data[:1000]).hexdigest()
    assert os.stat(spool.path).st_mode & 0o077 == 0
    spool.discard()
