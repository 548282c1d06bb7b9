"""Every documented error status of the link services yields the documented
behaviour, checked at the source level against the emulators (no mount: fast).

failed  = the link stops and shows in .status with its reason (portal 4xx-like,
          Premiumize 4xx, RapidShare dead files);
waiting = recorded with its retry time, retried later (rate limits, 5xx, fair use);
auth    = an account problem: AuthError (the mount refuses to start).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from clients.errors import AuthError, NotReady, RateLimited
from tests.emulators.content import SyntheticContent
from tests.emulators.rapidshare import ERRORS as RS_ERRORS
from tests.linkservices import (
    NITRO,
    RG_ONE,
    RS_OWN,
    hoster_link,
    library,
    rapidshare_account,
    service_config,
)
from vfs.config import Config
from vfs.sources.links import LinkRef
from vfs.sources.portal import PortalSource
from vfs.sources.premiumize import PremiumizeSource
from vfs.sources.rapidshare import RapidShareSource

LIBRARY = library(
    [
        hoster_link(RG_ONE, "one.bin", SyntheticContent(300_000, 11)),
        hoster_link(RS_OWN, "own.bin", SyntheticContent(150_000, 13)),
        hoster_link(NITRO, "x.bin", SyntheticContent(10, 2)),
    ],
    rapidshare=rapidshare_account(free_countdown=60),
)


# `emu` (tests/conftest.py) runs LIBRARY; every test starts from its state.
pytestmark = pytest.mark.usefixtures("fresh_link_services")


@pytest.fixture
def source_config(emu, load_test_config) -> Callable[..., Config]:
    """The config of one link service against the emulator (max_wait 2 s)."""

    def make(service: str, login: bool = True) -> Config:
        return load_test_config(service_config(emu, service, "", login=login, max_wait=2))

    return make


async def add_one(source: Any, status: int, expected: str) -> Any:
    """Checks the account, adds RG_ONE while the service answers `status`: the
    link's row in state `expected`, or None for "auth" (an AuthError, no row)."""
    await source.check()
    if expected == "auth":
        with pytest.raises(AuthError):
            await source.add_links([RG_ONE])
        return None
    [row] = await source.add_links([RG_ONE])
    assert row.state == expected and f"status {status}" in row.reason
    return row


# ---- the tables ----------------------------------------------------------------


def test_every_documented_code_has_a_rule_with_its_source():
    """Each client's table covers every code its document (and the research notes)
    lists, and every rule says which fact it follows."""
    from clients import portal, premiumize, rapidshare
    from clients.codes import PERMANENT, USER, WAIT, WAIT_KINDS

    assert set(portal.STATUSES) == {1, 2, 52, 54, 55, 56, 101, 102, 103, 104, 105, 106, 107, 900, 999}
    assert set(premiumize.STATUSES) == {0, 2, 400, 401, 402, 403, 404, 428, 500, 502, 503, 509}
    sentences = [RS_ERRORS[k][0].lower() for k in RS_ERRORS if k != "server_error"]  # undocumented
    assert all(any(s.startswith(prefix) for prefix, _ in rapidshare.ERRORS) for s in sentences)
    rules = [
        *portal.STATUSES.values(),
        *premiumize.STATUSES.values(),
        *(rule for _, rule in rapidshare.ERRORS),
        *rapidshare.CHECK_STATUS.values(),
    ]
    assert all(rule.source and rule.meaning in (WAIT, USER, PERMANENT) for rule in rules)
    # the link layer waits on the class (`is_transient`): a wait must be one it retries
    assert all(issubclass(rule.kind, WAIT_KINDS) for rule in rules if rule.meaning == WAIT)


# ---- portal ----------------------------------------------------------------


@pytest.mark.parametrize(
    "status, retry, expected",
    [
        (1, None, "auth"),
        (2, None, "auth"),
        (52, None, "waiting"),
        (54, 3600, "waiting"),
        (55, 60, "waiting"),
        (56, 60, "waiting"),
        (101, None, "failed"),
        (102, None, "failed"),
        (103, None, "failed"),
        (104, None, "failed"),
        (105, 300, "waiting"),
        (106, 120, "waiting"),
        (107, 120, "waiting"),
        (900, None, "failed"),
        (999, 600, "waiting"),
    ],
)
async def test_portal_error_statuses(emu, source_config, status, retry, expected):
    emu.action(
        "portal",
        "inject_error",
        {
            "status": status,
            "endpoint": "unrestrict",
            "count": 5,
            **({"retry_in_seconds": retry} if retry else {}),
        },
    )
    async with httpx.AsyncClient() as http:
        source = PortalSource(source_config("portal"), http)
        row = await add_one(source, status, expected)
        if row is None:
            return
        status_text = source.status_text(await source._rows())
        assert f"{expected:<8} {RG_ONE}: portal status {status}" in status_text
        if expected == "waiting":  # a long retry_in_seconds is recorded, not slept
            assert "retry at" in status_text
    assert emu.calls("portal", "POST /unrestrict") == 1


