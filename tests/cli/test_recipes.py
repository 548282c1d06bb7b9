"""The recipes in docs/: systemd units verify cleanly, a mount under
Type=notify tells systemd when it is ready and when it stops, the hook
scripts parse, compose.yaml has what FUSE in a container needs, and the
Dockerfile builds where a Docker daemon answers."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.emulators.harness import run_emulator
from tests.mounting import mounted

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
DEBRIDFS_BIN = Path(__import__("sys").executable).parent / "debridfs"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
@pytest.mark.parametrize("unit, user", [("debridfs.service", False), ("debridfs-user.service", True)])
def test_unit_files_verify_without_warnings(tmp_path, unit, user):
    # ExecStart must exist for verify: point it at this checkout's debridfs.
    text = (DOCS / "systemd" / unit).read_text()
    text = text.replace("/usr/local/bin/debridfs", str(DEBRIDFS_BIN)).replace(
        "%h/.local/bin/debridfs", str(DEBRIDFS_BIN)
    )
    assert "Type=notify" in text and "Restart=on-failure" in text
    (tmp_path / unit).write_text(text)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(["--user"] if user else []), str(tmp_path / unit)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": str(runtime)},
    )
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_a_broken_unit_is_caught_by_the_same_check(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    text = (DOCS / "systemd" / "debridfs.service").read_text().replace("Type=notify", "Type=notifyy")
    (tmp_path / "bad.service").write_text(text.replace("/usr/local/bin/debridfs", str(DEBRIDFS_BIN)))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(tmp_path / "bad.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Failed to parse service type" in result.stderr


def test_mount_notifies_systemd_ready_and_stopping(tmp_path):
    library = {"realdebrid": {"token": "rd-good-token", "downloads": []}}
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, run_emulator(library) as emu:
        sock.bind(address)
        sock.settimeout(30)
        config = (
            f'[realdebrid]\ntoken = "rd-good-token"\napi_url = "{emu.urls["realdebrid"]}"\n'
            f'[paths]\nstate_dir = "{tmp_path / "state"}"\n'
        )
        with mounted(tmp_path, config, env={"NOTIFY_SOCKET": address}) as mount:
            ready = sock.recv(4096).decode()
            assert "READY=1" in ready and f"STATUS=mounted at {mount.path}" in ready
            assert (mount.path / "realdebrid").is_dir()
        assert "STOPPING=1" in sock.recv(4096).decode()


def test_hook_scripts_in_the_recipes_parse():
    scripts = re.findall(r"```sh\n(#!/bin/sh\n.*?)```", (DOCS / "recipes.md").read_text(), re.S)
    assert len(scripts) == 2
    for script in scripts:
        result = subprocess.run(["sh", "-n"], input=script, capture_output=True, text=True, timeout=10)
        assert result.returncode == 0, result.stderr


def test_compose_has_fuse_device_capability_and_propagation():
    compose = yaml.safe_load((DOCS / "docker" / "compose.yaml").read_text())
    service = compose["services"]["debridfs"]
    assert "/dev/fuse:/dev/fuse" in service["devices"] and "SYS_ADMIN" in service["cap_add"]
    binds = [v for v in service["volumes"] if isinstance(v, dict) and v.get("target") == "/mnt/debrid"]
    assert binds and binds[0]["bind"]["propagation"] == "rshared"
    media = compose["services"]["jellyfin"]["volumes"][0]
    assert media["source"] == "/mnt/debrid" and media["bind"]["propagation"] == "rslave"
    dockerfile = (DOCS / "docker" / "Dockerfile").read_text()
    assert "STOPSIGNAL SIGTERM" in dockerfile and 'mount", "/mnt/debrid"' in dockerfile


def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(not docker_answers(), reason="no Docker daemon here (the build needs one and network)")
def test_dockerfile_builds():
    result = subprocess.run(
        ["docker", "build", "-f", "docs/docker/Dockerfile", "-t", "debridfs-test", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
