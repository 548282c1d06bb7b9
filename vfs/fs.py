"""pyfuse3 Operations: translates FUSE requests into tree, reader and source
calls, and errors into errno. No HTTP here, and no provider names."""

from __future__ import annotations

import errno
import functools
import inspect
import logging
import os
import stat
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, NoReturn, ParamSpec, TypeVar

import pyfuse3

from .config import MountConfig
from .errnos import KNOWN_ERRORS, errno_of
from .names import NAME_MAX, safe_name
from .reader import ReadEngine, RemoteFile
from .sources.base import Source
from .spool import SPOOL_KEY_PREFIX
from .tree import ROOT_INODE, Node, Tree
from .writes import WriteFailed, WriteFile, Writes, source_of

log = logging.getLogger(__name__)

BLOCK_SIZE_HINT = 1 << 20
# What statfs reports when a mount cannot know the services' space (rclone does
# the same): tools that check for room before writing (Sonarr, Radarr, cp
# --sparse) must not see a full disk. 1 PiB in BLOCK_SIZE_HINT blocks.
STATFS_BLOCKS = (1 << 50) // BLOCK_SIZE_HINT
STATFS_FILES = 1 << 30


ANSWERS = {
    errno.ENOENT,
    errno.ENOTEMPTY,
    errno.EEXIST,
    errno.EROFS,
    errno.EINVAL,
    errno.EISDIR,
    errno.ENOTDIR,
}


P = ParamSpec("P")
T = TypeVar("T")


