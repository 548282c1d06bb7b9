"""The read engine through a real mount, with the data host misbehaving:
expiring links, dropped connections, 503 bursts, ignored ranges, a server that
never answers. Every read returns the right bytes or EIO within the bound."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time

import pytest

from tests.emulators.content import SyntheticContent, sha256_of
from tests.mounting import mounted, sha256_through
from tests.realdebrid import one_torrent_library

MiB = 1 << 20
TOKEN = "rd-engine-token"
READ_TIMEOUT = 4

FILES = {
    name: SyntheticContent(size, seed)
    for name, size, seed in [
        ("expiring.bin", 64 * MiB + 5, 301),
        ("dropped.bin", 20 * MiB, 302),
        ("burst.bin", 12 * MiB, 303),
        ("norange.bin", 16 * MiB, 304),
        ("stall.bin", 8 * MiB, 305),
        ("shared.bin", 32 * MiB, 306),
        ("tail.bin", 512 * MiB, 307),
        ("seq.bin", 96 * MiB + 3, 308),
    ]
}

LIBRARY = one_torrent_library(TOKEN, "ENGINE", "engine", FILES)


@pytest.fixture
def mount(emu, tmp_path):
    emu.reset_faults()
    config = (
        f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\n'
        f"[read]\ntimeout = {READ_TIMEOUT}\n"
    )
    with mounted(tmp_path, config) as m:
        yield m
    emu.reset_faults()


def path_of(mount, name: str):
    return mount.path / "realdebrid/torrents/engine" / name


def test_sequential_read_is_identical_and_fetched_once(mount, emu):
    emu.reset_stats()
    assert sha256_through(path_of(mount, "seq.bin")) == sha256_of(FILES["seq.bin"])
    # Every byte came from the origin once (the counter sees them), none twice.
    assert FILES["seq.bin"].size <= emu.stats()["data_bytes"] <= FILES["seq.bin"].size * 1.05


def test_link_expiring_mid_read_is_resolved_again(mount, emu):
    content = FILES["expiring.bin"]
    fd = os.open(path_of(mount, "expiring.bin"), os.O_RDONLY)
    try:
        # Little enough that read-ahead cannot have fetched the rest already.
        assert os.pread(fd, MiB, 0) == content.read(0, MiB)
        unrestricts = emu.stats()["calls"].get("realdebrid POST /unrestrict/link", 0)
        emu.expire_links()
        assert os.pread(fd, content.size, MiB) == content.read(MiB, content.size)
    finally:
        os.close(fd)
    assert emu.stats()["calls"]["realdebrid POST /unrestrict/link"] == unrestricts + 1


def test_dropped_connections_resume_where_they_stopped(mount, emu):
    emu.faults({"data": {"drop_after_bytes": 300_000, "drop_count": 6}})
    assert sha256_through(path_of(mount, "dropped.bin")) == sha256_of(FILES["dropped.bin"])


def test_a_burst_of_503s_is_ridden_out(mount, emu):
    path = path_of(mount, "burst.bin")
    with open(path, "rb") as f:
        assert f.read(65536) == FILES["burst.bin"].read(0, 65536)  # the link is known now
    emu.faults({"data": {"status_burst": 503, "status_burst_count": 4}})
    assert sha256_through(path) == sha256_of(FILES["burst.bin"])


def test_server_ignoring_range_gives_eio_in_bounded_time(mount, emu):
    mount.expect_log(r"read failed: .*ignored the range request")
    emu.faults({"data": {"ignore_range": True}})
    fd = os.open(path_of(mount, "norange.bin"), os.O_RDONLY)
    try:
        started = time.monotonic()
        with pytest.raises(OSError) as info:
            os.pread(fd, 65536, 10 * MiB)
        assert info.value.errno == errno.EIO
        assert time.monotonic() - started < READ_TIMEOUT + 2
        emu.reset_faults()
        # The failed range fails fast for a moment (the kernel retries at once); others work.
        assert os.pread(fd, 65536, 14 * MiB) == FILES["norange.bin"].read(14 * MiB, 65536)
    finally:
        os.close(fd)


def test_a_read_never_hangs(mount, emu):
    mount.expect_log(r"read failed: .*(not served|not received)")
    path = path_of(mount, "stall.bin")
    with open(path, "rb") as f:
        f.read(1)  # resolve the link before stalling
    emu.faults({"data": {"latency_ms": 60_000}})
    fd = os.open(path, os.O_RDONLY)
    try:
        started = time.monotonic()
        with pytest.raises(OSError) as info:
            os.pread(fd, 65536, 4 * MiB)
        assert info.value.errno == errno.EIO
        assert time.monotonic() - started < READ_TIMEOUT + 2
    finally:
        os.close(fd)
        emu.reset_faults()


def test_concurrent_readers_share_one_fetch(mount, emu):
    emu.reset_stats()
    path = path_of(mount, "shared.bin")
    script = (
        "import hashlib,sys; h=hashlib.sha256(); f=open(sys.argv[1],'rb')\n"
        "while (b:=f.read(1<<20)): h.update(b)\nprint(h.hexdigest())"
    )
    readers = [
        subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    for reader in readers:
        out, _ = reader.communicate(timeout=60)
        assert out.strip() == sha256_of(FILES["shared.bin"])
    # One fetch served all three: three would cost three times the size.
    assert FILES["shared.bin"].size <= emu.stats()["data_bytes"] <= FILES["shared.bin"].size * 1.1


def test_reading_the_tail_of_a_big_file_is_cheap(mount, emu):
    """What a media server does to find an MP4's moov or an MKV's cues."""
    content = FILES["tail.bin"]
    emu.reset_stats()
    fd = os.open(path_of(mount, "tail.bin"), os.O_RDONLY)
    try:
        assert os.pread(fd, 32768, 0) == content.read(0, 32768)
        for offset in (content.size - 65536, content.size - 200_000, content.size - 300_000):
            assert os.pread(fd, 65536, offset) == content.read(offset, 65536)
    finally:
        os.close(fd)
    assert 32768 + 3 * 65536 <= emu.stats()["data_bytes"] <= 4 * MiB
