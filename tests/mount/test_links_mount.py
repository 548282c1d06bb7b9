"""Link services through a real mount: links added with `debridfs add` and with a
`*.links` file appear with their names and sizes and read back identical; failing
links show in `.status`; `rm` forgets a link; a portal link that is not ready
yet becomes readable; RapidShare md5 as `user.md5` and `debridfs verify`."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.emulators.content import SyntheticContent, sha256_of
from tests.linkservices import (
    NITRO,
    PM_PIN,
    PORTAL_KEY,
    RG_GONE,
    RG_ONE,
    RG_TWO,
    RS_OWN,
    RS_PASS,
    hoster_link,
    library,
    premiumize_account,
    rapidshare_account,
    service_config,
)
from tests.mounting import mounted, sha256_through
from tests.mounting import run_cli as cli
from tests.mounting import wait_until as wait_for

RG_SLOW = "https://rapidgator.net/file/22222222222222222222222222222222/slow.bin.html"
RS_ONE = "https://rapidshare.com/files/100001/one.bin"
RS_GONE = "https://rapidshare.com/files/100003/gone.bin"
ONE = SyntheticContent(300_000, 11)
TWO = SyntheticContent(5_000_000 + 3, 12)
SLOW = SyntheticContent(123_457, 14)
OWN = SyntheticContent(150_000, 13)

LIBRARY = library(
    [
        hoster_link(RG_ONE, "one.bin", ONE),
        hoster_link(RG_TWO, "two.bin", TWO),
        hoster_link(RG_SLOW, "slow.bin", SLOW),
        hoster_link(RG_GONE, "gone.bin", SyntheticContent(10, 1), offline=True),
        hoster_link(RS_OWN, "own.bin", OWN),
        hoster_link(NITRO, "x.bin", SyntheticContent(10, 2)),
    ],
    premiumize=premiumize_account(fairuse_bytes=1 << 40),
    rapidshare=rapidshare_account(
        premkbleft=10_000_000, free_countdown=1, files={"100001": {"url": RG_ONE}, "100003": {"url": RG_GONE}}
    ),
)

CONTENT = {"one.bin": ONE, "two.bin": TWO, "slow.bin": SLOW, "own.bin": OWN}


# `emu` (tests/conftest.py) runs LIBRARY; every test starts from its state.
pytestmark = pytest.mark.usefixtures("fresh_link_services")


def files(directory: Path) -> list[str]:
    """What `ls` shows (`.status` is a dot file)."""
    return sorted(n for n in os.listdir(directory) if not n.startswith("."))


def status_of(directory: Path) -> str:
    return (directory / ".status").read_text()


def write_links(directory: Path, name: str, urls: list[str]) -> None:
    with open(directory / name, "w") as f:
        f.write("# my links\n\n" + "\n".join(urls) + "\n")


@pytest.mark.parametrize(
    "service, by_cli, by_file, gone",
    [
        ("portal", RG_ONE, RG_TWO, RG_GONE),
        ("premiumize", RG_ONE, RG_TWO, RG_GONE),
        ("rapidshare", RS_ONE, RS_OWN, RS_GONE),
    ],
)
def test_links_added_by_cli_and_file_read_back_identical(emu, tmp_path, service, by_cli, by_file, gone):
    names = {RG_ONE: "one.bin", RG_TWO: "two.bin", RS_ONE: "one.bin", RS_OWN: "own.bin"}
    text = service_config(emu, service)
    (tmp_path / "config.toml").write_text(text)
    added = cli(tmp_path, "add", service, by_cli)
    assert added.returncode == 0, added.stderr
    assert f"ok       {names[by_cli]} ({CONTENT[names[by_cli]].size} bytes)" in added.stdout
    with mounted(tmp_path, text) as mount:
        directory = mount.path / service
        assert files(directory) == [names[by_cli]]
        write_links(directory, "batch.links", [by_file, gone])
        wanted = sorted([names[by_cli], names[by_file]])
        wait_for(lambda: files(directory) == wanted, what=f"{wanted} in {service}/")
        for name in wanted:
            assert os.stat(directory / name).st_size == CONTENT[name].size
            assert sha256_through(directory / name) == sha256_of(CONTENT[name]), name
        wait_for(lambda: gone in status_of(directory), what="the failed link in .status")
        status = status_of(directory)
        assert "failed" in status and gone in status
        assert PM_PIN not in status and RS_PASS not in status and PORTAL_KEY not in status
        # rm forgets the link (not the hoster's file)
        os.unlink(directory / names[by_file])
        assert files(directory) == [names[by_cli]]
    with mounted(tmp_path, text) as again:  # persisted in the state database
        assert files(again.path / service) == [names[by_cli]]


def test_only_links_files_can_be_written(emu, tmp_path):
    with mounted(tmp_path, service_config(emu, "portal")) as mount:
        mount.expect_log(r"create failed: .*only a list of links")
        with pytest.raises(OSError) as info:
            open(mount.path / "portal/notes.txt", "w")
        assert info.value.errno == errno.EINVAL
        assert files(mount.path / "portal") == []


def test_portal_link_not_ready_becomes_readable(emu, tmp_path):
    text = service_config(emu, "portal")
    (tmp_path / "config.toml").write_text(text)
    # ready after a couple of polls: the read waits for it (poll_after_seconds = 1)
    emu.action("portal", "set_link", {"url": RG_ONE, "ready_after_polls": 2})
    # never ready until the test says so: the read gives up after max_wait with EAGAIN
    emu.action("portal", "set_link", {"url": RG_SLOW, "ready_after_polls": 1000})
    assert cli(tmp_path, "add", "portal", RG_ONE, RG_SLOW).returncode == 0
    with mounted(tmp_path, text) as mount:
        mount.expect_log(r"read failed: .*not ready yet")
        directory = mount.path / "portal"
        assert files(directory) == ["one.bin", "slow.bin"]
        assert sha256_through(directory / "one.bin") == sha256_of(ONE)
        started = time.monotonic()
        fd = os.open(directory / "slow.bin", os.O_RDONLY)
        try:
            # os.pread, not file.read: Python's buffered read turns EAGAIN into "no data"
            with pytest.raises(OSError) as info:
                os.pread(fd, 65536, 0)
        finally:
            os.close(fd)
        assert info.value.errno in (errno.EAGAIN, errno.EIO)
        assert time.monotonic() - started < 15
        assert "not ready yet at the portal" in status_of(directory)
        emu.action("portal", "set_ready_after_polls", {"url": RG_SLOW, "value": 0})

        def readable() -> bool:
            try:
                return sha256_through(directory / "slow.bin") == sha256_of(SLOW)
            except OSError:
                return False

        wait_for(readable, timeout=20, what="slow.bin readable")
    assert emu.calls("portal", "POST /unrestrict") == 2  # linkIds reused, no re-unrestrict


@pytest.mark.parametrize("download_md5", ["hex", "not found"])
def test_rapidshare_md5_xattr_and_verify(emu, tmp_path, download_md5):
    """The md5 comes from checkfiles; a DL line whose md5 field is `not found`
    leaves it alone."""
    emu.action("rapidshare", "set_download_md5", {"value": download_md5})
    text = service_config(emu, "rapidshare")
    (tmp_path / "config.toml").write_text(text)
    assert cli(tmp_path, "add", "rapidshare", RS_OWN).returncode == 0
    with mounted(tmp_path, text) as mount:
        path = mount.path / "rapidshare/own.bin"
        expected = hashlib.md5(OWN.read(0, OWN.size)).hexdigest()
        assert os.getxattr(path, "user.md5").decode() == expected
        result = cli(tmp_path, "verify", str(path))
        assert result.returncode == 0 and result.stdout.startswith("OK"), result
        if shutil.which("getfattr"):  # attr package; not everywhere
            getfattr = subprocess.run(
                ["getfattr", "-n", "user.md5", str(path)], capture_output=True, text=True, timeout=10
            )
            assert expected in getfattr.stdout


def test_verify_reports_a_mismatch(tmp_path):
    path = tmp_path / "file.bin"
    path.write_bytes(b"hello")
    os.setxattr(path, "user.md5", b"0" * 32)
    (tmp_path / "config.toml").write_text("")
    result = cli(tmp_path, "verify", str(path))
    assert result.returncode == 1 and "MISMATCH" in result.stdout
    os.setxattr(path, "user.md5", hashlib.md5(b"hello").hexdigest().encode())
    assert cli(tmp_path, "verify", str(path)).returncode == 0


def test_rapidshare_free_countdown_is_waited(emu, tmp_path):
    text = service_config(emu, "rapidshare", login=False)
    (tmp_path / "config.toml").write_text(text)
    assert cli(tmp_path, "add", "rapidshare", RS_OWN).returncode == 0
    with mounted(tmp_path, text) as mount:
        path = mount.path / "rapidshare/own.bin"
        assert sha256_through(path) == sha256_of(OWN)
        assert "free" in status_of(mount.path / "rapidshare")
