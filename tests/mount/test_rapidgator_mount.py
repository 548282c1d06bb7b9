"""Rapidgator through a real mount: browsing, reading, writing through upload
sessions (big file, instant upload, retry, crash and resume), namespace
operations, quota errors, login and token renewal."""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.emulators.content import SyntheticContent, md5_of
from tests.emulators.harness import run_emulator
from tests.mounting import DEBRIDFS, hash_through, mounted, start_mount, unmount, wait_until
from tests.rapidgator import LOGIN, PASSWORD, rapidgator_config

MiB = 1 << 20
KNOWN = SyntheticContent(3 * MiB, 991)

LIBRARY = {
    "rapidgator": {
        "login": LOGIN,
        "password": PASSWORD,
        "processing_delay": 0.2,
        "known_md5": [
            {"hash": md5_of(KNOWN), "size": KNOWN.size, "content": {"size": KNOWN.size, "seed": 991}}
        ],
        "root": {
            "name": "root",
            "folders": [
                {
                    "name": "Movies",
                    "folders": [
                        {
                            "name": "Classics",
                            "files": [{"name": "old.mkv", "content": {"size": 3 * MiB + 7, "seed": 11}}],
                        }
                    ],
                    "files": [
                        {
                            "name": "film.mkv",
                            "content": {"size": 6 * MiB + 5, "seed": 12},
                            "created": 1600000000,
                        }
                    ],
                },
                {
                    "name": "Paged",
                    "files": [
                        {"name": f"f{i}.bin", "content": {"size": 100 + i, "seed": 100 + i}} for i in range(7)
                    ],
                },
                {"name": "Work"},
                {"name": "Uploads"},
                {"name": "Crash"},
                {"name": "Errors"},
            ],
            "files": [{"name": "notes.txt", "content": {"text": "hello rapidgator\n"}}],
        },
        "per_page_max": 3,  # folder/content pages of 3 files: listings need every page
    }
}


@pytest.fixture(scope="module")
def emu():
    # The upload host keeps received bytes in temp files: on tmpfs, disk
    # writeback does not make the throughput comparison with curl a lottery.
    saved = os.environ.get("TMPDIR")
    if (
        os.path.isdir("/dev/shm")
        and os.statvfs("/dev/shm").f_bavail * os.statvfs("/dev/shm").f_frsize > 2 << 30
    ):
        os.environ["TMPDIR"] = "/dev/shm"
    try:
        with run_emulator(LIBRARY) as handle:
            yield handle
    finally:
        if saved is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved


def mount_config(emu) -> str:
    """What the `mount` fixture (tests/conftest.py) mounts."""
    return rapidgator_config(emu)


wait_for = functools.partial(wait_until, timeout=30.0)  # uploads take longer: a longer default


def remote(emu, path: str) -> dict | None:
    return emu.view("rapidgator")["paths"].get(path)


def md5_path(path: Path) -> str:
    return hash_through(path, "md5", 4 * MiB)


