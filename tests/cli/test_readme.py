"""README.md's quick start, run as a newcomer would paste it into a shell:
a fresh home, `debridfs` on the PATH, nothing else. Only the token line is
changed, to point at the emulated Real-Debrid."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.mounting import is_mounted

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def quick_start() -> str:
    text = README.read_text()
    match = re.search(r"<!-- quick-start.*?-->\n```sh\n(.*?)```\n<!-- /quick-start -->", text, re.S)
    assert match, "README.md lost its quick-start block"
    return match.group(1)


def test_the_quick_start_works_as_written(emu, tmp_path):
    script = quick_start()
    placeholder = 'token = "YOUR-API-TOKEN"\n'
    assert placeholder in script
    script = script.replace(placeholder, f'token = "rd-good-token"\napi_url = "{emu.urls["realdebrid"]}"\n')
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "DEBRIDFS_"))}
    env.update(HOME=str(home), PATH=f"{Path(sys.executable).parent}:{env['PATH']}")
    mountpoint = home / "debrid"
    try:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            cwd=home,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Traceback" not in result.stderr and result.stderr == "", result.stderr
        lines = result.stdout.splitlines()
        config = home / ".config" / "debridfs" / "config.toml"
        assert lines[0] == f"{config}: OK; services: realdebrid"
        assert lines[1].startswith(f"debridfs: mounted at {mountpoint} (log: ")
        assert "Sintel (2010) [1080p]" in lines[2:]
        assert f"debridfs mounted at {mountpoint} " in result.stdout
        assert "realdebrid" in result.stdout.split("debridfs mounted at", 1)[1]
        assert (config.stat().st_mode & 0o777) == 0o600
        assert not is_mounted(mountpoint)
    finally:
        if is_mounted(mountpoint):
            subprocess.run(["fusermount3", "-uz", str(mountpoint)], timeout=30)
