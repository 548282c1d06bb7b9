"""Spool files: where written bytes wait before a source takes them.

A spool lives in the cache dir with mode 0600. md5 and size are computed as
sequential data arrives, so the usual `cp` needs no second pass; any
out-of-order write drops the running hash and `digest()` rereads the file
(in a worker thread).
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from pathlib import Path

import trio

log = logging.getLogger(__name__)


class SpoolFile:
    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd
        self.size = 0
        self._md5: "hashlib._Hash | None" = hashlib.md5()
        self._hashed = 0            # bytes covered by the running md5

    @classmethod
    def create(cls, directory: Path) -> "SpoolFile":
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / f"{uuid.uuid4().hex}.spool"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        return cls(path, fd)

    def write(self, offset: int, data: bytes) -> int:
        written = os.pwrite(self.fd, data, offset)
        if self._md5 is not None:
            if offset == self._hashed:
                self._md5.update(data[:written])
                self._hashed += written
            else:
                self._md5 = None
        self.size = max(self.size, offset + written)
        return written

    def truncate(self, size: int) -> None:
        os.ftruncate(self.fd, size)
        if size != self._hashed:
            self._md5 = None
        self.size = size

    def read(self, offset: int, size: int) -> bytes:
        return os.pread(self.fd, size, offset)

    async def digest(self) -> str:
        """md5 hex of the whole spool."""
        if self._md5 is not None and self._hashed == self.size:
            return self._md5.hexdigest()
        return await trio.to_thread.run_sync(md5_file, self.path)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


def md5_file(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()