def make_file(path: Path, size: int, seed: int) -> str:
    """A local file of `size` pseudo-random bytes; returns its md5."""
    block = hashlib.sha256(str(seed).encode()).digest() * (MiB // 32)
    digest = hashlib.md5()
    with open(path, "wb") as f:
        written = 0
        counter = 0
        while written < size:
            chunk = (counter.to_bytes(8, "big") + block)[: min(MiB, size - written)]
            f.write(chunk)
            digest.update(chunk)
            written += len(chunk)
            counter += 1
    return digest.hexdigest()


def no_uploads_pending(m) -> bool:
    return (m.path / ".debridfs" / "uploads").read_text() == "no uploads pending\n"


# ---------------------------------------------------------------- browse and read


def test_browse_and_read(emu, mount):
    root = mount.path / "rapidgator"
    assert sorted(os.listdir(mount.path)) == [".debridfs", "rapidgator"]
    assert {"Movies", "Paged", "Work", "notes.txt"} <= set(os.listdir(root))
    assert sorted(os.listdir(root / "Paged")) == [f"f{i}.bin" for i in range(7)]  # every page
    assert sorted(os.listdir(root / "Movies")) == ["Classics", "film.mkv"]
    film = root / "Movies" / "film.mkv"
    st = os.stat(film)
    info = remote(emu, "/Movies/film.mkv")
    assert st.st_size == info["size"] and int(st.st_mtime) == info["created"] == 1600000000
    assert os.getxattr(film, "user.md5").decode() == info["md5"]
    assert md5_path(film) == info["md5"]
    assert (root / "notes.txt").read_text() == "hello rapidgator\n"
    assert os.path.isdir(root / "Movies" / "Classics")


def test_read_honours_delay_and_refreshes_expired_links(emu, mount):
    old = mount.path / "rapidgator" / "Movies" / "Classics" / "old.mkv"
    emu.action("rapidgator", "set_download_delay", {"seconds": 1})
    try:
        started = time.monotonic()
        with open(old, "rb") as f:
            head = f.read(1000)
        assert time.monotonic() - started >= 1.0
        emu.expire_links()
        with open(old, "rb") as f:  # a new open after the link expired
            f.seek(2 * MiB)
            assert len(f.read(1000)) == 1000
    finally:
        emu.action("rapidgator", "set_download_delay", {"seconds": 0})
    assert len(head) == 1000
    assert md5_path(old) == remote(emu, "/Movies/Classics/old.mkv")["md5"]


def test_exceeded_traffic_is_edquot(emu, mount):
    emu.action("rapidgator", "set_traffic_left", {"bytes": 0})
    mount.expect_log(r"Exceeded traffic")
    try:
        with pytest.raises(OSError) as err:
            (mount.path / "rapidgator" / "Movies" / "film.mkv").read_bytes()
        assert err.value.errno == errno.EDQUOT
    finally:
        emu.action("rapidgator", "set_traffic_left", {"bytes": None})


# ---------------------------------------------------------------- namespace


def test_mkdir_mv_rm_rmdir(emu, mount, tmp_path):
    work = mount.path / "rapidgator" / "Work"
    os.mkdir(work / "A")
    os.mkdir(work / "B")
    assert remote_tree(emu, "/Work") == {"A": {}, "B": {}}
    src = tmp_path / "small.txt"
    src.write_bytes(b"first version\n")
    subprocess.run(["cp", str(src), str(work / "A" / "one.txt")], check=True)
    src.write_bytes(b"second, other bytes\n")
    subprocess.run(["cp", str(src), str(work / "A" / "two.txt")], check=True)
    wait_for(lambda: no_uploads_pending(mount), what="uploads")
    assert remote(emu, "/Work/A/one.txt")["size"] == 14

    os.rename(work / "A" / "one.txt", work / "A" / "uno.txt")  # rename in place
    os.rename(work / "A" / "uno.txt", work / "B" / "uno.txt")  # move across folders
    os.rename(work / "A" / "two.txt", work / "B" / "dos.txt")  # both at once
    assert sorted(os.listdir(work / "A")) == []
    assert sorted(os.listdir(work / "B")) == ["dos.txt", "uno.txt"]
    paths = emu.view("rapidgator")["paths"]
    assert "/Work/B/uno.txt" in paths and "/Work/B/dos.txt" in paths and "/Work/A/one.txt" not in paths

    os.rename(work / "B" / "dos.txt", work / "B" / "uno.txt")  # replaces, as POSIX says
    assert os.listdir(work / "B") == ["uno.txt"]
    assert (work / "B" / "uno.txt").read_bytes() == b"second, other bytes\n"
    assert [p for p in emu.view("rapidgator")["paths"] if p.startswith("/Work/")] == ["/Work/B/uno.txt"]

    with pytest.raises(OSError) as err:
        os.rmdir(work / "B")
    assert err.value.errno == errno.ENOTEMPTY
    os.unlink(work / "B" / "uno.txt")
    assert "/Work/B/uno.txt" not in emu.view("rapidgator")["paths"]
    os.rename(work / "A", work / "B" / "A2")  # folder move + rename
    assert remote_tree(emu, "/Work") == {"B": {"A2": {}}}
    os.rmdir(work / "B" / "A2")
    os.rmdir(work / "B")
    assert remote_tree(emu, "/Work") == {}
    assert os.listdir(work) == []


AT_FDCWD = -100


def renameat2(old: Path, new: Path, flags: int) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.renameat2(AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new), flags) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(new))


