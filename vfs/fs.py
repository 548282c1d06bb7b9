"""pyfuse3 Operations: translates FUSE requests into tree, reader and source
calls, and errors into errno. No HTTP here, and no provider names."""

from __future__ import annotations

import errno
import functools
import logging
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pyfuse3
import trio

from clients.errors import RemoteError, errno_of
from .config import MountConfig
from .reader import ReadEngine, RemoteFile
from .sources.base import Entry
from .spool import SPOOL_KEY_PREFIX, SpoolFile
from .tree import ROOT_INODE, Node, Tree

log = logging.getLogger(__name__)

BLOCK_SIZE_HINT = 1 << 20


ANSWERS = {errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST, errno.EROFS, errno.EINVAL, errno.EISDIR,
           errno.ENOTDIR}


def fuse_errors(method: Callable) -> Callable:
    """Maps the error vocabulary to FUSEError once, for every operation."""

    @functools.wraps(method)
    async def wrapper(self: "Operations", *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(self, *args, **kwargs)
        except pyfuse3.FUSEError:
            raise
        except RemoteError as exc:
            code = errno_of(exc)
            # Answers to what the user asked for (a gone file, a full directory, a
            # write where writing is not allowed, a name the service refuses) are
            # not failures of the mount; the source logs how to change a refusal.
            level = logging.INFO if code in ANSWERS else logging.WARNING
            log.log(level, "%s failed: %s", method.__name__, exc)
            raise pyfuse3.FUSEError(code) from None
        except Exception:
            log.exception("%s crashed", method.__name__)
            raise pyfuse3.FUSEError(errno.EIO) from None

    return wrapper


@dataclass
class Handle:
    node: Node
    remote: RemoteFile | None = None
    data: bytes | None = None        # generated content of a virtual file, fixed at open
    local_fd: int | None = None      # a local file (spool) being read
    spool: SpoolFile | None = None   # a file being written
    parent: Node | None = None       # where the written file goes
    dirty: bool = False              # written since the last commit


class Operations(pyfuse3.Operations):
    supports_dot_lookup = False
    enable_writeback_cache = False
    enable_acl = False

    def __init__(self, tree: Tree, engine: ReadEngine, mount: MountConfig, spool_dir: Path) -> None:
        super().__init__()
        self.spool_dir = spool_dir
        self.tree = tree
        self.engine = engine
        self.mount = mount
        self.uid = os.getuid()
        self.gid = os.getgid()
        self.handles: dict[int, Handle] = {}
        self.dir_handles: dict[int, list[Node]] = {}
        self._next_fh = 1

    on_init: Callable[[], None] | None = None   # called once the kernel's INIT arrived

    def init(self) -> None:
        if self.on_init is not None:
            self.on_init()

    def _fh(self) -> int:
        self._next_fh += 1
        return self._next_fh

    def attributes(self, node: Node) -> pyfuse3.EntryAttributes:
        attr = pyfuse3.EntryAttributes()
        attr.st_ino = node.inode
        attr.generation = 0
        if node.key.startswith(SPOOL_KEY_PREFIX):
            # A written file the source may still drop or rename (a .magnet file that
            # becomes a torrent): a cached name would outlive it.
            attr.entry_timeout = attr.attr_timeout = 0
        else:
            attr.entry_timeout = self.mount.entry_timeout
            attr.attr_timeout = self.mount.attr_timeout
        attr.st_mode = node.mode
        attr.st_nlink = 2 if node.is_dir else 1
        attr.st_uid = self.uid
        attr.st_gid = self.gid
        attr.st_size = node.size
        attr.st_blksize = BLOCK_SIZE_HINT
        attr.st_blocks = (node.size + 511) // 512
        mtime_ns = int(node.mtime * 1e9)
        attr.st_atime_ns = attr.st_mtime_ns = attr.st_ctime_ns = mtime_ns
        return attr

    @fuse_errors
    async def lookup(self, parent_inode: int, name: bytes, ctx: Any = None) -> pyfuse3.EntryAttributes:
        parent = self.tree.get(parent_inode)
        children = await self.tree.children(parent)
        node = children.get(os.fsdecode(name))
        if node is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        self.tree.remember(node)
        return self.attributes(node)

    async def forget(self, inode_list: list[tuple[int, int]]) -> None:
        for inode, count in inode_list:
            self.tree.forget(inode, count)

    @fuse_errors
    async def getattr(self, inode: int, ctx: Any = None) -> pyfuse3.EntryAttributes:
        return self.attributes(self.tree.get(inode))

    @fuse_errors
    async def opendir(self, inode: int, ctx: Any) -> int:
        node = self.tree.get(inode)
        children = await self.tree.children(node)
        fh = self._fh()
        # A snapshot, so that next_id stays stable however the directory changes.
        self.dir_handles[fh] = sorted(children.values(), key=lambda n: n.name)
        return fh

    @fuse_errors
    async def readdir(self, fh: int, start_id: int, token: pyfuse3.ReaddirToken) -> None:
        entries = self.dir_handles.get(fh, [])
        for position in range(start_id, len(entries)):
            node = entries[position]
            if not pyfuse3.readdir_reply(token, os.fsencode(node.name), self.attributes(node),
                                         position + 1):
                return
            self.tree.remember(node)

    async def releasedir(self, fh: int) -> None:
        self.dir_handles.pop(fh, None)

    @fuse_errors
    async def open(self, inode: int, flags: int, ctx: Any) -> pyfuse3.FileInfo:
        node = self.tree.get(inode)
        if node.is_dir:
            raise pyfuse3.FUSEError(errno.EISDIR)
        wants_write = flags & (os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_TRUNC)
        if wants_write:
            if not node.writable:
                raise pyfuse3.FUSEError(errno.EROFS)
            if not flags & os.O_TRUNC:
                # Remote files cannot be changed in place; only replaced whole.
                raise pyfuse3.FUSEError(errno.EOPNOTSUPP)
            parent = self.tree.get(node.parent)
            return await self._open_for_writing(parent, node.name, node)
        fh = self._fh()
        if node.local is not None:
            self.handles[fh] = Handle(node, local_fd=os.open(node.local, os.O_RDONLY))
            return pyfuse3.FileInfo(fh=fh, direct_io=True, keep_cache=False)
        if node.virtual is not None:
            self.handles[fh] = Handle(node, data=node.virtual())
            return pyfuse3.FileInfo(fh=fh, direct_io=True, keep_cache=False)
        remote = self.engine.open((node.source.name, node.key), node.source, node.ref, node.size,
                                  node.name)
        self.handles[fh] = Handle(node, remote=remote)
        return pyfuse3.FileInfo(fh=fh, keep_cache=True)

    @fuse_errors
    async def read(self, fh: int, offset: int, size: int) -> bytes | memoryview:
        handle = self.handles[fh]
        if handle.data is not None:
            return handle.data[offset:offset + size]
        if handle.local_fd is not None:
            return os.pread(handle.local_fd, size, offset)
        if handle.spool is not None:
            return handle.spool.read(offset, size)
        assert handle.remote is not None
        return await handle.remote.read(offset, size)

    @fuse_errors
    async def write(self, fh: int, offset: int, data: bytes) -> int:
        handle = self.handles[fh]
        if handle.spool is None:
            raise pyfuse3.FUSEError(errno.EBADF)
        written = handle.spool.write(offset, data)
        if handle.spool.hash_backlog:
            await handle.spool.hash_pending()      # hashing fell behind: slow the writer
        elif handle.spool.wants_hashing and self.engine.nursery is not None:
            self.engine.nursery.start_soon(handle.spool.hash_pending)
        handle.dirty = True
        handle.node.size = handle.spool.size
        return written

    @fuse_errors
    async def flush(self, fh: int) -> None:
        handle = self.handles.get(fh)
        if handle is not None and handle.dirty:
            await self._commit(handle)

    async def release(self, fh: int) -> None:
        handle = self.handles.pop(fh, None)
        if handle is None:
            return
        if handle.remote is not None:
            self.engine.release(handle.remote)
        if handle.local_fd is not None:
            os.close(handle.local_fd)
        if handle.dirty:
            try:
                await self._commit(handle)
            except Exception as exc:
                log.warning("%s: could not hand the written file over: %s", handle.node.name, exc)

    async def _commit(self, handle: Handle) -> None:
        """Hands a written spool to its source; the tree shows what it returns."""
        assert handle.spool is not None and handle.parent is not None
        handle.dirty = False
        spool, handle.spool = handle.spool, None
        parent, name = handle.parent, handle.node.name
        try:
            entry = await parent.source.commit_file(parent.ref, name, spool)
        except BaseException:
            self.tree.remove_child(parent, name)
            spool.discard()
            raise
        current = parent.children.get(name)
        if entry is not None and current is handle.node and entry.name == name:
            self.tree.update_node(current, entry)   # same inode: open fds and dentries stay valid
            return
        if current is handle.node:
            self.tree.remove_child(parent, name)
        if entry is not None:
            self.tree.add_child(parent, entry)

    async def _open_for_writing(self, parent: Node, name: str,
                                replacing: Node | None = None) -> pyfuse3.FileInfo:
        self._require_writable(parent)
        await parent.source.create_file(parent.ref, name)
        spool = await trio.to_thread.run_sync(SpoolFile.create, self.spool_dir)
        # Shown while written: stat and ls see the file grow; its key is the spool's.
        node = replacing or self.tree.add_child(
            parent, Entry(name, SPOOL_KEY_PREFIX + spool.path.name, False, writable=True, mtime=time.time()))
        node.size = 0
        fh = self._fh()
        self.handles[fh] = Handle(node, spool=spool, parent=parent, dirty=True)
        return pyfuse3.FileInfo(fh=fh, direct_io=False, keep_cache=False)

    @fuse_errors
    async def getxattr(self, inode: int, name: bytes, ctx: Any) -> bytes:
        value = self.tree.get(inode).xattrs.get(os.fsdecode(name))
        if value is None:
            raise pyfuse3.FUSEError(pyfuse3.ENOATTR)
        return value

    @fuse_errors
    async def listxattr(self, inode: int, ctx: Any) -> list[bytes]:
        return [os.fsencode(name) for name in self.tree.get(inode).xattrs]

    async def statfs(self, ctx: Any) -> pyfuse3.StatvfsData:
        data = pyfuse3.StatvfsData()
        data.f_bsize = data.f_frsize = BLOCK_SIZE_HINT
        data.f_blocks = data.f_bfree = data.f_bavail = 0
        data.f_files = len(self.tree.nodes)
        data.f_ffree = data.f_favail = 0
        data.f_namemax = 255
        return data

    # Namespace changes: refused unless the source is writable.

    @fuse_errors
    async def mkdir(self, parent_inode: int, name: bytes, mode: int, ctx: Any) -> pyfuse3.EntryAttributes:
        parent = self.tree.get(parent_inode)
        self._require_writable(parent)
        entry = await parent.source.mkdir(parent.ref, os.fsdecode(name))
        node = self.tree.add_child(parent, entry)
        self.tree.remember(node)
        return self.attributes(node)

    @fuse_errors
    async def rmdir(self, parent_inode: int, name: bytes, ctx: Any) -> None:
        parent, node = await self._child(parent_inode, name)
        self._require_writable(parent)
        if not node.is_dir:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        await parent.source.rmdir(parent.ref, node.ref)
        self.tree.remove_child(parent, node.name)

    @fuse_errors
    async def unlink(self, parent_inode: int, name: bytes, ctx: Any) -> None:
        parent, node = await self._child(parent_inode, name)
        self._require_writable(parent)
        if node.is_dir:
            raise pyfuse3.FUSEError(errno.EISDIR)
        await parent.source.unlink(parent.ref, node.ref)
        self.tree.remove_child(parent, node.name)

    @fuse_errors
    async def rename(self, old_parent_inode: int, old_name: bytes, new_parent_inode: int,
                     new_name: bytes, flags: int, ctx: Any) -> None:
        old_parent, node = await self._child(old_parent_inode, old_name)
        new_parent = self.tree.get(new_parent_inode)
        self._require_writable(old_parent)
        self._require_writable(new_parent)
        if old_parent.source is not new_parent.source:
            raise pyfuse3.FUSEError(errno.EXDEV)
        if flags & pyfuse3.RENAME_EXCHANGE:
            # Swapping two names atomically: no service offers it, and two renames
            # through a temporary name could leave either file under the wrong name.
            raise pyfuse3.FUSEError(errno.EINVAL)
        name = os.fsdecode(new_name)
        target = (await self.tree.children(new_parent)).get(name)
        if target is node:
            return
        if target is not None and flags & pyfuse3.RENAME_NOREPLACE:
            raise pyfuse3.FUSEError(errno.EEXIST)
        if target is not None and target.is_dir != node.is_dir:
            raise pyfuse3.FUSEError(errno.EISDIR if target.is_dir else errno.ENOTDIR)
        writing = [h for h in self.handles.values() if h.node is node and h.spool is not None]
        if writing:
            # Still being written: the source has nothing yet; it learns the name
            # (and what it replaces) when the file is committed.
            for handle in writing:
                handle.parent = new_parent
            self.tree.move(node, new_parent, name)
            return
        entry = await old_parent.source.rename(node.ref, old_parent.ref, new_parent.ref, name)
        self.tree.move(node, new_parent, name, entry)

    @fuse_errors
    async def create(self, parent_inode: int, name: bytes, mode: int, flags: int,
                     ctx: Any) -> tuple[pyfuse3.FileInfo, pyfuse3.EntryAttributes]:
        parent = self.tree.get(parent_inode)
        info = await self._open_for_writing(parent, os.fsdecode(name))
        node = self.handles[info.fh].node
        self.tree.remember(node)
        return info, self.attributes(node)

    @fuse_errors
    async def setattr(self, inode: int, attr: pyfuse3.EntryAttributes, fields: pyfuse3.SetattrFields,
                      fh: int | None, ctx: Any) -> pyfuse3.EntryAttributes:
        node = self.tree.get(inode)
        if fields.update_size:
            handle = self.handles.get(fh) if fh is not None else None
            spool = handle.spool if handle is not None else None
            if spool is None:
                spool = next((h.spool for h in self.handles.values()
                              if h.node is node and h.spool is not None), None)
            if spool is None:
                raise pyfuse3.FUSEError(errno.EROFS if not node.writable else errno.EOPNOTSUPP)
            spool.truncate(attr.st_size)
            node.size = attr.st_size
        elif not node.writable and (fields.update_mode or fields.update_uid or fields.update_gid):
            raise pyfuse3.FUSEError(errno.EROFS)
        # Times and modes of remote files are the service's; accept and ignore (cp -p works).
        return self.attributes(node)

    async def _child(self, parent_inode: int, name: bytes) -> tuple[Node, Node]:
        parent = self.tree.get(parent_inode)
        node = (await self.tree.children(parent)).get(os.fsdecode(name))
        if node is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return parent, node

    @staticmethod
    def _require_writable(node: Node) -> None:
        if node.inode == ROOT_INODE or not node.writable or node.source is None:
            raise pyfuse3.FUSEError(errno.EROFS)


__all__ = ["Operations", "stat"]
