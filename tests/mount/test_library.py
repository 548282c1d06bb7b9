"""The library view through a real mount: 1,000 realistic release names (the
fixture tests/fixtures/release_names.json, written from public naming
conventions) land in `library/movies` and `library/shows` with at least 95%
of their files where the conventions put them; samples, extras and non-video
files never do; listing it costs no API call; names and inodes stay the same
when the account changes; files read the same bytes as in `torrents/`."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from tests.emulators.content import SyntheticContent, sha256_of
from tests.emulators.harness import run_emulator
from tests.mounting import mounted, wait_until
from vfs.config import ConfigError, load_config
from vfs.release import is_extra, place

TOKEN = "rd-good-token"
FIXTURE = Path(__file__).parent.parent / "fixtures/release_names.json"


def fixture() -> list[dict]:
    return json.loads(FIXTURE.read_text())


def rd_library(items: list[dict]) -> dict:
    torrents = []
    for i, item in enumerate(items):
        torrents.append(
            {
                "id": f"T{i:05d}",
                "filename": item["name"],
                "files": [
                    {"path": f["path"], "content": {"size": 1000 + i, "seed": i * 10 + j}}
                    for j, f in enumerate(item["files"])
                ],
            }
        )
    return {"realdebrid": {"token": TOKEN, "rate_limit_per_minute": 0, "torrents": torrents}}


def norm(place: str | None) -> tuple | None:
    """A place with its title folder compared by letters and digits only (case,
    punctuation and spacing are a media server's business)."""
    if place is None:
        return None
    parts = place.split("/")
    parts[1] = re.sub(r"[^0-9a-z]", "", parts[1].casefold())
    return tuple(parts)


def walk(root: Path) -> dict[str, int]:
    """Relative path -> inode of every file below `root` (an ls -lR)."""
    found = {}
    for directory, _dirs, files in os.walk(root):
        for name in files:
            path = Path(directory) / name
            found[str(path.relative_to(root))] = path.stat().st_ino
    return found


def api_calls(emu) -> dict[str, int]:
    """Real-Debrid calls other than the background sync's list checks."""
    return {
        k: v
        for k, v in emu.stats()["calls"].items()
        if k.startswith("realdebrid") and k not in ("realdebrid GET /torrents", "realdebrid GET /downloads")
    }


def test_a_thousand_releases(tmp_path):
    items = fixture()
    assert len(items) == 1000
    expected = {
        f["path"].rsplit("/", 1)[-1] + "\0" + item["name"]: f["expected"]
        for item in items
        for f in item["files"]
    }
    placed_expected = [p for p in expected.values() if p]
    with run_emulator(rd_library(items)) as emu:
        config = (
            f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\n'
            "rate_limit_per_minute = 100000\nrefresh_interval = 0.5\n[library]\nenabled = true\n"
        )
        with mounted(tmp_path, config) as mount:
            library = mount.path / "library"
            assert sorted(os.listdir(library)) == ["movies", "shows"]
            wait_until(
                lambda: emu.calls("realdebrid", "GET /torrents/info/{id}") >= 1000,
                120,
                "every torrent's details",
            )
            wait_until(lambda: len(walk(library)) >= len(placed_expected) * 0.95, 60, "the library")
            before = api_calls(emu)
            listing = walk(library)
            assert walk(library) == listing
            # pure metadata: two ls -lR cost no call (the sync's own list checks aside)
            assert api_calls(emu) == before
            actual = {norm(path) for path in listing}
            right = sum(1 for p in placed_expected if norm(p) in actual)
            # files that belong nowhere must not show (by their file name)
            names = {path.rsplit("/", 1)[-1] for path in listing}
            misplaced = [key for key, p in expected.items() if p is None and key.split("\0")[0] in names]
            total = len(expected)
            score = (right + (total - len(placed_expected)) - len(misplaced)) / total
            print(
                f"\n[library] {len(items)} releases, {total} files: {right}/{len(placed_expected)} "
                f"placed right, {len(misplaced)} that belong nowhere shown; score {score:.3f}"
            )
            assert score >= 0.95
            assert not [
                p
                for p in listing
                if is_extra(p.split("/", 2)[-1]) or p.endswith((".nfo", ".srt", ".txt", ".jpg"))
            ]
            assert len(listing) == len(set(listing))

            # the same remote file, the same bytes
            movie = next(p for p in sorted(listing) if p.startswith("movies/"))
            item_index, item, file_index = next(
                (i, it, j)
                for i, it in enumerate(items)
                for j, f in enumerate(it["files"])
                if f["expected"] and norm(f["expected"]) == norm(movie)
            )
            data = (library / movie).read_bytes()
            assert hashlib.sha256(data).hexdigest() == sha256_of(
                SyntheticContent(1000 + item_index, item_index * 10 + file_index)
            )

            # a change elsewhere in the account: every name and inode stays
            emu.action(
                "realdebrid",
                "add_torrent",
                {
                    "id": "NEWONE",
                    "filename": "Heat.1995.720p.BluRay.x264-NEW",
                    "files": [
                        {"path": "/Heat.1995.720p.BluRay.x264-NEW.mkv", "content": {"size": 5, "seed": 5}}
                    ],
                },
            )
            wait_until(
                lambda: "Heat.1995.720p.BluRay.x264-NEW.mkv" in os.listdir(library / "movies/Heat (1995)"),
                30,
                "the new release",
            )
            after = walk(library)
            assert {p: i for p, i in after.items() if p in listing} == listing
            assert set(after) - set(listing) == {"movies/Heat (1995)/Heat.1995.720p.BluRay.x264-NEW.mkv"}


def test_places():
    assert place("The.Matrix.1999.1080p.BluRay.x264-GRP", "/Sample/grp-matrix-sample.mkv") is None
    assert place("The.Matrix.1999.1080p.BluRay.x264-GRP", "/The.Matrix.nfo") is None
    movie = place("The.Matrix.1999.1080p.BluRay.x264-GRP", "/The.Matrix.1999.1080p.BluRay.x264-GRP.mkv")
    assert (movie.kind, movie.folder) == ("movies", "The Matrix (1999)")
    show = place("Some.Show.S02.1080p.WEB-GRP", "/Some.Show.S02E05.1080p.WEB-GRP.mkv")
    assert (show.kind, show.folder, show.season) == ("shows", "Some Show", 2)
    anime = place(
        "[SubsPlease] Spy x Family - 05 (1080p) [ABCD1234].mkv",
        "/[SubsPlease] Spy x Family - 05 (1080p) [ABCD1234].mkv",
    )
    assert (anime.folder, anime.season) == ("Spy x Family", 1)
    assert place("The.Interview.2014.1080p", "/The.Interview.2014.1080p.mkv").folder == "The Interview (2014)"
    assert place("Home Videos", "/clip.mp4") is None
    assert place("Ubuntu 24.04", "/ubuntu.iso") is None


def test_library_needs_realdebrid(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[library]\nenabled = true\n")
    with pytest.raises(ConfigError, match="needs a \\[realdebrid\\]"):
        load_config(path, env={})
    path.write_text('[library]\nenabled = "yes"\n')
    with pytest.raises(ConfigError, match="true or false"):
        load_config(path, env={})
