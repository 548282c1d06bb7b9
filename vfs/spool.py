"""Spool files: where written bytes wait before a source takes them.

A spool lives in the state dir (`$XDG_STATE_HOME/debridfs/spool/`, never
the cache dir: cleaners empty that) with mode 0600. md5 and size are computed as
sequential data arrives, so the usual `cp` needs no second pass: written
pieces queue up and `hash_pending` (a background task) feeds them to the
running md5 in a worker thread, on the other core, while `cp` goes on writing.
Any out-of-order write drops the running hash and `digest()` rereads the
file (in a worker thread).
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from pathlib import Path

import trio

log = logging.getLogger(__name__)


# Tree keys of files that exist only as a spool so far (being written, or
# uploading): the kernel must not cache their names, which may vanish or change.
SPOOL_KEY_PREFIX = "spool/"
HASH_BATCH = 8 << 20  # queued bytes worth a trip to a worker thread
HASH_BACKLOG = 64 << 20  # beyond this, a write waits for hashing (bounded memory)


class SpoolFile:
    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd
        self.size = 0
        self._md5: hashlib._Hash | None = hashlib.md5()
        self._queued = 0  # bytes from 0 that are hashed or queued for hashing
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._hashing = False
        self._hashed = trio.Event()  # set whenever no hashing job runs
        self._hashed.set()

    @classmethod
    def create(cls, directory: Path) -> SpoolFile:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / f"{uuid.uuid4().hex}.spool"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        return cls(path, fd)

    def write(self, offset: int, data: bytes) -> int:
        written = os.pwrite(self.fd, data, offset)
        if self._md5 is not None:
            if offset == self._queued:
                self._pending.append(data if written == len(data) else data[:written])
                self._pending_bytes += written
                self._queued += written
            else:
                self._drop_hash()
        self.size = max(self.size, offset + written)
        return written

    def write_unhashed(self, offset: int, data: bytes | memoryview) -> None:
        """Writes without hashing (blocking: for a worker thread, on a spool no
        task hashes; call `drop_hash` first). The commit hashes the file."""
        view = memoryview(data)
        while view:
            written = os.pwrite(self.fd, view, offset)
            view, offset = view[written:], offset + written
        self.size = max(self.size, offset)

    def drop_hash(self) -> None:
        self._drop_hash()

    def _drop_hash(self) -> None:
        self._md5 = None
        self._pending.clear()
        self._pending_bytes = 0

    @property
    def wants_hashing(self) -> bool:
        return self._md5 is not None and not self._hashing and self._pending_bytes >= HASH_BATCH

    @property
    def hash_backlog(self) -> bool:
        return self._pending_bytes >= HASH_BACKLOG

    async def hash_pending(self) -> None:
        """Feeds queued pieces to the md5 in a worker thread until none are left."""
        if self._hashing:
            await self._hashed.wait()
            return
        self._hashing = True
        self._hashed = trio.Event()
        try:
            while self._pending and self._md5 is not None:
                md5, batch = self._md5, self._pending
                self._pending, self._pending_bytes = [], 0
                await trio.to_thread.run_sync(_update, md5, batch)
        finally:
            self._hashing = False
            self._hashed.set()

    def truncate(self, size: int) -> None:
        os.ftruncate(self.fd, size)
        if size != self._queued:
            self._drop_hash()
        self.size = size

    def read(self, offset: int, size: int) -> bytes:
        return os.pread(self.fd, size, offset)

    def sync(self) -> None:
        """The bytes and the spool's name on disk (blocking: run in a worker thread)."""
        os.fsync(self.fd)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @classmethod
    def copy_of(cls, directory: Path, fd: int, size: int) -> SpoolFile:
        """A new spool holding the first `size` bytes of `fd` (blocking)."""
        spool = cls.create(directory)
        spool.copy_from(fd, size)
        return spool

    def copy_from(self, fd: int, size: int) -> None:
        """Copies the first `size` bytes of `fd` to the start of this spool
        (blocking). They are hashed again at the commit, in a worker thread."""
        self._drop_hash()
        offset = 0
        while offset < size:
            chunk = os.pread(fd, min(8 << 20, size - offset), offset)
            if not chunk:
                break
            offset += os.pwrite(self.fd, chunk, offset)
        self.size = max(self.size, offset)

    async def digest(self) -> str:
        """md5 hex of the whole spool."""
        await self.hash_pending()
        if self._md5 is not None and self._queued == self.size:
            await self.hash_pending()  # what was queued while a job ran
            return self._md5.hexdigest()
        return await trio.to_thread.run_sync(md5_file, self.path)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


def _update(md5: hashlib._Hash, pieces: list[bytes]) -> None:
    for piece in pieces:
        md5.update(piece)


def md5_file(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()
