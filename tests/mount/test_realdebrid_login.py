"""`debridfs login realdebrid` (OAuth device flow) against the emulator, and a
mount on the stored credentials that keeps working across an access-token
expiry."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.emulators.content import SyntheticContent
from tests.emulators.harness import run_emulator
from tests.mounting import mounted

LIBRARY = {
    "realdebrid": {
        "token": "rd-private-token",
        "oauth_approve_after_polls": 2,
        "oauth_interval": 1,
        "torrents": [
            {
                "id": "T1",
                "filename": "Film",
                "files": [
                    {"path": "/film.mkv", "content": {"size": 3000, "seed": 9}},
                    {"path": "/extra.mkv", "content": {"size": 2000, "seed": 10}},
                ],
            }
        ],
    }
}


def test_device_login_then_mount_survives_token_expiry(tmp_path):
    with run_emulator(LIBRARY) as emu:
        config_text = f'[realdebrid]\napi_url = "{emu.urls["realdebrid"]}"\n'
        config = tmp_path / "config.toml"
        config.write_text(config_text)
        result = subprocess.run(
            [sys.executable, "-m", "vfs.cli", "--config", str(config), "login", "realdebrid"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "https://real-debrid.com/device" in result.stdout
        user_code = emu.view("realdebrid")["devices"][0]["user_code"]
        assert user_code in result.stdout
        stored = tmp_path / "realdebrid-credentials.json"
        assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600
        data = json.loads(stored.read_text())
        assert set(data) == {"client_id", "client_secret", "refresh_token"}
        assert data["refresh_token"] not in result.stdout + result.stderr

        with mounted(tmp_path, config_text) as mount:
            film = mount.path / "realdebrid/torrents/Film"
            assert (film / "film.mkv").read_bytes() == SyntheticContent(3000, 9).read(0, 3000)
            assert emu.action("realdebrid", "expire_tokens")["expired"] >= 1
            # the next API call meets 401/bad_token, refreshes, and goes on
            assert (film / "extra.mkv").read_bytes() == SyntheticContent(2000, 10).read(0, 2000)
            assert mount.log_text().count("access token refreshed") >= 2  # at start, after expiry
            assert data["refresh_token"] not in mount.log_text()