def test_rename_keeps_inodes_and_open_handles(emu, mount, tmp_path):
    root = mount.path / "rapidgator" / "Work"
    os.mkdir(root / "R1")
    os.mkdir(root / "R2")
    data = os.urandom(3 * MiB + 11)
    (tmp_path / "r.bin").write_bytes(data)
    subprocess.run(["cp", str(tmp_path / "r.bin"), str(root / "R1" / "r.bin")], check=True)
    (root / "R1" / "other.txt").write_bytes(b"other\n")
    wait_for(lambda: no_uploads_pending(mount), what="uploads")
    ino = os.stat(root / "R1" / "r.bin").st_ino
    dir_ino = os.stat(root / "R1").st_ino

    with open(root / "R1" / "r.bin", "rb") as handle:
        head = handle.read(MiB)
        os.rename(root / "R1" / "r.bin", root / "R1" / "s.bin")  # within a folder
        assert os.stat(root / "R1" / "s.bin").st_ino == ino
        subprocess.run(["mv", str(root / "R1" / "s.bin"), str(root / "R2" / "t.bin")], check=True)
        assert os.stat(root / "R2" / "t.bin").st_ino == ino  # across folders
        assert head + handle.read() == data  # the open handle still reads
    assert remote(emu, "/Work/R2/t.bin")["size"] == len(data)
    assert sorted(os.listdir(root / "R1")) == ["other.txt"]

    # RENAME_NOREPLACE refuses an existing target; plain rename replaces it.
    with pytest.raises(OSError) as err:
        renameat2(root / "R1" / "other.txt", root / "R2" / "t.bin", 1)
    assert err.value.errno == errno.EEXIST
    assert (root / "R2" / "t.bin").read_bytes() == data
    with pytest.raises(OSError) as err:
        renameat2(root / "R1" / "other.txt", root / "R2" / "t.bin", 2)  # RENAME_EXCHANGE
    assert err.value.errno == errno.EINVAL
    renameat2(root / "R1" / "other.txt", root / "R2" / "new.txt", 1)  # no target: fine
    other_ino = os.stat(root / "R2" / "new.txt").st_ino
    os.rename(root / "R2" / "new.txt", root / "R2" / "t.bin")
    assert os.stat(root / "R2" / "t.bin").st_ino == other_ino
    assert (root / "R2" / "t.bin").read_bytes() == b"other\n"
    assert [p for p in emu.view("rapidgator")["paths"] if p.startswith("/Work/R")] == ["/Work/R2/t.bin"]

    # A folder keeps its inode when moved, and its content stays reachable.
    os.rename(root / "R1", root / "R2" / "R1moved")
    assert os.stat(root / "R2" / "R1moved").st_ino == dir_ino
    assert remote_tree(emu, "/Work/R2") == {"R1moved": {}}
    os.rename(root / "R2" / "t.bin", root / "R2" / "R1moved" / "t.bin")
    assert os.stat(root / "R2" / "R1moved" / "t.bin").st_ino == other_ino
    os.unlink(root / "R2" / "R1moved" / "t.bin")
    os.rmdir(root / "R2" / "R1moved")
    os.rmdir(root / "R2")
    assert os.listdir(root) == []


