"""A newcomer's mistakes at mount time: wrong credentials for each service,
an unwritable state dir or log file, a mount point with spaces or a `~`; and
what the mount leaves behind is private (state dir, log, argv, status file).
Every mistake is one line naming the section or path, exit status 2."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.mounting import DEBRIDFS, cli_env, is_mounted, mounted, run_cli, wait_until, write_config

# The sample library's demo accounts (tests/emulators, as scripts/demo.sh uses them).
GOOD = {
    "realdebrid": 'token = "rd-good-token"',
    "rapidgator": 'login = "demo@example.org"\npassword = "secret"',
    "portal": 'api_key = "obb_demo_4f1c2a9e7b3d5f60"',
    "premiumize": 'login = "123456789"\npassword = "k7m2x9q4p1"',
    "rapidshare": 'login = "demo"\npassword = "rs-secret"',
}
# (section, credentials that the service refuses, the secret that must not show)
WRONG = [
    ("realdebrid", 'token = "rd-wrong-token"', "rd-wrong-token"),
    ("rapidgator", 'token = "rg-wrong-token"', "rg-wrong-token"),
    ("rapidgator", 'login = "demo@example.org"\npassword = "wrong-pass"', "wrong-pass"),
    ("portal", 'api_key = "obb_wrong_key_0000"', "obb_wrong_key_0000"),
    ("premiumize", 'login = "123456789"\npassword = "wrong-pin"', "wrong-pin"),
    ("rapidshare", 'login = "demo"\npassword = "wrong-pass"', "wrong-pass"),
]


def section(emu, name: str, credentials: str) -> str:
    return f'[{name}]\n{credentials}\napi_url = "{emu.urls[name]}"\n'


def one_line(result: subprocess.CompletedProcess, status: int = 2) -> str:
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if " INFO " not in line]
    assert len(lines) == 1 and lines[0].startswith("debridfs: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("daemon", [False, True], ids=["foreground", "daemon"])
@pytest.mark.parametrize("name, credentials, secret", WRONG, ids=[f"{w[0]}-{w[2]}" for w in WRONG])
def test_wrong_credentials_name_the_section(emu, tmp_path, name, credentials, secret, daemon):
    (tmp_path / "mnt").mkdir()
    others = "".join(section(emu, other, GOOD[other]) for other in GOOD if other != name)
    write_config(tmp_path, others + section(emu, name, credentials))
    args = ["mount", str(tmp_path / "mnt")] + (["--daemon"] if daemon else [])
    result = run_cli(tmp_path, *args)
    line = one_line(result)
    assert f"[{name}]" in line, line
    assert secret not in result.stderr + result.stdout
    assert not is_mounted(tmp_path / "mnt")


def test_unwritable_state_dir_is_one_line(emu, tmp_path):
    (tmp_path / "mnt").mkdir()
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    write_config(tmp_path, section(emu, "realdebrid", GOOD["realdebrid"]))
    env = {**cli_env(tmp_path), "XDG_STATE_HOME": str(blocker)}
    for daemon in ([], ["--daemon"]):
        result = subprocess.run(
            DEBRIDFS + ["--config", str(tmp_path / "config.toml"), "mount", str(tmp_path / "mnt"), *daemon],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert one_line(result) == (
            f"debridfs: [paths] state_dir {blocker}/debridfs: cannot create it "
            "(Not a directory): set [paths] state_dir to a writable directory"
        )
    # The same for the disk cache, named by its key.
    write_config(
        tmp_path,
        section(emu, "realdebrid", GOOD["realdebrid"]) + f'[cache]\ncache_dir = "{blocker}/blocks"\n',
    )
    line = one_line(run_cli(tmp_path, "mount", str(tmp_path / "mnt")))
    assert line.startswith(f"debridfs: [cache] cache_dir {blocker}/blocks: cannot create it")
    assert not is_mounted(tmp_path / "mnt")


def test_unwritable_log_file_is_one_line(emu, tmp_path):
    (tmp_path / "mnt").mkdir()
    (tmp_path / "file").write_text("")
    write_config(tmp_path, section(emu, "realdebrid", GOOD["realdebrid"]))
    log_file = tmp_path / "file" / "debridfs.log"
    for command in (["mount", str(tmp_path / "mnt"), "--daemon"], ["status"]):
        line = one_line(run_cli(tmp_path, "--log-file", str(log_file), *command))
        assert line == f"debridfs: log file {log_file}: cannot write it (Not a directory)"


def test_mount_point_with_spaces_and_an_unexpanded_tilde(emu, tmp_path):
    """fstab and unit files pass `~` as it is; a name with spaces is one argument."""
    home = tmp_path / "home"
    (home / "my debrid").mkdir(parents=True)
    write_config(tmp_path, section(emu, "realdebrid", GOOD["realdebrid"]))
    env = {**cli_env(tmp_path), "HOME": str(home)}
    started = subprocess.run(
        DEBRIDFS + ["--config", str(tmp_path / "config.toml"), "mount", "~/my debrid", "--daemon"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    mountpoint = home / "my debrid"
    try:
        assert started.returncode == 0, started.stderr
        assert started.stdout.startswith(f"debridfs: mounted at {mountpoint} ")
        assert is_mounted(mountpoint)
        assert sorted(os.listdir(mountpoint / "realdebrid")) == ["downloads", "torrents"]
        status = subprocess.run(
            DEBRIDFS + ["--config", str(tmp_path / "config.toml"), "status"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert f"debridfs mounted at {mountpoint} " in status.stdout, status.stdout
    finally:
        subprocess.run(["fusermount3", "-u", str(mountpoint)], capture_output=True, timeout=30)
        wait_until(lambda: not is_mounted(mountpoint), what="the unmount")


def test_what_the_mount_leaves_behind_is_private(emu, tmp_path):
    """With the usual umask 022: the state dir 0700, its files and the log
    0600; no secret in the daemon's argv, the status file or `config show`."""
    text = "".join(section(emu, name, GOOD[name]) for name in GOOD)
    secrets = ["rd-good-token", "k7m2x9q4p1", "obb_demo_4f1c2a9e7b3d5f60", "rs-secret"]
    (tmp_path / "mnt").mkdir()
    old_umask = os.umask(0o022)
    try:
        write_config(tmp_path, text)
        started = run_cli(tmp_path, "-vv", "mount", str(tmp_path / "mnt"), "--daemon")
    finally:
        os.umask(old_umask)
    state = tmp_path / "state" / "debridfs"
    mountpoint = tmp_path / "mnt"
    try:
        assert started.returncode == 0, started.stderr
        pid = int((state / "mount.lock").read_text())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
        environ = Path(f"/proc/{pid}/environ").read_bytes().decode()
        assert not [s for s in secrets if s in argv or s in environ]
        (tmp_path / "copy").write_bytes((mountpoint / "rapidgator" / "notes.txt").read_bytes())
        wait_until(lambda: (state / "status.json").exists(), what="the status file")
        assert (state.stat().st_mode & 0o777) == 0o700
        for path in state.rglob("*"):
            assert path.stat().st_mode & 0o077 == 0, f"{path} is open to others"
        log = (state / "debridfs.log").read_text()
        assert "DEBUG" in log or "INFO" in log
        for path in (state / "debridfs.log", state / "status.json"):
            assert not [s for s in secrets if s in path.read_text()], path
        shown = run_cli(tmp_path, "config", "show")
        assert shown.returncode == 0 and not [s for s in secrets if s in shown.stdout]
        status = run_cli(tmp_path, "status")
        assert status.returncode == 0 and not [s for s in secrets if s in status.stdout]
    finally:
        subprocess.run(["fusermount3", "-u", str(mountpoint)], capture_output=True, timeout=30)
        wait_until(lambda: not is_mounted(mountpoint), what="the unmount")


