"""The one table from the error vocabulary to errno, used only by vfs/fs.py.

Clients, sources and the tree raise typed exceptions that know nothing of
FUSE; this is the only place that decides what a user's system call returns
for each of them. The most specific class in an exception's MRO wins, so a
subclass without its own row gets its parent's errno (an `AccountLocked` is
an `AuthError`: EACCES).
"""

from __future__ import annotations

import errno

from clients import errors

from .tree import NoSuchInode, NotADirectory

ERRNO: dict[type[BaseException], int] = {
    errors.RemoteError: errno.EIO,
    errors.AuthError: errno.EACCES,
    errors.PermissionDenied: errno.EACCES,
    errors.NotFound: errno.ENOENT,
    errors.FileUnavailable: errno.EIO,
    errors.RateLimited: errno.EAGAIN,
    errors.TemporaryError: errno.EIO,
    errors.LinkExpired: errno.EIO,
    errors.QuotaExceeded: errno.EDQUOT,
    errors.NoSpace: errno.ENOSPC,
    errors.InvalidName: errno.EINVAL,
    errors.TooBig: errno.EFBIG,
    errors.NotEmpty: errno.ENOTEMPTY,
    errors.ReadOnly: errno.EROFS,
    errors.NotReady: errno.EAGAIN,
    NoSuchInode: errno.ENOENT,
    NotADirectory: errno.ENOTDIR,
}
# What `fs.py` maps; anything else raised by an operation is a crash.
KNOWN_ERRORS = tuple(ERRNO)


def errno_of(exc: BaseException) -> int:
    """The errno a system call gets for `exc` (EIO for anything unknown)."""
    for cls in type(exc).__mro__:
        code = ERRNO.get(cls)
        if code is not None:
            return code
    return errno.EIO
