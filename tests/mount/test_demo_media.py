"""The demo's media play through the mount: ffprobe reads an MP4 whose moov
is at the end and an MKV with cues, and ffmpeg -ss seeks into both."""

from __future__ import annotations

import json
import struct
import subprocess

import pytest

from tests.emulators.harness import run_emulator
from tests.emulators.media import SECONDS, make_media, media_library
from tests.mounting import mounted

pytestmark = pytest.mark.skipif(
    subprocess.run(["which", "ffprobe"], capture_output=True).returncode != 0,
    reason="ffmpeg is not installed (scripts/setup.sh installs it)",
)

MP4 = "realdebrid/downloads/Big Buck Bunny (2008) 1080p.mp4"
MKV = "realdebrid/torrents/Sintel (2010) [1080p]/Sintel.2010.1080p.mkv"


def top_level_atoms(data: bytes) -> list[str]:
    atoms, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        atoms.append(kind.decode("latin-1"))
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        if size < 8:
            break
        offset += size
    return atoms


def test_the_generated_media_are_the_hard_cases(tmp_path):
    media = make_media(tmp_path / "media")
    atoms = top_level_atoms(media["mp4"].read_bytes())
    assert atoms.index("mdat") < atoms.index("moov"), atoms  # moov at the end
    mkv = media["mkv"].read_bytes()
    assert b"\x1c\x53\xbb\x6b" in mkv[len(mkv) // 2 :]  # Cues, in the second half


def test_ffprobe_and_seek_through_the_mount(tmp_path):
    library = media_library(tmp_path / "media")
    with run_emulator(library) as emu:
        config = (
            f'[realdebrid]\ntoken = "rd-good-token"\napi_url = "{emu.urls["realdebrid"]}"\n'
            f'[paths]\nstate_dir = "{tmp_path / "state"}"\n'
        )
        with mounted(tmp_path, config) as mount:
            for relative, name in ((MP4, "mov,mp4,m4a,3gp,3g2,mj2"), (MKV, "matroska,webm")):
                path = mount.path / relative
                probe = subprocess.run(
                    [
                        "ffprobe",
                        "-v",
                        "error",
                        "-show_entries",
                        "format=duration,format_name:stream=codec_type",
                        "-of",
                        "json",
                        str(path),
                    ],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                assert probe.returncode == 0, probe.stderr
                info = json.loads(probe.stdout)
                assert info["format"]["format_name"] == name
                assert abs(float(info["format"]["duration"]) - SECONDS) < 1
                assert sorted(s["codec_type"] for s in info["streams"]) == ["audio", "video"]
                frame = tmp_path / f"frame-{path.suffix[1:]}.png"
                seek = subprocess.run(
                    [
                        "ffmpeg",
                        "-v",
                        "error",
                        "-y",
                        "-ss",
                        str(SECONDS // 2),
                        "-i",
                        str(path),
                        "-frames:v",
                        "1",
                        str(frame),
                    ],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                assert seek.returncode == 0, seek.stderr
                assert frame.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
