"""Members of a remote RAR archive that can be served as files of their own.

A member that is *stored* (no compression) and not encrypted lies verbatim
in the archive: it is a byte range of the archive, which the read engine can
serve like any file (`DirectLink.offset`). The archive's headers are read
through the read engine (so they are cached like any other bytes) and parsed
by `rarfile` in a worker thread; only the headers are read, never the data.
Compressed, encrypted, split or directory entries are left out: the archive
file itself stays the way to get them.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import rarfile
import trio

if TYPE_CHECKING:
    from .sources.base import Ref

log = logging.getLogger(__name__)

BUFFER = 64 * 1024  # header reads are small: one buffered read covers a few


@dataclass(frozen=True)
class Member:
    path: str  # inside the archive, '/' separated
    offset: int  # where its bytes start in the archive
    size: int


class _RemoteReader(io.RawIOBase):
    """A blocking, seekable view of a remote file for a worker thread: each
    read is handed to the trio thread, which reads it through the engine."""

    def __init__(self, remote: Any, size: int, token: trio.lowlevel.TrioToken) -> None:
        self.remote, self.size, self.token, self.pos = remote, size, token, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), max(0, self.size - self.pos))
        if n == 0:
            return 0
        data = trio.from_thread.run(self.remote.read, self.pos, n, trio_token=self.token)
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)


def _stored_members(raw: _RemoteReader) -> list[Member]:
    members = []
    with rarfile.RarFile(io.BufferedReader(raw, BUFFER)) as archive:
        for info in archive.infolist():
            if info.is_dir() or info.needs_password() or info.compress_type != rarfile.RAR_M0:
                continue
            if (
                info.compress_size != info.file_size
                or info.data_offset is None
                or info.data_offset + info.file_size > raw.size
            ):
                continue  # split across volumes, or not all here
            members.append(Member(info.filename, info.data_offset, info.file_size))
    return members


async def stored_members(engine: Any, key: Any, source: Any, ref: Ref, size: int) -> list[Member]:
    """The stored, unencrypted members of the RAR archive `ref` of `source`
    (opened in `engine` under `key`, the archive file's own key). Raises
    rarfile.Error when it is not a RAR archive it can read."""
    remote = engine.open(key, source, ref, size)
    try:
        raw = _RemoteReader(remote, size, trio.lowlevel.current_trio_token())
        return await trio.to_thread.run_sync(_stored_members, raw)
    finally:
        engine.release(remote)