def fuse_errors(
    method: Callable[Concatenate[Operations, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[Operations, P], Coroutine[Any, Any, T]]:
    """Maps the error vocabulary to FUSEError once, for every operation
    (the table is vfs/errnos.py); anything else is a crash: logged, EIO."""

    @functools.wraps(method)
    async def wrapper(self: Operations, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(self, *args, **kwargs)
        except pyfuse3.FUSEError:
            raise
        except KNOWN_ERRORS as exc:
            code = errno_of(exc)
            # Answers to what the user asked for (a gone file, a full directory, a
            # write where writing is not allowed, a name the service refuses) are
            # not failures of the mount; the source logs how to change a refusal.
            level = logging.INFO if code in ANSWERS else logging.WARNING
            log.log(level, "%s failed: %s", method.__name__, exc)
            raise pyfuse3.FUSEError(code) from None
        except OSError as exc:
            # Local disk trouble (a full state disk: ENOSPC) reaches the caller as is;
            # a failed write reported again (at close) was logged when it happened.
            level = logging.INFO if isinstance(exc, WriteFailed) else logging.WARNING
            log.log(level, "%s failed: %s", method.__name__, exc)
            raise pyfuse3.FUSEError(exc.errno or errno.EIO) from None
        except Exception:
            log.exception("%s crashed", method.__name__)
            raise pyfuse3.FUSEError(errno.EIO) from None

    return wrapper


@dataclass
class Handle:
    node: Node
    remote: RemoteFile | None = None
    data: bytes | None = None  # generated content of a virtual file, fixed at open
    local_fd: int | None = None  # a local file (spool) being read
    writing: WriteFile | None = None  # a file open for writing (shared by its descriptors)


class Operations(pyfuse3.Operations):
    supports_dot_lookup = False
    enable_writeback_cache = False
    enable_acl = False

    def __init__(self, tree: Tree, engine: ReadEngine, mount: MountConfig, spool_dir: Path) -> None:
        super().__init__()
        self.writes = Writes(tree, engine, spool_dir)
        self.tree = tree
        self.engine = engine
        self.mount = mount
        self.uid = os.getuid()
        self.gid = os.getgid()
        self.handles: dict[int, Handle] = {}
        self.dir_handles: dict[int, list[Node]] = {}
        self._next_fh = 1

    on_init: Callable[[], None] | None = None  # called once the kernel's INIT arrived

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

    async def forget(self, inode_list: Sequence[tuple[int, int]]) -> None:
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
            if not pyfuse3.readdir_reply(token, os.fsencode(node.name), self.attributes(node), position + 1):
                return
            self.tree.remember(node)

    async def releasedir(self, fh: int) -> None:
        self.dir_handles.pop(fh, None)

    @fuse_errors
    async def open(self, inode: int, flags: int, ctx: Any) -> pyfuse3.FileInfo:
        node = self.tree.get(inode)
        if node.is_dir:
            raise pyfuse3.FUSEError(errno.EISDIR)
        await self.writes.settled(node)  # a commit or discard after a last close
        wants_write = flags & (os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_TRUNC)
        if wants_write:
            if not node.writable:
                raise pyfuse3.FUSEError(errno.EROFS)
            self._require_writable(self.tree.get(node.parent))
            return self._writing(await self.writes.open(node, bool(flags & os.O_TRUNC)))
        being_written = self.writes.find(node)
        if being_written is not None:
            return self._writing(being_written)
        fh = self._fh()
        if node.local is not None:
            self.handles[fh] = Handle(node, local_fd=os.open(node.local, os.O_RDONLY))
            # Not direct_io: the kernel refuses a shared mapping of a direct_io file
            # (ENODEV), and numpy or ffmpeg mmap a file that is still uploading.
            return pyfuse3.FileInfo(fh=fh, direct_io=False, keep_cache=False)
        if node.virtual is not None:
            data = node.virtual()
            if inspect.isawaitable(data):  # content that needs I/O (a database) to make
                data = await data
            self.handles[fh] = Handle(node, data=data)
            return pyfuse3.FileInfo(fh=fh, direct_io=True, keep_cache=False)
        source = source_of(node)
        remote = self.engine.open((source.name, node.key), source, node.ref, node.size, node.name)
        self.handles[fh] = Handle(node, remote=remote)
        return pyfuse3.FileInfo(fh=fh, keep_cache=True)

    def _writing(self, wf: WriteFile) -> pyfuse3.FileInfo:
        fh = self._fh()
        wf.handles.add(fh)
        self.handles[fh] = Handle(wf.node, writing=wf)
        return pyfuse3.FileInfo(fh=fh, direct_io=False, keep_cache=False)

    @fuse_errors
    # pyfuse3 replies with any buffer; its stubs promise only bytes.
    async def read(self, fh: int, offset: int, size: int) -> bytes | memoryview:  # type: ignore[override]
        handle = self.handles[fh]
        if handle.data is not None:
            return handle.data[offset : offset + size]
        if handle.local_fd is not None:
            return os.pread(handle.local_fd, size, offset)
        if handle.writing is not None:
            return await self.writes.read(handle.writing, offset, size)
        assert handle.remote is not None
        return await handle.remote.read(offset, size)

    @fuse_errors
    async def write(self, fh: int, offset: int, data: bytes) -> int:
        handle = self.handles[fh]
        if handle.writing is None:
            raise pyfuse3.FUSEError(errno.EBADF)
        return await self.writes.write(handle.writing, fh, offset, data)

    @fuse_errors
    async def flush(self, fh: int) -> None:
        handle = self.handles.get(fh)
        if handle is not None and handle.writing is not None:
            await self.writes.flush(handle.writing, fh)

    @fuse_errors
    async def fsync(self, fh: int, datasync: bool) -> None:
        handle = self.handles.get(fh)
        if handle is not None and handle.writing is not None:
            await self.writes.fsync(handle.writing)

    async def release(self, fh: int) -> None:
        handle = self.handles.pop(fh, None)
        if handle is None:
            return
        if handle.remote is not None:
            self.engine.release(handle.remote)
        if handle.local_fd is not None:
            os.close(handle.local_fd)
        if handle.writing is not None:
            await self.writes.release(handle.writing, fh)

    @fuse_errors
    async def getxattr(self, inode: int, name: bytes, ctx: Any) -> bytes:
        value = self.tree.get(inode).xattrs.get(os.fsdecode(name))
        if value is None:
            # Only user.* attributes exist here. For the other namespaces (ls -l
            # asks for security.selinux and system.posix_acl_* of every file)
            # "not supported" is true, and ls then stops asking for the rest of
            # the mount; "no such attribute" would cost a round trip per file.
            raise pyfuse3.FUSEError(pyfuse3.ENOATTR if name.startswith(b"user.") else errno.EOPNOTSUPP)
        return value

    @fuse_errors
    async def listxattr(self, inode: int, ctx: Any) -> list[bytes]:
        return [os.fsencode(name) for name in self.tree.get(inode).xattrs]

    async def statfs(self, ctx: Any) -> pyfuse3.StatvfsData:
        data = pyfuse3.StatvfsData()
        data.f_bsize = data.f_frsize = BLOCK_SIZE_HINT
        data.f_blocks = data.f_bfree = data.f_bavail = STATFS_BLOCKS
        data.f_files = data.f_ffree = data.f_favail = STATFS_FILES
        data.f_namemax = NAME_MAX
        return data

    # Namespace changes: refused unless the source is writable.

    @fuse_errors
    async def mkdir(self, parent_inode: int, name: bytes, mode: int, ctx: Any) -> pyfuse3.EntryAttributes:
        parent = self.tree.get(parent_inode)
        source = self._require_writable(parent)
        entry = await source.mkdir(parent.ref, self._new_name(name))
        node = self.tree.add_child(parent, entry)
        self.tree.remember(node)
        return self.attributes(node)

    # Links and special files: no service stores them. EPERM is what Linux file
    # systems without them answer (vfat); ENOSYS would read "not implemented".

    @fuse_errors
    async def symlink(
        self, parent_inode: int, name: bytes, target: bytes, ctx: Any
    ) -> pyfuse3.EntryAttributes:
        self._refuse_special(self.tree.get(parent_inode))

    @fuse_errors
    async def link(
        self, inode: int, new_parent_inode: int, new_name: bytes, ctx: Any
    ) -> pyfuse3.EntryAttributes:
        self._refuse_special(self.tree.get(new_parent_inode))

    @fuse_errors
    async def mknod(
        self, parent_inode: int, name: bytes, mode: int, rdev: int, ctx: Any
    ) -> pyfuse3.EntryAttributes:
        self._refuse_special(self.tree.get(parent_inode))

    @fuse_errors
    async def rmdir(self, parent_inode: int, name: bytes, ctx: Any) -> None:
        parent, node = await self._child(parent_inode, name)
        source = self._require_writable(parent)
        if not node.is_dir:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        await source.rmdir(parent.ref, node.ref)
        self.tree.remove_child(parent, node.name)

    @fuse_errors
    async def unlink(self, parent_inode: int, name: bytes, ctx: Any) -> None:
        parent, node = await self._child(parent_inode, name)
        source = self._require_writable(parent)
        if node.is_dir:
            raise pyfuse3.FUSEError(errno.EISDIR)
        self.writes.unlink(node)  # open for writing: never committed now
        if node.ref is not None:  # None: written here and never committed
            await source.unlink(parent.ref, node.ref)
        self.tree.remove_child(parent, node.name)

    @fuse_errors
    async def rename(
        self,
        old_parent_inode: int,
        old_name: bytes,
        new_parent_inode: int,
        new_name: bytes,
        flags: int,
        ctx: Any,
    ) -> None:
        old_parent, node = await self._child(old_parent_inode, old_name)
        new_parent = self.tree.get(new_parent_inode)
        source = self._require_writable(old_parent)
        if self._require_writable(new_parent) is not source:
            raise pyfuse3.FUSEError(errno.EXDEV)
        if flags & pyfuse3.RENAME_EXCHANGE:
            # Swapping two names atomically: no service offers it, and two renames
            # through a temporary name could leave either file under the wrong name.
            raise pyfuse3.FUSEError(errno.EINVAL)
        name = self._new_name(new_name)
        target = await self._settled_child(new_parent, name)
        if target is node:
            return
        if target is not None and flags & pyfuse3.RENAME_NOREPLACE:
            raise pyfuse3.FUSEError(errno.EEXIST)
        if target is not None and target.is_dir != node.is_dir:
            raise pyfuse3.FUSEError(errno.EISDIR if target.is_dir else errno.ENOTDIR)
        if node.ref is None and self.writes.find(node) is not None:
            # New and not committed yet: the source has nothing; it learns the name
            # (and what it replaces) when the file is committed.
            self.writes.moved(node, new_parent)
            self.tree.move(node, new_parent, name)
            return
        entry = await source.rename(node.ref, old_parent.ref, new_parent.ref, name)
        self.tree.move(node, new_parent, name, entry)
        self.writes.moved(node, new_parent)

    @fuse_errors
    async def create(
        self, parent_inode: int, name: bytes, mode: int, flags: int, ctx: Any
    ) -> tuple[pyfuse3.FileInfo, pyfuse3.EntryAttributes]:
        parent = self.tree.get(parent_inode)
        self._require_writable(parent)
        info = self._writing(await self.writes.create(parent, self._new_name(name)))
        node = self.handles[info.fh].node
        self.tree.remember(node)
        return info, self.attributes(node)

    @fuse_errors
    async def setattr(
        self,
        inode: int,
        attr: pyfuse3.EntryAttributes,
        fields: pyfuse3.SetattrFields,
        fh: int | None,
        ctx: Any,
    ) -> pyfuse3.EntryAttributes:
        node = self.tree.get(inode)
        await self.writes.settled(node)
        if fields.update_size:
            if not node.writable:
                raise pyfuse3.FUSEError(errno.EROFS)
            wf = self.writes.find(node)
            if wf is not None:
                await self.writes.truncate(wf, attr.st_size, fh)
            else:
                # truncate(2) of a file nobody has open: a whole write of its own.
                self._require_writable(self.tree.get(node.parent))
                wf = await self.writes.open(node, truncate=attr.st_size == 0)
                fh = self._fh()
                wf.handles.add(fh)
                try:
                    await self.writes.truncate(wf, attr.st_size, fh)
                    await self.writes.flush(wf, fh)
                finally:
                    await self.writes.release(wf, fh)
        elif not node.writable and (fields.update_mode or fields.update_uid or fields.update_gid):
            raise pyfuse3.FUSEError(errno.EROFS)
        # Times and modes of remote files are the service's; accept and ignore (cp -p works).
        return self.attributes(node)

    async def _child(self, parent_inode: int, name: bytes) -> tuple[Node, Node]:
        parent = self.tree.get(parent_inode)
        node = await self._settled_child(parent, os.fsdecode(name))
        if node is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return parent, node

    async def _settled_child(self, parent: Node, name: str) -> Node | None:
        """The child `name`, once the work after its last close is done: a file
        closed a moment ago may still be committing (`close; rm f`, `close; mv f
        g`), and acting on it before then would miss the upload it becomes."""
        node = (await self.tree.children(parent)).get(name)
        if node is not None and self.writes.closing_now(node):
            await self.writes.settled(node)
            node = (await self.tree.children(parent)).get(name)
        return node

    def _refuse_special(self, parent: Node) -> NoReturn:
        self._require_writable(parent)
        raise pyfuse3.FUSEError(errno.EPERM)

    @staticmethod
    def _new_name(raw: bytes) -> str:
        """A name the user gives a new file or directory. Services store text,
        and listings show every name as vfs/names.py makes it: a name that would
        come back different (invalid UTF-8, control characters such as a
        newline, decomposed accents, leading or trailing blanks) is refused
        rather than renamed behind the user's back."""
        if len(raw) > NAME_MAX:
            raise pyfuse3.FUSEError(errno.ENAMETOOLONG)
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            log.info("refusing the name %r: not UTF-8", raw)
            raise pyfuse3.FUSEError(errno.EINVAL) from None
        if safe_name(name) != name:
            log.info("refusing the name %r: it would be shown as %r", name, safe_name(name))
            raise pyfuse3.FUSEError(errno.EINVAL)
        return name

    @staticmethod
    def _require_writable(node: Node) -> Source:
        if node.inode == ROOT_INODE or not node.writable or node.source is None:
            raise pyfuse3.FUSEError(errno.EROFS)
        return node.source


__all__ = ["Operations", "stat"]
