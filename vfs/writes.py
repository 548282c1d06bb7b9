"""Files being written: one `WriteFile` per file open for writing, shared by
every descriptor on it, from `create`/`open` to its commit.

Ownership (docs/uploads.md): the write handle owns the spool until the
commit. The commit hands it to the source's upload manager (vfs/uploads.py),
which owns it from then on, or to a source that consumes it (a `.magnet`,
a `.links` file: the bytes are read and the spool deleted here). A file
whose write failed, or that was unlinked while open, is never committed; a
file it was replacing stays as it was.

When: a `flush` commits a file that was written since it was opened (or
last committed) once every descriptor on it was flushed since its last
write, so that close(2) reports what the service said; a flush of a
duplicated descriptor before any write (`echo hi > f`: the shell's own
close after dup2) commits nothing. Whatever is still uncommitted when the
last descriptor is released is committed then (errors can only be logged).
"""

from __future__ import annotations

import errno
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import trio

from clients.errors import ReadOnly

from .reader import ReadEngine, RemoteFile
from .sources.base import Entry, Source
from .spool import SPOOL_KEY_PREFIX, SpoolFile
from .tree import Node, Tree
from .uploads import UploadManager, UploadRecord

log = logging.getLogger(__name__)

COPY_CHUNK = 4 << 20


class WriteFailed(OSError):
    """A write to this file failed earlier: it will not be committed."""


@dataclass
class WriteFile:
    node: Node
    parent: Node
    spool: SpoolFile
    original: Entry | None  # the file it replaces, restored if this one fails
    handles: set[int] = field(default_factory=set)
    flushed: set[int] = field(default_factory=set)  # handles flushed since their last write
    dirty: bool = True  # not committed in this state yet
    changed: bool = False  # written or truncated since the open/last commit
    committed: bool = False  # the spool's path belongs to the commit's new owner
    error: int | None = None  # a write failed: never committed
    unlinked: bool = False
    draft: UploadRecord | None = None  # journaled by fsync before the commit
    # False: the spool does not hold the current content yet. Opening an existing
    # file without O_TRUNC copies nothing until the first write or truncate
    # (`touch`, an O_RDWR open only read from, `flock` on a writable fd): until
    # then reads come from the original and nothing is committed.
    loaded: bool = True
    loading: trio.Lock = field(default_factory=trio.Lock)
    remote: RemoteFile | None = None  # reads of a remote original before it is loaded
    # A pending original's spool, open from the start: the upload manager may
    # delete its path (confirmed) before the first write copies it.
    original_fd: int | None = None


def source_of(node: Node) -> Source:
    """The source `node` belongs to; only the mount's root has none."""
    if node.source is None:
        raise ReadOnly("the mount's root belongs to no source")
    return node.source


def entry_of(node: Node) -> Entry:
    return Entry(
        node.name,
        node.key,
        node.is_dir,
        node.size,
        node.mtime,
        node.ref,
        dict(node.xattrs),
        node.virtual,
        node.local,
        node.writable,
    )