def test_a_second_mount_on_the_same_state_is_one_line(emu, tmp_path):
    with mounted(tmp_path, section(emu, "realdebrid", GOOD["realdebrid"])) as mount:
        (tmp_path / "other").mkdir()
        line = one_line(run_cli(tmp_path, "mount", str(tmp_path / "other"), "--daemon"), status=1)
        state = tmp_path / "state" / "debridfs"
        assert line == (
            f"debridfs: another debridfs mount (pid {mount.process.pid}) uses the state dir "
            f"{state}; unmount it first"
        )
        assert not is_mounted(tmp_path / "other")


def test_ctrl_c_during_the_first_sync(emu, tmp_path):
    """Interrupted while the first `/torrents` list is on its way: one line,
    status 130, nothing mounted, and the next mount works."""
    (tmp_path / "mnt").mkdir()
    text = section(emu, "realdebrid", GOOD["realdebrid"])
    write_config(tmp_path, text)
    stderr_file = tmp_path / "stderr"
    emu.faults({"api": {"realdebrid": {"latency_ms": 3000}}})
    try:
        with stderr_file.open("w") as stderr:
            process = subprocess.Popen(
                DEBRIDFS + ["--config", str(tmp_path / "config.toml"), "mount", str(tmp_path / "mnt")],
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=cli_env(tmp_path),
            )
            try:
                wait_until(lambda: "logged in" in stderr_file.read_text(), timeout=60, what="the login")
                process.send_signal(signal.SIGINT)
                out, _ = process.communicate(timeout=30)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    finally:
        emu.reset_faults()
    errors = [line for line in stderr_file.read_text().splitlines() if " INFO " not in line and line]
    assert process.returncode == 130 and errors == ["debridfs: interrupted"], stderr_file.read_text()
    assert out == b"" and not is_mounted(tmp_path / "mnt")
    with mounted(tmp_path, text) as mount:
        assert "Sintel (2010) [1080p]" in os.listdir(mount.path / "realdebrid" / "torrents")


def test_a_secret_given_with_o_gets_a_warning_and_stays_out_of_the_log(emu, tmp_path):
    (tmp_path / "mnt").mkdir()
    write_config(tmp_path, f'[realdebrid]\napi_url = "{emu.urls["realdebrid"]}"\n')
    result = run_cli(
        tmp_path, "-q", "mount", str(tmp_path / "mnt"), "--daemon", "-o", "realdebrid.token=rd-good-token"
    )
    try:
        assert result.returncode == 0, result.stderr
        assert "WARNING" in result.stderr and "DEBRIDFS_REALDEBRID_TOKEN" in result.stderr
        assert "rd-good-token" not in result.stderr + result.stdout
        log = (tmp_path / "state" / "debridfs" / "debridfs.log").read_text()
        assert "rd-good-token" not in log and "WARNING" not in log
    finally:
        subprocess.run(["fusermount3", "-u", str(tmp_path / "mnt")], capture_output=True, timeout=30)
        wait_until(lambda: not is_mounted(tmp_path / "mnt"), what="the unmount")


def test_a_config_without_a_service_is_one_line(tmp_path):
    (tmp_path / "mnt").mkdir()
    config = write_config(tmp_path, "[read]\ntimeout = 30\n")
    line = one_line(run_cli(tmp_path, "mount", str(tmp_path / "mnt")))
    assert line == (
        f"debridfs: {config} enables no service: add a [realdebrid], [rapidgator], [portal], "
        "[premiumize] or [rapidshare] section (see docs/config.md)"
    )
    assert not is_mounted(tmp_path / "mnt")
