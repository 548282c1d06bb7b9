"""Bounded repair of broken Real-Debrid torrents through a real mount (issue
10): a link answering hoster_unavailable (19) gets the torrent added again
(same hash, same selection), the old one is deleted only once the new one
is downloaded and serves the file, at most `repair_max_attempts` times, then
`.status` says broken; `repair = false` only reports. API calls are counted."""

from __future__ import annotations

import errno
import os

import pytest

from tests.emulators.content import SyntheticContent, sha256_of
from tests.emulators.harness import run_emulator
from tests.mounting import mounted, sha256_through, wait_until

TOKEN = "rd-good-token"
KiB = 1 << 10
HASH = "ab" * 20
ADD = "POST /torrents/addMagnet"
SELECT = "POST /torrents/selectFiles/{id}"
DELETE = "DELETE /torrents/delete/{id}"
UNRESTRICT = "POST /unrestrict/link"

LIBRARY = {
    "realdebrid": {
        "token": TOKEN,
        "torrents": [
            {
                "id": "TBROKEN",
                "filename": "Broken Show",
                "hash": HASH,
                "status": "downloaded",
                "files": [
                    {
                        "path": "/e01.mkv",
                        "content": {"size": 40 * KiB, "seed": 1},
                        "selected": 1,
                        "broken": True,
                    },
                    {"path": "/e02.mkv", "content": {"size": 30 * KiB, "seed": 2}, "selected": 1},
                    {"path": "/extras.nfo", "content": {"size": KiB, "seed": 3}, "selected": 0},
                ],
            },
        ],
    }
}


def config(emu, extra: str = "") -> str:
    return (
        f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\n'
        f"refresh_interval = 0.3\n{extra}"
    )


def read_fails(path) -> int:
    with pytest.raises(OSError) as caught:
        with open(path, "rb") as f:
            f.read()
    return caught.value.errno


def torrent_ids(emu) -> list[str]:
    return [t["id"] for t in emu.view("realdebrid")["torrents"]]


def test_a_broken_torrent_is_repaired_once(tmp_path):
    with run_emulator(LIBRARY) as emu:
        with mounted(tmp_path, config(emu)) as mount:
            mount.expect_log(r"read failed|open failed|hoster_unavailable|broken")
            show = mount.path / "realdebrid/torrents/Broken Show"
            assert read_fails(show / "e01.mkv") == errno.EIO
            wait_until(lambda: "TBROKEN" not in torrent_ids(emu), 60, "the old torrent to be deleted")
            (new_id,) = torrent_ids(emu)
            wait_until(
                lambda: (
                    os.path.exists(show / "e01.mkv")
                    and not (mount.path / "realdebrid/torrents/Broken Show (2)").exists()
                ),
                20,
                "the new torrent shown",
            )
            assert sha256_through(show / "e01.mkv") == sha256_of(SyntheticContent(40 * KiB, 1))
            assert sorted(os.listdir(show)) == ["e01.mkv", "e02.mkv"]  # the same selection
            assert emu.calls("realdebrid", ADD) == 1
            assert emu.calls("realdebrid", SELECT) == 1
            assert emu.calls("realdebrid", DELETE) == 1
            # the failed read, the check of the new torrent, the read that works
            assert emu.calls("realdebrid", UNRESTRICT) <= 3
            assert "\nbroken " not in (mount.path / "realdebrid/torrents/.status").read_text()
            assert new_id != "TBROKEN"


def test_a_torrent_that_stays_broken_is_reported_after_the_attempts(tmp_path):
    library = {"realdebrid": {**LIBRARY["realdebrid"], "readd_fixes": False}}
    with run_emulator(library) as emu:
        extra = "repair_interval = 0\nrepair_max_attempts = 2\n"
        with mounted(tmp_path, config(emu, extra)) as mount:
            mount.expect_log(r"read failed|open failed|hoster_unavailable|broken")
            show = mount.path / "realdebrid/torrents/Broken Show"
            status = mount.path / "realdebrid/torrents/.status"
            assert read_fails(show / "e01.mkv") == errno.EIO
            wait_until(lambda: "\nbroken " in status.read_text(), 60, "the torrent reported broken")
            text = status.read_text()
            assert "Broken Show (TBROKEN): hoster_unavailable (code 19); added again 2 of 2 times" in text
            assert torrent_ids(emu) == ["TBROKEN"], "the old torrent must stay; failed copies go"
            calls = {what: emu.calls("realdebrid", what) for what in (ADD, SELECT, DELETE, UNRESTRICT)}
            assert calls == {ADD: 2, SELECT: 2, DELETE: 2, UNRESTRICT: 3}, calls
            # reads of the broken file fail at once from now on; nothing is added again
            for _ in range(3):
                assert read_fails(show / "e01.mkv") == errno.EIO
            list_calls = emu.calls("realdebrid", "GET /torrents")
            wait_until(lambda: emu.calls("realdebrid", "GET /torrents") >= list_calls + 10, 30, "more syncs")
            assert {what: emu.calls("realdebrid", what) for what in calls} == calls
            assert sha256_through(show / "e02.mkv") == sha256_of(SyntheticContent(30 * KiB, 2))


def test_repair_off_only_reports(tmp_path):
    with run_emulator(LIBRARY) as emu:
        with mounted(tmp_path, config(emu, "repair = false\n")) as mount:
            mount.expect_log(r"read failed|open failed|hoster_unavailable|broken")
            show = mount.path / "realdebrid/torrents/Broken Show"
            assert read_fails(show / "e01.mkv") == errno.EIO
            status = mount.path / "realdebrid/torrents/.status"
            wait_until(lambda: "\nbroken " in status.read_text(), 10, "the report")
            assert "repair = false" in status.read_text()
            assert read_fails(show / "e01.mkv") == errno.EIO
            assert emu.calls("realdebrid", ADD) == 0 and emu.calls("realdebrid", UNRESTRICT) == 1
