"""Link services' background work through a real mount: waiting links are
retried by the mount itself (nobody lists the directory), the portal's account
and hosts and Premiumize's fair use are re-checked on their interval and show in
`.status`, and a RapidShare download ticket that stops working in the middle
of a read is replaced (the read still returns the right bytes)."""

from __future__ import annotations

import os

import pytest

from tests.emulators.content import SyntheticContent, sha256_of
from tests.linkservices import (
    MOUNT_OPTIONS,
    RG_ONE,
    hoster_link,
    library,
    rapidshare_account,
    service_config,
)
from tests.mounting import mounted, run_cli, sha256_through, wait_until, write_config

RG_BIG = "https://rapidgator.net/file/33333333333333333333333333333333/big.bin.html"
RS_BIG = "https://rapidshare.com/files/100002/big.bin"
ONE = SyntheticContent(300_000, 21)
BIG = SyntheticContent(9 * (1 << 20) + 5, 22)  # more than two read blocks

LIBRARY = library(
    [hoster_link(RG_ONE, "one.bin", ONE), hoster_link(RG_BIG, "big.bin", BIG)],
    rapidshare=rapidshare_account(free_countdown=1, files={"100002": {"url": RG_BIG}}),
)


# `emu` (tests/conftest.py) runs LIBRARY; every test starts from its state.
pytestmark = pytest.mark.usefixtures("fresh_link_services")


def status_of(directory) -> str:
    return (directory / ".status").read_text()


def test_waiting_link_is_retried_without_a_listing(emu, tmp_path):
    """Maintenance (105) with a retry_in_seconds longer than a read waits: the link
    waits; the mount retries it at that time by itself and the file appears."""
    text = service_config(emu, "portal")
    write_config(tmp_path, text)
    emu.action(
        "portal",
        "inject_error",
        {"status": 105, "endpoint": "unrestrict", "count": 100, "retry_in_seconds": 4},
    )
    added = run_cli(tmp_path, "add", "portal", RG_ONE)
    assert added.returncode == 0, added.stderr
    assert "waiting" in added.stdout and "status 105" in added.stdout
    emu.action("portal", "reset", {})  # the maintenance is over
    emu.reset_stats()
    with mounted(tmp_path, text) as mount:
        # Nothing touches the mount while we wait: the retry is the daemon's own.
        wait_until(
            lambda: emu.calls("portal", "POST /unrestrict") >= 1,
            timeout=20,
            what="the background retry of the waiting link",
        )
        path = mount.path / "portal" / "one.bin"
        wait_until(lambda: os.path.exists(path), timeout=10, what="one.bin in portal/")
        assert os.stat(path).st_size == ONE.size
        assert sha256_through(path) == sha256_of(ONE)
        assert "0 waiting" in status_of(mount.path / "portal")
    assert emu.calls("portal", "POST /unrestrict") == 1  # one retry, not a loop


def test_portal_account_and_hosts_are_rechecked(emu, tmp_path):
    """`login_check_interval` (ms, from /account) drives the re-check: account
    changes show in `.status`; a host that stops working refuses new links with a
    clear status, and they come by themselves once it works again."""
    emu.action("portal", "set_account", {"login_check_interval": 1000})
    with mounted(tmp_path, service_config(emu, "portal")) as mount:
        directory = mount.path / "portal"
        assert "hosts not working" not in status_of(directory)
        emu.action("portal", "set_account", {"trafficleft": 5_000_000_123_456})
        wait_until(
            lambda: "traffic left 5000000123456 " in status_of(directory),
            timeout=10,
            what="the new traffic in .status",
        )
        emu.action("portal", "set_host_working", {"host": "RapidGator", "working": False})
        wait_until(
            lambda: "hosts not working: RapidGator" in status_of(directory),
            timeout=10,
            what="RapidGator not working in .status",
        )
        with open(directory / "new.links", "w") as f:
            f.write(RG_ONE + "\n")
        wait_until(
            lambda: "currently not working" in status_of(directory),
            timeout=10,
            what="the refused link in .status",
        )
        status = status_of(directory)
        assert f"waiting  {RG_ONE}: host RapidGator is currently not working at the portal" in status
        assert emu.calls("portal", "POST /unrestrict") == 0  # refused before asking
        emu.action("portal", "set_host_working", {"host": "RapidGator", "working": True})
        wait_until(
            lambda: os.path.exists(directory / "one.bin"),
            timeout=15,
            what="one.bin once RapidGator works again",
        )
        assert sha256_through(directory / "one.bin") == sha256_of(ONE)
        assert "hosts not working" not in status_of(directory)
    assert emu.calls("portal", "GET /account") >= 3


def test_premiumize_fair_use_is_refreshed(emu, tmp_path):
    text = service_config(emu, "premiumize", "account_check_interval = 1\n" + MOUNT_OPTIONS)
    with mounted(tmp_path, text) as mount:
        directory = mount.path / "premiumize"
        assert "fairuse_left: 0.5000" in status_of(directory)
        emu.action("premiumize", "set_fairuse_left", {"value": 0.25})
        wait_until(
            lambda: "fairuse_left: 0.2500" in status_of(directory),
            timeout=10,
            what="the new fair use in .status",
        )
        emu.action("premiumize", "set_account_type", {"type": "free"})
        wait_until(
            lambda: "account: free" in status_of(directory), timeout=10, what="the free account in .status"
        )


def test_rapidshare_expired_dlauth_mid_read_gets_a_fresh_ticket(emu, tmp_path):
    """A free download: the dlauth ticket expires between two reads of one file
    (the file server answers `ERROR: Download auth invalid.`); the read engine
    resolves again, the source asks `download` for a new ticket, the bytes match."""
    text = service_config(emu, "rapidshare", login=False, max_wait=5)
    write_config(tmp_path, text)
    assert run_cli(tmp_path, "add", "rapidshare", RS_BIG).returncode == 0
    with mounted(tmp_path, text) as mount:
        path = mount.path / "rapidshare" / "big.bin"
        fd = os.open(path, os.O_RDONLY)
        try:
            assert os.pread(fd, 65536, 0) == BIG.read(0, 65536)
            # Usually 1; a ticket used a moment before its countdown ended costs one more.
            tickets = emu.calls("rapidshare", "download")
            assert tickets >= 1
            # Past countdown + dlauth lifetime (600 s): every ticket handed out is dead now.
            emu.action("rapidshare", "advance_time", {"seconds": 700})
            tail = BIG.size - 100_000
            assert os.pread(fd, 100_000, tail) == BIG.read(tail, 100_000)
        finally:
            os.close(fd)
        assert emu.calls("rapidshare", "download") == tickets + 1  # exactly one fresh ticket
        assert sha256_through(path) == sha256_of(BIG)
        assert "with a fresh link" in mount.log_text()  # the engine's one refresh
