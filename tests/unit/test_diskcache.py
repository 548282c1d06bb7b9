"""The persistent disk cache (vfs/diskcache.py): what is stored is found again
by the next mount, a record never names bytes that are not there, the size
bound holds, and the trio thread never touches the disk."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import trio
import trio.testing

from vfs import diskcache
from vfs.diskcache import DiskCache

CHUNK = 1024
KEY, SIZE = "('src', 'file-1')", 10 * CHUNK + 100


def chunk(index: int, size: int = SIZE) -> bytes:
    length = min(CHUNK, size - index * CHUNK)
    return bytes([index % 256]) * length


@pytest.fixture(autouse=True)
def quick_flush(monkeypatch):
    monkeypatch.setattr(diskcache, "FLUSH_INTERVAL", 0.02)


async def records_for(cache: DiskCache, *keys: str) -> None:
    """Waits (bounded) until the records of `keys` name all their written chunks."""
    with trio.fail_after(10):
        while not all(
            key in cache.files
            and cache.files[key].chunks
            and not cache.files[key].written
            and cache._path(cache.files[key], ".json").exists()
            for key in keys
        ):
            await trio.sleep(0.01)


async def remount(directory: Path, max_bytes: int = 1 << 20) -> DiskCache:
    """A new cache on `directory`, loaded the way a mount loads it, then stopped."""
    cache = DiskCache(directory, max_bytes, CHUNK)
    async with trio.open_nursery() as nursery:
        await nursery.start(cache.run)
        nursery.cancel_scope.cancel()
    return cache


async def test_stored_chunks_are_read_back_after_a_remount(tmp_path):
    cache = DiskCache(tmp_path / "c", 1 << 20, CHUNK)
    async with trio.open_nursery() as nursery:
        await nursery.start(cache.run)
        for index in (0, 1, 2, 10):  # 10: the short last chunk
            cache.store(KEY, SIZE, index, memoryview(chunk(index)))
        nursery.cancel_scope.cancel()  # an unmount writes out what is queued
    again = await remount(tmp_path / "c")
    for index in (0, 1, 2, 10):
        assert again.has(KEY, SIZE, index)
        assert await again.read(KEY, SIZE, index) == chunk(index)
    assert not again.has(KEY, SIZE, 3)
    assert not again.has(KEY, SIZE + 1, 0)  # the remote file changed size: nothing
    assert all(p.stat().st_mode & 0o077 == 0 for p in (tmp_path / "c").iterdir())
    assert (tmp_path / "c").stat().st_mode & 0o777 == 0o700


async def test_records_are_written_while_mounted_not_only_at_unmount(tmp_path):
    cache = DiskCache(tmp_path / "c", 1 << 20, CHUNK)
    async with trio.open_nursery() as nursery:
        await nursery.start(cache.run)
        cache.store(KEY, SIZE, 4, chunk(4))
        await records_for(cache, KEY)
        (record,) = (tmp_path / "c").glob("*.json")
        assert json.loads(record.read_text())["chunks"] == [[4, 4]]
        nursery.cancel_scope.cancel()


async def test_a_record_with_a_wrong_data_file_is_dropped_with_its_data(tmp_path):
    cache = DiskCache(tmp_path / "c", 1 << 20, CHUNK)
    async with trio.open_nursery() as nursery:
        await nursery.start(cache.run)
        cache.store(KEY, SIZE, 0, chunk(0))
        cache.store("other", SIZE, 0, chunk(0))
        nursery.cancel_scope.cancel()
    records = sorted((tmp_path / "c").glob("*.json"))
    assert len(records) == 2
    os.truncate(records[0].with_suffix(".data"), 5)  # as a crash or a full disk may leave it
    records[1].write_text("{not json")
    again = await remount(tmp_path / "c")
    assert again.files == {}
    assert list((tmp_path / "c").iterdir()) == []


async def test_a_file_that_changed_size_starts_over(tmp_path):
    cache = DiskCache(tmp_path / "c", 1 << 20, CHUNK)
    async with trio.open_nursery() as nursery:
        await nursery.start(cache.run)
        cache.store(KEY, SIZE, 0, chunk(0))
        await trio.testing.wait_all_tasks_blocked()
        cache.store(KEY, SIZE + CHUNK, 1, chunk(1, SIZE + CHUNK))  # the remote file was replaced
        assert not cache.has(KEY, SIZE, 0) and not cache.has(KEY, SIZE + CHUNK, 0)
        nursery.cancel_scope.cancel()
    again = await remount(tmp_path / "c")
    assert not again.has(KEY, SIZE + CHUNK, 0)
    assert await again.read(KEY, SIZE + CHUNK, 1) == chunk(1, SIZE + CHUNK)


async def test_least_recently_used_files_are_evicted_beyond_the_size(tmp_path):
    cache = DiskCache(tmp_path / "c", 6 * CHUNK, CHUNK)
    async with trio.open_nursery() as nursery:
        await nursery.start(cache.run)
        for used_at, name in enumerate(("old", "middle", "new")):
            for index in range(3):
                cache.store(name, SIZE, index, chunk(index))
            cache.files[name].used_at = used_at  # used in this order
            if name != "new":
                await records_for(cache, name)
        with trio.fail_after(10):
            while "old" in cache.files or "middle" in cache.files:
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    assert cache.used_bytes() <= 6 * CHUNK
    again = await remount(tmp_path / "c")
    assert set(again.files) == {"new"}  # down to 90 % of the size: both older ones go
    assert again.has("new", SIZE, 2)
    data_files = list((tmp_path / "c").glob("*.data"))
    assert len(data_files) == len(again.files)  # evicted files are deleted, not only forgotten


async def test_the_trio_thread_never_touches_the_disk(tmp_path, monkeypatch):
    """Every file operation of a store, a read, a drop and an eviction runs
    in a worker thread (docs/invariants.md)."""
    import threading

    trio_thread = threading.get_ident()
    on_trio: list[str] = []
    for name in (
        "open",
        "close",
        "pwrite",
        "pread",
        "fdatasync",
        "ftruncate",
        "unlink",
        "replace",
        "rename",
        "chmod",
    ):
        original = getattr(os, name)

        def spy(*args, _original=original, _name=name, **kwargs):
            if threading.get_ident() == trio_thread:
                on_trio.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(os, name, spy)
    monkeypatch.setattr(Path, "unlink", lambda self, missing_ok=False: spy_unlink(self, missing_ok))

    def spy_unlink(path: Path, missing_ok: bool) -> None:
        if threading.get_ident() == trio_thread:
            on_trio.append("Path.unlink")
        try:
            os.remove(path)
        except FileNotFoundError:
            if not missing_ok:
                raise

    cache = DiskCache(tmp_path / "c", 4 * CHUNK, CHUNK)
    async with trio.open_nursery() as nursery:
        await nursery.start(cache.run)
        for index in range(3):
            cache.store(KEY, SIZE, index, chunk(index))
        cache.store("b", SIZE, 0, chunk(0))
        nursery.cancel_scope.cancel()
    cache = DiskCache(tmp_path / "c", 4 * CHUNK, CHUNK)
    async with trio.open_nursery() as nursery:
        await nursery.start(cache.run)
        assert await cache.read(KEY, SIZE, 1) == chunk(1)
        cache.store(KEY, SIZE + 1, 5, chunk(5, SIZE + 1))  # drops the old version
        for index in range(6):
            cache.store("c", SIZE, index, chunk(index))  # evicts
        nursery.cancel_scope.cancel()
    assert on_trio == []


async def test_a_file_evicted_during_a_read_is_deleted_by_the_end(tmp_path):
    cache = DiskCache(tmp_path / "c", 5 * CHUNK, CHUNK)
    async with trio.open_nursery() as nursery:
        await nursery.start(cache.run)
        for index in range(2):
            cache.store(KEY, SIZE, index, chunk(index))
        await records_for(cache, KEY)
        entry = cache.files[KEY]
        entry.used_at = 0  # the least recently used
        entry.reading += 1  # as if a worker thread were reading it now
        for index in range(4):
            cache.store("other", SIZE, index, chunk(index))  # 6 chunks > 5: evicts KEY
        with trio.fail_after(10):
            while not entry.dropped:
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()  # unmounted before that read ends
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == sorted(
        cache.files["other"].name + suffix for suffix in (".data", ".json")
    )
