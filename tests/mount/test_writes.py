"""POSIX write semantics through a real mount (Rapidgator emulator): shell
redirects, tee, dd conv=notrunc, truncate, editor-style saves, cp over a
file, several descriptors, fsync, unlink while open, and a write the state
disk cannot hold. What the user checks: the service's bytes, errno, listings."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from tests.emulators.harness import run_emulator
from tests.mounting import mounted, wait_until

LOGIN, PASSWORD = "tester@example.org", "pw-secret"
LIBRARY = {
    "rapidgator": {
        "login": LOGIN,
        "password": PASSWORD,
        "processing_delay": 0.1,
        "root": {
            "name": "root",
            "folders": [{"name": "W"}],
            "files": [{"name": "digits.txt", "content": {"text": "0123456789"}}],
        },
    }
}


def config_for(emu) -> str:
    return f'[rapidgator]\napi_url = "{emu.urls["rapidgator"]}"\nlogin = "{LOGIN}"\npassword = "{PASSWORD}"\n'


@pytest.fixture(scope="module")
def emu():
    with run_emulator(LIBRARY) as handle:
        yield handle


@pytest.fixture
def mount(emu, tmp_path):
    with mounted(tmp_path, config_for(emu)) as m:
        yield m


def settled(m) -> bool:
    return (m.path / ".debridfs" / "uploads").read_text() == "no uploads pending\n"


def service_has(emu, m, path: str, content: bytes, timeout: float = 30) -> None:
    """Waits until the service holds exactly `content` at `path` (md5 and size), once."""
    md5 = hashlib.md5(content).hexdigest()

    def check() -> bool:
        info = emu.view("rapidgator")["paths"].get(path)
        return info is not None and info["md5"] == md5 and info["size"] == len(content)

    wait_until(check, timeout, f"{path} on the service")
    wait_until(lambda: settled(m), timeout, "no uploads pending")
    same = [p for p in emu.view("rapidgator")["paths"] if p == path]
    assert same == [path]
    assert (m.path / "rapidgator" / path.lstrip("/")).read_bytes() == content


def uploads_of(emu, name: str) -> list[dict]:
    return [s for s in emu.view("rapidgator")["uploads"] if s["name"] == name]


def sh(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)


def test_shell_redirects_create_and_append(emu, mount):
    w = mount.path / "rapidgator" / "W"
    result = sh(f"echo hi > '{mount.path}/rapidgator/x.txt'")
    assert result.returncode == 0, result.stderr
    service_has(emu, mount, "/x.txt", b"hi\n")
    assert [s["size"] for s in uploads_of(emu, "x.txt")] == [3]  # one commit, never 0 bytes
    assert sh(f"echo first > '{w}/log.txt' && echo second >> '{w}/log.txt'").returncode == 0
    service_has(emu, mount, "/W/log.txt", b"first\nsecond\n")
    assert sh(f"printf tee-d | tee '{w}/tee.txt' > /dev/null").returncode == 0
    service_has(emu, mount, "/W/tee.txt", b"tee-d")
    # One shell holding the descriptor while commands write through it.
    assert sh(f"exec 3> '{w}/held.txt'; echo a >&3; /bin/echo b >&3; echo c >&3; exec 3>&-").returncode == 0
    service_has(emu, mount, "/W/held.txt", b"a\nb\nc\n")


def test_dd_notrunc_and_truncate_change_an_existing_file(emu, mount):
    digits = mount.path / "rapidgator" / "digits.txt"
    result = sh(f"printf XY | dd of='{digits}' bs=1 seek=3 conv=notrunc status=none")
    assert result.returncode == 0, result.stderr
    service_has(emu, mount, "/digits.txt", b"012XY56789")
    assert sh(f"truncate -s 4 '{digits}'").returncode == 0
    service_has(emu, mount, "/digits.txt", b"012X")
    os.truncate(digits, 6)  # by path: no descriptor open
    service_has(emu, mount, "/digits.txt", b"012X\0\0")
    digits.write_bytes(b"0123456789")
    service_has(emu, mount, "/digits.txt", b"0123456789")


def test_editor_save_and_cp_replace_an_existing_file(emu, mount, tmp_path):
    w = mount.path / "rapidgator" / "W"
    (w / "doc.txt").write_bytes(b"version 1\n")
    service_has(emu, mount, "/W/doc.txt", b"version 1\n")
    # How editors save: write a temporary file, then rename it over the name.
    with open(w / ".doc.txt.swp", "wb") as f:
        f.write(b"version 2\n")
    os.rename(w / ".doc.txt.swp", w / "doc.txt")
    service_has(emu, mount, "/W/doc.txt", b"version 2\n")
    assert ".doc.txt.swp" not in os.listdir(w)
    # cp onto an existing file opens it with O_TRUNC and rewrites it.
    src = tmp_path / "v3.txt"
    src.write_bytes(b"version 3, longer than before\n")
    subprocess.run(["cp", str(src), str(w / "doc.txt")], check=True, timeout=30)
    service_has(emu, mount, "/W/doc.txt", b"version 3, longer than before\n")
    os.unlink(w / "doc.txt")


def test_several_descriptors_and_fsync(emu, mount):
    target = mount.path / "rapidgator" / "W" / "multi.bin"
    one = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    two = os.open(target, os.O_RDWR)
    os.pwrite(one, b"A" * 10, 0)
    os.pwrite(two, b"B" * 5, 10)
    os.fsync(one)  # returns once the spool and its journal record are on disk
    journal = mount.path.parent / "state" / "debridfs" / "uploads" / "rapidgator"
    records = [p.read_text() for p in journal.glob("*.json")]
    assert any('"multi.bin"' in r and '"writing"' in r for r in records)
    os.fdatasync(two)
    os.close(one)  # the other descriptor is still open: nothing committed yet
    assert uploads_of(emu, "multi.bin") == []
    assert os.pread(two, 100, 0) == b"A" * 10 + b"B" * 5
    os.close(two)
    service_has(emu, mount, "/W/multi.bin", b"A" * 10 + b"B" * 5)
    assert len(uploads_of(emu, "multi.bin")) == 1


def test_unlink_while_open_uploads_nothing(emu, mount):
    w = mount.path / "rapidgator" / "W"
    posts = emu.calls("rapidgator", "upload POST")
    fd = os.open(w / "doomed.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, b"x" * 1000)
    os.unlink(w / "doomed.bin")
    assert "doomed.bin" not in os.listdir(w)
    os.write(fd, b"y" * 1000)  # still writable, like any unlinked file
    os.close(fd)  # no EIO
    assert "doomed.bin" not in os.listdir(w)
    assert uploads_of(emu, "doomed.bin") == []
    assert emu.calls("rapidgator", "upload POST") == posts
    assert settled(mount)
    spools = mount.path.parent / "state" / "debridfs" / "spool"
    assert list(spools.glob("*.spool")) == []


@pytest.fixture
def small_state(tmp_path):
    """The state dir (spools and journal) on a tmpfs of 2 MiB and few inodes."""
    state = tmp_path / "state"
    state.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,nr_inodes=64,mode=0700", "tmpfs", str(state)], check=True
    )
    try:
        yield state
    finally:
        subprocess.run(["umount", "-l", str(state)], check=False)


def test_write_beyond_the_state_disk_is_enospc_and_keeps_the_original(emu, tmp_path, small_state):
    with mounted(tmp_path, config_for(emu)) as m:
        m.expect_log(r"write failed: .*No space left on device")
        w = m.path / "rapidgator" / "W"
        (w / "keep.txt").write_bytes(b"the good original\n")
        service_has(emu, m, "/W/keep.txt", b"the good original\n")
        fd = os.open(w / "keep.txt", os.O_WRONLY | os.O_TRUNC)
        with pytest.raises(OSError) as err:
            for _ in range(8):
                os.write(fd, b"z" * (1 << 20))
        assert err.value.errno == errno.ENOSPC
        with pytest.raises(OSError) as err:
            os.close(fd)  # the failed write is reported again: nothing committed
        assert err.value.errno == errno.ENOSPC
        assert (w / "keep.txt").read_bytes() == b"the good original\n"
        assert len(uploads_of(emu, "keep.txt")) == 1
        assert settled(m)
        assert list((small_state / "debridfs" / "spool").glob("*.spool")) == []
        # The mount still works once there is room again.
        (w / "after.txt").write_bytes(b"fits\n")
        service_has(emu, m, "/W/after.txt", b"fits\n")


def test_full_state_disk_fails_close_not_the_mount(emu, tmp_path, small_state):
    with mounted(tmp_path, config_for(emu)) as m:
        m.expect_log(r"(flush|release) failed: .*No space left on device")
        w = m.path / "rapidgator" / "W"
        (w / "warm.txt").write_bytes(b"makes the journal and spool dirs\n")
        wait_until(lambda: settled(m), 30, "the first upload")
        # Once a listing shows the remote file, its spool and record go (freeing inodes).
        debridfs = small_state / "debridfs"
        wait_until(
            lambda: (
                "warm.txt" in os.listdir(w)
                and not list(debridfs.glob("*/*.spool"))
                and not list(debridfs.glob("uploads/*/*.json"))
            ),
            30,
            "the spool to be released",
        )
        # Use up every inode but one: the spool gets it, its journal record cannot.
        fillers = []
        try:
            while True:
                path = small_state / f"filler{len(fillers)}"
                path.touch()
                fillers.append(path)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        fillers.pop().unlink()
        fd = os.open(w / "nojournal.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, b"data\n")
        with pytest.raises(OSError) as err:
            os.close(fd)
        assert err.value.errno == errno.ENOSPC
        assert uploads_of(emu, "nojournal.txt") == []
        for path in fillers:
            path.unlink()
        assert "nojournal.txt" not in os.listdir(w)
        (w / "later.txt").write_bytes(b"room again\n")  # the mount is alive and well
        service_has(emu, m, "/W/later.txt", b"room again\n")
        assert m.process.poll() is None


def test_a_second_mount_on_the_same_state_dir_refuses(emu, tmp_path):
    from tests.mounting import start_mount, unmount

    with mounted(tmp_path, config_for(emu)):
        process, mountpoint, _log, _config, line = start_mount(tmp_path, config_for(emu), name="mnt2")
        try:
            assert "mounted at" not in line
            assert process.wait(timeout=30) != 0
            stderr = process.stderr.read().decode()
        finally:
            unmount(mountpoint, process)
        lines = [x for x in stderr.splitlines() if x.strip()]
        assert len(lines) == 1 and "another debridfs mount" in lines[0] and "state dir" in lines[0]
        Path(_log).unlink(missing_ok=True)


def test_files_open_for_writing_survive_a_relisting(emu, tmp_path):
    # listing_ttl = 0: every readdir asks the service again, which knows
    # nothing yet of a file still being written.
    with mounted(tmp_path, config_for(emu) + "[mount]\nlisting_ttl = 0\n") as m:
        w = m.path / "rapidgator" / "W"
        new, grown = w / "growing.txt", m.path / "rapidgator" / "digits.txt"
        with open(new, "wb") as f, open(grown, "ab") as g:
            f.write(b"hello")
            f.flush()
            g.write(b"abc")
            g.flush()
            for _ in range(2):
                assert "growing.txt" in os.listdir(w)
                assert sorted(os.listdir(m.path / "rapidgator")).count("digits.txt") == 1
                assert os.stat(new).st_size == 5
                assert os.stat(grown).st_size == 13
        service_has(emu, m, "/W/growing.txt", b"hello")
        service_has(emu, m, "/digits.txt", b"0123456789abc")