def remote_tree(emu, path: str) -> dict:
    def find(node: dict) -> dict | None:
        if node["path"] == path:
            return node
        for sub in node["folders"]:
            hit = find(sub)
            if hit is not None:
                return hit
        return None

    def shape(node: dict) -> dict:
        return {sub["name"]: shape(sub) for sub in node["folders"]}

    node = find(emu.view("rapidgator")["tree"])
    assert node is not None, path
    return shape(node)


# ---------------------------------------------------------------- uploads


def sent_rate(log_text: str, name: str) -> float:
    rates = re.findall(rf"sent {re.escape(name)}: \d+ bytes in [\d.]+s \(([\d.]+) MB/s\)", log_text)
    assert rates, f"no 'sent {name}' line in the log"
    return float(rates[-1])


def test_big_upload_then_instant_upload(emu, mount, tmp_path):
    size = 300 * MiB
    src = tmp_path / "big.bin"
    md5 = make_file(src, size, 7)
    target = mount.path / "rapidgator" / "Uploads" / "big.bin"
    started = time.monotonic()
    subprocess.run(["cp", str(src), str(target)], check=True, timeout=120)
    cp_seconds = time.monotonic() - started
    # Listed and readable from the spool while uploading.
    assert os.stat(target).st_size == size
    assert os.getxattr(target, "user.md5").decode() == md5
    info = wait_for(lambda: remote(emu, "/Uploads/big.bin"), timeout=120, what="the upload")
    assert info["md5"] == md5 and info["size"] == size
    wait_for(lambda: no_uploads_pending(mount), what="the upload to be confirmed")
    upload_seconds = time.monotonic() - started - cp_seconds
    # Speed is scripts/bench_upload.py's job (a benchmark, not a timed test): on a
    # shared machine one sample swings by 2x either way.
    print(
        f"\ncp into the mount: {size / cp_seconds / 1e6:.0f} MB/s; upload POST: "
        f"{sent_rate(mount.log_text(), 'big.bin'):.0f} MB/s; cp end to confirmed: {upload_seconds:.1f}s"
    )
    assert md5_path(target) == md5  # now read back from the service

    # The same bytes again: instant upload, no body sent.
    posts = emu.calls("rapidgator", "upload POST")
    subprocess.run(
        ["cp", str(src), str(mount.path / "rapidgator" / "Uploads" / "again.bin")], check=True, timeout=120
    )
    info = remote(emu, "/Uploads/again.bin")
    assert info is not None and info["md5"] == md5  # there when cp returned
    assert emu.calls("rapidgator", "upload POST") == posts
    assert no_uploads_pending(mount)
    for name in ("big.bin", "again.bin"):
        os.unlink(mount.path / "rapidgator" / "Uploads" / name)
    src.unlink()


def test_known_content_is_instant_and_overwrite_replaces(emu, mount, tmp_path):
    src = tmp_path / "known.bin"
    src.write_bytes(KNOWN.read(0, KNOWN.size))
    folder = mount.path / "rapidgator" / "Uploads"
    posts = emu.calls("rapidgator", "upload POST")
    subprocess.run(["cp", str(src), str(folder / "known.bin")], check=True)
    assert emu.calls("rapidgator", "upload POST") == posts
    assert md5_path(folder / "known.bin") == md5_of(KNOWN)
    # Overwriting an existing file replaces it once the new bytes are confirmed.
    (folder / "known.bin").write_bytes(b"new content\n")
    wait_for(lambda: no_uploads_pending(mount), what="the upload")
    uploads = next(f for f in emu.view("rapidgator")["tree"]["folders"] if f["name"] == "Uploads")
    assert [(f["name"], f["size"]) for f in uploads["files"] if f["name"] == "known.bin"] == [
        ("known.bin", 12)
    ]
    assert (folder / "known.bin").read_bytes() == b"new content\n"
    os.unlink(folder / "known.bin")


