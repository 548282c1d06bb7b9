"""Real-Debrid through a real mount: listing, stat, cp, random reads,
concurrent readers, read-only refusals, credentials errors, clean unmounts."""

from __future__ import annotations

import errno
import hashlib
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tests.emulators.content import SyntheticContent, sha256_of
from tests.mounting import is_mounted, mounted, start_mount, unmount

TOKEN = "rd-good-token"
MiB = 1 << 20

LIBRARY = {
    "realdebrid": {
        "token": TOKEN,
        "locked_tokens": ["rd-locked-token"],
        "downloads": [
            {"id": "DL1", "filename": "big.bin", "content": {"size": 256 * MiB, "seed": 1}},
            {"id": "DL2", "filename": "Movie (2020).mkv", "content": {"size": 3 * MiB + 17, "seed": 2}},
            {"id": "DL3", "filename": "Movie (2020).mkv", "content": {"size": 1000, "seed": 3}},
        ],
        "torrents": [
            {
                "id": "T1",
                "filename": "Show S01",
                "status": "downloaded",
                "files": [
                    {
                        "path": "/Season 1/Show.S01E01.mkv",
                        "content": {"size": 5 * MiB, "seed": 11},
                        "selected": 1,
                    },
                    {
                        "path": "/Season 1/Show.S01E02.mkv",
                        "content": {"size": 6 * MiB + 1, "seed": 12},
                        "selected": 1,
                    },
                    {"path": "/Sample/sample.mkv", "content": {"size": 1 * MiB, "seed": 13}, "selected": 0},
                    {"path": "/readme.nfo", "content": {"size": 300, "seed": 14}, "selected": 1},
                ],
            },
            {
                "id": "T2",
                "filename": "../evil/name",
                "status": "downloaded",
                "files": [{"path": "/film.mp4", "content": {"size": 2 * MiB, "seed": 21}, "selected": 1}],
            },
            {
                "id": "T3",
                "filename": "Still Downloading",
                "status": "downloading",
                "files": [{"path": "/part.mkv", "content": {"size": MiB, "seed": 31}, "selected": 1}],
            },
        ],
    }
}

EXPECTED_FILES = {
    "realdebrid/downloads/big.bin": {"size": 256 * MiB, "seed": 1},
    "realdebrid/downloads/Movie (2020).mkv": None,  # one of the two duplicates
    "realdebrid/downloads/Movie (2020) (2).mkv": None,
    "realdebrid/torrents/Show S01/Season 1/Show.S01E01.mkv": {"size": 5 * MiB, "seed": 11},
    "realdebrid/torrents/Show S01/Season 1/Show.S01E02.mkv": {"size": 6 * MiB + 1, "seed": 12},
    "realdebrid/torrents/Show S01/readme.nfo": {"size": 300, "seed": 14},
    "realdebrid/torrents/..\u2215evil\u2215name/film.mp4": {"size": 2 * MiB, "seed": 21},
    "realdebrid/torrents/.status": None,  # generated: what is not shown and why
    "realdebrid/downloads/.status": None,
}


def config_for(urls: dict[str, str], token: str | None = TOKEN) -> str:
    lines = ["[realdebrid]", f'api_url = "{urls["realdebrid"]}"']
    if token is not None:
        lines.append(f'token = "{token}"')
    return "\n".join(lines) + "\n"


@pytest.fixture
def mount(emu, tmp_path):
    with mounted(tmp_path, config_for(emu.urls)) as m:
        yield m


def files_below(root: Path) -> set[str]:
    found = set()
    for directory, _dirs, files in os.walk(root):
        for name in files:
            found.add(str((Path(directory) / name).relative_to(root)))
    return found


def test_tree_lists_downloads_and_finished_torrents(mount):
    # .debridfs is the mount's own control directory (uploads), not Real-Debrid's
    assert sorted(n for n in os.listdir(mount.path) if n != ".debridfs") == ["realdebrid"]
    assert sorted(os.listdir(mount.path / "realdebrid")) == ["downloads", "torrents"]
    assert files_below(mount.path / "realdebrid") == {p.removeprefix("realdebrid/") for p in EXPECTED_FILES}
    # ls -R, as a user would run it, sees the same
    out = subprocess.run(["ls", "-R", str(mount.path)], capture_output=True, text=True, check=True).stdout
    assert "Show.S01E02.mkv" in out and "Still Downloading" not in out and "sample.mkv" not in out


def test_sizes_and_modes(mount):
    for relative, spec in EXPECTED_FILES.items():
        st = os.stat(mount.path / relative)
        if spec is not None:
            assert st.st_size == spec["size"], relative
        assert st.st_mode & 0o222 == 0, "files are read-only"
    sizes = sorted(
        os.stat(mount.path / "realdebrid/downloads" / n).st_size
        for n in ("Movie (2020).mkv", "Movie (2020) (2).mkv")
    )
    assert sizes == [1000, 3 * MiB + 17]


def test_small_files_read_back_identical(mount):
    for relative, spec in EXPECTED_FILES.items():
        if spec is None or spec["size"] > 16 * MiB:
            continue
        data = (mount.path / relative).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha256_of(SyntheticContent(**spec)), relative


def test_cp_of_256_mib_is_identical(mount, tmp_path):
    target = tmp_path / "copy.bin"
    subprocess.run(
        ["cp", str(mount.path / "realdebrid/downloads/big.bin"), str(target)], check=True, timeout=240
    )
    digest = hashlib.sha256()
    with open(target, "rb") as f:
        while chunk := f.read(8 * MiB):
            digest.update(chunk)
    assert digest.hexdigest() == sha256_of(SyntheticContent(256 * MiB, 1))


