"""The shape of a client's error table: what each documented error code means to us.

Every code a provider documents gets one `Rule` in its client: a *wait* (ask
again after `wait` seconds; the link stays), a *user* problem (credentials or
the account: the user must act) or *permanent* (this link will never work).
`source` names the fact the rule follows, so a reader can check the choice:
the labels (`NOTES §3`, `NOTES §4`, `portal doc`) are the research notes and
documents that docs/providers.md restates, provider by provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import AuthError, LinkExpired, NotReady, RateLimited, RemoteError, TemporaryError

WAIT, USER, PERMANENT = "wait", "user", "permanent"
WAIT_KINDS: tuple[type[RemoteError], ...] = (RateLimited, TemporaryError, NotReady, LinkExpired)


@dataclass(frozen=True)
class Rule:
    meaning: str  # WAIT | USER | PERMANENT
    kind: type[RemoteError]  # what the client raises
    text: str  # what the code means, in the error message
    wait: float | None = None  # WAIT: seconds before asking again (None: the reply says)
    source: str = ""  # the documented fact this rule follows

    def __post_init__(self) -> None:
        # The meaning and the raised class must agree: callers act on the class.
        if self.meaning == WAIT:
            ok = issubclass(self.kind, WAIT_KINDS)
        elif self.meaning == USER:
            ok = issubclass(self.kind, AuthError)
        else:
            ok = self.meaning == PERMANENT and not issubclass(self.kind, (*WAIT_KINDS, AuthError))
        if not ok:
            raise ValueError(f"rule {self.text!r}: {self.kind.__name__} cannot mean {self.meaning!r}")

    def error(self, message: str, *, retry_after: float | None = None, **kw: Any) -> RemoteError:
        """The exception for this rule; a wait carries `retry_after` (the reply's, else ours)."""
        error = self.kind(message, **kw)
        if self.meaning == WAIT:
            error.retry_after = retry_after if retry_after is not None else self.wait
        return error
