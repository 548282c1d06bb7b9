"""Rapidgator replies in the shapes its documents leave open, through a real
mount (docs/providers.md, "Replies the documents leave open"): errors said in
the envelope only (HTTP 200), the envelope's v1 key spelling
(`response_status`, `response_details`), numbers as strings, flags as 0/1 or
"true"/"false", JSON served as text/html. Listing, times, reads, a new folder,
an upload and a session renewed after it expired work the same in each."""

from __future__ import annotations

import hashlib
import os

import pytest

from tests.emulators.content import SyntheticContent, sha256_of
from tests.emulators.harness import run_emulator
from tests.mounting import mounted, sha256_through, wait_until
from tests.rapidgator import rapidgator_config, rapidgator_library

FILM = SyntheticContent(2 * (1 << 20) + 9, 81)
CREATED = 1600000000
PAGED = [SyntheticContent(100 + i, 90 + i) for i in range(5)]

STYLES = [
    pytest.param({"http_status": "200"}, id="errors-in-the-envelope-only"),
    pytest.param({"http_status": "200", "envelope_keys": "v1"}, id="v1-envelope-keys"),
    pytest.param({"numbers": "strings", "flags": "strings"}, id="numbers-and-flags-as-strings"),
    pytest.param({"flags": "ints", "content_type": "html"}, id="flags-as-ints-served-as-html"),
]


@pytest.mark.parametrize("style", STYLES)
def test_mount_reads_writes_and_renews_in_every_reply_style(tmp_path, style):
    library = rapidgator_library(
        {
            "folders": [
                {
                    "name": "Movies",
                    "files": [
                        {
                            "name": "film.mkv",
                            "content": {"size": FILM.size, "seed": FILM.seed},
                            "created": CREATED,
                        }
                    ],
                },
                {
                    "name": "Paged",
                    "files": [
                        {"name": f"p{i}.bin", "content": {"size": c.size, "seed": c.seed}}
                        for i, c in enumerate(PAGED)
                    ],
                },
            ]
        },
        processing_delay=0.1,
        per_page_max=2,  # three pages of files in Paged
    )
    payload = b"written under another reply style\n"
    with run_emulator(library) as emu:
        emu.action("rapidgator", "set_reply_style", style)
        with mounted(tmp_path, rapidgator_config(emu)) as m:
            root = m.path / "rapidgator"
            assert sorted(os.listdir(root)) == ["Movies", "Paged"]
            assert sorted(os.listdir(root / "Paged")) == [f"p{i}.bin" for i in range(5)]
            film = root / "Movies" / "film.mkv"
            assert film.stat().st_size == FILM.size
            assert film.stat().st_mtime == CREATED
            assert sha256_through(film) == sha256_of(FILM)

            # the session expires: the 401 (in the body only, for some styles) renews it
            emu.action("rapidgator", "expire_tokens", {})
            (root / "New").mkdir()
            (root / "New" / "note.txt").write_bytes(payload)
            wait_until(
                lambda: (
                    (info := emu.view("rapidgator")["paths"].get("/New/note.txt")) is not None
                    and info["md5"] == hashlib.md5(payload).hexdigest()
                ),
                30,
                "note.txt on the service",
            )
            assert (root / "New" / "note.txt").read_bytes() == payload
            with pytest.raises(FileNotFoundError):
                os.stat(root / "Movies" / "missing.mkv")


@pytest.mark.parametrize("reply", ["envelope", "wrapped", "empty", "text"])
def test_upload_whatever_the_upload_host_answers(tmp_path, reply):
    """The upload POST's reply was lost from every copy of the document: the
    upload object in `response`, under `response.upload`, an empty 200 or a bare
    "OK". Each is followed by file/upload_info until the file is there."""
    library = rapidgator_library({}, processing_delay=0.3)
    payload = SyntheticContent(300_000, 85).read(0, 300_000)
    with run_emulator(library) as emu:
        emu.action("rapidgator", "set_upload_post_reply", {"value": reply})
        with mounted(tmp_path, rapidgator_config(emu)) as m:
            (m.path / "rapidgator" / "up.bin").write_bytes(payload)
            wait_until(
                lambda: (
                    (info := emu.view("rapidgator")["paths"].get("/up.bin")) is not None
                    and info["md5"] == hashlib.md5(payload).hexdigest()
                ),
                30,
                "up.bin on the service",
            )
            assert (m.path / "rapidgator" / "up.bin").read_bytes() == payload
        assert emu.calls("rapidgator", "upload POST") == 1
