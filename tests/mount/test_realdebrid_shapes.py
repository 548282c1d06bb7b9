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
from tests.mounting import mounted, sha256_through

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
