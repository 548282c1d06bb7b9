"""Feedback: `debridfs status` shows every service of the running mount in
human units (from the status file in the state dir), .status files use human
units, the first sync logs its progress, and the progress text has an ETA."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest

from tests.emulators.harness import run_emulator
from tests.linkservices import PORTAL_KEY, RG_ONE, reset_link_services
from tests.mounting import DEBRIDFS, cli_env, mounted, wait_until
from vfs.progress import Progress
from vfs.units import human_duration, human_size

ROOT = Path(__file__).resolve().parents[2]
MiB = 1 << 20
LIBRARY = {
    "realdebrid": {
        "token": "rd-good-token",
        "torrents": [
            {
                "id": f"T{i}",
                "filename": f"Film {i}",
                "status": "downloaded",
                "files": [{"path": f"/film{i}.mkv", "content": {"size": MiB + i, "seed": i}, "selected": 1}],
            }
            for i in range(12)
        ],
    },
    "hoster_links": [{"url": RG_ONE, "name": "one.bin", "content": {"size": 1000, "seed": 1}}],
    "portal": {"api_key": PORTAL_KEY, "ready_after_polls": 0},
}


def status(tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        DEBRIDFS + ["--config", str(tmp_path / "config.toml"), "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(tmp_path),
        cwd=ROOT,
    )


def test_status_shows_every_service_of_the_running_mount(tmp_path):
    with run_emulator(LIBRARY) as emu:
        reset_link_services(emu)
        config = (
            f'[realdebrid]\ntoken = "rd-good-token"\napi_url = "{emu.urls["realdebrid"]}"\n'
            f'[portal]\napi_key = "{PORTAL_KEY}"\napi_url = "{emu.urls["portal"]}"\n'
            f'[cache]\ncache_dir = "{tmp_path / "blocks"}"\n'
            f'[paths]\nstate_dir = "{tmp_path / "state"}"\n'
        )
        with mounted(tmp_path, config) as mount:
            shown = wait_until(
                lambda: "12 torrents" in (out := status(tmp_path).stdout) and out,
                what="a status with the synced torrents",
            )
            assert f"debridfs mounted at {mount.path}" in shown
            realdebrid = shown.split("\nrealdebrid\n")[1].split("\n\n")[0]
            assert "account      demo (premium)" in realdebrid
            assert "expires" in realdebrid and "left)" in realdebrid
            assert "sync         12 torrents, 0 downloads; last sync" in realdebrid
            assert "\nportal\n" in shown and "links: 0 ok" in shown
            assert "traffic left" in shown.split("\nportal\n")[1]
            assert "memory 0 B of 256 MiB; disk 0 B of 10 GiB" in shown
            assert "no uploads pending" in shown
            portal_status = (mount.path / "portal" / ".status").read_text()
            assert " bytes (" in portal_status and "iB)" in portal_status  # human units
        log = mount.log_text()
        assert "Real-Debrid: torrent details: 12 of 12 in" in log
    after = status(tmp_path)
    assert after.returncode == 0 and after.stdout.startswith("no mount running")


def test_status_when_the_account_reply_is_all_nulls(tmp_path):
    """/user fields the document leaves open, all null: the mount still comes
    up, lists, and says what it does not know."""
    nulls = {"id": None, "username": None, "type": None, "expiration": None, "premium": None}
    library = {"realdebrid": {**LIBRARY["realdebrid"], "torrents": LIBRARY["realdebrid"]["torrents"][:2]}}
    library["realdebrid"]["user"] = nulls
    with run_emulator(library) as emu:
        config = (
            f'[realdebrid]\ntoken = "rd-good-token"\napi_url = "{emu.urls["realdebrid"]}"\n'
            f'[paths]\nstate_dir = "{tmp_path / "state"}"\n'
        )
        with mounted(tmp_path, config) as mount:
            assert sorted(os.listdir(mount.path / "realdebrid" / "torrents")) == [
                ".status",
                "Film 0",
                "Film 1",
            ]
            shown = wait_until(
                lambda: "2 torrents" in (out := status(tmp_path).stdout) and out,
                what="a status with the synced torrents",
            )
            realdebrid = shown.split("\nrealdebrid\n")[1].split("\n\n")[0]
            assert "account      ? (?)" in realdebrid
            assert "expires" not in realdebrid
    assert [p.name for p in (tmp_path / "state").rglob("realdebrid-*.sqlite3")] == [
        "realdebrid-account.sqlite3"
    ]


def test_progress_lines_have_counts_and_an_eta(caplog):
    logger = logging.getLogger("test.progress")
    progress = Progress("details", 200, logger, every=0)
    with caplog.at_level(logging.INFO, logger="test.progress"):
        for _ in range(50):
            progress.advance()
    assert caplog.records and "details: 50 of 200 (25%), about" in caplog.records[-1].getMessage()
    assert progress.eta() is not None and progress.eta() >= 0


@pytest.mark.parametrize(
    "size, text", [(0, "0 B"), (1536, "1.5 KiB"), (4 << 20, "4 MiB"), (5_000_000_123_456, "4.5 TiB")]
)
def test_human_size(size, text):
    assert human_size(size) == text


@pytest.mark.parametrize(
    "seconds, text", [(5, "5 s"), (75, "1 min 15 s"), (5400, "1 h 30 min"), (200_000, "2 d 7 h")]
)
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text
