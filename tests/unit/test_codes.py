"""The one rule type of the clients' error tables (clients/codes.py): a rule
cannot contradict the class callers act on, and its error carries the wait."""

from __future__ import annotations

import pytest

from clients.codes import PERMANENT, REPAIR, USER, WAIT, Rule
from clients.errors import (
    AuthError,
    FileUnavailable,
    NeedsRepair,
    PermissionDenied,
    QuotaExceeded,
    RateLimited,
    RemoteError,
    TemporaryError,
)


@pytest.mark.parametrize(
    "meaning, kind, wait",
    [
        (WAIT, AuthError, 60),  # callers would ask the user, not wait
        (WAIT, FileUnavailable, None),  # fails now and says no time: never asked again
        (USER, TemporaryError, None),
        (PERMANENT, RateLimited, None),  # callers would retry it
        (PERMANENT, AuthError, None),
        (REPAIR, RemoteError, None),
        ("later", TemporaryError, None),
    ],
)
def test_a_rule_refuses_a_class_that_contradicts_its_meaning(meaning, kind, wait):
    with pytest.raises(ValueError, match="cannot mean"):
        Rule(meaning, kind, "x", wait)


def test_the_meanings_and_the_classes_that_agree():
    Rule(WAIT, RateLimited, "slow down")
    Rule(WAIT, FileUnavailable, "offline for now", 600)  # a read fails now; asked again later
    Rule(USER, PermissionDenied, "plan")
    Rule(USER, QuotaExceeded, "traffic", 300)
    Rule(PERMANENT, FileUnavailable, "gone")
    Rule(REPAIR, NeedsRepair, "add it again")


def test_the_error_carries_the_reply_wait_else_the_rule_wait():
    rule = Rule(WAIT, RateLimited, "limit", 600, "doc")
    error = rule.error("limit reached", code=5, status=429)
    assert type(error) is RateLimited and str(error) == "limit reached"
    assert (error.retry_after, error.code, error.status) == (600, 5, 429)
    assert rule.error("x", retry_after=30).retry_after == 30  # the service's own time wins
    assert Rule(PERMANENT, FileUnavailable, "gone").error("x").retry_after is None
