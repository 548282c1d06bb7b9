"""Persistent disk cache: partial copies of remote files that survive remounts.

Each remote file has a sparse data file and a small JSON record of which
chunks it holds. Chunks are written in a worker thread, the data file is
fdatasync'ed, and only then are the chunks added to the record (written to a
temporary file and renamed). So a crash can lose records, costing
re-downloads, but a record never names bytes that are not on disk: never wrong
bytes. Whole files are evicted least-recently-used once the cache holds more
than `max_bytes`. Writes are best effort: when the queue is full they are
dropped, never waited for.

Nothing here touches the disk on the trio thread: `store` and `has` work in
memory, and loading, writing, reading and deleting run in worker threads. A
dropped file is forgotten at once and its files are closed and deleted by the
writer task, after any read of it in progress (so a closed descriptor's number
is never read again).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 2.0
QUEUE_LENGTH = 256  # chunks waiting to be written (each a view of a span buffer)


@dataclass(eq=False)  # identity: entries are mutable records
class CachedFile:
    name: str  # file name stem: a hash of the key
    key: str
    size: int
    chunks: set[int] = field(default_factory=set)  # durable: on disk and in the record
    written: set[int] = field(default_factory=set)  # on disk, not yet in the record
    used_at: float = 0.0
    fd: int = -1
    reading: int = 0  # reads in worker threads using `fd`
    dropped: bool = False


class DiskCache:
    def __init__(self, directory: Path, max_bytes: int, chunk_size: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.chunk_size = chunk_size
        self.files: dict[str, CachedFile] = {}  # filled by `run` before it reports started
        self._doomed: list[CachedFile] = []  # dropped: to close and delete
        # Chunks to write; None only wakes the writer (files to delete).
        self._send, self._receive = trio.open_memory_channel[tuple[CachedFile, int, Any] | None](QUEUE_LENGTH)

    # Records

    def _load(self) -> dict[str, CachedFile]:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        files: dict[str, CachedFile] = {}
        for record in self.directory.glob("*.json"):
            try:
                data = json.loads(record.read_text())
                data_path = record.with_suffix(".data")
                if not data_path.exists() or data_path.stat().st_size != data["size"]:
                    raise ValueError("data file missing or of the wrong size")
                chunks = {index for first, last in data["chunks"] for index in range(first, last + 1)}
                files[data["key"]] = CachedFile(
                    record.stem, data["key"], data["size"], chunks, used_at=data.get("used_at", 0.0)
                )
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.info("dropping disk cache record %s: %s", record.name, exc)
                record.unlink(missing_ok=True)
                record.with_suffix(".data").unlink(missing_ok=True)
        return files

    def used_bytes(self) -> int:
        return sum(len(f.chunks) + len(f.written) for f in self.files.values()) * self.chunk_size

    def _entry(self, key: str, size: int) -> CachedFile:
        entry = self.files.get(key)
        if entry is not None and entry.size != size:  # the remote file changed: start over
            self._drop(entry)
            entry = None
        if entry is None:
            name = hashlib.sha256(key.encode()).hexdigest()[:32]
            entry = CachedFile(name, key, size)
            self.files[key] = entry
        entry.used_at = time.time()
        return entry

    def _path(self, entry: CachedFile, suffix: str) -> Path:
        return self.directory / f"{entry.name}{suffix}"

    def _drop(self, entry: CachedFile) -> None:
        """Forgets `entry` now; the writer task deletes its files (see the docstring)."""
        if self.files.get(entry.key) is entry:
            del self.files[entry.key]
        if entry.dropped:
            return
        entry.dropped = True
        if entry.reading == 0:
            self._doom(entry)

    def _doom(self, entry: CachedFile) -> None:
        self._doomed.append(entry)
        try:
            self._send.send_nowait(None)  # wake the writer; a full queue wakes it anyway
        except trio.WouldBlock:
            pass

    def _remove(self, doomed: list[CachedFile]) -> None:
        for entry in doomed:
            if entry.fd >= 0:
                os.close(entry.fd)
                entry.fd = -1
            for suffix in (".json", ".data"):
                try:
                    self._path(entry, suffix).unlink(missing_ok=True)
                except OSError as exc:
                    log.info("disk cache: could not delete %s%s: %s", entry.name, suffix, exc)

    # Reading and writing

    def has(self, key: str, size: int, index: int) -> bool:
        entry = self.files.get(key)
        return entry is not None and entry.size == size and (index in entry.chunks or index in entry.written)

    async def read(self, key: str, size: int, index: int) -> bytes | None:
        entry = self.files.get(key)
        if entry is None or entry.size != size:
            return None
        entry.used_at = time.time()
        offset = index * self.chunk_size
        length = min(self.chunk_size, size - offset)
        entry.reading += 1
        try:
            data = await trio.to_thread.run_sync(self._pread, entry, offset, length)
        except OSError as exc:
            log.info("disk cache read failed (%s); dropping %s", exc, entry.name)
            self._drop(entry)
            return None
        finally:
            entry.reading -= 1
            if entry.dropped and entry.reading == 0 and entry not in self._doomed:
                self._doom(entry)
        return data if len(data) == length and not entry.dropped else None

    def _pread(self, entry: CachedFile, offset: int, length: int) -> bytes:
        return os.pread(self._open(entry), length, offset)

    def _open(self, entry: CachedFile) -> int:
        if entry.fd < 0:
            path = self._path(entry, ".data")
            entry.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            if os.fstat(entry.fd).st_size != entry.size:
                os.ftruncate(entry.fd, entry.size)  # sparse: holes cost nothing
        return entry.fd

    def store(self, key: str, size: int, index: int, data: Any) -> None:
        """Queues one chunk for writing; drops it when the writer is behind."""
        entry = self._entry(key, size)
        if index in entry.chunks or index in entry.written:
            return
        try:
            self._send.send_nowait((entry, index, data))
        except trio.WouldBlock:
            pass

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Writes queued chunks and keeps the records and the size in check."""
        self.files = await trio.to_thread.run_sync(self._load)
        log.info(
            "disk cache %s: %d files, %.1f MiB",
            self.directory,
            len(self.files),
            self.used_bytes() / (1 << 20),
        )
        task_status.started()
        batch: list[tuple[CachedFile, int, Any] | None] = []
        try:
            while True:
                batch.append(await self._receive.receive())
                with trio.move_on_after(FLUSH_INTERVAL):
                    while len(batch) < QUEUE_LENGTH:
                        batch.append(await self._receive.receive())
                await self._write(batch)
                batch = []
        finally:
            with trio.CancelScope(shield=True):
                # What was read before the unmount is worth keeping: write it out.
                while True:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                await self._write(batch)
                await trio.to_thread.run_sync(self._close_all, list(self.files.values()))

    def _close_all(self, live: list[CachedFile]) -> None:
        """At the end: closes every file, and deletes every file no live entry
        owns (a drop that waited for a read), so the cache never stays over its size."""
        for entry in live:
            if entry.fd >= 0:
                os.close(entry.fd)
                entry.fd = -1
        names = {entry.name for entry in live}
        for path in self.directory.iterdir():
            if path.suffix in (".data", ".json", ".tmp") and path.stem not in names:
                log.info("disk cache: deleting %s, which no entry owns", path.name)
                path.unlink(missing_ok=True)

    async def _write(self, batch: list[tuple[CachedFile, int, Any] | None]) -> None:
        live = [item for item in batch if item is not None and self.files.get(item[0].key) is item[0]]
        await self._remove_doomed()
        if live:
            try:
                touched = await trio.to_thread.run_sync(self._write_sync, live)
            except OSError as exc:
                log.warning("disk cache write failed: %s", exc)
                return
            for entry in touched:
                if entry.dropped:
                    continue  # dropped while written: its files are deleted
                entry.chunks |= entry.written
                entry.written.clear()
                await trio.to_thread.run_sync(self._write_record, entry)
        self._evict()
        await self._remove_doomed()

    async def _remove_doomed(self) -> None:
        if self._doomed:
            doomed, self._doomed = self._doomed, []
            await trio.to_thread.run_sync(self._remove, doomed)

    def _write_sync(self, batch: list[tuple[CachedFile, int, Any]]) -> set[CachedFile]:
        touched: dict[str, CachedFile] = {}
        for entry, index, data in batch:
            os.pwrite(self._open(entry), data, index * self.chunk_size)
            entry.written.add(index)
            touched[entry.key] = entry
        for entry in touched.values():
            os.fdatasync(entry.fd)  # before the record names these chunks
        return set(touched.values())

    def _write_record(self, entry: CachedFile) -> None:
        ranges: list[list[int]] = []
        for index in sorted(entry.chunks):
            if ranges and ranges[-1][1] == index - 1:
                ranges[-1][1] = index
            else:
                ranges.append([index, index])
        record = self._path(entry, ".json")
        temporary = record.with_suffix(".tmp")
        temporary.write_text(
            json.dumps({"key": entry.key, "size": entry.size, "chunks": ranges, "used_at": entry.used_at})
        )
        os.chmod(temporary, 0o600)
        temporary.replace(record)

    def _evict(self) -> None:
        used = self.used_bytes()
        if used <= self.max_bytes:
            return
        for entry in sorted(self.files.values(), key=lambda e: e.used_at):
            if used <= self.max_bytes * 0.9:
                break
            log.info("disk cache full: evicting %s", entry.name)
            used -= (len(entry.chunks) + len(entry.written)) * self.chunk_size
            self._drop(entry)