class Writes:
    """All files open for writing in one mount."""

    def __init__(self, tree: Tree, engine: ReadEngine, spool_dir: Path) -> None:
        self.tree = tree
        self.engine = engine
        self.spool_dir = spool_dir
        self.files: dict[int, WriteFile] = {}  # inode -> its open file
        # Where the work after a last release runs; None: in the release itself.
        self.closers: trio.Nursery | None = None
        self.closing: dict[int, trio.Event] = {}  # inode -> set when that work is done

    def clean_orphans(self, managers: list[UploadManager]) -> None:
        """At mount: spools that no journal record names are left from a crash
        before any commit (the writer never got a successful close)."""
        if not self.spool_dir.is_dir():
            return
        named = set().union(*(m.spools() for m in managers)) if managers else set()
        for path in self.spool_dir.glob("*.spool"):
            if str(path) not in named:
                log.info("removing the orphaned spool %s", path.name)
                path.unlink(missing_ok=True)

    def find(self, node: Node) -> WriteFile | None:
        return self.files.get(node.inode)

    # ------------------------------------------------------------ opening

    async def create(self, parent: Node, name: str) -> WriteFile:
        await source_of(parent).create_file(parent.ref, name)
        spool = await trio.to_thread.run_sync(SpoolFile.create, self.spool_dir)
        # Shown while written: stat and ls see the file grow; its key is the spool's.
        node = self.tree.add_child(
            parent, Entry(name, SPOOL_KEY_PREFIX + spool.path.name, False, writable=True, mtime=time.time())
        )
        return self._track(WriteFile(node, parent, spool, None))

    async def open(self, node: Node, truncate: bool) -> WriteFile:
        """Opens an existing file for writing; without `truncate` its content is
        copied into the spool at the first write or truncate (`>>`, `dd
        conv=notrunc`), and a file never changed is never committed (`touch`)."""
        current = self.find(node)
        if current is not None:
            if truncate:
                await self.truncate(current, 0)
            return current
        parent = self.tree.get(node.parent)
        await source_of(parent).create_file(parent.ref, node.name)
        spool = await trio.to_thread.run_sync(SpoolFile.create, self.spool_dir)
        wf = WriteFile(node, parent, spool, entry_of(node))
        # O_TRUNC is a change: `: > f` empties f at close.
        wf.changed = wf.dirty = wf.loaded = truncate
        if truncate:
            node.size = 0
        elif node.local is not None:
            try:
                wf.original_fd = await trio.to_thread.run_sync(os.open, node.local, os.O_RDONLY)
            except BaseException:
                await trio.to_thread.run_sync(spool.discard)
                raise
        return self._track(wf)

    def _track(self, wf: WriteFile) -> WriteFile:
        self.files[wf.node.inode] = wf
        wf.node.writers += 1  # relistings leave the node alone until _close
        return wf

    async def _load(self, wf: WriteFile, limit: int | None = None) -> None:
        """Puts the original's content (its first `limit` bytes) into the spool,
        before the first change of a file opened without O_TRUNC."""
        async with wf.loading:  # a read and a write may both want it
            if not wf.loaded:
                await self._copy_original(wf, limit)
                wf.loaded = True

    async def _copy_original(self, wf: WriteFile, limit: int | None) -> None:
        original = wf.original
        size = 0 if original is None else original.size if limit is None else min(limit, original.size)
        try:
            if size > 0 and wf.original_fd is not None:  # still a spool (pending upload)
                fd = wf.original_fd
                await trio.to_thread.run_sync(wf.spool.copy_from, fd, size)
            elif size > 0:
                await self._copy_remote(wf, size)
        except OSError as exc:
            wf.error = exc.errno or errno.EIO
            raise
        except BaseException:
            # The copy failed (the service is unreachable): the file stays as it
            # was and this change fails; a later one tries again from scratch.
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(wf.spool.truncate, 0)
            raise

    async def _copy_remote(self, wf: WriteFile, size: int) -> None:
        # Megabytes at a time: written from a worker thread (on a loaded machine a
        # 4 MiB write held the trio thread for 50 ms), so not hashed as they go.
        wf.spool.drop_hash()
        offset = 0
        while offset < size:
            data = await self._read_original(wf, offset, min(COPY_CHUNK, size - offset))
            if not data:
                break
            await trio.to_thread.run_sync(wf.spool.write_unhashed, offset, data)
            offset += len(data)

    async def _read_original(self, wf: WriteFile, offset: int, size: int) -> bytes | memoryview:
        """Bytes of the file as it was opened (not loaded yet), through the read engine."""
        original = wf.original
        if original is None or offset >= original.size:
            return b""
        if wf.original_fd is not None:
            return os.pread(wf.original_fd, min(size, original.size - offset), offset)
        if wf.remote is None:
            source = source_of(wf.node)
            wf.remote = self.engine.open(
                (source.name, original.key), source, original.ref, original.size, original.name
            )
        return await wf.remote.read(offset, min(size, original.size - offset))

    # ------------------------------------------------------------ data

    async def write(self, wf: WriteFile, fh: int, offset: int, data: bytes) -> int:
        if wf.error is not None:
            raise WriteFailed(wf.error, os.strerror(wf.error))
        if wf.committed:
            await self._fork(wf)
        await self._load(wf)
        try:
            written = wf.spool.write(offset, data)
        except OSError as exc:
            wf.error = exc.errno or errno.EIO
            raise
        await self._keep_hashing(wf.spool)
        self._changed(wf, fh)
        return written

    async def _keep_hashing(self, spool: SpoolFile) -> None:
        if spool.hash_backlog:
            await spool.hash_pending()  # hashing fell behind: slow the writer
        elif spool.wants_hashing and self.engine.nursery is not None:
            self.engine.nursery.start_soon(spool.hash_pending)

    async def read(self, wf: WriteFile, offset: int, size: int) -> bytes | memoryview:
        if not wf.loaded:
            return await self._read_original(wf, offset, size)
        return wf.spool.read(offset, size)

    async def truncate(self, wf: WriteFile, size: int, fh: int | None = None) -> None:
        if wf.error is not None:
            raise WriteFailed(wf.error, os.strerror(wf.error))
        if wf.committed:
            await self._fork(wf)
        await self._load(wf, limit=size)
        try:
            wf.spool.truncate(size)
        except OSError as exc:
            wf.error = exc.errno or errno.EIO
            raise
        self._changed(wf, fh)

    def _changed(self, wf: WriteFile, fh: int | None) -> None:
        wf.dirty = wf.changed = True
        if fh is not None:
            wf.flushed.discard(fh)
        wf.node.size = wf.spool.size
        wf.node.mtime = time.time()

    async def _fork(self, wf: WriteFile) -> None:
        """Written again after a commit: the committed spool is no longer ours
        to change, so the new version starts as a copy of it."""
        old = wf.spool
        if old.fd >= 0:
            wf.spool = await trio.to_thread.run_sync(SpoolFile.copy_of, self.spool_dir, old.fd, old.size)
            old.close()
        else:
            wf.spool = await trio.to_thread.run_sync(SpoolFile.create, self.spool_dir)
        wf.committed, wf.draft = False, None

    async def fsync(self, wf: WriteFile) -> None:
        """Returns once the spool and (for an upload) its journal record are on disk."""
        if wf.error is not None:
            raise WriteFailed(wf.error, os.strerror(wf.error))
        if wf.committed or not wf.dirty:
            return  # the commit already made it durable
        await trio.to_thread.run_sync(wf.spool.sync)
        manager = self._manager(wf)
        if manager is not None and not wf.unlinked:
            if wf.draft is None:
                wf.draft = self._record(wf, md5="")
            wf.draft.size = wf.spool.size
            await manager.keep(wf.draft)

    # ------------------------------------------------------------ closing

    async def flush(self, wf: WriteFile, fh: int) -> None:
        wf.flushed.add(fh)
        if wf.error is not None:
            raise WriteFailed(wf.error, os.strerror(wf.error))
        if wf.dirty and wf.changed and not wf.unlinked and wf.flushed >= wf.handles:
            await self.commit(wf)

    async def release(self, wf: WriteFile, fh: int) -> None:
        wf.handles.discard(fh)
        wf.flushed.discard(fh)
        if wf.handles:
            return
        inode = wf.node.inode
        self.files.pop(inode, None)
        if not self._commits_at_close(wf) and not wf.committed:
            self._restore(wf)  # only the tree: stat sees the original at once
        done = self.closing[inode] = trio.Event()
        if self.closers is None:
            await self._close(wf, done)
        else:
            # The kernel sends RELEASE after close(2) has returned and does not
            # wait for our reply: answering at once means an unmount right after
            # close(2) cannot end the session under a pending reply. The mount
            # waits for `closers` before it exits, so the work is never lost.
            self.closers.start_soon(self._close, wf, done)

    def closing_now(self, node: Node) -> bool:
        return node.inode in self.closing

    async def settled(self, node: Node) -> None:
        """Returns once the work after the last release of `node` is done: an
        open must not read the service's old bytes under the new size."""
        done = self.closing.get(node.inode)
        if done is not None:
            await done.wait()

    @staticmethod
    def _commits_at_close(wf: WriteFile) -> bool:
        return wf.error is None and wf.dirty and not wf.unlinked

    async def _close(self, wf: WriteFile, done: trio.Event) -> None:
        """The last descriptor is gone: commit what is left, or discard it."""
        try:
            if self._commits_at_close(wf):
                try:
                    await self.commit(wf)
                except Exception as exc:
                    log.warning("%s: could not hand the written file over: %s", wf.node.name, exc)
            if not wf.committed:
                await self._discard(wf)
        except Exception as exc:
            log.warning("%s: could not discard the written file: %s", wf.node.name, exc)
        finally:
            wf.node.writers -= 1
            if self.closing.get(wf.node.inode) is done:
                del self.closing[wf.node.inode]
            done.set()
            if wf.remote is not None:
                self.engine.release(wf.remote)
            if wf.original_fd is not None:
                os.close(wf.original_fd)
            # Closing the last fd of a deleted spool frees its blocks: ~100 ms for 300 MiB.
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(wf.spool.close)

    def unlink(self, node: Node) -> WriteFile | None:
        """The file is removed while open: its writes are never committed."""
        wf = self.find(node)
        if wf is not None:
            wf.unlinked = True
        return wf

    def moved(self, node: Node, new_parent: Node) -> None:
        wf = self.find(node)
        if wf is not None:
            wf.parent = new_parent

    async def _discard(self, wf: WriteFile) -> None:
        """Never committed: the spool and its draft record go. (The tree was
        put back already: by `release`, or by the commit that failed.)"""
        manager = self._manager(wf)
        if wf.draft is not None and manager is not None:
            await manager.drop(wf.draft.id)
        await trio.to_thread.run_sync(wf.spool.discard)

    def _restore(self, wf: WriteFile) -> None:
        node, parent = wf.node, wf.parent
        if parent.children is None or parent.children.get(node.name) is not node:
            return
        if wf.original is None or wf.unlinked:
            self.tree.remove_child(parent, node.name)
        else:
            self.tree.update_node(node, wf.original)

    def _manager(self, wf: WriteFile) -> UploadManager | None:
        return source_of(wf.parent).uploads

    def _record(self, wf: WriteFile, md5: str) -> UploadRecord:
        folder, replaces = source_of(wf.parent).upload_destination(wf.parent.ref, wf.node.name)
        return UploadRecord(
            id=UploadManager.new_id(),
            folder=folder,
            name=wf.node.name,
            spool=str(wf.spool.path),
            size=wf.spool.size,
            md5=md5,
            key=SPOOL_KEY_PREFIX + wf.spool.path.name,
            replaces=replaces,
        )

    async def commit(self, wf: WriteFile) -> None:
        """Hands the spool to its new owner; the tree shows what the source says."""
        parent, node, name = wf.parent, wf.node, wf.node.name
        manager = self._manager(wf)
        try:
            if manager is not None:
                md5 = await wf.spool.digest()
                await trio.to_thread.run_sync(wf.spool.sync)  # before the journal names it
                record = self._record(wf, md5)
                if wf.draft is not None:
                    record.id = wf.draft.id
                record = await manager.submit(record)
                entry: Entry | None = source_of(parent).upload_entry(record)
            else:
                entry = await source_of(parent).commit_file(parent.ref, name, wf.spool)
                await trio.to_thread.run_sync(wf.spool.discard)
        except BaseException:
            self._restore(wf)
            wf.dirty = wf.changed = False  # refused: not tried again at the release
            raise
        wf.committed, wf.dirty, wf.changed, wf.draft = True, False, False, None
        wf.original = None
        current = parent.children.get(name) if parent.children is not None else None
        if entry is not None and current is node and entry.name == name:
            self.tree.update_node(node, entry)  # same inode: open fds and dentries stay valid
            return
        if current is node:
            self.tree.remove_child(parent, name)
        if entry is not None:
            self.tree.add_child(parent, entry)


__all__ = ["Writes", "WriteFile", "WriteFailed", "entry_of"]
