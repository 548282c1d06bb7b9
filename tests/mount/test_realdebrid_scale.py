"""Real-Debrid at library scale, through a real mount: 5,000 torrents x 10 files,
the rate limit on in the emulator, `ls -lR` from memory, remount from disk,
cheap refreshes, and a read that overtakes a background sync."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time

from tests.emulators.content import SyntheticContent, sha256_of
from tests.emulators.harness import run_emulator
from tests.mounting import mounted
from tests.mounting import wait_until as wait_for

TOKEN = "rd-good-token"
INFO = "GET /torrents/info/{id}"
LIST = "GET /torrents"


def library(torrents: int, per_minute: int) -> dict:
    return {
        "realdebrid": {
            "token": TOKEN,
            "rate_limit_per_minute": per_minute,
            "generate": {"torrents": torrents, "files_per_torrent": 10, "file_size": 4096},
        }
    }


def config(urls: dict[str, str], per_minute: int, refresh: float = 1.0) -> str:
    return (
        f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{urls["realdebrid"]}"\n'
        f"rate_limit_per_minute = {per_minute}\nrefresh_interval = {refresh}\n"
        "downloads_refresh_interval = 3600\n"
    )


def api_calls(emu) -> int:
    return emu.stats()["calls_per_service"].get("realdebrid", 0)


def test_library_of_5000_torrents(tmp_path, capsys):
    # The emulator enforces its limit (refused calls count too); the client is
    # configured with the same limit, high enough that the test stays short.
    per_minute = 6000
    with run_emulator(library(5000, per_minute)) as emu:
        started = time.monotonic()
        with mounted(tmp_path, config(emu.urls, per_minute)) as mount:
            wait_for(lambda: emu.calls("realdebrid", INFO) >= 5000, 240, "the first sync")
            torrents = mount.path / "realdebrid/torrents"
            wait_for(lambda: len(os.listdir(torrents)) == 5001, 30, "5000 torrents listed")
            first_sync = time.monotonic() - started
            wait_for(
                lambda: (
                    "details of" in mount.log_text()
                    and "sync failed" not in mount.log_text()
                    and emu.calls("realdebrid", INFO) == 5000
                ),
                10,
                "info calls settle",
            )
            assert "backing off" not in mount.log_text(), "a 429 reached the client"
            sync_calls = api_calls(emu)

            emu.reset_stats()
            t0 = time.monotonic()
            out = subprocess.run(
                ["ls", "-lR", str(mount.path / "realdebrid")],
                capture_output=True,
                text=True,
                check=True,
                timeout=300,
            ).stdout
            ls_seconds = time.monotonic() - t0
            assert out.count("file ") >= 50000
            # only the background refresh ticks (GET /torrents, 304) ran meanwhile
            during = {k: v for k, v in emu.stats()["calls"].items() if k.startswith("realdebrid") and v}
            assert set(during) <= {"realdebrid " + LIST}, during

            # refreshes with nothing changed: one call each, nothing else
            emu.reset_stats()
            wait_for(lambda: emu.calls("realdebrid", LIST) >= 3, 30, "three refreshes")
            stats = emu.stats()["calls"]
            refresh_calls = {k: v for k, v in stats.items() if k.startswith("realdebrid") and v}
            assert set(refresh_calls) == {"realdebrid " + LIST}, refresh_calls
            refreshes = refresh_calls["realdebrid " + LIST]

        emu.reset_stats()
        t0 = time.monotonic()
        with mounted(tmp_path, config(emu.urls, per_minute, refresh=60)) as mount:
            calls_before_browsable = api_calls(emu)
            names = os.listdir(mount.path / "realdebrid/torrents")
            inner = os.listdir(
                mount.path / "realdebrid/torrents/Generated Torrent 04999/Generated Torrent 04999"
            )
            remount_seconds = time.monotonic() - t0
            assert len(names) == 5001 and len(inner) == 10
            assert calls_before_browsable <= 2, emu.stats()["calls"]
            # What proves "browsable from disk" is the call count above; the time is
            # only a gross bound, wide enough for a loaded 2-core machine.
            assert remount_seconds < 15.0
            # the first refresh after a remount confirms the stored state with 304s
            wait_for(lambda: emu.calls("realdebrid", LIST) >= 1, 10, "the first refresh")
            assert emu.calls("realdebrid", INFO) == 0
    with capsys.disabled():
        print(
            f"\n[scale] first sync {first_sync:.1f}s ({sync_calls} calls, no 429); "
            f"ls -lR {ls_seconds:.1f}s with 0 API calls; {refreshes} idle refreshes = "
            f"{refreshes} calls; remount browsable in {remount_seconds:.2f}s after "
            f"{calls_before_browsable} calls"
        )


def test_read_overtakes_background_sync_at_250_per_minute(tmp_path):
    # 300 torrents need ~303 calls: more than a minute's worth. The background
    # sync stops short of the limit, and a read still gets its link at once.
    with run_emulator(library(300, 250)) as emu:
        with mounted(tmp_path, config(emu.urls, 250, refresh=60)) as mount:
            wait_for(lambda: emu.calls("realdebrid", INFO) >= 200, 30, "the sync to use its share")
            wait_for(
                lambda: "API calls paused" in mount.log_text() or api_calls(emu) >= 225,
                30,
                "the sync to reach its limit",
            )
            before = api_calls(emu)
            path = (
                mount.path
                / "realdebrid/torrents/Generated Torrent 00000/Generated Torrent 00000/file 001.bin"
            )
            t0 = time.monotonic()
            data = path.read_bytes()
            assert time.monotonic() - t0 < 5
            assert hashlib.sha256(data).hexdigest() == sha256_of(SyntheticContent(4096, 1_000_000))
            assert api_calls(emu) <= 250 and api_calls(emu) > before
            assert "backing off" not in mount.log_text()