async def test_portal_short_retry_is_waited(emu, source_config):
    emu.action("portal", "inject_error", {"status": 55, "endpoint": "unrestrict", "retry_in_seconds": 1})
    async with httpx.AsyncClient() as http:
        source = PortalSource(source_config("portal"), http)
        [row] = await source.add_links([RG_ONE])
    assert row.state == "ok" and emu.calls("portal", "POST /unrestrict") == 2


async def test_portal_refuses_hosts_not_working_or_unknown(emu, source_config):
    emu.action("portal", "set_host_working", {"host": "RapidGator", "working": False})
    async with httpx.AsyncClient() as http:
        source = PortalSource(source_config("portal"), http)
        await source.check()
        rows = {r.url: r for r in await source.add_links([RG_ONE, NITRO])}
        text = source.status_text(await source._rows())
    assert rows[RG_ONE].state == "waiting" and "currently not working" in rows[RG_ONE].reason
    assert rows[NITRO].state == "failed" and "not supported" in rows[NITRO].reason
    assert "hosts not working: RapidGator" in text
    assert emu.calls("portal", "POST /unrestrict") == 0


async def test_portal_remote_error_stops_and_link_ids_are_reused(emu, source_config):
    emu.action("portal", "set_link", {"url": RG_ONE, "ready_after_polls": 1000})
    async with httpx.AsyncClient() as http:
        source = PortalSource(source_config("portal"), http)
        [row] = await source.add_links([RG_ONE])
        assert row.state == "ok"
        emu.action("portal", "inject_error", {"status": 55, "endpoint": "link", "retry_in_seconds": 120})
        with pytest.raises(RateLimited):  # retry_in_seconds beyond the bound: fail fast
            await source.resolve(LinkRef(RG_ONE))
        assert "retry in 120s" in source.status_text(await source._rows())
        emu.action("portal", "fail_link", {"url": RG_ONE})
        with pytest.raises(Exception, match="remote_status error"):
            await source.resolve(LinkRef(RG_ONE))
        [row] = await source._rows()
        assert row.state == "failed"
    assert emu.calls("portal", "POST /unrestrict") == 1


async def test_portal_expired_link_is_reminted_under_the_same_id(emu, source_config):
    async with httpx.AsyncClient() as http:
        source = PortalSource(source_config("portal"), http)
        await source.add_links([RG_ONE])
        first = await source.resolve(LinkRef(RG_ONE))
        assert first.max_connections == 16
        emu.expire_links()
        again = await source.resolve(LinkRef(RG_ONE), refresh=True)
        assert again.url != first.url
    assert len(emu.view("portal")["links"]) == 1


# ---- Premiumize --------------------------------------------------------------


@pytest.mark.parametrize(
    "status, expected",
    [
        (0, "waiting"),
        (2, "waiting"),
        (400, "failed"),
        (401, "auth"),
        (402, "auth"),
        (403, "waiting"),
        (404, "failed"),
        (428, "waiting"),
        (500, "waiting"),
        (502, "waiting"),
        (503, "waiting"),
        (509, "waiting"),
    ],
)
@pytest.mark.parametrize("http_status", [False, True], ids=["body-only", "http-line-too"])
async def test_premiumize_error_statuses(emu, source_config, status, expected, http_status):
    """Whether the HTTP status line carries the code too is open (docs/providers.md, "Premiumize"): both."""
    emu.action("premiumize", "set_flags", {"http_status": http_status})
    emu.action("premiumize", "inject_error", {"status": status, "method": "directdownloadlink"})
    async with httpx.AsyncClient() as http:
        source = PremiumizeSource(source_config("premiumize"), http)
        row = await add_one(source, status, expected)
        if row is None:
            return
        if expected == "waiting":  # 5xx: retry after minutes, recorded
            assert row.retry_at is not None and row.retry_at > row.added_at + 60
    assert emu.calls("premiumize", "directdownloadlink") == 1


