"""Real-Debrid edge cases through a real mount (issue 10): rmdir of a torrent
whose details are not loaded yet loads them first (ENOTEMPTY, nothing
deleted); downloads listed with `filesize` 0 show their real size."""

from __future__ import annotations

import errno
import os

import pytest

from tests.emulators.content import SyntheticContent, sha256_of
from tests.emulators.harness import run_emulator
from tests.mounting import mounted, sha256_through

TOKEN = "rd-good-token"
KiB = 1 << 10
INFO = "GET /torrents/info/{id}"


def test_rmdir_of_a_torrent_whose_details_are_not_loaded(tmp_path):
    # 40 torrents ahead of the target and a client limit of 30 calls a minute:
    # the background sync reaches the target's details after a minute or more.
    others = [
        {
            "id": f"T{n:02d}",
            "filename": f"Other {n:02d}",
            "status": "downloaded",
            "files": [{"path": "/o.mkv", "content": {"size": KiB, "seed": n}, "selected": 1}],
        }
        for n in range(40)
    ]
    target = {
        "id": "TARGET",
        "filename": "Target",
        "status": "downloaded",
        "files": [{"path": "/movie.mkv", "content": {"size": 4 * KiB, "seed": 77}, "selected": 1}],
    }
    library = {"realdebrid": {"token": TOKEN, "torrents": others + [target]}}
    with run_emulator(library) as emu:
        config = (
            f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\n'
            "allow_delete = true\nrate_limit_per_minute = 30\n"
        )
        with mounted(tmp_path, config) as mount:
            target_dir = mount.path / "realdebrid/torrents/Target"
            assert emu.calls("realdebrid", INFO) < 40
            with pytest.raises(OSError) as caught:
                os.rmdir(target_dir)
            assert caught.value.errno == errno.ENOTEMPTY
            assert any(t["id"] == "TARGET" for t in emu.view("realdebrid")["torrents"])
            assert os.listdir(target_dir) == ["movie.mkv"]


def test_downloads_with_filesize_zero_show_their_real_size(tmp_path):
    library = {
        "realdebrid": {
            "token": TOKEN,
            "downloads": [
                {
                    "id": "DLZERO",
                    "filename": "unknown.mkv",
                    "filesize": 0,
                    "content": {"size": 123 * KiB + 7, "seed": 5},
                },
                {"id": "DLKNOWN", "filename": "known.mkv", "content": {"size": 2 * KiB, "seed": 6}},
            ],
        }
    }
    with run_emulator(library) as emu:
        config = f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\n'
        with mounted(tmp_path, config) as mount:
            downloads = mount.path / "realdebrid/downloads"
            assert os.stat(downloads / "unknown.mkv").st_size == 123 * KiB + 7
            assert sha256_through(downloads / "unknown.mkv") == sha256_of(SyntheticContent(123 * KiB + 7, 5))
            assert os.stat(downloads / "known.mkv").st_size == 2 * KiB
            assert "size unknown" not in (downloads / ".status").read_text()
