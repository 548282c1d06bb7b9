"""A media server's library scan through a real mount: what Plex or Jellyfin
do to a new library (walk it, stat every file, ffprobe every video, four at
a time) and then again on the next scheduled scan. A scan must find every
file playable, cost one direct link per file, stay inside the account's
rate limit, fetch a small part of each file, and a rescan must cost neither
API calls nor origin bytes."""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.emulators.harness import run_emulator
from tests.emulators.media import SECONDS, make_media
from tests.mounting import mounted, wait_until

pytestmark = pytest.mark.skipif(
    subprocess.run(["which", "ffprobe"], capture_output=True).returncode != 0,
    reason="ffmpeg is not installed (scripts/setup.sh installs it)",
)

TOKEN = "rd-good-token"
EPISODES = 24
UNRESTRICT = "POST /unrestrict/link"
INFO = "GET /torrents/info/{id}"


def library(media: dict[str, Path]) -> dict:
    torrents = []
    for n in range(1, EPISODES + 1):
        kind = "mkv" if n % 2 else "mp4"
        name = f"Show.S01E{n:02d}.1080p.{kind}"
        torrents.append(
            {
                "id": f"EP{n:02d}",
                "filename": f"Show S01E{n:02d}",
                "status": "downloaded",
                "files": [
                    {"path": f"/{name}", "content": {"path": str(media[kind])}, "selected": 1},
                    {"path": "/Sample/sample.txt", "content": {"size": 300, "seed": n}, "selected": 1},
                ],
            }
        )
    # The service's real limit, enforced by the emulator; the client runs with its default.
    return {"realdebrid": {"token": TOKEN, "rate_limit_per_minute": 250, "torrents": torrents}}


def scan(root: Path) -> tuple[dict[str, float], int]:
    """Walks `root` like a scanner: stat everything, ffprobe each video.
    Returns {path: duration} and the bytes ffprobe read (its rchar)."""
    videos = []
    for directory, _dirs, files in os.walk(root):
        for name in files:
            path = Path(directory) / name
            os.stat(path)
            if path.suffix in (".mkv", ".mp4"):
                videos.append(path)

    def probe(path: Path) -> tuple[str, float, int]:
        script = '"$@" 2>&1; grep ^rchar /proc/$$/io'
        ffprobe = ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)]
        out = subprocess.run(
            ["sh", "-c", script, "sh", *ffprobe],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        text, _, rchar = out.rpartition("rchar:")
        duration = json.loads(text)["format"]["duration"]
        return str(path.relative_to(root)), float(duration), int(rchar)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(probe, videos))
    return {path: duration for path, duration, _ in results}, sum(rchar for *_, rchar in results)


def test_a_library_scan_then_a_rescan(tmp_path):
    media = make_media(tmp_path / "media")
    with run_emulator(library(media)) as emu:
        config = f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\n'
        with mounted(tmp_path, config) as mount:
            root = mount.path / "realdebrid/torrents"
            wait_until(lambda: emu.calls("realdebrid", INFO) >= EPISODES, 60, "the first sync")
            emu.reset_stats()

            durations, probed = scan(root)
            assert len(durations) == EPISODES
            assert all(abs(d - SECONDS) < 1 for d in durations.values()), durations
            stats = emu.stats()
            assert stats["calls"].get(f"realdebrid {UNRESTRICT}", 0) == EPISODES  # one link per video
            # Headers and indexes only: far less than the files, close to what ffprobe read.
            sizes = sum(os.stat(root / path).st_size for path in durations)
            assert stats["data_bytes"] <= 3 * probed, (stats["data_bytes"], probed)
            assert stats["data_bytes"] < sizes / 2, (stats["data_bytes"], sizes)

            emu.reset_stats()
            again, _ = scan(root)
            assert again == durations
            stats = emu.stats()
            assert stats["data_bytes"] == 0, "a rescan fetched from the origin"
            assert stats["calls"].get(f"realdebrid {UNRESTRICT}", 0) == 0, "a rescan resolved links again"
            assert "rate limited" not in mount.log_text()
