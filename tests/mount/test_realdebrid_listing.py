"""Real-Debrid lists that prove nothing never shrink the mount (issue 10,
docs/invariants.md "Never shrink"): 304, 204 and `[]` pages, no
X-Total-Count, a page error in the middle, a second page that comes up
short. Only a proven listing, or a 404 for the torrent itself, removes one."""

from __future__ import annotations

import json
import os
import sys

from tests.emulators.harness import run_emulator
from tests.mounting import mounted, wait_until

TOKEN = "rd-good-token"
LIST = "GET /torrents"
INFO = "GET /torrents/info/{id}"
KiB = 1 << 10

HOOK = "import sys, json\nopen(sys.argv[1], 'a').write(json.dumps(sys.argv[2:]) + '\\n')\n"


def torrent(n: int) -> dict:
    return {
        "id": f"T{n:03d}",
        "filename": f"Torrent {n:03d}",
        "status": "downloaded",
        "files": [{"path": f"/file{n}.mkv", "content": {"size": KiB + n, "seed": n}, "selected": 1}],
    }


def listed(mount) -> set[str]:
    return {name for name in os.listdir(mount.path / "realdebrid/torrents") if name != ".status"}


def refreshes(emu, count: int, what: str) -> None:
    """Waits until the mount read the list `count` more times (full passes included)."""
    start = emu.calls("realdebrid", LIST)
    wait_until(lambda: emu.calls("realdebrid", LIST) >= start + count, 60, what)


def test_unproven_listings_never_remove_torrents(tmp_path):
    hook = tmp_path / "hook.py"
    hook.write_text(HOOK)
    hook_log = tmp_path / "hook.log"
    # 25 torrents in pages of at most 10 (the server clamps our limit of 2500)
    library = {
        "realdebrid": {
            "token": TOKEN,
            "max_limit": 10,
            "torrents": [torrent(n) for n in range(25)],
            "downloads": [
                {
                    "id": f"D{n:02d}",
                    "filename": f"download {n:02d}.mkv",
                    "content": {"size": KiB + n, "seed": 500 + n},
                }
                for n in range(12)
            ],
        }
    }
    downloads = {f"download {n:02d}.mkv" for n in range(12)}
    names = {f"Torrent {n:03d}" for n in range(25)}
    with run_emulator(library) as emu:
        config = (
            f'[mount]\nlisting_ttl = 0\n[realdebrid]\ntoken = "{TOKEN}"\n'
            f'api_url = "{emu.urls["realdebrid"]}"\nrefresh_interval = 0.2\n'
            "downloads_refresh_interval = 0.2\n"
            f"on_change = {json.dumps([sys.executable, str(hook), str(hook_log)])}\n"
        )
        with mounted(tmp_path, config) as mount:
            assert listed(mount) == names, "pages clamped below our limit are not the end"
            assert set(os.listdir(mount.path / "realdebrid/downloads")) - {".status"} == downloads
            # (variant, list calls to wait for): more than FULL_PASS_EVERY refreshes, so
            # full passes over every page are included; a 503 is retried with backoff
            # (six calls, half a minute), so one failed pass is enough there.
            variants = [
                ({"total_header": False}, 24),  # pages and 304s without the header
                ({"empty": "204"}, 24),
                ({"empty": "[]"}, 24),
                ({"empty": "[]", "total_header": False}, 24),
                ({"page_error_from": 10, "page_error_status": 404}, 24),  # the second page fails
                ({"page_error_from": 10}, 7),
                ({"short_pages_from": 10}, 24),  # later pages leave one out
                ({"short_pages_from": 10, "total_header": False}, 24),
            ]
            for variant, calls in variants:
                emu.action("realdebrid", "set_listing", variant)
                refreshes(emu, calls, f"refreshes with {variant}")
                assert listed(mount) == names, f"torrents removed on a listing like {variant}"
                assert set(os.listdir(mount.path / "realdebrid/downloads")) - {".status"} == downloads, (
                    f"downloads removed on a listing like {variant}"
                )
                emu.action(
                    "realdebrid",
                    "set_listing",
                    {
                        "total_header": True,
                        "empty": None,
                        "page_error_from": None,
                        "page_error_status": 503,
                        "short_pages_from": None,
                    },
                )
            assert not hook_log.exists(), "on_change was told about changes that did not happen"

            # Without X-Total-Count a torrent really deleted still goes (its
            # /torrents/info answers 404), and one added still appears.
            emu.action("realdebrid", "set_listing", {"total_header": False})
            emu.action("realdebrid", "remove_torrent", {"id": "T007"})
            emu.action("realdebrid", "add_torrent", torrent(99))
            expected = (names - {"Torrent 007"}) | {"Torrent 099"}
            wait_until(lambda: listed(mount) == expected, 30, "the deletion and the addition")
            refreshes(emu, 12, "a few more refreshes")
            assert listed(mount) == expected
            wait_until(
                lambda: hook_log.exists() and "Torrent 007" in hook_log.read_text(),
                15,
                "on_change hears about the confirmed removal",
            )


def test_3000_torrents_without_total_count_survive_ten_refreshes(tmp_path):
    per_minute = 6000
    library = {
        "realdebrid": {
            "token": TOKEN,
            "rate_limit_per_minute": per_minute,
            "listing": {"total_header": False},
            "generate": {"torrents": 3000, "files_per_torrent": 1, "file_size": 512},
        }
    }
    with run_emulator(library) as emu:
        config = (
            f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\n'
            f"rate_limit_per_minute = {per_minute}\nrefresh_interval = 0.2\n"
            "downloads_refresh_interval = 3600\n"
        )
        with mounted(tmp_path, config) as mount:
            assert len(listed(mount)) == 3000
            wait_until(lambda: emu.calls("realdebrid", INFO) >= 3000, 240, "details of every torrent")
            for n in range(10):
                # each round has a full pass (every page, then an empty one)
                refreshes(emu, 12, f"refresh round {n}")
                assert len(listed(mount)) == 3000, f"torrents lost in round {n}"
            # the whole time, only the deleted-torrent check may call info: nothing was missing
            assert emu.calls("realdebrid", INFO) == 3000
