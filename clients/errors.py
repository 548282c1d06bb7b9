"""The one error vocabulary of debridfs.

Clients raise these; the source and reader layers let them through, and
`vfs/fs.py` maps them to errno once, through `errno_of`. Messages must never
contain secrets (tokens, keys, passwords, URLs with credentials in them).
"""

from __future__ import annotations

import errno


class RemoteError(Exception):
    """A remote service refused or failed a request."""

    errno = errno.EIO

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code                # the service's own error code, when it has one
        self.status = status            # the HTTP status, when there was one
        self.retry_after = retry_after  # seconds the service asked us to wait, when it did


class AuthError(RemoteError):
    """Credentials are wrong or expired: the user must fix the configuration."""

    errno = errno.EACCES


class AccountLocked(AuthError):
    pass


class PermissionDenied(RemoteError):
    errno = errno.EACCES


class NotFound(RemoteError):
    errno = errno.ENOENT


class FileUnavailable(RemoteError):
    """The service will never serve this file (dead, infringing, removed)."""

    errno = errno.EIO


class RateLimited(RemoteError):
    errno = errno.EAGAIN


class TemporaryError(RemoteError):
    """5xx, maintenance, dropped connections: worth retrying later."""

    errno = errno.EIO


class LinkExpired(RemoteError):
    """A direct link stopped working the way expired links do; resolve it again."""

    errno = errno.EIO


# How a transfer from a download host failed (clients/ranged.py); the read
# engine decides from the kind whether to resume, back off or resolve again.

class Stalled(TemporaryError):
    """No byte arrived for the stall window (before or inside the body)."""


class Unreachable(TemporaryError):
    """The host refused, reset or did not answer the connection."""


class BadResponse(TemporaryError):
    """A response that is not the bytes asked for (Content-Range or length wrong)."""


class ErrorPage(TemporaryError):
    """An HTML page where the file is not HTML: a host's "link expired" or
    "try later" page, often sent with status 200."""


class QuotaExceeded(RemoteError):
    errno = errno.EDQUOT


class NoSpace(RemoteError):
    errno = errno.ENOSPC


class InvalidName(RemoteError):
    errno = errno.EINVAL


class TooBig(RemoteError):
    """The service refuses a file this large."""

    errno = errno.EFBIG


class NotEmpty(RemoteError):
    """A directory to remove (or to replace by a rename) still has entries."""

    errno = errno.ENOTEMPTY


class ReadOnly(RemoteError):
    errno = errno.EROFS


class NotReady(RemoteError):
    """The service is still preparing the file (e.g. a link not yet downloaded)."""

    errno = errno.EAGAIN


def errno_of(exc: BaseException) -> int:
    if isinstance(exc, RemoteError):
        return exc.errno
    return errno.EIO
