"""Real-Debrid changes reaching a real mount: the kernel forgets a removed or
renamed torrent long before `entry_timeout`, added torrents appear, the
on_change hook runs once with the changed paths, grouping directories and
the extensions filter, and a first mount of a big library at 250/min that
does not wait for every torrent's details."""

from __future__ import annotations

import errno
import hashlib
import os
import sys
import time
from pathlib import Path

import pytest

from tests.emulators.content import SyntheticContent, sha256_of
from tests.emulators.harness import run_emulator
from tests.mounting import mounted
from tests.mounting import wait_until as wait_for

TOKEN = "rd-good-token"
KiB = 1 << 10


def torrent(tid: str, name: str, *paths: str, seed: int = 0) -> dict:
    return {
        "id": tid,
        "filename": name,
        "status": "downloaded",
        "files": [
            {"path": path, "content": {"size": 10 * KiB + i, "seed": seed + i}, "selected": 1}
            for i, path in enumerate(paths)
        ],
    }


def gone(path: Path) -> bool:
    try:
        os.stat(path)
    except FileNotFoundError:
        return True
    return False


HOOK = "import sys, json\nopen(sys.argv[1], 'a').write(json.dumps(sys.argv[2:]) + '\\n')\n"


def test_changes_reach_the_kernel_and_the_hook(tmp_path):
    import json

    hook_script = tmp_path / "hook.py"
    hook_script.write_text(HOOK)
    hook_log = tmp_path / "hook.log"
    library = {
        "realdebrid": {
            "token": TOKEN,
            "torrents": [
                torrent("TKEEP", "Keep Me", "/a.mkv", seed=10),
                torrent("TGONE", "Going Away", "/b.mkv", "/sub/c.mkv", seed=20),
                torrent("TREN", "Old Name", "/d.mkv", seed=30),
            ],
        }
    }
    with run_emulator(library) as emu:
        config = (
            f"[mount]\nentry_timeout = 60\nattr_timeout = 60\nlisting_ttl = 60\n"
            f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\n'
            f"refresh_interval = 0.5\n"
            f"on_change = {json.dumps([sys.executable, str(hook_script), str(hook_log)])}\n"
        )
        with mounted(tmp_path, config) as mount:
            torrents = mount.path / "realdebrid/torrents"
            # the kernel caches these names (and the files below) for 60 s
            assert os.stat(torrents / "Going Away").st_ino
            assert os.stat(torrents / "Going Away/sub/c.mkv").st_size == 10 * KiB + 1
            assert os.stat(torrents / "Old Name/d.mkv").st_size == 10 * KiB
            assert sorted(os.listdir(torrents)) == [".status", "Going Away", "Keep Me", "Old Name"]

            emu.action("realdebrid", "remove_torrent", {"id": "TGONE"})
            t0 = time.monotonic()
            wait_for(lambda: gone(torrents / "Going Away"), 15, "stat of the removed torrent to fail")
            removed_after = time.monotonic() - t0
            assert gone(torrents / "Going Away/sub/c.mkv")
            with pytest.raises(OSError) as info:
                os.stat(torrents / "Going Away")
            assert info.value.errno == errno.ENOENT

            emu.action("realdebrid", "rename_torrent", {"id": "TREN", "filename": "New Name"})
            wait_for(lambda: gone(torrents / "Old Name"), 15, "the old name to vanish")
            assert os.stat(torrents / "New Name/d.mkv").st_size == 10 * KiB
            # a rename tells the hook both paths: the old one is gone, the new one is there
            old_path, new_path = str(torrents / "Old Name"), str(torrents / "New Name")
            wait_for(
                lambda: (
                    hook_log.exists()
                    and any(
                        sorted(json.loads(line)) == [new_path, old_path]
                        for line in hook_log.read_text().splitlines()
                    )
                ),
                15,
                "the hook to hear of the rename",
            )
            assert any(
                json.loads(line) == [str(torrents / "Going Away")]
                for line in hook_log.read_text().splitlines()
            )

            hook_log.unlink()
            added = emu.action("realdebrid", "add_torrent", torrent("", "Fresh Arrival", "/e.mkv", seed=40))
            assert added["id"]
            t0 = time.monotonic()
            wait_for(lambda: "Fresh Arrival" in os.listdir(torrents), 15, "the added torrent")
            added_after = time.monotonic() - t0
            data = (torrents / "Fresh Arrival/e.mkv").read_bytes()
            assert hashlib.sha256(data).hexdigest() == sha256_of(SyntheticContent(10 * KiB, 40))
            assert sorted(os.listdir(torrents)) == [".status", "Fresh Arrival", "Keep Me", "New Name"]

            # the hook ran once for the addition, with the absolute path of the new torrent
            fresh_path = str(torrents / "Fresh Arrival")
            calls = wait_for(
                lambda: [
                    json.loads(line)
                    for line in (hook_log.read_text().splitlines() if hook_log.exists() else [])
                    if fresh_path in line
                ],
                15,
                "the on_change hook",
            )
            assert calls == [[fresh_path]], calls
            # ...and only once: more idle refreshes do not run it again
            refreshes = emu.calls("realdebrid", "GET /torrents")
            wait_for(lambda: emu.calls("realdebrid", "GET /torrents") >= refreshes + 3, 15, "3 refreshes")
            assert len(hook_log.read_text().splitlines()) == 1
            assert "on_change: ran" in mount.log_text()
    print(
        f"\n[changes] removed torrent gone from stat after {removed_after:.2f}s "
        f"(entry_timeout 60 s); added torrent listed after {added_after:.2f}s"
    )