def test_failed_processing_is_retried(emu, mount, tmp_path):
    emu.action("rapidgator", "fail_next_upload", {"count": 1})
    target = mount.path / "rapidgator" / "Uploads" / "retry.bin"
    target.write_bytes(os.urandom(MiB))
    md5 = hashlib.md5(target.read_bytes()).hexdigest()
    wait_for(lambda: no_uploads_pending(mount), what="the retried upload")
    assert remote(emu, "/Uploads/retry.bin")["md5"] == md5
    assert "state 3" in mount.log_text()
    os.unlink(target)


def test_rm_while_processing_does_not_come_back(emu, mount):
    emu.action("rapidgator", "set_processing_delay", {"seconds": 1.5})
    folder = mount.path / "rapidgator" / "Uploads"
    try:
        (folder / "gone.bin").write_bytes(os.urandom(64 * 1024))
        wait_for(
            lambda: "processing" in (mount.path / ".debridfs" / "uploads").read_text(),
            what="the upload to be Processing",
        )
        os.unlink(folder / "gone.bin")
        assert "gone.bin" not in os.listdir(folder)
        assert no_uploads_pending(mount)
        # The service finishes the session anyway; the mount deletes what it became.
        wait_for(
            lambda: "was deleted while the service processed its upload" in mount.log_text(),
            what="the reaper's log line",
        )
    finally:
        emu.action("rapidgator", "set_processing_delay", {"seconds": 0.2})
    view = emu.view("rapidgator")
    session = next(s for s in view["uploads"] if s["name"] == "gone.bin")
    assert session["state"] == 2
    assert "/Uploads/gone.bin" not in view["paths"]
    assert session["file_id"] in [f["file_id"] for f in view["trash"]["files"]]
    assert "gone.bin" not in os.listdir(folder)
    journal = mount.path.parent / "state" / "debridfs" / "uploads" / "rapidgator"
    wait_for(lambda: not list(journal.glob("*.json")), timeout=5, what="the journal to empty")


def test_no_storage_space_is_enospc_at_close(emu, mount):
    left = emu.view("rapidgator")["user"]["storage"]["left"]
    emu.action("rapidgator", "set_storage_left", {"bytes": 1000})
    mount.expect_log(r"Not enough storage space")
    try:
        fd = os.open(mount.path / "rapidgator" / "Errors" / "huge.bin", os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, b"x" * 5000)
        with pytest.raises(OSError) as err:
            os.close(fd)
        assert err.value.errno == errno.ENOSPC
    finally:
        emu.action("rapidgator", "set_storage_left", {"bytes": left})
    assert "huge.bin" not in os.listdir(mount.path / "rapidgator" / "Errors")
    assert remote(emu, "/Errors/huge.bin") is None


def test_names_the_service_refuses_are_einval(emu, mount, tmp_path):
    # The Rapidgator docs (and docs/providers.md) state no name rule beyond the kernel's own
    # (no "/" or NUL, <= 255 bytes), so the emulator's fault switch makes it refuse
    # these names with its "Invalid file/folder name" errors.
    folder = mount.path / "rapidgator" / "Errors"
    os.mkdir(folder / "Sub")
    (folder / "ok.txt").write_bytes(b"fine\n")
    wait_for(lambda: no_uploads_pending(mount), what="the upload")
    emu.action("rapidgator", "reject_names", {"names": ["bad|dir", "bad|file.txt", "bad|moved.txt"]})
    # file/upload's refusal is one the docs do not explain: close(2) fails (EIO) and the
    # log quotes the service's words. Name-only calls (mkdir, mv) refuse the name: EINVAL.
    mount.expect_log(r"cannot upload bad\|file\.txt: Rapidgator file/upload: Error: Invalid file name")
    mount.expect_log(r"(flush|release) failed: Rapidgator file/upload: Error: Invalid file name")
    try:
        with pytest.raises(OSError) as err:
            os.mkdir(folder / "bad|dir")
        assert err.value.errno == errno.EINVAL
        src = tmp_path / "local.txt"
        src.write_bytes(b"some bytes\n")
        result = subprocess.run(
            ["cp", str(src), str(folder / "bad|file.txt")], capture_output=True, text=True, timeout=30
        )
        assert result.returncode != 0 and "Input/output error" in result.stderr
        with pytest.raises(OSError) as err:
            os.rename(folder / "ok.txt", folder / "Sub" / "bad|moved.txt")
        assert err.value.errno == errno.EINVAL
        with pytest.raises(OSError) as err:
            os.rename(folder / "Sub", folder / "bad|dir")
        assert err.value.errno == errno.EINVAL
    finally:
        emu.action("rapidgator", "reject_names", {"names": []})
    # Nothing changed, here or on the service; the mount still works.
    assert sorted(os.listdir(folder)) == ["Sub", "ok.txt"] and os.listdir(folder / "Sub") == []
    paths = [p for p in emu.view("rapidgator")["paths"] if p.startswith("/Errors/")]
    assert paths == ["/Errors/ok.txt"] and remote_tree(emu, "/Errors") == {"Sub": {}}
    assert (folder / "ok.txt").read_bytes() == b"fine\n"
    os.unlink(folder / "ok.txt")
    os.rmdir(folder / "Sub")


