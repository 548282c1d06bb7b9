"""Uploads survive SIGKILL at any point between close(2) and the service's
Done, and cope with what the Rapidgator API leaves open: `upload_info` with
or without the session's `url`, error texts no document gives, and login
throttling."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.emulators.harness import run_emulator
from tests.mount.test_writes import LOGIN, PASSWORD, config_for
from tests.mounting import mounted, start_mount, unmount, wait_until

MiB = 1 << 20
LIBRARY = {
    "rapidgator": {
        "login": LOGIN,
        "password": PASSWORD,
        "processing_delay": 0.1,
        "root": {"name": "root", "folders": [{"name": "C"}, {"name": "E"}, {"name": "L"}]},
    }
}


@pytest.fixture(scope="module")
def emu():
    with run_emulator(LIBRARY) as handle:
        yield handle


def status_text(mountpoint: Path) -> str:
    return (mountpoint / ".debridfs" / "uploads").read_text()


def remote(emu, path: str) -> dict | None:
    return emu.view("rapidgator")["paths"].get(path)


def random_file(path: Path, size: int) -> str:
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.md5(data).hexdigest()


def kill_mount(process, mountpoint: Path) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    subprocess.run(["fusermount3", "-uz", str(mountpoint)], capture_output=True)
    unmount(mountpoint, process)


def remount_completes(emu, tmp_path: Path, path: str, md5: str) -> None:
    with mounted(tmp_path, config_for(emu), name="again") as m:
        info = wait_until(lambda: remote(emu, path), 60, "the resumed upload")
        assert info["md5"] == md5
        wait_until(lambda: status_text(m.path) == "no uploads pending\n", 30, "the confirmation")
        assert hashlib.md5((m.path / "rapidgator" / path.lstrip("/")).read_bytes()).hexdigest() == md5
    state = tmp_path / "state" / "debridfs"
    assert list((state / "spool").glob("*")) == []
    assert list((state / "uploads" / "rapidgator").glob("*.json")) == []


@pytest.mark.parametrize("moment", ["after close", "mid-body", "processing"])
def test_sigkill_between_close_and_done_loses_nothing(emu, tmp_path, moment):
    src = tmp_path / "src.bin"
    md5 = random_file(src, 8 * MiB)
    name = f"kill-{moment.replace(' ', '-')}.bin"
    if moment == "processing":
        emu.action("rapidgator", "set_processing_delay", {"seconds": 30})
    else:
        emu.action("rapidgator", "set_upload_rate", {"bytes_per_second": 2 * MiB})
    process, mountpoint, log_file, _config, line = start_mount(tmp_path, config_for(emu))
    try:
        assert "mounted at" in line, log_file.read_text()
        subprocess.run(["cp", str(src), str(mountpoint / "rapidgator" / "C" / name)], check=True, timeout=60)
        if moment == "mid-body":
            wait_until(
                lambda: re.search(r"sending\s+\S+%\s+[1-9]\d*/", status_text(mountpoint)),
                30,
                "bytes on their way",
            )
        elif moment == "processing":
            wait_until(lambda: "processing" in status_text(mountpoint), 30, "Processing")
        kill_mount(process, mountpoint)
    finally:
        emu.action("rapidgator", "set_upload_rate", {"bytes_per_second": 0})
        emu.action("rapidgator", "set_processing_delay", {"seconds": 0.1})
        if process.poll() is None:
            kill_mount(process, mountpoint)
    if moment != "processing":
        assert remote(emu, f"/C/{name}") is None
    remount_completes(emu, tmp_path, f"/C/{name}", md5)
    sessions = [s for s in emu.view("rapidgator")["uploads"] if s["name"] == name]
    assert [s["state"] for s in sessions].count(2) == 1  # one file, not two


def test_fsync_then_sigkill_uploads_what_was_synced(emu, tmp_path):
    process, mountpoint, log_file, _config, line = start_mount(tmp_path, config_for(emu))
    data = os.urandom(3 * MiB)
    try:
        assert "mounted at" in line, log_file.read_text()
        fd = os.open(mountpoint / "rapidgator" / "C" / "synced.bin", os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, data)
        os.fsync(fd)
        kill_mount(process, mountpoint)  # the writer never closed it
        with pytest.raises(OSError):
            os.close(fd)  # the mount is gone
    finally:
        if process.poll() is None:
            kill_mount(process, mountpoint)
    remount_completes(emu, tmp_path, "/C/synced.bin", hashlib.md5(data).hexdigest())


@pytest.mark.parametrize("with_url", [False, True])
def test_resume_with_and_without_url_in_upload_info(emu, tmp_path, with_url):
    """The docs say nothing of `url` in upload_info: the URL file/upload gave is kept."""
    emu.action("rapidgator", "set_upload_info_url", {"enabled": with_url})
    src = tmp_path / "big.bin"
    md5 = random_file(src, 40 * MiB)
    name = f"url-{with_url}.bin"
    emu.action("rapidgator", "set_upload_rate", {"bytes_per_second": 8 * MiB})
    process, mountpoint, log_file, _config, line = start_mount(tmp_path, config_for(emu))
    try:
        assert "mounted at" in line, log_file.read_text()
        subprocess.run(["cp", str(src), str(mountpoint / "rapidgator" / "C" / name)], check=True, timeout=60)
        wait_until(
            lambda: re.search(r"sending\s+\S+%\s+[1-9]\d*/", status_text(mountpoint)),
            30,
            "bytes on their way",
        )
        kill_mount(process, mountpoint)
    finally:
        emu.action("rapidgator", "set_upload_rate", {"bytes_per_second": 0})
        if process.poll() is None:
            kill_mount(process, mountpoint)
    try:
        remount_completes(emu, tmp_path, f"/C/{name}", md5)
    finally:
        emu.action("rapidgator", "set_upload_info_url", {"enabled": False})
    # Resumed on the same session: its URL came from the journal, not from upload_info.
    sessions = [s for s in emu.view("rapidgator")["uploads"] if s["name"] == name]
    assert len(sessions) == 1 and sessions[0]["state"] == 2


def test_unknown_error_wording(emu, tmp_path):
    emu.action("rapidgator", "set_error_wording", {"style": "other"})
    left = emu.view("rapidgator")["user"]["storage"]["left"]
    try:
        with mounted(tmp_path, config_for(emu)) as m:
            m.expect_log(r"cannot upload .*Your storage is full")
            m.expect_log(
                r"cannot upload bad\|name\.txt: Rapidgator file/upload: "
                r"Error: Filename contains forbidden characters"
            )
            m.expect_log(r"(flush|release) failed: Rapidgator file/upload")
            folder = m.path / "rapidgator" / "E"
            # Storage: explained by the account's documented storage.left, whatever the words.
            emu.action("rapidgator", "set_storage_left", {"bytes": 1000})
            fd = os.open(folder / "huge.bin", os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, b"x" * 5000)
            with pytest.raises(OSError) as err:
                os.close(fd)
            assert err.value.errno == errno.ENOSPC
            emu.action("rapidgator", "set_storage_left", {"bytes": left})
            # A refusal nothing explains fails close(2) at once, quoting the service.
            emu.action("rapidgator", "reject_names", {"names": ["bad|name.txt", "bad|dir"]})
            fd = os.open(folder / "bad|name.txt", os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, b"words\n")
            with pytest.raises(OSError) as err:
                os.close(fd)
            assert err.value.errno == errno.EIO
            with pytest.raises(OSError) as err:
                os.mkdir(folder / "bad|dir")  # a call whose only choice is the name
            assert err.value.errno == errno.EINVAL
            assert sorted(os.listdir(folder)) == []
            assert status_text(m.path) == "no uploads pending\n"
    finally:
        emu.action("rapidgator", "reject_names", {"names": []})
        emu.action("rapidgator", "set_error_wording", {"style": "usual"})
        emu.action("rapidgator", "set_storage_left", {"bytes": left})
    assert not [p for p in emu.view("rapidgator")["paths"] if p.startswith("/E/")]


def test_throttled_login_is_not_repeated_per_operation(emu, tmp_path):
    with mounted(tmp_path, config_for(emu)) as m:
        m.expect_log(r"Please wait|no new login")
        m.expect_log(r"(opendir|lookup|readdir|getattr) failed")
        logins = emu.calls("rapidgator", "user/login")
        emu.action("rapidgator", "throttle_logins", {"count": 100})
        emu.action("rapidgator", "expire_tokens")
        for folder in ("C", "E", "L", "C", "E"):
            try:
                os.listdir(m.path / "rapidgator" / folder / ".")
                os.stat(m.path / "rapidgator" / folder / "nothing-here")
            except OSError:
                pass
        assert emu.calls("rapidgator", "user/login") == logins + 1
        emu.action("rapidgator", "throttle_logins", {"count": 0})


def test_orphaned_spools_go_at_mount_and_journaled_ones_stay(emu, tmp_path):
    spools = tmp_path / "state" / "debridfs" / "spool"
    spools.mkdir(parents=True)
    orphan = spools / ("0" * 32 + ".spool")  # a crash before any close(2) succeeded
    orphan.write_bytes(b"never committed")
    # A journaled spool whose session is gone: uploaded again, not deleted.
    data = b"journaled bytes\n"
    kept = spools / ("1" * 32 + ".spool")
    kept.write_bytes(data)
    journal = tmp_path / "state" / "debridfs" / "uploads" / "rapidgator"
    journal.mkdir(parents=True)
    folder_id = next(f["folder_id"] for f in emu.view("rapidgator")["tree"]["folders"] if f["name"] == "L")
    record = {
        "id": "2" * 32,
        "folder": folder_id,
        "name": "kept.txt",
        "spool": str(kept),
        "size": len(data),
        "md5": hashlib.md5(data).hexdigest(),
        "key": f"spool/{kept.name}",
        "session": {"upload_id": "unknownSession0000000000000000000"},
        "state": "sending",
    }
    (journal / f"{record['id']}.json").write_text(json.dumps(record))
    with mounted(tmp_path, config_for(emu)) as m:
        assert not orphan.exists()
        wait_until(lambda: remote(emu, "/L/kept.txt"), 30, "the journaled upload")
        wait_until(lambda: status_text(m.path) == "no uploads pending\n", 30, "the confirmation")
        assert (m.path / "rapidgator" / "L" / "kept.txt").read_bytes() == data


def test_a_resumed_session_without_any_url_gets_a_new_session(emu, tmp_path):
    src = tmp_path / "src.bin"
    md5 = random_file(src, 8 * MiB)
    emu.action("rapidgator", "set_upload_rate", {"bytes_per_second": 2 * MiB})
    process, mountpoint, log_file, _config, line = start_mount(tmp_path, config_for(emu))
    try:
        assert "mounted at" in line, log_file.read_text()
        subprocess.run(
            ["cp", str(src), str(mountpoint / "rapidgator" / "C" / "nourl.bin")], check=True, timeout=60
        )
        kill_mount(process, mountpoint)
    finally:
        emu.action("rapidgator", "set_upload_rate", {"bytes_per_second": 0})
        if process.poll() is None:
            kill_mount(process, mountpoint)
    # As a journal written without the URL would be (and upload_info gives none either).
    journal = tmp_path / "state" / "debridfs" / "uploads" / "rapidgator"
    (path,) = journal.glob("*.json")
    record = json.loads(path.read_text())
    assert record["session"]["url"]
    record["session"].pop("url")
    path.write_text(json.dumps(record))
    remount_completes(emu, tmp_path, "/C/nourl.bin", md5)
    sessions = [s for s in emu.view("rapidgator")["uploads"] if s["name"] == "nourl.bin"]
    assert len(sessions) == 2 and sessions[-1]["state"] == 2
