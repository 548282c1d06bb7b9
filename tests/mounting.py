"""Mounting debridfs for real in tests.

`mounted(...)` starts `debridfs mount` in the foreground as a user would,
waits for its "mounted at" line (not a sleep), and always unmounts and reaps
the process: `fusermount3 -u`, then `-uz` and SIGKILL as a last resort.
Afterwards the daemon's log must hold no WARNING or ERROR line that the test
did not declare as expected (errors cannot pass silently), and the daemon runs
with the blocked-loop detector on, so a step that blocks the trio thread is
such a line.

Small helpers every mount test needs live here too: `wait_until` (poll a
condition with a deadline, never a bare sleep), `sha256_through` (hash a file
read through the mount) and `cli_env`/`run_cli` (the `debridfs` command with
the same XDG directories as the mount).
"""

from __future__ import annotations

import hashlib
import os
import re
import select
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEBRIDFS = [sys.executable, "-m", "vfs.cli"]
MOUNT_TIMEOUT = 30.0
UNMOUNT_TIMEOUT = 30.0
BAD_LOG_LINE = re.compile(r" (WARNING|ERROR|CRITICAL) ")
# The daemon reports (WARNING) every task step that holds the trio thread
# longer than this (vfs/blocking.py): the log guard fails such a test. 50 ms
# is where a user starts to notice; time spent waiting for a CPU is not
# counted, so a loaded machine does not make it fire (the whole mount layer
# passed at 50 ms under a load average of 7 on 2 cores).
BLOCKING_ENV = "DEBRIDFS_DEBUG_BLOCKING_MS"
BLOCKING_MS = os.environ.get(BLOCKING_ENV, "50")


@dataclass
class Mount:
    path: Path
    process: subprocess.Popen
    log_file: Path
    config_file: Path
    allowed_log: list[str] = field(default_factory=list)

    def log_text(self) -> str:
        return self.log_file.read_text() if self.log_file.exists() else ""

    def expect_log(self, pattern: str) -> None:
        """Declares a WARNING/ERROR line matching `pattern` as expected."""
        self.allowed_log.append(pattern)


def write_config(directory: Path, text: str) -> Path:
    path = directory / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def read_line(process: subprocess.Popen, timeout: float) -> str:
    """One line of the process's stdout, or '' when it exits or times out."""
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    fd = process.stdout.fileno()
    buffer = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 1)
        if not chunk:
            break
        buffer += chunk
        if chunk == b"\n":
            break
    return buffer.decode(errors="replace")


def start_mount(
    workdir: Path,
    config_text: str,
    env: dict[str, str] | None = None,
    name: str = "mnt",
    args: tuple[str, ...] = (),
) -> tuple[subprocess.Popen, Path, Path, Path, str]:
    mountpoint = workdir / name
    mountpoint.mkdir(exist_ok=True)
    config_file = write_config(workdir, config_text)
    log_file = workdir / f"{name}.log"
    state = workdir / "state"
    full_env = {
        **os.environ,
        "XDG_STATE_HOME": str(state),
        "XDG_CACHE_HOME": str(workdir / "cache"),
        "XDG_CONFIG_HOME": str(workdir / "xdgconfig"),
        BLOCKING_ENV: BLOCKING_MS,
        **(env or {}),
    }
    process = subprocess.Popen(
        DEBRIDFS
        + [
            "--log-level",
            "DEBUG",
            "--log-file",
            str(log_file),
            "--config",
            str(config_file),
            "mount",
            str(mountpoint),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=full_env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    line = read_line(process, MOUNT_TIMEOUT)
    return process, mountpoint, log_file, config_file, line


def is_mounted(mountpoint: Path) -> bool:
    """From the mount table: os.path.ismount says False for a mount whose daemon died."""
    target = str(Path(mountpoint).absolute())
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            point = line.split()[1].replace("\\040", " ")
            if point == target:
                return True
    return False


def unmount(mountpoint: Path, process: subprocess.Popen) -> int | None:
    """Unmounts and reaps; returns the daemon's exit status."""
    if is_mounted(mountpoint):
        subprocess.run(["fusermount3", "-u", str(mountpoint)], capture_output=True)
    try:
        return process.wait(timeout=UNMOUNT_TIMEOUT)
    except subprocess.TimeoutExpired:
        subprocess.run(["fusermount3", "-uz", str(mountpoint)], capture_output=True)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        return None
    finally:
        if is_mounted(mountpoint):
            subprocess.run(["fusermount3", "-uz", str(mountpoint)], capture_output=True)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def unexpected_log_lines(log_text: str, allowed: list[str]) -> list[str]:
    bad = []
    for line in log_text.splitlines():
        if BAD_LOG_LINE.search(line) and not any(re.search(p, line) for p in allowed):
            bad.append(line)
    return bad


@contextmanager
def mounted(
    workdir: Path,
    config_text: str,
    env: dict[str, str] | None = None,
    name: str = "mnt",
    args: tuple[str, ...] = (),
) -> Iterator[Mount]:
    """`args`: extra `debridfs mount` flags (--read-only, -o KEY=VALUE...)."""
    process, mountpoint, log_file, config_file, line = start_mount(workdir, config_text, env, name, args)
    if "mounted at" not in line:
        unmount(mountpoint, process)
        log = log_file.read_text() if log_file.exists() else ""
        raise AssertionError(f"mount did not come up: {line!r}\n{log[-4000:]}")
    mount = Mount(mountpoint, process, log_file, config_file)
    try:
        yield mount
    finally:
        status = unmount(mountpoint, process)
    assert not is_mounted(mountpoint), "the mount is still there after unmounting"
    assert status == 0, f"daemon exited with {status}\n{mount.log_text()[-4000:]}"
    bad = unexpected_log_lines(mount.log_text(), mount.allowed_log)
    assert not bad, "unexpected warnings/errors in the daemon log:\n" + "\n".join(bad)
    leaked = [secret for secret in secrets_in(config_text) if secret in mount.log_text()]
    assert not leaked, "a secret from the config appears in the daemon log"


SECRET_KEYS = {"token", "password", "api_key", "pin", "client_secret", "refresh_token"}


def secrets_in(config_text: str) -> list[str]:
    """Values of the config's secret keys, in every section."""
    found: list[str] = []

    def walk(table: dict) -> None:
        for key, value in table.items():
            if isinstance(value, dict):
                walk(value)
            elif key in SECRET_KEYS and isinstance(value, str) and len(value) >= 4:
                found.append(value)

    walk(tomllib.loads(config_text))
    return found


def wait_until(
    predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition", interval: float = 0.05
) -> Any:
    """Polls `predicate` until it returns a true value (returned) or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def hash_through(path: Path | str, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    """The hex digest of a file read front to back (through the mount), in `chunk` reads."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while data := f.read(chunk):
            digest.update(data)
    return digest.hexdigest()


def sha256_through(path: Path | str) -> str:
    return hash_through(path, "sha256")


def cli_env(workdir: Path) -> dict[str, str]:
    """The environment `start_mount` gives the daemon: the CLI sees the same state."""
    return {
        **os.environ,
        "XDG_STATE_HOME": str(workdir / "state"),
        "XDG_CACHE_HOME": str(workdir / "cache"),
        "XDG_CONFIG_HOME": str(workdir / "xdgconfig"),
    }


def run_cli(workdir: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """`debridfs --config WORKDIR/config.toml ARGS...`, output captured as text."""
    return subprocess.run(
        DEBRIDFS + ["--config", str(workdir / "config.toml"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(workdir),
        cwd=Path(__file__).resolve().parent.parent,
    )
