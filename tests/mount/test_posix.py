"""POSIX edges through a real mount, as shells, cp -a, rsync, editors and
media tools meet them: touch/utimens/chmod/chown, rsync and cp -a, renames,
O_TRUNC/O_APPEND/ftruncate/holes/pwrite, links and special files, locks,
fallocate, statfs, mmap, vim and sed -i, and names the services cannot store.
Rapidgator is the writable tree; Real-Debrid's torrents and the mount's own
`.debridfs/` are read-only places. What is checked is what a user checks:
errno, the bytes the service holds (md5, and no duplicate), listings and
hashes after a remount."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import mmap
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.emulators.content import SyntheticContent, md5_of
from tests.mount.test_writes import settled, sh
from tests.mounting import hash_through, mounted, wait_until
from tests.rapidgator import rapidgator_config, rapidgator_library

MiB = 1 << 20
BIG = SyntheticContent(3 * MiB + 11, 77)
RD_TOKEN = "rd-posix-token"
RD_FILE = SyntheticContent(MiB + 3, 78)

LIBRARY = {
    **rapidgator_library(
        {
            "folders": [
                {"name": "W"},
                {"name": "Full", "files": [{"name": "x.txt", "content": {"text": "x"}}]},
                {
                    "name": "T",  # changed by the truncate test only
                    "files": [
                        {"name": "big.bin", "content": {"size": BIG.size, "seed": 77}},
                        {"name": "digits.txt", "content": {"text": "0123456789"}},
                    ],
                },
            ],
            "files": [
                {"name": "big.bin", "content": {"size": BIG.size, "seed": 77}},
                {"name": "digits.txt", "content": {"text": "0123456789"}},
            ],
        },
        processing_delay=0.3,
    ),
    "realdebrid": {
        "token": RD_TOKEN,
        "downloads": [],
        "torrents": [
            {
                "id": "T1",
                "filename": "Film",
                "status": "downloaded",
                "files": [
                    {"path": "/film.mkv", "content": {"size": RD_FILE.size, "seed": 78}, "selected": 1}
                ],
            }
        ],
    },
}


def mount_config(emu) -> str:
    return (
        rapidgator_config(emu) + f'[realdebrid]\napi_url = "{emu.urls["realdebrid"]}"\ntoken = "{RD_TOKEN}"\n'
    )


def service_files(emu) -> list[tuple[str, int, str]]:
    """(path, size, md5) of every file the service holds, duplicates included."""
    found: list[tuple[str, int, str]] = []

    def walk(folder: dict, prefix: str) -> None:
        for file in folder["files"]:
            found.append((prefix + file["name"], file["size"], file["md5"]))
        for sub in folder["folders"]:
            walk(sub, prefix + sub["name"] + "/")

    walk(emu.view("rapidgator")["tree"], "/")
    return sorted(found)


def holds(emu, m, path: str, content: bytes, timeout: float = 30) -> None:
    """Waits until the service holds exactly `content` at `path`, once, with
    nothing pending; then the mount shows the same bytes."""
    want = (path, len(content), hashlib.md5(content).hexdigest())

    def check() -> bool:
        return [f for f in service_files(emu) if f[0] == path] == [want] and settled(m)

    wait_until(check, timeout, f"{path} on the service")
    assert (m.path / "rapidgator" / path.lstrip("/")).read_bytes() == content


def errno_of(call) -> int | None:
    try:
        call()
    except OSError as exc:
        return exc.errno
    return None


@pytest.fixture
def rg(mount) -> Path:
    return mount.path / "rapidgator"


@pytest.fixture
def w(rg, request) -> Path:
    """A folder of this test's own in W (the emulator is shared by the module)."""
    folder = rg / "W" / request.node.name.removeprefix("test_")[:40]
    folder.mkdir()
    return folder


def under(w: Path) -> str:
    """The service's path of a test's folder."""
    return "/W/" + w.name