def test_random_preads(mount):
    content = SyntheticContent(256 * MiB, 1)
    rng = random.Random(42)
    fd = os.open(mount.path / "realdebrid/downloads/big.bin", os.O_RDONLY)
    try:
        for _ in range(200):
            offset = rng.randrange(0, content.size)
            length = rng.choice([1, 100, 4096, 65536, 131072, 1 << 20])
            assert os.pread(fd, length, offset) == content.read(offset, length), (offset, length)
        assert os.pread(fd, 100, content.size) == b""
        assert os.pread(fd, 100, content.size - 10) == content.read(content.size - 10, 10)
    finally:
        os.close(fd)


def test_two_processes_read_the_same_file_at_once(mount):
    path = mount.path / "realdebrid/torrents/Show S01/Season 1/Show.S01E02.mkv"
    script = (
        "import hashlib,sys; h=hashlib.sha256(); f=open(sys.argv[1],'rb')\n"
        "while (b:=f.read(65536)): h.update(b)\nprint(h.hexdigest())"
    )
    readers = [
        subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    expected = sha256_of(SyntheticContent(6 * MiB + 1, 12))
    for reader in readers:
        out, _ = reader.communicate(timeout=60)
        assert out.strip() == expected


def test_writes_are_refused(mount):
    # refusals are logged (deleting says how to allow it: see test_realdebrid_write.py)
    mount.expect_log(r"(mkdir|create|unlink|rename) failed")
    mount.expect_log(r"refusing to delete .* allow_delete = true")
    target = mount.path / "realdebrid/downloads/big.bin"
    with pytest.raises(OSError) as info:
        os.open(target, os.O_WRONLY)
    assert info.value.errno in (errno.EROFS, errno.EACCES)
    for action in (
        lambda: os.mkdir(mount.path / "realdebrid/torrents/new"),
        lambda: open(mount.path / "realdebrid/downloads/new.txt", "w"),
        lambda: os.unlink(target),
        lambda: os.rename(target, mount.path / "realdebrid/downloads/renamed.bin"),
    ):
        with pytest.raises(OSError) as info:
            action()
        assert info.value.errno in (errno.EROFS, errno.EACCES)


def test_inodes_are_stable_across_remounts(emu, tmp_path):
    relative = "realdebrid/torrents/Show S01/Season 1/Show.S01E01.mkv"
    with mounted(tmp_path, config_for(emu.urls)) as first:
        inode = os.stat(first.path / relative).st_ino
    with mounted(tmp_path, config_for(emu.urls)) as second:
        assert os.stat(second.path / relative).st_ino == inode


@pytest.mark.parametrize("token, words", [("rd-wrong-token", "token"), ("rd-locked-token", "locked")])
def test_bad_credentials_fail_before_mounting(emu, tmp_path, token, words):
    process, mountpoint, _log, _config, line = start_mount(tmp_path, config_for(emu.urls, token))
    try:
        status = process.wait(timeout=30)
        stderr = process.stderr.read().decode()
    finally:
        unmount(mountpoint, process)
    assert status != 0
    assert line == ""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0].lower(), stderr
    assert token not in stderr
    assert not is_mounted(mountpoint)


def test_missing_token_says_where_to_put_it(emu, tmp_path):
    process, mountpoint, _log, _config, _line = start_mount(tmp_path, config_for(emu.urls, None))
    try:
        status = process.wait(timeout=30)
        stderr = process.stderr.read().decode()
    finally:
        unmount(mountpoint, process)
    assert status != 0 and "DEBRIDFS_REALDEBRID_TOKEN" in stderr
    assert not is_mounted(mountpoint)


def test_token_from_environment(emu, tmp_path):
    with mounted(tmp_path, config_for(emu.urls, None), env={"DEBRIDFS_REALDEBRID_TOKEN": TOKEN}) as m:
        assert "big.bin" in os.listdir(m.path / "realdebrid/downloads")


def test_sigterm_unmounts_and_exits_zero(emu, tmp_path):
    process, mountpoint, _log, _config, line = start_mount(tmp_path, config_for(emu.urls))
    try:
        assert "mounted at" in line and is_mounted(mountpoint)
        process.send_signal(15)
        assert process.wait(timeout=30) == 0
        assert not is_mounted(mountpoint)
    finally:
        unmount(mountpoint, process)


def test_daemon_mode_returns_once_mounted(emu, tmp_path):
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(config_for(emu.urls))
    config.chmod(0o600)
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    result = subprocess.run(
        [sys.executable, "-m", "vfs.cli", "mount", str(mountpoint), "--config", str(config), "--daemon"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    try:
        assert result.returncode == 0, result.stderr
        assert is_mounted(mountpoint)
        assert "big.bin" in os.listdir(mountpoint / "realdebrid/downloads")
    finally:
        subprocess.run(["fusermount3", "-u", str(mountpoint)], capture_output=True)
    assert not is_mounted(mountpoint)


def test_a_mount_left_by_a_killed_daemon_is_explained(emu, tmp_path):
    process, mountpoint, _log, config, line = start_mount(tmp_path, config_for(emu.urls))
    try:
        assert "mounted at" in line
        process.kill()
        process.wait(timeout=30)
        again = subprocess.run(
            [sys.executable, "-m", "vfs.cli", "mount", str(mountpoint), "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert again.returncode != 0
        assert "fusermount3 -uz" in again.stderr
    finally:
        unmount(mountpoint, process)
    assert not is_mounted(mountpoint)
