"""The one rule type of the clients' error tables: what a documented error code means to us.

Every code a provider documents gets one `Rule` in its client's table
(Real-Debrid's `ERROR_TABLE`, the link services' `STATUSES`/`ERRORS`):

- WAIT: ask again later, after `wait` seconds when the rule (or the reply)
  says; the thing itself is fine.
- USER: the credentials, the account or its plan: the user must act.
- PERMANENT: asking again gives the same answer.
- REPAIR: only adding the thing again helps (a Real-Debrid torrent whose
  link answers hoster_unavailable).

`kind` is the error the client raises, and callers act on that class
(`clients/retry.py`'s `is_temporary`, the link services' `is_transient`), so
the rule refuses a class that contradicts its meaning. `source` says which
fact the rule follows; docs/providers.md restates those facts, provider by
provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import (
    AuthError,
    FileUnavailable,
    LinkExpired,
    NeedsRepair,
    PermissionDenied,
    QuotaExceeded,
    RemoteError,
)
from .retry import TEMPORARY

WAIT, USER, PERMANENT, REPAIR = "wait", "user", "permanent", "repair"
MEANINGS = (WAIT, USER, PERMANENT, REPAIR)
# The temporary failures of clients/retry.py, and an expired link or ticket:
# asking again works once the caller fetched a new one.
WAIT_KINDS: tuple[type[RemoteError], ...] = (*TEMPORARY, LinkExpired)
USER_KINDS: tuple[type[RemoteError], ...] = (AuthError, PermissionDenied, QuotaExceeded)


@dataclass(frozen=True)
class Rule:
    meaning: str  # WAIT | USER | PERMANENT | REPAIR
    kind: type[RemoteError]  # what the client raises
    text: str  # what the code means, in the error message
    wait: float | None = None  # seconds before asking again (None: the reply says, or never)
    source: str = ""  # the documented fact this rule follows

    def __post_init__(self) -> None:
        if self.meaning == WAIT:
            # A wait is raised as a class callers retry, or as a file that fails
            # now and says when to ask again (Real-Debrid 24: it stays listed).
            ok = issubclass(self.kind, WAIT_KINDS) or (
                issubclass(self.kind, FileUnavailable) and self.wait is not None
            )
        elif self.meaning == USER:
            ok = issubclass(self.kind, USER_KINDS)
        elif self.meaning == REPAIR:
            ok = issubclass(self.kind, NeedsRepair)
        else:
            ok = self.meaning == PERMANENT and not issubclass(self.kind, (*WAIT_KINDS, AuthError))
        if not ok:
            raise ValueError(f"rule {self.text!r}: {self.kind.__name__} cannot mean {self.meaning!r}")

    def error(self, message: str, *, retry_after: float | None = None, **kw: Any) -> RemoteError:
        """The exception for this rule, carrying `retry_after`: the reply's, else the rule's wait."""
        return self.kind(message, retry_after=retry_after if retry_after is not None else self.wait, **kw)
