"""Real, short media for the demo and its tests, made with ffmpeg on the spot.

The sample library's "movies" are random bytes, which ffprobe rejects. This
swaps the video files of the Real-Debrid sample for real ones: an MP4 with
its `moov` atom at the end (what a media server's probe must seek to) and an
MKV with cues (its seek index, also at the end), 12 seconds each, so
`ffprobe` and `ffmpeg -ss` work through the mount.

    python -m tests.emulators.media OUTDIR     # writes OUTDIR/library.json, prints its path
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from .library import sample_library

SECONDS = 12
SOURCES = [
    "-f",
    "lavfi",
    "-i",
    f"testsrc2=size=640x360:rate=25:duration={SECONDS}",
    "-f",
    "lavfi",
    "-i",
    f"sine=frequency=440:duration={SECONDS}",
]
CODECS = [
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-g",
    "50",
    "-pix_fmt",
    "yuv420p",
    "-c:a",
    "aac",
    "-shortest",
]


def make_media(directory: Path) -> dict[str, Path]:
    """{"mp4": path, "mkv": path}; made once per directory."""
    directory.mkdir(parents=True, exist_ok=True)
    made = {}
    for kind in ("mp4", "mkv"):
        path = directory / f"demo.{kind}"
        if not path.exists():
            partial = path.with_suffix(f".part.{kind}")
            # Without +faststart the MP4 muxer writes moov after mdat; the
            # Matroska muxer writes its cues at the end by default.
            subprocess.run(["ffmpeg", "-v", "error", "-y", *SOURCES, *CODECS, str(partial)], check=True)
            partial.rename(path)
        made[kind] = path
    return made


def media_library(directory: Path) -> dict[str, Any]:
    """The sample library with every .mp4/.mkv of Real-Debrid made real."""
    media = make_media(directory)
    library = sample_library()
    rd = library["realdebrid"]
    entries = [(d, "filename") for d in rd["downloads"]] + [
        (f, "path") for t in rd["torrents"] for f in t.get("files", [])
    ]
    for entry, key in entries:
        suffix = entry[key].rsplit(".", 1)[-1].lower()
        if suffix in media:
            entry["content"] = {"path": str(media[suffix])}
    return library


def main(argv: list[str]) -> int:
    directory = Path(argv[0])
    path = directory / "library.json"
    path.write_text(json.dumps(media_library(directory)))
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
