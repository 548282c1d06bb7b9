"""The command line: --version, options before or after the subcommand, help
with examples, mount flags and -o overriding the config through a real mount,
the mount.debridfs (fstab) form, and one line (no traceback, exit status 2)
for every bad invocation."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.emulators.content import content_from_spec, sha256_of
from tests.emulators.harness import run_emulator
from tests.mounting import DEBRIDFS, cli_env, is_mounted, mounted, sha256_through, wait_until, write_config

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TOKEN = "rd-good-token"
MiB = 1 << 20
FILM = {"size": 3 * MiB + 5, "seed": 7}
LIBRARY = {
    "realdebrid": {"token": TOKEN, "downloads": [{"id": "DL1", "filename": "film.mkv", "content": FILM}]}
}


@pytest.fixture(scope="module")
def emu():
    with run_emulator(LIBRARY) as handle:
        yield handle


def rd_config(emu, tmp_path: Path, extra: str = "") -> str:
    return (
        f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\n'
        f'[paths]\nstate_dir = "{tmp_path / "state"}"\ncache_root = "{tmp_path / "cache"}"\n' + extra
    )


def debridfs(
    tmp_path: Path, *args: str, program: list[str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        (program or DEBRIDFS) + list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(tmp_path),
        cwd=ROOT,
    )


def one_line(result: subprocess.CompletedProcess, status: int = 2) -> str:
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("debridfs: ")
    return lines[0]


def mount_options(mountpoint: Path) -> list[str]:
    with open("/proc/self/mounts") as mounts:
        return next(line.split()[3].split(",") for line in mounts if line.split()[1] == str(mountpoint))


def test_version(tmp_path):
    result = debridfs(tmp_path, "--version")
    assert result.returncode == 0 and result.stdout.startswith("debridfs 0.")


@pytest.mark.parametrize(
    "command", [[], ["mount"], ["login"], ["add"], ["verify"], ["status"], ["config"], ["config", "check"]]
)
def test_help_describes_every_command(tmp_path, command):
    result = debridfs(tmp_path, *command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: debridfs" in result.stdout
    if command != ["config", "check"]:
        assert "Examples:" in result.stdout


def test_global_options_before_or_after_the_subcommand(emu, tmp_path):
    config = write_config(tmp_path, rd_config(emu, tmp_path))
    log = tmp_path / "cli.log"
    for args in (
        ["--config", str(config), "--log-level", "debug", "--log-file", str(log), "config", "check"],
        ["config", "check", "--config", str(config), "--log-level", "DEBUG", "--log-file", str(log)],
        ["-vv", "config", "check", "--config", str(config)],
        ["config", "-q", "check", "--config", str(config)],
    ):
        result = debridfs(tmp_path, *args)
        assert result.returncode == 0, (args, result.stderr)
        assert f"{config}: OK; services: realdebrid" in result.stdout


BAD_INVOCATIONS = [
    (["--log-level", "LOUD", "status"], "'LOUD' is not one of"),
    (["status", "--log-level", "LOUD"], "'LOUD' is not one of"),
    (["frobnicate"], "No such command 'frobnicate'"),
    (["verify"], "Missing argument"),
    (["login", "nowhere"], "'nowhere' is not one of"),
    (
        ["mount", "MNT", "-o", "read.timeout=sixty"],
        'command line (-o or a mount flag): [read] timeout = "sixty": expected a duration',
    ),
    (["mount", "MNT", "-o", "mount.allow_other=no"], '[mount] allow_other = "no": expected true or false'),
    (["mount", "MNT", "-o", "frob=1"], "[mount] unknown key 'frob'"),
    (
        ["mount", "MNT", "-o", "entry_timeout=-1"],
        "[mount] entry_timeout = -1: expected a duration of at least 0",
    ),
    (["mount", "MNT", "--cache-dir"], "Option '--cache-dir' requires an argument"),
]


@pytest.mark.parametrize("args, message", BAD_INVOCATIONS, ids=[" ".join(a) for a, _ in BAD_INVOCATIONS])
def test_bad_invocation_is_one_line(emu, tmp_path, args, message):
    write_config(tmp_path, rd_config(emu, tmp_path))
    (tmp_path / "MNT").mkdir()
    args = [str(tmp_path / "MNT") if a == "MNT" else a for a in args]
    line = one_line(debridfs(tmp_path, "--config", str(tmp_path / "config.toml"), *args))
    assert message in line, line


def test_add_prints_only_results_unless_verbose(tmp_path):
    from tests.linkservices import PORTAL_KEY, RG_ONE, RG_TWO, reset_link_services

    library = {
        "hoster_links": [
            {"url": RG_ONE, "name": "one.bin", "content": {"size": 1000, "seed": 1}},
            {"url": RG_TWO, "name": "two.bin", "content": {"size": 2000, "seed": 2}},
        ],
        "portal": {"api_key": PORTAL_KEY, "ready_after_polls": 0},
    }
    with run_emulator(library) as emu:
        reset_link_services(emu)
        config = write_config(
            tmp_path,
            f'[portal]\napi_key = "{PORTAL_KEY}"\napi_url = "{emu.urls["portal"]}"\n'
            f'[paths]\nstate_dir = "{tmp_path / "state"}"\n',
        )
        verbose = debridfs(tmp_path, "add", "portal", RG_ONE, "-v", "--config", str(config))
        assert verbose.returncode == 0 and verbose.stdout.startswith("ok       one.bin (1000 bytes)")
        assert " INFO " in verbose.stderr
        quiet = debridfs(tmp_path, "--config", str(config), "add", "portal", RG_TWO)
        assert quiet.returncode == 0 and quiet.stdout.startswith("ok       two.bin (2000 bytes)")
        assert quiet.stderr == ""


def test_read_only_flag_refuses_writes_through_the_mount(emu, tmp_path):
    with mounted(tmp_path, rd_config(emu, tmp_path), args=("--read-only",)) as mount:
        downloads = mount.path / "realdebrid" / "downloads"
        assert sha256_through(downloads / "film.mkv") == sha256_of(content_from_spec(FILM))
        with pytest.raises(OSError) as error:
            (downloads / "new.links").write_text("https://example.org/x\n")
        assert error.value.errno == errno.EROFS
        assert "ro" in mount_options(mount.path)


def test_cache_dir_flag_and_o_options_override_the_config(emu, tmp_path):
    cache = tmp_path / "blocks"
    config = rd_config(emu, tmp_path, "[mount]\nlisting_ttl = 10\n")
    with mounted(
        tmp_path,
        config,
        args=("--cache-dir", str(cache), "-o", "listing_ttl=0.5,_netdev,defaults", "-o", "read.timeout=30"),
    ) as mount:
        path = mount.path / "realdebrid" / "downloads" / "film.mkv"
        assert sha256_through(path) == sha256_of(content_from_spec(FILM))
        wait_until(
            lambda: any(f.is_file() and f.stat().st_size for f in cache.rglob("*")),
            what="blocks in the --cache-dir",
        )
    shown = debridfs(tmp_path, "--config", str(tmp_path / "config.toml"), "config", "show")
    assert "listing_ttl = 10" in shown.stdout  # the file itself is unchanged


def test_non_empty_mount_point_needs_allow_non_empty(emu, tmp_path):
    write_config(tmp_path, rd_config(emu, tmp_path))
    (tmp_path / "mnt").mkdir()
    (tmp_path / "mnt" / "keep.txt").write_text("mine")
    line = one_line(
        debridfs(tmp_path, "--config", str(tmp_path / "config.toml"), "mount", str(tmp_path / "mnt"))
    )
    assert "is not empty" in line and "--allow-non-empty" in line
    with mounted(tmp_path, rd_config(emu, tmp_path), args=("--allow-non-empty",)) as mount:
        assert "realdebrid" in os.listdir(mount.path)
    assert (tmp_path / "mnt" / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "program, source",
    [("mount.fuse.debridfs", "CONFIG"), ("mount.debridfs", "debridfs#CONFIG"), ("debridfs", "CONFIG")],
)
def test_fstab_form_mounts_in_the_background(emu, tmp_path, program, source):
    """What mount(8) runs for `CONFIG /mnt fuse.debridfs defaults,_netdev,ro 0 0`."""
    config = write_config(tmp_path, rd_config(emu, tmp_path))
    mountpoint = tmp_path / "fstab"
    mountpoint.mkdir()
    result = debridfs(
        tmp_path,
        source.replace("CONFIG", str(config)),
        str(mountpoint),
        "-o",
        "rw,defaults,_netdev,ro,x-systemd.automount",
        program=[str(BIN / program)],
    )
    try:
        assert result.returncode == 0, result.stderr
        assert f"mounted at {mountpoint}" in result.stdout
        assert is_mounted(mountpoint)
        film = mountpoint / "realdebrid" / "downloads" / "film.mkv"
        assert sha256_through(film) == sha256_of(content_from_spec(FILM))
        with pytest.raises(OSError) as error:
            (mountpoint / "realdebrid" / "downloads" / "x.links").write_text("x")
        assert error.value.errno == errno.EROFS and "ro" in mount_options(mountpoint)
    finally:
        subprocess.run(["fusermount3", "-u", str(mountpoint)], capture_output=True)
        wait_until(lambda: not is_mounted(mountpoint), what="the fstab mount to go")
    log = (tmp_path / "state" / "debridfs.log").read_text()
    assert "mounted at" in log and TOKEN not in log


def test_fstab_helper_usage_error_is_one_line(tmp_path):
    line = one_line(debridfs(tmp_path, "only-one-arg", program=[str(BIN / "mount.debridfs")]))
    assert "usage: mount.debridfs CONFIG_FILE MOUNTPOINT" in line