def test_sigkill_mid_upload_resumes_after_remount(emu, tmp_path):
    src = tmp_path / "crash.bin"
    md5 = make_file(src, 24 * MiB, 3)
    emu.action("rapidgator", "set_upload_rate", {"bytes_per_second": 8 * MiB})
    process, mountpoint, log_file, _config, line = start_mount(tmp_path, rapidgator_config(emu))
    try:
        assert "mounted at" in line, log_file.read_text()
        subprocess.run(
            ["cp", str(src), str(mountpoint / "rapidgator" / "Crash" / "crash.bin")], check=True, timeout=60
        )
        wait_for(
            lambda: re.search(
                r"sending\s+\S+%\s+[1-9]\d*/", (mountpoint / ".debridfs" / "uploads").read_text()
            ),
            what="the upload to be under way",
        )
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        subprocess.run(["fusermount3", "-uz", str(mountpoint)], capture_output=True)
        unmount(mountpoint, process)
    emu.action("rapidgator", "set_upload_rate", {"bytes_per_second": 0})
    assert remote(emu, "/Crash/crash.bin") is None
    journal = list((tmp_path / "state" / "debridfs" / "uploads" / "rapidgator").glob("*.json"))
    assert len(journal) == 1 and oct(journal[0].stat().st_mode & 0o777) == "0o600"
    result = subprocess.run(
        DEBRIDFS + ["--config", str(tmp_path / "config.toml"), "status"],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
    )
    assert "crash.bin" in result.stdout

    with mounted(tmp_path, rapidgator_config(emu), name="mnt2") as m:
        # Listed from the spool until confirmed, then from the service.
        assert "crash.bin" in os.listdir(m.path / "rapidgator" / "Crash")
        info = wait_for(lambda: remote(emu, "/Crash/crash.bin"), what="the resumed upload")
        assert info["md5"] == md5
        wait_for(lambda: no_uploads_pending(m), what="the confirmation")
        assert md5_path(m.path / "rapidgator" / "Crash" / "crash.bin") == md5
        assert "resuming the upload of crash.bin" in m.log_text()
    spools = list((tmp_path / "state" / "debridfs" / "spool").glob("*.spool"))
    assert spools == [] and not any(journal[0].parent.glob("*.json"))


# ---------------------------------------------------------------- login and tokens


