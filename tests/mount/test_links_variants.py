"""The replies the link services' documents leave open, through a real mount.

Portal: `filesize` as a digit string, a number, or unknown until the portal has
the file (never listed as 0 bytes); the v1.0 `/unrestrict` reply without
`linkId`; a portal without `/hosts/grouped`.

RapidShare: routine names with or without `_v1` (the server takes one naming; the
client falls back once and remembers it); "You need RapidPro..." and "No traffic
left" are waits, not dead links. Premiumize: 403 and 428 are waits; a link whose
direct URL starts answering 403 (a day later) is re-issued; the document's
`directdownloadlink` reply has only `location`, so name and size come from the
download server.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from tests.emulators.content import SyntheticContent, sha256_of
from tests.linkservices import (
    NITRO,
    RG_ONE,
    RG_TWO,
    RS_OWN,
    hoster_link,
    library,
    listed,
    rapidshare_account,
    service_config,
    status_of,
    write_links,
)
from tests.mounting import mounted, run_cli, sha256_through, wait_until, write_config

ONE = SyntheticContent(300_000, 31)
BIG = SyntheticContent(9 * (1 << 20) + 5, 32)  # more than two read blocks
OWN = SyntheticContent(150_000, 33)
TWO = SyntheticContent(200_000, 34)
RG_BIG = "https://rapidgator.net/file/44444444444444444444444444444444/big.bin.html"

LIBRARY = library(
    [
        hoster_link(RG_ONE, "one.bin", ONE),
        hoster_link(RG_BIG, "big.bin", BIG),
        hoster_link(RG_TWO, "two.bin", TWO),
        hoster_link(NITRO, "x.bin", SyntheticContent(10, 2)),
        hoster_link(RS_OWN, "own.bin", OWN),
    ],
    rapidshare=rapidshare_account(premkbleft=10_000_000, free_countdown=0),
)


# `emu` (tests/conftest.py) runs LIBRARY; every test starts from its state.
pytestmark = pytest.mark.usefixtures("fresh_link_services")


def add(tmp_path: Path, text: str, service: str, url: str) -> str:
    write_config(tmp_path, text)
    added = run_cli(tmp_path, "add", service, url)
    assert added.returncode == 0, added.stdout + added.stderr
    return added.stdout


def read_errno(path: Path, offset: int = 0) -> int:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.pread(fd, 65536, offset)  # not file.read: buffered reads hide EAGAIN
    except OSError as exc:
        return exc.errno
    finally:
        os.close(fd)
    raise AssertionError(f"reading {path} worked")


def reads_back(path: Path, content: SyntheticContent) -> bool:
    try:
        return sha256_through(path) == sha256_of(content)
    except OSError:
        return False


# ---- RapidShare ---------------------------------------------------------------


@pytest.mark.parametrize("naming, refused", [("plain", "_v1"), ("v1", "")])
def test_rapidshare_routine_names_fall_back_once_and_are_remembered(emu, tmp_path, naming, refused):
    """The server knows one naming; every link still works, and the refused name is
    asked once per process, not on every call."""
    emu.action("rapidshare", "set_routine_names", {"value": naming})
    text = service_config(emu, "rapidshare")
    assert "ok       own.bin" in add(tmp_path, text, "rapidshare", RS_OWN)
    emu.reset_stats()
    with mounted(tmp_path, text) as mount:
        path = mount.path / "rapidshare" / "own.bin"
        assert os.stat(path).st_size == OWN.size
        assert sha256_through(path) == sha256_of(OWN)
    taken = "_v1" if naming == "v1" else ""
    calls = emu.stats()["calls"]
    refused_calls = {
        k: n
        for k, n in calls.items()
        if k.startswith("rapidshare ")
        and k != "rapidshare fileserver"
        and k.endswith("_v1") == (refused == "_v1")
    }
    # The mount's first call (getaccountdetails) may need the other name; nothing after it.
    assert sum(refused_calls.values()) <= 1, refused_calls
    assert calls.get(f"rapidshare download{taken}", 0) >= 1
    assert calls.get(f"rapidshare download{refused}", 0) == 0


@pytest.mark.parametrize(
    "login, action, cause, cured, words",
    [
        (False, "set_rapidpro_required", {"value": True}, {"value": False}, "You need RapidPro"),
        (True, "set_account", {"premkbleft": 1}, {"premkbleft": 10_000_000}, "No traffic left"),
    ],
)
def test_rapidshare_rapidpro_and_no_traffic_are_waits(emu, tmp_path, login, action, cause, cured, words):
    """The read fails for now (EAGAIN), the file stays listed with the reason in
    `.status`, and reads work again once the service does."""
    text = service_config(emu, "rapidshare", login=login)
    add(tmp_path, text, "rapidshare", RS_OWN)
    emu.action("rapidshare", action, cause)
    with mounted(tmp_path, text) as mount:
        mount.expect_log(rf"read failed: .*{words}")
        directory = mount.path / "rapidshare"
        assert read_errno(directory / "own.bin") == errno.EAGAIN
        assert listed(directory) == ["own.bin"]
        status = status_of(directory)
        assert f"ok       {RS_OWN}  (own.bin): RapidShare: {words}" in status, status
        assert "0 failed" in status
        emu.action("rapidshare", action, cured)
        # A failed range keeps failing for a moment (the kernel retries reads at once).
        wait_until(lambda: reads_back(directory / "own.bin", OWN), what="own.bin readable again")
        wait_until(lambda: "(own.bin)" not in status_of(directory), what="the note cleared")


# ---- Premiumize -----------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 428])
def test_premiumize_403_and_428_are_waits(emu, tmp_path, status):
    """A link refused with 403 (IP or account temporarily refused) or 428 (hoster
    down) waits with its retry time; it is not failed, and comes back when asked again."""
    text = service_config(emu, "premiumize")
    emu.action("premiumize", "set_link", {"url": RG_ONE, "status": status, "count": 1})
    out = add(tmp_path, text, "premiumize", RG_ONE)
    assert out.startswith(f"waiting  {RG_ONE}: Premiumize status {status}"), out
    with mounted(tmp_path, text) as mount:
        directory = mount.path / "premiumize"
        status_text = status_of(directory)
        assert f"waiting  {RG_ONE}: Premiumize status {status}" in status_text
        assert "retry at" in status_text and listed(directory) == []
        with open(directory / "again.links", "w") as f:  # the user asks again now
            f.write(RG_ONE + "\n")
        wait_until(lambda: listed(directory) == ["one.bin"], what="one.bin after asking again")
        assert sha256_through(directory / "one.bin") == sha256_of(ONE)


def test_premiumize_link_answering_403_later_is_reissued(emu, tmp_path):
    """A day later the direct URL answers 403 and, for a while, the API refuses
    with 403 too: the read fails for now, the file stays, and once the API answers
    again the read gets a new location and the right bytes."""
    text = service_config(emu, "premiumize")
    add(tmp_path, text, "premiumize", RG_BIG)
    with mounted(tmp_path, text) as mount:
        mount.expect_log(r"read failed: .*Premiumize status 403")
        directory = mount.path / "premiumize"
        path = directory / "big.bin"
        fd = os.open(path, os.O_RDONLY)
        try:
            assert os.pread(fd, 65536, 0) == BIG.read(0, 65536)
        finally:
            os.close(fd)
        first = emu.calls("premiumize", "directdownloadlink")
        emu.faults({"data": {"expired_status": 403}})
        emu.expire_links()
        emu.action(
            "premiumize", "inject_error", {"status": 403, "method": "directdownloadlink", "count": 1000}
        )
        tail = BIG.size - 100_000
        assert read_errno(path, tail) in (errno.EIO, errno.EAGAIN)
        assert listed(directory) == ["big.bin"] and "0 failed" in status_of(directory)
        assert "Premiumize status 403" in status_of(directory)
        emu.action("premiumize", "reset", {})  # the API answers again
        wait_until(lambda: reads_back(path, BIG), what="big.bin readable again")
        assert emu.calls("premiumize", "directdownloadlink") > first + 1  # re-issued


@pytest.mark.parametrize(
    "reply_fields, location_head", [("location", "ok"), ("location", "refused"), ("full", "ok")]
)
def test_premiumize_name_and_size_without_filename_and_filesize(emu, tmp_path, reply_fields, location_head):
    """The document's reply has only `location`: the size comes from the download
    server (HEAD, or a one-byte ranged GET where HEAD is refused), the name from the
    link; every reply gives the same file."""
    emu.action("premiumize", "set_flags", {"reply_fields": reply_fields, "location_head": location_head})
    text = service_config(emu, "premiumize")
    assert f"ok       one.bin ({ONE.size} bytes)" in add(tmp_path, text, "premiumize", RG_ONE)
    with mounted(tmp_path, text) as mount:
        directory = mount.path / "premiumize"
        assert listed(directory) == ["one.bin"]
        assert os.stat(directory / "one.bin").st_size == ONE.size
        assert sha256_through(directory / "one.bin") == sha256_of(ONE)


# ---- portal -----------------------------------------------------------------------


@pytest.mark.parametrize("size_format", ["string", "number", "unknown_until_ready"])
def test_portal_filesize_shapes_never_list_a_wrong_size(emu, tmp_path, size_format):
    """While the portal fetches the file, its size is a string, a number or not known
    yet. A known size lists the file at once; an unknown one keeps the link waiting
    in `.status` (never a 0-byte file) until the portal knows it."""
    emu.action("portal", "set_variant", {"filesize_format": size_format})
    emu.action("portal", "set_link", {"url": RG_ONE, "ready_after_polls": 1000})
    with mounted(tmp_path, service_config(emu, "portal")) as mount:
        directory = mount.path / "portal"
        write_links(directory, RG_ONE)
        seen = []

        def settled() -> bool:
            if "one.bin" in listed(directory):
                seen.append(os.stat(directory / "one.bin").st_size)
                return True
            return "size yet" in status_of(directory)

        wait_until(settled, what="one.bin listed or waiting for its size")
        assert ("one.bin" in listed(directory)) == (size_format != "unknown_until_ready")
        emu.action("portal", "set_ready_after_polls", {"url": RG_ONE, "value": 0})

        def readable() -> bool:
            if "one.bin" not in listed(directory):
                return False
            seen.append(os.stat(directory / "one.bin").st_size)
            return reads_back(directory / "one.bin", ONE)

        wait_until(readable, timeout=20, what="one.bin readable")
        assert set(seen) == {ONE.size}


def test_portal_legacy_unrestrict_reply(emu, tmp_path):
    """The v1.0 reply: the link at once, without linkId or download_ready."""
    emu.action("portal", "set_variant", {"unrestrict_shape": "legacy"})
    with mounted(tmp_path, service_config(emu, "portal")) as mount:
        directory = mount.path / "portal"
        write_links(directory, RG_ONE)
        wait_until(lambda: listed(directory) == ["one.bin"], what="one.bin in portal/")
        assert os.stat(directory / "one.bin").st_size == ONE.size
        assert sha256_through(directory / "one.bin") == sha256_of(ONE)
        assert "0 failed" in status_of(directory)
    assert emu.calls("portal", "GET /link/{linkId}") == 0


def test_portal_without_grouped_hosts(emu, tmp_path):
    """A portal from before `/hosts/grouped`: the mount comes up on `/hosts`; every
    listed domain works and other hosts are refused without asking."""
    emu.action("portal", "set_variant", {"grouped_hosts": False})
    with mounted(tmp_path, service_config(emu, "portal")) as mount:
        directory = mount.path / "portal"
        write_links(directory, RG_TWO, NITRO)
        wait_until(lambda: listed(directory) == ["two.bin"], what="two.bin in portal/")
        assert sha256_through(directory / "two.bin") == sha256_of(TWO)
        wait_until(
            lambda: f"failed   {NITRO}: host nitroflare.com is not supported" in status_of(directory),
            what="the unsupported host in .status",
        )
    assert emu.calls("portal", "GET /hosts") >= 1
    assert emu.calls("portal", "POST /unrestrict") == 1
