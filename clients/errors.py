"""The one error vocabulary of debridfs.

Clients raise these; the source and reader layers let them through, and
`vfs/fs.py` maps them to errno in one table (`vfs/errnos.py`): a client knows
nothing of FUSE. Messages must never contain secrets (tokens, keys,
passwords, URLs with credentials in them).
"""

from __future__ import annotations


class RemoteError(Exception):
    """A remote service refused or failed a request."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code  # the service's own error code, when it has one
        self.status = status  # the HTTP status, when there was one
        self.retry_after = retry_after  # seconds the service asked us to wait, when it did


class AuthError(RemoteError):
    """Credentials are wrong or expired: the user must fix the configuration."""


class AccountLocked(AuthError):
    """The account is locked or banned (a kind of credential problem)."""


class PermissionDenied(RemoteError):
    """The account may not do this (a plan or a setting forbids it)."""


class NotFound(RemoteError):
    """The object does not exist (any more) on the service."""


class FileUnavailable(RemoteError):
    """The service will never serve this file (dead, infringing, removed)."""


class NeedsRepair(RemoteError):
    """The service will not serve this until the thing is added again (a
    Real-Debrid torrent whose link answers hoster_unavailable/19)."""


class RateLimited(RemoteError):
    """Too many requests: slow down (see `retry_after`)."""


class TemporaryError(RemoteError):
    """5xx, maintenance, dropped connections: worth retrying later."""


class LinkExpired(RemoteError):
    """A direct link stopped working the way expired links do; resolve it again."""


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
    """A traffic or usage quota is used up."""


class NoSpace(RemoteError):
    """The account's storage is full."""


class InvalidName(RemoteError):
    """The service refuses this name."""


class TooBig(RemoteError):
    """The service refuses a file this large."""


class NotEmpty(RemoteError):
    """A directory to remove (or to replace by a rename) still has entries."""


class Refused(RemoteError):
    """The service refused a request with an error its documents do not explain
    (the message quotes it). Permanent: retrying the same request will not help."""


class ReadOnly(RemoteError):
    """The service does not allow changing this object."""


class NotReady(RemoteError):
    """The service is still preparing the file (e.g. a link not yet downloaded)."""