def run_login(tmp_path: Path, answers: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        DEBRIDFS + ["--config", str(tmp_path / "config.toml"), "login", "rapidgator"],
        input=answers,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_login_stores_token_only_and_mount_uses_it(emu, tmp_path):
    (tmp_path / "config.toml").write_text(rapidgator_config(emu, credentials=False))
    bad = run_login(tmp_path, f"{LOGIN}\nwrong\n")
    assert bad.returncode == 1 and "Wrong e-mail or password" in bad.stderr
    good = run_login(tmp_path, f"{LOGIN}\n{PASSWORD}\nn\n")
    assert good.returncode == 0, good.stderr
    stored = tmp_path / "rapidgator-credentials.json"
    assert oct(stored.stat().st_mode & 0o777) == "0o600"
    assert PASSWORD not in stored.read_text() and "token" in stored.read_text()
    with mounted(tmp_path, rapidgator_config(emu, credentials=False)) as m:
        assert "notes.txt" in os.listdir(m.path / "rapidgator")
        # Expired and nothing to renew it with: a clear message, EACCES.
        emu.action("rapidgator", "expire_tokens")
        m.expect_log(r"debridfs login rapidgator")
        with pytest.raises(OSError) as err:
            os.listdir(m.path / "rapidgator" / "Paged")
        assert err.value.errno == errno.EACCES
    assert "run `debridfs login rapidgator` again" in m.log_text()


def test_login_with_2fa_and_stored_credentials_renew(tmp_path):
    library = {"rapidgator": {**LIBRARY["rapidgator"], "twofa_code": "424242"}}
    with run_emulator(library) as emu2:
        (tmp_path / "config.toml").write_text(rapidgator_config(emu2, credentials=False))
        result = run_login(tmp_path, f"{LOGIN}\n{PASSWORD}\n424242\ny\n")
        assert result.returncode == 0, result.stderr
        assert "2FA code" in result.stderr
        with mounted(tmp_path, rapidgator_config(emu2, credentials=False)) as m:
            emu2.action("rapidgator", "expire_tokens")
            # 2FA accounts cannot renew without a code: say so clearly.
            m.expect_log(r"debridfs login rapidgator|Invalid auth code|2FA")
            with pytest.raises(OSError):
                os.listdir(m.path / "rapidgator" / "Movies")


def test_expired_token_renewed_from_stored_credentials(emu, tmp_path):
    (tmp_path / "config.toml").write_text(rapidgator_config(emu, credentials=False))
    assert run_login(tmp_path, f"{LOGIN}\n{PASSWORD}\nyes\n").returncode == 0
    stored = tmp_path / "rapidgator-credentials.json"
    before = stored.read_text()
    with mounted(tmp_path, rapidgator_config(emu, credentials=False)) as m:
        emu.action("rapidgator", "expire_tokens")
        assert "f6.bin" in os.listdir(m.path / "rapidgator" / "Paged")
    assert stored.read_text() != before  # the renewed token was stored
    assert oct(stored.stat().st_mode & 0o777) == "0o600"


def test_an_account_reply_of_nulls_mounts_reads_and_uploads(tmp_path):
    # The `user` object is in no document: email, traffic, storage and upload
    # may all come back null. Nothing the mount does may depend on them.
    library = {
        "rapidgator": {
            "login": LOGIN,
            "password": PASSWORD,
            "user_reply": "nulls",
            "processing_delay": 0.1,
            "root": {"name": "root", "files": [{"name": "a.bin", "content": {"size": 5000, "seed": 3}}]},
        }
    }
    with run_emulator(library) as emu:
        assert emu.view("rapidgator")["user"]["storage"] is None  # the switch is on
        with mounted(tmp_path, rapidgator_config(emu)) as m:
            root = m.path / "rapidgator"
            assert sorted(os.listdir(root)) == ["a.bin"]
            assert (root / "a.bin").read_bytes() == SyntheticContent(5000, 3).read(0, 5000)
            (root / "b.txt").write_bytes(b"uploaded with unknown limits\n")
            wait_until(
                lambda: (
                    (info := emu.view("rapidgator")["paths"].get("/b.txt")) is not None
                    and info["md5"] == hashlib.md5(b"uploaded with unknown limits\n").hexdigest()
                ),
                30,
                "b.txt on the service",
            )