def test_touch_utimens_chmod_chown_change_nothing_remote(emu, mount, rg, w):
    before = emu.stats()
    uploads = len(emu.view("rapidgator")["uploads"])
    assert sh(f"touch '{rg}/big.bin' && touch -d '2020-01-01 00:00' '{rg}/big.bin'").returncode == 0
    os.utime(rg / "big.bin", (1e9, 1e9))
    os.chmod(rg / "big.bin", 0o600)
    os.chown(rg / "big.bin", 1000, 1000)
    # An O_RDWR open that only reads and locks (editors, sqlite): no change either.
    fd = os.open(rg / "big.bin", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        fcntl.lockf(fd, fcntl.LOCK_EX)
        tail = os.pread(fd, 100, BIG.size - 50)
    finally:
        os.close(fd)
    assert tail == BIG.read(BIG.size - 50, 50)
    # Nothing was downloaded whole and nothing uploaded: touch of a 50 GB file is free.
    assert len(emu.view("rapidgator")["uploads"]) == uploads
    assert emu.stats()["data_bytes"] - before["data_bytes"] < MiB
    assert hash_through(rg / "big.bin", "md5") == md5_of(BIG)
    assert os.stat(rg / "big.bin").st_size == BIG.size
    # touch of a new file creates an empty one.
    assert sh(f"touch '{w}/new.txt'").returncode == 0
    holds(emu, mount, f"{under(w)}/new.txt", b"")
    # Read-only places: times are accepted (cp -p into a writable dir needs them),
    # modes are not; nothing new can be created.
    film = mount.path / "realdebrid" / "torrents" / "Film" / "film.mkv"
    assert sh(f"touch '{film}'").returncode == 0
    assert errno_of(lambda: os.chmod(film, 0o600)) == errno.EROFS
    assert errno_of(lambda: os.chown(film, 1000, 1000)) == errno.EROFS
    assert errno_of(lambda: open(film, "r+b")) == errno.EROFS
    assert errno_of(lambda: open(film.parent / "new.txt", "wb")) == errno.EROFS
    assert hash_through(film, "md5") == md5_of(RD_FILE)


def test_cp_a_cp_p_and_rsync_a_then_remount(emu, tmp_path):
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    files = {
        "a.txt": b"alpha\n",
        "sub/b.bin": os.urandom(300_000),
        "sub/deeper/c.txt": b"",
        "sub/deeper/d.txt": b"delta" * 1000,
    }
    for name, data in files.items():
        (src / name).write_bytes(data)
    os.utime(src / "a.txt", (1_500_000_000, 1_500_000_000))
    copied = dict(files)
    with mounted(tmp_path, mount_config(emu)) as m:
        w = m.path / "rapidgator" / "W"
        for command in (
            ["cp", "-a", f"{src}/.", f"{w}/cpa"],
            ["cp", "-p", str(src / "a.txt"), f"{w}/cpp.txt"],
            ["rsync", "-a", f"{src}/", f"{w}/rs/"],
            ["rsync", "-a", f"{src}/", f"{w}/rs/"],  # again: nothing to do, or the same bytes again
            ["rsync", "-a", "--inplace", f"{src}/", f"{w}/rsi/"],
        ):
            result = subprocess.run(command, capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, (command, result.stderr)
        (src / "a.txt").write_bytes(b"alpha, changed\n")
        files["a.txt"] = b"alpha, changed\n"
        # A temporary file, then renamed over the first copy.
        result = subprocess.run(
            ["rsync", "-a", f"{src}/", f"{w}/rs/"], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        for name in files:
            holds(emu, m, f"/W/rs/{name}", files[name])
            holds(emu, m, f"/W/cpa/{name}", copied[name])
            holds(emu, m, f"/W/rsi/{name}", copied[name])
        holds(emu, m, "/W/cpp.txt", b"alpha\n")
        on_service = [f[0] for f in service_files(emu) if f[0].startswith("/W/rs/")]
        assert on_service == sorted(f"/W/rs/{n}" for n in files)  # no temporary file left, no duplicate
    expected = sorted(str(p.relative_to(src)) for p in src.rglob("*"))
    with mounted(tmp_path, mount_config(emu)) as again:
        rs = again.path / "rapidgator" / "W" / "rs"
        assert sorted(str(p.relative_to(rs)) for p in rs.rglob("*")) == expected
        for name, data in files.items():
            assert hash_through(rs / name, "md5") == hashlib.md5(data).hexdigest()


def test_renames(emu, mount, rg, w):
    (w / "one.txt").write_bytes(b"one\n")
    (w / "two.txt").write_bytes(b"two\n")
    holds(emu, mount, f"{under(w)}/two.txt", b"two\n")
    os.rename(w / "one.txt", w / "two.txt")  # over an existing file
    holds(emu, mount, f"{under(w)}/two.txt", b"one\n")
    assert "one.txt" not in os.listdir(w)
    # Renamed while open for reading: the reader goes on with the same bytes.
    with open(rg / "big.bin", "rb") as reader:
        head = reader.read(MiB)
        os.rename(rg / "big.bin", w / "moved.bin")
        rest = reader.read()
    assert hashlib.md5(head + rest).hexdigest() == md5_of(BIG)
    os.rename(w / "moved.bin", rg / "big.bin")
    # Renamed while open for writing: the bytes land under the new name.
    with open(w / "writing.txt", "wb") as writer:
        writer.write(b"first ")
        writer.flush()
        os.rename(w / "writing.txt", w / "written.txt")
        writer.write(b"second\n")
    holds(emu, mount, f"{under(w)}/written.txt", b"first second\n")
    assert "writing.txt" not in os.listdir(w)
    # Directories.
    os.makedirs(w / "D1" / "D2" / "D3")
    os.makedirs(w / "D1" / "D2", exist_ok=True)  # mkdir -p of what exists
    assert sh(f"mkdir -p '{w}/D1/D2/D3/D4'").returncode == 0
    assert errno_of(lambda: os.rename(w / "D1", w / "D1" / "D2" / "inside")) == errno.EINVAL
    (w / "D1" / "D2" / "f.txt").write_bytes(b"in D2\n")
    assert errno_of(lambda: os.rmdir(w / "D1" / "D2")) == errno.ENOTEMPTY
    assert sh(f"mv '{w}/D1/D2/f.txt' '{rg}/W/'").returncode == 0  # across folders
    assert sh(f"mv '{w}/D1/D2' '{rg}/Full/'").returncode == 0  # a directory with content
    assert sorted(os.listdir(rg / "Full")) == ["D2", "x.txt"]
    assert os.listdir(rg / "Full" / "D2" / "D3") == ["D4"]
    holds(emu, mount, "/W/f.txt", b"in D2\n")
    os.rmdir(w / "D1")
    mine = [f[0] for f in service_files(emu) if f[0].startswith(under(w) + "/")]
    assert mine == [f"{under(w)}/two.txt", f"{under(w)}/written.txt"]


def test_truncate_append_holes_and_reads_while_writing(emu, mount, rg, w):
    digits = rg / "T" / "digits.txt"
    assert sh(f"echo new > '{digits}'").returncode == 0  # O_TRUNC of a remote file
    holds(emu, mount, "/T/digits.txt", b"new\n")
    assert sh(f"printf more >> '{rg}/T/big.bin'").returncode == 0  # O_APPEND of a remote file
    holds(emu, mount, "/T/big.bin", BIG.read(0, BIG.size) + b"more")
    target = w / "sparse.bin"
    fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, b"abcdef")
        os.ftruncate(fd, 3)
        assert os.pread(fd, 100, 0) == b"abc" and os.fstat(fd).st_size == 3
        os.ftruncate(fd, 8)
        assert os.pread(fd, 100, 0) == b"abc" + b"\0" * 5
        os.lseek(fd, 20, os.SEEK_SET)
        os.write(fd, b"Z")  # past the end: a hole of zeros
        os.pwrite(fd, b"PP", 1)
        expected = b"aPP" + b"\0" * 17 + b"Z"
        assert os.pread(fd, 100, 0) == expected
        # Other readers see the bytes before any upload, by path and by stat.
        assert target.read_bytes() == expected
        assert os.stat(target).st_size == len(expected)
        assert all(f[0] != f"{under(w)}/sparse.bin" for f in service_files(emu))
    finally:
        os.close(fd)
    # Pending (processing_delay): still read from the spool, the same bytes.
    assert target.read_bytes() == expected
    holds(emu, mount, f"{under(w)}/sparse.bin", expected)
    # ftruncate of a remote file opened without O_TRUNC keeps its head only.
    with open(rg / "T" / "big.bin", "r+b") as f:
        f.truncate(5)
        f.seek(0, os.SEEK_END)
        f.write(b"!")
    holds(emu, mount, "/T/big.bin", BIG.read(0, 5) + b"!")


def test_links_special_files_locks_fallocate_statfs_du(emu, mount, rg, w):
    (w / "f.txt").write_bytes(b"data\n")
    holds(emu, mount, f"{under(w)}/f.txt", b"data\n")
    torrent = mount.path / "realdebrid" / "torrents" / "Film"
    internal = mount.path / ".debridfs"
    for place, code in ((w, errno.EPERM), (torrent, errno.EPERM), (internal, errno.EROFS)):
        assert errno_of(lambda p=place: os.link(w / "f.txt", p / "hard")) in (errno.EPERM, code)
        assert errno_of(lambda p=place: os.symlink("f.txt", p / "soft")) == code
        assert errno_of(lambda p=place: os.mkfifo(p / "fifo")) == code
        assert errno_of(lambda p=place: os.mknod(p / "node")) == code
    for tool in ("ln", "ln -s"):
        result = sh(f"{tool} '{w}/f.txt' '{w}/l'")
        assert result.returncode == 1 and "Operation not permitted" in result.stderr
    assert sh(f"mkfifo '{w}/p'").returncode == 1
    assert sorted(os.listdir(w)) == ["f.txt"]
    # Locks are the kernel's (local to this machine): editors and flock(1) work.
    assert sh(f"flock '{w}/f.txt' true && flock -s '{torrent}/film.mkv' true").returncode == 0
    with open(w / "f.txt", "rb") as f:
        fcntl.lockf(f, fcntl.LOCK_SH)
        fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
    # fallocate(2) is not offered (a clean EOPNOTSUPP); posix_fallocate falls back to writing.
    result = sh(f"fallocate -l 1M '{w}/alloc.bin'")
    assert result.returncode == 1 and "not supported" in result.stderr
    fd = os.open(w / "posix.bin", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.posix_fallocate(fd, 0, 4096)
    finally:
        os.close(fd)
    holds(emu, mount, f"{under(w)}/posix.bin", b"\0" * 4096)
    # statfs: plenty of room and inodes (tools that check before writing go on).
    st = os.statvfs(mount.path)
    assert st.f_bavail * st.f_frsize >= 1 << 40 and st.f_favail > 1 << 20 and st.f_namemax == 255
    df = sh(f"df -h '{mount.path}' && df -i '{rg}'")
    assert df.returncode == 0, df.stderr
    du = sh(f"du -s --apparent-size --block-size=1 '{rg}/big.bin' && du -sh '{mount.path}'")
    assert du.returncode == 0, du.stderr
    assert int(du.stdout.split()[0]) == BIG.size


def test_mmap_reads_and_shared_writes(emu, mount, rg, w):
    def mapped_md5(path: Path) -> str:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
            return hashlib.md5(m[:]).hexdigest()

    assert mapped_md5(mount.path / "realdebrid" / "torrents" / "Film" / "film.mkv") == md5_of(RD_FILE)
    assert mapped_md5(rg / "big.bin") == md5_of(BIG)
    (w / "mm.bin").write_bytes(b"0" * 10_000)
    assert mapped_md5(w / "mm.bin") == hashlib.md5(b"0" * 10_000).hexdigest()  # pending
    holds(emu, mount, f"{under(w)}/mm.bin", b"0" * 10_000)
    fd = os.open(w / "mm.bin", os.O_RDWR)
    try:
        with mmap.mmap(fd, 10_000, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as m:
            m[5000:5005] = b"HELLO"
            m.flush()
    finally:
        os.close(fd)
    holds(emu, mount, f"{under(w)}/mm.bin", b"0" * 5000 + b"HELLO" + b"0" * 4995)
    # Not flushed with msync: munmap and close still write the pages back.
    fd = os.open(w / "mm.bin", os.O_RDWR)
    m = mmap.mmap(fd, 10_000, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    os.close(fd)  # the mapping keeps the file open
    m[0:3] = b"ABC"
    m.close()
    holds(emu, mount, f"{under(w)}/mm.bin", b"ABC" + b"0" * 4997 + b"HELLO" + b"0" * 4995)


def test_vim_and_sed_in_place(emu, mount, w):
    vim = shutil.which("vim") or shutil.which("vi")
    assert vim is not None, "scripts/setup.sh installs vim-tiny"
    (w / "doc.txt").write_bytes(b"line1\n")
    pending = os.stat(w / "doc.txt")
    holds(emu, mount, f"{under(w)}/doc.txt", b"line1\n")
    # Confirmed by the service: the same mtime and inode, or an editor that saved
    # a moment ago finds the file "changed since reading" and, without a
    # terminal to ask, does not write (vim -es).
    confirmed = os.stat(w / "doc.txt")
    assert (confirmed.st_mtime_ns, confirmed.st_ino) == (pending.st_mtime_ns, pending.st_ino)
    for line in ("line2", "line3"):
        # Writes .doc.txt.swp (and probes with .swx), rewrites doc.txt, removes the swap file.
        result = subprocess.run(
            [vim, "-N", "-u", "NONE", "-es", "-c", f"normal Go{line}", "-c", "wq", str(w / "doc.txt")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
    holds(emu, mount, f"{under(w)}/doc.txt", b"line1\nline2\nline3\n")
    assert sh(f"sed -i 's/line/LINE/' '{w}/doc.txt'").returncode == 0
    holds(emu, mount, f"{under(w)}/doc.txt", b"LINE1\nLINE2\nLINE3\n")
    assert os.listdir(w) == ["doc.txt"]
    assert [f[0] for f in service_files(emu) if f[0].startswith(under(w) + "/")] == [f"{under(w)}/doc.txt"]


def test_rm_right_after_close_leaves_nothing(emu, mount, w):
    # A file created, closed unwritten and removed at once (vim's .swx probe):
    # its commit runs after close(2) returned; rm must not miss the upload.
    for i in range(5):
        fd = os.open(w / f".probe{i}", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        os.unlink(w / f".probe{i}")
        with open(w / f"gone{i}.txt", "wb") as f:
            f.write(b"short-lived\n")
        os.rename(w / f"gone{i}.txt", w / f"kept{i}.txt")
        os.unlink(w / f"kept{i}.txt")
    wait_until(lambda: settled(mount), 30, "no uploads pending")
    assert os.listdir(w) == []
    prefix = under(w) + "/"
    wait_until(lambda: not [f for f in service_files(emu) if f[0].startswith(prefix)], 30, "an empty folder")


def test_names_the_services_cannot_store(emu, mount, w):
    longest = "n" * 251 + ".txt"
    (w / longest).write_bytes(b"long\n")
    holds(emu, mount, f"{under(w)}/{longest}", b"long\n")
    cases = {
        b"x" * 256: errno.ENAMETOOLONG,
        b"new\nline": errno.EINVAL,  # would be listed as new_line
        b"bad\xff\xfe": errno.EINVAL,  # not UTF-8: services store text
        "e\u0301.txt".encode(): errno.EINVAL,  # decomposed: would be listed composed
        b"trailing ": errno.EINVAL,
    }
    for raw, code in cases.items():
        path = os.fsencode(w) + b"/" + raw
        assert errno_of(lambda p=path: open(p, "wb").close()) == code, raw
        assert errno_of(lambda p=path: os.mkdir(p)) == code, raw
        assert errno_of(lambda p=path: os.rename(w / longest, p)) == code, raw
    assert "\u00e9t\u00e9 \u2014 ok.txt" not in os.listdir(w)
    (w / "\u00e9t\u00e9 \u2014 ok.txt").write_bytes(b"fine\n")
    holds(emu, mount, f"{under(w)}/\u00e9t\u00e9 \u2014 ok.txt", b"fine\n")
    assert sorted(os.listdir(w)) == sorted([longest, "\u00e9t\u00e9 \u2014 ok.txt"])
