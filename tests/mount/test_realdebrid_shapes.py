"""Real-Debrid replies in the shapes its document leaves open, through a real
mount (docs/providers.md, "Replies the documents leave open"): numbers as
strings, the 0/1 flags (`selected`) as booleans or strings, dates as unix
seconds or without a zone, optional fields as null, JSON served as text/html,
an empty page as `{}`. The listing, sizes, times and bytes stay the same."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from tests.emulators.content import SyntheticContent, sha256_of
from tests.emulators.harness import run_emulator
from tests.mounting import mounted, sha256_through, wait_until

TOKEN = "rd-good-token"
WANTED = SyntheticContent(300_000, 71)
DOWNLOAD = SyntheticContent(200_000, 72)
ADDED = "2026-03-04T05:06:07.000Z"
ENDED = "2026-03-04T06:07:08.000Z"
GENERATED = "2026-02-03T04:05:06.000Z"


def epoch(date: str) -> float:
    return dt.datetime.fromisoformat(date.replace("Z", "+00:00")).timestamp()


def library(shapes: dict, nulls: bool = False) -> dict:
    return {
        "realdebrid": {
            "token": TOKEN,
            "rate_limit_per_minute": 0,
            "shapes": shapes,
            "nulls": nulls,
            "torrents": [
                {
                    "id": "SHAPESTORRENT",
                    "filename": "Shapes Torrent",
                    "status": "downloaded",
                    "added": ADDED,
                    "ended": ENDED,
                    "files": [
                        {
                            "path": "/Shapes/a.mkv",
                            "content": {"size": WANTED.size, "seed": WANTED.seed},
                            "selected": 1,
                        },
                        {"path": "/Shapes/b.nfo", "content": {"size": 1234, "seed": 73}, "selected": 0},
                    ],
                }
            ],
            "downloads": [
                {
                    "id": "SHAPESDOWNLOA",
                    "filename": "dl shapes.mkv",
                    "content": {"size": DOWNLOAD.size, "seed": DOWNLOAD.seed},
                    "generated": GENERATED,
                    "filesize": 0,  # "unknown" in the document: the size comes from the download host
                }
            ],
        }
    }


def files_under(root: Path) -> dict[str, Path]:
    found = {}
    for directory, _dirs, names in os.walk(root):
        for name in names:
            if name != ".status":
                found[name] = Path(directory, name)
    return found


SHAPES = [
    pytest.param({"numbers": "strings"}, False, id="numbers-as-strings"),
    pytest.param({"flags": "bools"}, False, id="flags-as-booleans"),
    pytest.param({"flags": "strings", "numbers": "strings"}, False, id="flags-as-true-false-strings"),
    pytest.param({"dates": "epoch"}, False, id="dates-as-unix-seconds"),
    pytest.param({"dates": "naive", "numbers": "strings"}, False, id="dates-without-zone"),
    pytest.param({"content_type": "html"}, True, id="text-html-and-nulls"),
]


@pytest.mark.parametrize(("shapes", "nulls"), SHAPES)
def test_listing_sizes_times_and_bytes_in_every_shape(tmp_path, shapes, nulls):
    with run_emulator(library(shapes, nulls)) as emu:
        config = f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\n'
        with mounted(tmp_path, config) as mount:
            torrents = mount.path / "realdebrid/torrents"
            assert sorted(n for n in os.listdir(torrents) if n != ".status") == ["Shapes Torrent"]
            files = files_under(torrents / "Shapes Torrent")
            assert sorted(files) == ["a.mkv"], "the file not selected (selected 0) is not listed"
            st = files["a.mkv"].stat()
            assert st.st_size == WANTED.size
            assert st.st_mtime == epoch(ENDED)
            assert sha256_through(files["a.mkv"]) == sha256_of(WANTED)

            download = mount.path / "realdebrid/downloads/dl shapes.mkv"
            st = download.stat()
            assert st.st_size == DOWNLOAD.size
            assert st.st_mtime == epoch(GENERATED)
            assert sha256_through(download) == sha256_of(DOWNLOAD)


def odd_status(name: str, status: str, seed: int) -> dict:
    return {
        "filename": name,
        "status": status,
        "undocumented_status": True,
        "files": [{"path": f"/{name}.mkv", "content": {"size": 1000, "seed": seed}, "selected": 1}],
    }


@pytest.mark.parametrize("status", [200, 503])
def test_a_maintenance_page_and_unknown_statuses_change_nothing(tmp_path, status):
    """The API's edge answers an HTML page ("Temporarily Down For Maintenance")
    with 200 or 503 for a while: nothing leaves the listing, and reads work once
    it is over. Torrents in end states, or in a status no document lists, are
    not shown and break nothing."""
    lib = library({})
    lib["realdebrid"]["torrents"] += [
        odd_status("Virus One", "virus", 1),
        odd_status("Dead One", "dead", 2),
        odd_status("Magnet Error", "magnet_error", 3),
        odd_status("Paused One", "paused", 4),  # a status the service may add one day
    ]
    with run_emulator(lib) as emu:
        config = (
            "[mount]\nlisting_ttl = 0\n"
            f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\n'
            "refresh_interval = 0.2\ndownloads_refresh_interval = 0.2\n"
        )
        with mounted(tmp_path, config) as mount:
            # reads during the maintenance fail (EIO/EAGAIN) and are logged
            mount.expect_log(r"read failed: Real-Debrid .*(not a JSON object|HTTP 503|service)")
            torrents = mount.path / "realdebrid/torrents"
            downloads = mount.path / "realdebrid/downloads"
            shown = sorted(n for n in os.listdir(torrents) if n != ".status")
            assert shown == ["Shapes Torrent"]
            assert "dl shapes.mkv" in os.listdir(downloads)
            before = emu.calls("realdebrid", "GET /torrents")
            # a 503 is retried with backoff (1 s, 2 s...): fewer pages of it keep the test short
            count = 12 if status == 200 else 3
            emu.action("realdebrid", "maintenance", {"count": count, "status": status})
            # Six list calls can be one call and its five retries: jittered waits of up to
            # 1 + 2 + 4 + 8 + 16 s (docs/providers.md, "How long we wait").
            wait_until(
                lambda: emu.calls("realdebrid", "GET /torrents") >= before + (6 if status == 200 else 2),
                60,
                "list calls during the maintenance",
            )
            assert sorted(n for n in os.listdir(torrents) if n != ".status") == shown
            assert "dl shapes.mkv" in os.listdir(downloads)
            files = files_under(torrents / "Shapes Torrent")
            wait_until(lambda: _reads(files["a.mkv"], WANTED), 60, "a.mkv readable after the maintenance")
            assert sha256_through(downloads / "dl shapes.mkv") == sha256_of(DOWNLOAD)


def _reads(path: Path, content: SyntheticContent) -> bool:
    try:
        return sha256_through(path) == sha256_of(content)
    except OSError:
        return False