def test_groups_and_extensions(tmp_path):
    library = {
        "realdebrid": {
            "token": TOKEN,
            "downloads": [
                {"id": "D1", "filename": "clip.mkv", "content": {"size": 2000, "seed": 1}},
                {"id": "D2", "filename": "notes.txt", "content": {"size": 100, "seed": 2}},
            ],
            "torrents": [
                torrent(
                    "TSHOW",
                    "Some.Show.S01.1080p",
                    "/Some.Show.S01E01.mkv",
                    "/Some.Show.S01E01.nfo",
                    "/Subs/en.srt",
                    seed=100,
                ),
                torrent("TFILM", "A Film (2021)", "/film.mp4", "/sample/sample.mkv", seed=200),
                torrent("TBOTH", "Docu S02 (1999)", "/ep.mkv", seed=300),
                torrent("TNONE", "Only Text (2020)", "/readme.txt", seed=400),
            ],
        }
    }
    with run_emulator(library) as emu:
        config = (
            f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\n'
            'extensions = ["mkv", ".MP4", "srt"]\n'
            "[realdebrid.groups]\n"
            "shows = '(?i)\\bS\\d\\d'\n"
            "movies = '\\((19|20)\\d\\d\\)'\n"
        )
        with mounted(tmp_path, config) as mount:
            rd = mount.path / "realdebrid"
            assert sorted(os.listdir(rd)) == ["downloads", "movies", "shows", "torrents"]
            # A torrent with no wanted file is known as such once its details are
            # synced (right after the lists, in the background): then it goes.
            wanted = [".status", "A Film (2021)", "Docu S02 (1999)", "Some.Show.S01.1080p"]
            wait_for(
                lambda: sorted(os.listdir(rd / "torrents")) == wanted,
                15,
                "the torrent without wanted files to go",
            )
            assert sorted(os.listdir(rd / "shows")) == ["Docu S02 (1999)", "Some.Show.S01.1080p"]
            assert sorted(os.listdir(rd / "movies")) == ["A Film (2021)", "Docu S02 (1999)"]
            for where in ("torrents", "shows"):
                show = rd / where / "Some.Show.S01.1080p"
                assert sorted(os.listdir(show)) == ["Some.Show.S01E01.mkv", "Subs"]
                assert os.listdir(show / "Subs") == ["en.srt"]
            for where in ("torrents", "movies"):
                film = rd / where / "A Film (2021)"
                assert sorted(os.listdir(film)) == ["film.mp4", "sample"]
                data = (film / "film.mp4").read_bytes()
                assert hashlib.sha256(data).hexdigest() == sha256_of(SyntheticContent(10 * KiB, 200))
            # the same file through two directories is one remote file: same bytes
            assert (rd / "shows/Docu S02 (1999)/ep.mkv").read_bytes() == (
                rd / "movies/Docu S02 (1999)/ep.mkv"
            ).read_bytes()
            assert sorted(os.listdir(rd / "downloads")) == [".status", "clip.mkv"]
            assert not (rd / "torrents/Only Text (2020)").exists()
            # group directories are views: nothing can be added or removed there
            with pytest.raises(OSError) as info:
                (rd / "shows/x.magnet").write_text("magnet:?xt=urn:btih:" + "a" * 40)
            assert info.value.errno in (errno.EROFS, errno.EACCES)


def test_first_mount_of_a_big_library_does_not_wait_for_details(tmp_path):
    # 2,000 torrents at the default 250 calls/min: all details would take ~9
    # minutes. The mount is up once /torrents is listed; a torrent nobody has
    # fetched yet loads on demand, ahead of the background sync.
    library = {
        "realdebrid": {
            "token": TOKEN,
            "rate_limit_per_minute": 250,
            "generate": {"torrents": 2000, "files_per_torrent": 3, "file_size": 4096},
        }
    }
    with run_emulator(library) as emu:
        config = (
            f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\n'
            "downloads_refresh_interval = 3600\n"
        )
        t0 = time.monotonic()
        with mounted(tmp_path, config) as mount:
            up = time.monotonic() - t0
            torrents = mount.path / "realdebrid/torrents"
            names = os.listdir(torrents)
            listed = time.monotonic() - t0
            assert len(names) == 2001
            assert up < 10, up
            # the oldest torrent: the background sync gets to it last
            wait_for(
                lambda: emu.calls("realdebrid", "GET /torrents/info/{id}") >= 100,
                30,
                "the background sync to be busy",
            )
            t1 = time.monotonic()
            inner = os.listdir(torrents / "Generated Torrent 01999/Generated Torrent 01999")
            on_demand = time.monotonic() - t1
            assert len(inner) == 3
            assert on_demand < 5, on_demand
            assert "backing off" not in mount.log_text()
    print(
        f"\n[first mount] 2000 torrents at 250/min: mount up in {up:.2f}s, torrents listed "
        f"after {listed:.2f}s, an unsynced torrent listed on demand in {on_demand:.2f}s"
    )
