"""Drives `vfs.fs.Operations` without a kernel (the s3ql way).

`running(config)` builds the mount's parts exactly as `debridfs mount` does
(`vfs.mount.assemble` over checked sources, background tasks started by
`vfs.mount.start_parts`), but hands `Operations` to the test instead of to
libfuse. `FS` calls its handlers the way pyfuse3 would: a `RequestContext`
like this process's, `FileInfo`/`EntryAttributes` replies, `FUSEError` for errno,
and readdir replies collected by a stand-in for `pyfuse3.readdir_reply`
(the one libfuse call an operation makes; see `ReaddirReplies`).

What needs the kernel (permission checks of `default_permissions`, page
cache, dentry timeouts, the order and number of requests a syscall makes)
stays in tests/mount/.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pyfuse3
import pytest
import trio

from clients.http import make_http_client
from vfs.config import Config
from vfs.mount import Parts, assemble, start_parts
from vfs.preflight import check_sources
from vfs.sources import build_sources
from vfs.tree import ROOT_INODE

DEADLINE = 20.0  # seconds any one wait of a test may take


@dataclass
class ReaddirToken:
    """What `readdir` replies into; `room` entries fit, as in a kernel buffer."""

    room: int = 1 << 30
    entries: list[tuple[str, pyfuse3.EntryAttributes, int]] = field(default_factory=list)


def readdir_reply(token: ReaddirToken, name: bytes, attr: pyfuse3.EntryAttributes, next_id: int) -> bool:
    """The stand-in for `pyfuse3.readdir_reply`: False once the buffer is full."""
    if len(token.entries) >= token.room:
        return False
    token.entries.append((os.fsdecode(name), attr, next_id))
    return True


@dataclass(frozen=True)
class RequestContext:
    """What pyfuse3 passes as `ctx` (its own class cannot be filled from Python):
    the caller is this process."""

    uid: int = field(default_factory=os.getuid)
    gid: int = field(default_factory=os.getgid)
    pid: int = field(default_factory=os.getpid)
    umask: int = 0o022


class FS:
    """`Operations` of one assembled mount, and the calls a kernel would make."""

    def __init__(self, parts: Parts, config: Config) -> None:
        self.parts = parts
        self.config = config
        self.ops = parts.operations
        self.tree = parts.tree
        self.ctx = RequestContext()

    async def lookup(self, path: str) -> pyfuse3.EntryAttributes:
        """Looks up every component of `path` (relative to the mount root)."""
        attr = await self.ops.getattr(ROOT_INODE, self.ctx)
        for name in path.strip("/").split("/") if path.strip("/") else []:
            attr = await self.ops.lookup(attr.st_ino, os.fsencode(name), self.ctx)
        return attr

    async def inode(self, path: str) -> int:
        return int((await self.lookup(path)).st_ino)

    async def listdir(self, path: str, batch: int = 1 << 30) -> dict[str, pyfuse3.EntryAttributes]:
        """Name -> attributes, read `batch` entries per readdir call (resuming
        at the `next_id` of the last one, as the kernel does)."""
        fh = await self.ops.opendir(await self.inode(path), self.ctx)
        found: dict[str, pyfuse3.EntryAttributes] = {}
        start = 0
        try:
            while True:
                token = ReaddirToken(room=batch)
                await self.ops.readdir(fh, start, token)  # type: ignore[arg-type]
                if not token.entries:
                    return found
                for name, attr, next_id in token.entries:
                    assert name not in found, f"{name!r} listed twice"
                    found[name] = attr
                    start = next_id
        finally:
            await self.ops.releasedir(fh)

    async def read(self, path: str, chunk: int = 128 << 10) -> bytes:
        """The whole file, read front to back in `chunk` requests (open, read, release)."""
        info = await self.ops.open(await self.inode(path), os.O_RDONLY, self.ctx)
        data = bytearray()
        try:
            while block := await self.ops.read(info.fh, len(data), chunk):
                data += block
        finally:
            await self.ops.release(info.fh)
        return bytes(data)

    async def sha256(self, path: str) -> str:
        return hashlib.sha256(await self.read(path)).hexdigest()

    async def write(self, path: str, data: bytes, chunk: int = 128 << 10) -> pyfuse3.EntryAttributes:
        """create, write in `chunk` pieces, flush (close(2)), release: what
        `cp` does to a new file. Returns the attributes `create` gave."""
        parent, _, name = path.strip("/").rpartition("/")
        info, attr = await self.ops.create(
            await self.inode(parent), os.fsencode(name), 0o644, os.O_WRONLY | os.O_CREAT, self.ctx
        )
        try:
            for offset in range(0, len(data), chunk):
                written = await self.ops.write(info.fh, offset, data[offset : offset + chunk])
                assert written == len(data[offset : offset + chunk])
            await self.ops.flush(info.fh)
        finally:
            await self.ops.release(info.fh)
        return attr


async def errno_of(call: Awaitable[Any]) -> int:
    """The errno the awaited operation fails with (the test fails if it succeeds)."""
    with pytest.raises(pyfuse3.FUSEError) as failed:
        await call
    return failed.value.errno


async def poll(predicate: Callable[[], Awaitable[Any]], what: str, timeout: float = DEADLINE) -> Any:
    """Awaits `predicate()` until it returns a true value (returned), within `timeout`."""
    with trio.move_on_after(timeout):
        while True:
            value = await predicate()
            if value:
                return value
            await trio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


async def in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """A blocking call (the emulator's control API) off the trio thread."""
    return await trio.to_thread.run_sync(function, *args)


@asynccontextmanager
async def running(config: Config) -> AsyncIterator[FS]:
    """The parts of a mount of `config`, running, without a kernel."""
    async with make_http_client(config.read.max_connections + 16) as http:
        sources = build_sources(config, http)
        await check_sources(sources, config, http)
        parts = assemble(config, sources)
        try:
            # As vfs/mount.py: the work of last releases (commits) outlives the rest.
            async with trio.open_nursery() as closers:
                parts.operations.writes.closers = closers
                async with trio.open_nursery() as nursery:
                    await start_parts(parts, nursery)
                    yield FS(parts, config)
                    nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await parts.ranged.aclose()
