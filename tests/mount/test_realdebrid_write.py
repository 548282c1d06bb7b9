"""Real-Debrid writes through a real mount: `cp` of a .magnet and a .torrent
adds them, `.links` files unrestrict hoster links, deletes obey
`allow_delete`, and files Real-Debrid will not serve are hidden and listed
in `torrents/.status`."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess

import pytest

from tests.emulators.content import SyntheticContent
from tests.emulators.harness import run_emulator
from tests.mounting import mounted, run_cli
from tests.mounting import wait_until as wait_for

TOKEN = "rd-good-token"
LIBRARY = {
    "realdebrid": {
        "token": TOKEN,
        "downloads": [{"id": "DL1", "filename": "old.bin", "content": {"size": 1000, "seed": 1}}],
        "torrents": [
            {
                "id": "KEEP",
                "filename": "Keep Me",
                "files": [
                    {"path": "/a.mkv", "content": {"size": 2000, "seed": 2}},
                    {"path": "/sub/b.mkv", "content": {"size": 3000, "seed": 3}},
                ],
            },
            {
                "id": "GONE",
                "filename": "Delete Me",
                "files": [
                    {"path": "/x/c.mkv", "content": {"size": 4000, "seed": 4}},
                    {"path": "/d.nfo", "content": {"size": 10, "seed": 5}},
                ],
            },
            {
                "id": "DEAD",
                "filename": "Half Dead",
                "files": [
                    {"path": "/ok.mkv", "content": {"size": 5000, "seed": 6}},
                    {"path": "/bad.mkv", "content": {"size": 6000, "seed": 7}, "unavailable": True},
                ],
            },
            {
                "id": "SLOW",
                "filename": "Still Going",
                "status": "downloading",
                "progress": 42,
                "files": [{"path": "/e.mkv", "content": {"size": 10, "seed": 8}}],
            },
        ],
    }
}


def config(urls: dict[str, str], allow_delete: bool = False) -> str:
    return (
        f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{urls["realdebrid"]}"\n'
        f"refresh_interval = 0.5\nallow_delete = {'true' if allow_delete else 'false'}\n"
    )


def bencode(value) -> bytes:
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(v) for k, v in sorted(value.items())) + b"e"


@pytest.fixture
def emu():
    with run_emulator(LIBRARY) as handle:
        yield handle


def test_cp_of_a_magnet_and_a_torrent_adds_them(emu, tmp_path):
    magnet = tmp_path / "film.magnet"
    magnet.write_text("magnet:?xt=urn:btih:" + "ab" * 20 + "&dn=Some.Film\n")
    info = {
        "name": "Bench",
        "piece length": 16384,
        "pieces": b"\0" * 20,
        "files": [{"length": 5000, "path": ["one.bin"]}, {"length": 7000, "path": ["d", "two.bin"]}],
    }
    torrent = tmp_path / "bench.torrent"
    torrent.write_bytes(bencode({"announce": "http://tracker.invalid/", "info": info}))
    info_hash = hashlib.sha1(bencode(info)).hexdigest()
    with mounted(tmp_path, config(emu.urls)) as mount:
        torrents = mount.path / "realdebrid/torrents"
        subprocess.run(["cp", str(magnet), str(torrent), str(torrents)], check=True, timeout=30)
        wait_for(lambda: {"Some.Film", "Bench"} <= set(os.listdir(torrents)), 30, "both torrents")
        assert sorted(os.listdir(torrents / "Some.Film")) == ["Some.Film.mkv", "Some.Film.nfo"]
        two = torrents / "Bench/d/two.bin"
        assert two.stat().st_size == 7000
        assert two.read_bytes() == SyntheticContent(7000, int(info_hash[:8], 16) + 2).read(0, 7000)
        status = (torrents / ".status").read_text()
        assert "downloading" in status and "Still Going" in status and "42.0%" in status
        assert not (torrents / "film.magnet").exists()


def test_shell_redirect_of_a_magnet_adds_it(emu, tmp_path):
    # `>` opens, dup2()s onto stdout and closes the first descriptor before anything
    # is written: that flush must not hand an empty file over.
    with mounted(tmp_path, config(emu.urls)) as mount:
        torrents = mount.path / "realdebrid/torrents"
        target = torrents / "y.magnet"
        result = subprocess.run(
            ["bash", "-c", f"printf 'magnet:?xt=urn:btih:{'cd' * 20}&dn=Redirected' > '{target}'"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        wait_for(lambda: "Redirected" in os.listdir(torrents), 30, "the torrent")
        assert "y.magnet" not in os.listdir(torrents)


def test_bad_files_are_refused(emu, tmp_path):
    with mounted(tmp_path, config(emu.urls)) as mount:
        mount.expect_log(r"(flush|release|create) failed|could not hand")
        torrents = mount.path / "realdebrid/torrents"
        with pytest.raises(OSError) as caught:
            with open(torrents / "x.magnet", "w") as f:
                f.write("not a magnet")
        assert caught.value.errno == errno.EINVAL
        with pytest.raises(OSError) as caught:
            open(torrents / "notes.txt", "w")
        assert caught.value.errno in (errno.EROFS, errno.EACCES)


def test_delete_is_refused_unless_allowed(emu, tmp_path):
    with mounted(tmp_path, config(emu.urls)) as mount:
        mount.expect_log(r"allow_delete = true|unlink failed|rmdir failed")
        root = mount.path / "realdebrid"
        result = subprocess.run(["rm", "-r", str(root / "torrents/Delete Me")], capture_output=True)
        assert result.returncode != 0 and b"Permission denied" in result.stderr
        with pytest.raises(OSError) as caught:
            os.unlink(root / "downloads/old.bin")
        assert caught.value.errno == errno.EACCES
        assert "set allow_delete = true" in mount.log_text()
    view = emu.view("realdebrid")
    assert "GONE" in {t["id"] for t in view["torrents"]}
    assert "DL1" in {d["id"] for d in view["downloads"]}


def test_delete_when_allowed(emu, tmp_path):
    with mounted(tmp_path, config(emu.urls, allow_delete=True)) as mount:
        root = mount.path / "realdebrid"
        subprocess.run(["rm", "-r", str(root / "torrents/Delete Me")], check=True, timeout=30)
        os.unlink(root / "downloads/old.bin")
        assert "Delete Me" not in os.listdir(root / "torrents")
        assert "old.bin" not in os.listdir(root / "downloads")
        with pytest.raises(OSError) as caught:
            os.rmdir(root / "torrents/Keep Me")
        assert caught.value.errno == errno.ENOTEMPTY
        mount.expect_log(r"rmdir failed")
    view = emu.view("realdebrid")
    assert "GONE" not in {t["id"] for t in view["torrents"]}
    assert "KEEP" in {t["id"] for t in view["torrents"]}
    assert "DL1" not in {d["id"] for d in view["downloads"]}


def test_a_directory_emptied_by_rm_stays_until_rmdir(emu, tmp_path):
    # listing_ttl = 0: every readdir and lookup relists, as a background refresh
    # between rm's unlink and its rmdir would. A directory must not vanish
    # because its last file was removed: rm -r would then fail on its rmdir.
    text = config(emu.urls, allow_delete=True) + "[mount]\nlisting_ttl = 0\n"
    with mounted(tmp_path, text) as mount:
        torrent = mount.path / "realdebrid/torrents/Delete Me"
        os.unlink(torrent / "x/c.mkv")
        assert os.listdir(torrent / "x") == []
        assert sorted(os.listdir(torrent)) == ["d.nfo", "x"]
        os.rmdir(torrent / "x")
        assert os.listdir(torrent) == ["d.nfo"]
        os.unlink(torrent / "d.nfo")
        assert os.listdir(torrent) == []
        assert "Delete Me" in os.listdir(torrent.parent)
        os.rmdir(torrent)
        assert "Delete Me" not in os.listdir(torrent.parent)
    assert "GONE" not in {t["id"] for t in emu.view("realdebrid")["torrents"]}


def test_links_file_adds_downloads_and_reports_failures(emu, tmp_path):
    link = next(
        f["link"]
        for t in emu.view("realdebrid")["torrents"]
        if t["id"] == "KEEP"
        for f in t["files"]
        if f["path"] == "/a.mkv"
    )
    with mounted(tmp_path, config(emu.urls)) as mount:
        downloads = mount.path / "realdebrid/downloads"
        (downloads / "batch.links").write_text(f"{link}\nhttps://nowhere.invalid/file/1\n")
        assert "a.mkv" in os.listdir(downloads)
        assert (downloads / "a.mkv").read_bytes() == SyntheticContent(2000, 2).read(0, 2000)
        status = (downloads / ".status").read_text()
        assert "https://nowhere.invalid/file/1" in status and "failed" in status


def test_debridfs_add_realdebrid_puts_links_in_downloads(emu, tmp_path):
    link = next(
        f["link"]
        for t in emu.view("realdebrid")["torrents"]
        if t["id"] == "KEEP"
        for f in t["files"]
        if f["path"] == "/sub/b.mkv"
    )
    with mounted(tmp_path, config(emu.urls) + "downloads_refresh_interval = 0.5\n") as mount:
        added = run_cli(tmp_path, "add", "realdebrid", link, "https://nowhere.invalid/file/2")
        assert added.returncode == 1, added.stderr  # one of the two failed
        assert "ok       b.mkv (3000 bytes)" in added.stdout
        assert "failed   https://nowhere.invalid/file/2" in added.stdout
        assert emu.stats()["calls"].get("realdebrid POST /unrestrict/check", 0) >= 2
        downloads = mount.path / "realdebrid/downloads"
        wait_for(lambda: "b.mkv" in os.listdir(downloads), 15, "the added link in downloads/")
        assert (downloads / "b.mkv").read_bytes() == SyntheticContent(3000, 3).read(0, 3000)


def test_unavailable_files_stay_listed_and_fail_at_once(emu, tmp_path):
    # code 24 is "offline for now" (ERROR_TABLE): listed, reads fail fast, in .status
    with mounted(tmp_path, config(emu.urls)) as mount:
        mount.expect_log(r"bad\.mkv .* unavailable_file|read failed|open failed|unavailable_file")
        torrent = mount.path / "realdebrid/torrents/Half Dead"
        assert sorted(os.listdir(torrent)) == ["bad.mkv", "ok.mkv"]
        with pytest.raises(OSError) as caught:
            (torrent / "bad.mkv").read_bytes()
        assert caught.value.errno == errno.EIO
        calls = emu.calls("realdebrid", "POST /unrestrict/link")
        with pytest.raises(OSError):
            os.stat(torrent / "bad.mkv") and open(torrent / "bad.mkv", "rb").read(10)
        assert emu.calls("realdebrid", "POST /unrestrict/link") == calls, "asked again at once"
        assert sorted(os.listdir(torrent)) == ["bad.mkv", "ok.mkv"]
        assert "unavailable_file" in (mount.path / "realdebrid/torrents/.status").read_text()
        assert (torrent / "ok.mkv").read_bytes() == SyntheticContent(5000, 6).read(0, 5000)