@pytest.mark.parametrize(
    "action, args, words",
    [
        ("set_account_type", {"type": "free"}, "free"),
        ("set_expires", {"expires_in_seconds": -10}, "free"),  # a lapsed account reads as free
    ],
)
async def test_premiumize_refuses_free_or_expired_accounts(emu, source_config, action, args, words):
    emu.action("premiumize", action, args)
    async with httpx.AsyncClient() as http:
        source = PremiumizeSource(source_config("premiumize"), http)
        with pytest.raises(AuthError, match=words):
            await source.check()


async def test_premiumize_rejects_unsupported_links_early_and_shows_fair_use(emu, source_config):
    async with httpx.AsyncClient() as http:
        source = PremiumizeSource(source_config("premiumize"), http)
        await source.check()
        [row] = await source.add_links([NITRO])
        text = source.status_text(await source._rows())
        assert row.state == "failed" and "no hosterlist regex" in row.reason
        assert "fairuse_left: 0.5" in text
        emu.action("premiumize", "set_fairuse_left", {"value": 0})
        [row] = await source.add_links([RG_ONE])
        assert row.state == "waiting" and "fair use" in row.reason
    assert emu.calls("premiumize", "directdownloadlink") == 1


# ---- RapidShare --------------------------------------------------------------

RS_EXPECTED = {
    "login_failed": "auth",
    "account_locked": "auth",
    "login_invalid": "auth",
    "rapidpro_expired": "auth",
    "rapidpro_required": "waiting",
    "no_traffic": "waiting",
    "ip_wait": "waiting",
    "file_not_found": "failed",
    "file_deleted": "failed",
    "fileid_invalid": "failed",
    "illegal": "failed",
    "filename_invalid": "failed",
    "folder_not_found": "failed",
    "slots_full": "waiting",
    "flooding": "waiting",
    "permission_denied": "failed",
    "maintenance": "waiting",
    "invalid_routine": "failed",
    "dlauth_invalid": "waiting",
    "dlauth_wait": "waiting",
    "server_error": "waiting",
}


@pytest.mark.parametrize("error", sorted(RS_ERRORS))
@pytest.mark.parametrize("refs", [True, False], ids=["with-ref", "2009-style"])
async def test_rapidshare_error_lines(emu, source_config, error, refs):
    """Error lines with the later ` (8 hex)` reference and without it (2009)."""
    expected = RS_EXPECTED[error]
    emu.action("rapidshare", "set_error_refs", {"value": refs})
    emu.action("rapidshare", "inject_error", {"error": error, "sub": "checkfiles", "seconds": 90})
    async with httpx.AsyncClient() as http:
        source = RapidShareSource(source_config("rapidshare"), http)
        if expected == "auth":
            with pytest.raises(AuthError):
                await source.add_links([RS_OWN])
            return
        [row] = await source.add_links([RS_OWN])
    assert row.state == expected, row.reason
    assert row.reason.startswith("RapidShare: ")
    if error in ("ip_wait", "dlauth_wait"):
        assert row.retry_at - row.added_at == pytest.approx(90, abs=5)


@pytest.mark.parametrize(
    "status, expected",
    [("deleted", "failed"), ("illegal", "failed"), ("server_down", "waiting"), ("locked", "failed")],
)
async def test_rapidshare_checkfiles_statuses(emu, source_config, status, expected):
    emu.action("rapidshare", "set_file", {"fileid": "555", "status": status})
    async with httpx.AsyncClient() as http:
        source = RapidShareSource(source_config("rapidshare"), http)
        [row] = await source.add_links([RS_OWN])
    assert row.state == expected


async def test_rapidshare_long_free_countdown_fails_fast(emu, source_config):
    async with httpx.AsyncClient() as http:
        source = RapidShareSource(source_config("rapidshare", login=False), http)
        await source.check()
        [row] = await source.add_links([RS_OWN])
        assert row.state == "ok" and row.data["md5"]
        with pytest.raises(NotReady, match="countdown"):
            await source.resolve(LinkRef(RS_OWN))  # 60 s countdown > max_wait 2 s
        assert "countdown" in source.status_text(await source._rows())
        assert source.xattrs_for((await source._rows())[0])["user.md5"] == row.data["md5"].encode()
