"""Persistent disk cache: partial copies of remote files that survive remounts.

Each remote file has a sparse data file and a small JSON record of which
chunks it holds. Chunks are written in a worker thread, the data file is
fdatasync'ed, and only then are the chunks added to the record (written to a
temporary file and renamed). So a crash can lose records, costing
re-downloads, but a record never names bytes that are not on disk: never wrong
bytes. Whole files are evicted least-recently-used once the cache holds more
than `max_bytes`. Writes are best effort: when the queue is full they are
dropped, never waited for.
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
QUEUE_LENGTH = 256          # chunks waiting to be written (each a view of a span buffer)


@dataclass(eq=False)   # identity: entries are mutable records
class CachedFile:
    name: str                               # file name stem: a hash of the key
    key: str
    size: int
    chunks: set[int] = field(default_factory=set)     # durable: on disk and in the record
    written: set[int] = field(default_factory=set)    # on disk, not yet in the record
    used_at: float = 0.0
    fd: int = -1


class DiskCache:
    def __init__(self, directory: Path, max_bytes: int, chunk_size: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.chunk_size = chunk_size
        self.files: dict[str, CachedFile] = {}
        self._send, self._receive = trio.open_memory_channel[tuple[CachedFile, int, Any]](QUEUE_LENGTH)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._load()

    # Records

    def _load(self) -> None:
        for record in self.directory.glob("*.json"):
            try:
                data = json.loads(record.read_text())
                data_path = record.with_suffix(".data")
                if not data_path.exists() or data_path.stat().st_size != data["size"]:
                    raise ValueError("data file missing or of the wrong size")
                chunks = {index for first, last in data["chunks"] for index in range(first, last + 1)}
                self.files[data["key"]] = CachedFile(record.stem, data["key"], data["size"], chunks,
                                                     used_at=data.get("used_at", 0.0))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.info("dropping disk cache record %s: %s", record.name, exc)
                record.unlink(missing_ok=True)
                record.with_suffix(".data").unlink(missing_ok=True)
        log.info("disk cache %s: %d files, %.1f MiB", self.directory, len(self.files),
                 self.used_bytes() / (1 << 20))

    def used_bytes(self) -> int:
        return sum(len(f.chunks) + len(f.written) for f in self.files.values()) * self.chunk_size

    def _entry(self, key: str, size: int) -> CachedFile:
        entry = self.files.get(key)
        if entry is not None and entry.size != size:       # the remote file changed: start over
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
        self.files.pop(entry.key, None)
        if entry.fd >= 0:
            os.close(entry.fd)
            entry.fd = -1
        self._path(entry, ".json").unlink(missing_ok=True)
        self._path(entry, ".data").unlink(missing_ok=True)

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
        try:
            data = await trio.to_thread.run_sync(self._pread, entry, offset, length)
        except OSError as exc:
            log.info("disk cache read failed (%s); dropping %s", exc, entry.name)
            self._drop(entry)
            return None
        return data if len(data) == length else None

    def _pread(self, entry: CachedFile, offset: int, length: int) -> bytes:
        return os.pread(self._open(entry), length, offset)

    def _open(self, entry: CachedFile) -> int:
        if entry.fd < 0:
            path = self._path(entry, ".data")
            entry.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            if os.fstat(entry.fd).st_size != entry.size:
                os.ftruncate(entry.fd, entry.size)     # sparse: holes cost nothing
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
        task_status.started()
        batch: list[tuple[CachedFile, int, Any]] = []
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
                if batch:
                    await self._write(batch)
                for entry in self.files.values():
                    if entry.fd >= 0:
                        os.close(entry.fd)
                        entry.fd = -1

    async def _write(self, batch: list[tuple[CachedFile, int, Any]]) -> None:
        live = [(e, i, d) for e, i, d in batch if self.files.get(e.key) is e]
        try:
            touched = await trio.to_thread.run_sync(self._write_sync, live)
        except OSError as exc:
            log.warning("disk cache write failed: %s", exc)
            return
        for entry in touched:
            entry.chunks |= entry.written
            entry.written.clear()
            await trio.to_thread.run_sync(self._write_record, entry)
        self._evict()

    def _write_sync(self, batch: list[tuple[CachedFile, int, Any]]) -> set[CachedFile]:
        touched: dict[str, CachedFile] = {}
        for entry, index, data in batch:
            os.pwrite(self._open(entry), data, index * self.chunk_size)
            entry.written.add(index)
            touched[entry.key] = entry
        for entry in touched.values():
            os.fdatasync(entry.fd)     # before the record names these chunks
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
        temporary.write_text(json.dumps({"key": entry.key, "size": entry.size, "chunks": ranges,
                                         "used_at": entry.used_at}))
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
