"""What a source is: the contract between one provider and the tree.

A source lists directories (`list_dir`), resolves a file to a direct link
(`resolve`), checks its credentials before anything is mounted (`check`), and
may run background work (`run`). Writable sources override the namespace and
upload operations; the defaults refuse with EROFS.

`ref` values are the source's own (subclasses of `Ref`, frozen dataclasses
compared by value): the tree stores them and hands them back. None is a
source's root, or a file the tree made itself (a `.status` file, a file being
written). Refs live only in memory; nothing persists them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from clients.errors import ReadOnly

if TYPE_CHECKING:
    from ..spool import SpoolFile
    from ..uploads import UploadManager, UploadRecord


@dataclass(frozen=True, slots=True)
class Ref:
    """What a source needs to find one of its directories or files again.
    Each source subclasses it (frozen dataclasses: hashable, equal by value,
    never equal to another class's ref with the same fields)."""


@dataclass
class Entry:
    """One directory entry as a source reports it (name still untrusted)."""

    name: str
    key: str  # stable identity within the source: gives the inode number
    is_dir: bool
    size: int = 0
    mtime: float = 0.0
    ref: Ref | None = None  # handed back to list_dir / resolve / write operations
    xattrs: dict[str, bytes] = field(default_factory=dict)
    # Generated content (status files), made at open; a coroutine function when
    # making it needs I/O (which must not block the trio thread).
    virtual: Callable[[], bytes | Awaitable[bytes]] | None = None
    local: Path | None = None  # served from this local file (e.g. a spool being uploaded)
    writable: bool = False
    rank: Any = ()  # orders name clashes (vfs/names.py): lower keeps the plain name


@dataclass
class DirectLink:
    url: str
    size: int
    max_connections: int | None = None  # the provider's per-file connection limit
    offset: int = 0  # the file starts this far into what `url` serves
    total: int | None = None  # the size of what `url` serves, when not `size`
    # (a member stored inside an archive)


class Source:
    name: str = "source"
    writable: bool = False
    # Listings come from memory (no API call): the tree may relist a changed
    # directory at once, so the kernel forgets vanished names without waiting.
    listings_in_memory: bool = False
    mountpoint: Path | None = None  # set by the mount (for hooks that need real paths)
    uploads: UploadManager | None = None  # written files become uploads (vfs/uploads.py)
    engine: Any = None  # the read engine, set by the mount (sources that read content)

    async def check(self) -> None:
        """Validates credentials; raises AuthError with a clear message."""

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Background work for the life of the mount (sync, uploads)."""
        task_status.started()

    async def list_dir(self, ref: Ref | None) -> list[Entry]:
        """Entries of the directory `ref` (None: the source's own root)."""
        raise NotImplementedError

    async def resolve(self, ref: Ref | None, *, refresh: bool = False) -> DirectLink:
        """A direct link for file `ref`; `refresh` means the last one failed."""
        raise NotImplementedError

    def status_info(self) -> dict[str, Any]:
        """What `debridfs status` shows for this service; every key optional:
        account (text), expires (unix time), traffic_left (bytes), sync (text),
        last_error (text)."""
        return {}

    def upload_status(self) -> list[dict[str, Any]]:
        """Pending uploads (vfs/uploads.py UploadManager.status rows); none by default."""
        return []

    def listing_changed(self, callback: Callable[[Ref | None], None]) -> None:
        """Registers the tree's callback for directories whose content changed."""
        self._on_change = callback

    # Write operations: refused unless a source implements them.
    async def mkdir(self, parent_ref: Ref | None, name: str) -> Entry:
        raise ReadOnly(f"{self.name} is read-only")

    async def rmdir(self, parent_ref: Ref | None, ref: Ref | None) -> None:
        raise ReadOnly(f"{self.name} is read-only")

    async def unlink(self, parent_ref: Ref | None, ref: Ref | None) -> None:
        raise ReadOnly(f"{self.name} is read-only")

    async def rename(
        self, ref: Ref | None, old_parent_ref: Ref | None, new_parent_ref: Ref | None, new_name: str
    ) -> Entry:
        raise ReadOnly(f"{self.name} is read-only")

    # Writing files (vfs/writes.py): `create_file` says whether a file may be
    # written here (raise to refuse); the bytes go to a spool (vfs/spool.py).
    # At the commit, a source with an upload manager (an `uploads` attribute,
    # vfs/uploads.py) says where the file goes (`upload_destination`) and what
    # to show for the record the manager returns (`upload_entry`); any other
    # source consumes the bytes in `commit_file` (the write path deletes the
    # spool afterwards). Errors of either reach close(2).
    async def create_file(self, parent_ref: Ref | None, name: str) -> None:
        raise ReadOnly(f"{self.name} is read-only")

    async def commit_file(self, parent_ref: Ref | None, name: str, spool: SpoolFile) -> Entry | None:
        """Returns the entry to show for the new file, or None to show nothing."""
        raise ReadOnly(f"{self.name} is read-only")

    def upload_destination(self, parent_ref: Ref | None, name: str) -> tuple[Any, list[str]]:
        """(folder id, remote file ids the new file replaces) for an upload."""
        raise ReadOnly(f"{self.name} is read-only")

    def upload_entry(self, record: UploadRecord) -> Entry:
        """What to show for a committed upload (pending, or the remote file)."""
        raise ReadOnly(f"{self.name} is read-only")
