"""Real-Debrid through `Operations`, without a kernel: names the service sends
that collide or are unsafe become unique, safe names with the right bytes
behind each; attributes; readdir resumed at any offset; read-only places
refuse writes with EROFS; the client's typed errors reach the caller as their
errno (vfs/errnos.py); lookup counts keep a vanished inode until `forget`."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from tests.fixtures.collisions import DUPS, DUPS_SHORT_NAMES, NFC, SAME_NAMES, content, one_file_torrent, sha
from tests.fs.harness import FS, errno_of, in_thread, poll

TOKEN = "rd-good-token"
# Read by one test each: Real-Debrid lists a link once unrestricted, and a
# listed link is read without asking /unrestrict/link again.
ERROR_CODES = (9, 8, 35)
ADDED = "2026-01-02T00:00:00.000Z"

LIBRARY = {
    "realdebrid": {
        "token": TOKEN,
        "rate_limit_per_minute": 0,
        "torrents": [
            DUPS,
            *SAME_NAMES,
            one_file_torrent("TGONE", "Gone", 17, ADDED),
            *(one_file_torrent(f"TERR{c}", f"Error {c}", 20 + c, ADDED) for c in ERROR_CODES),
        ],
    }
}
DUPS_PATH = "realdebrid/torrents/Dups"


def mount_config(emu) -> str:
    # read.timeout: a read whose link cannot be had fails within the test's bounds
    return (
        f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\nrefresh_interval = 0.3\n'
        "[read]\ntimeout = 5\n[mount]\nlisting_ttl = 0\n"
    )


async def test_colliding_and_unsafe_names_are_unique_and_read_their_own_bytes(fs: FS):
    names = await fs.listdir(DUPS_PATH)
    long_names = sorted(n for n in names if n.startswith("LLL"))
    assert len(long_names) == 2 and all(len(n.encode()) <= 255 for n in long_names)
    assert sorted(names) == sorted(DUPS_SHORT_NAMES + long_names)
    # The lower file id keeps the plain name; bytes follow the name.
    assert await fs.sha256(f"{DUPS_PATH}/a.mkv") == sha(1)
    assert await fs.sha256(f"{DUPS_PATH}/a (2).mkv") == sha(2)
    assert await fs.sha256(f"{DUPS_PATH}/{NFC}.mkv") == sha(3)
    assert await fs.sha256(f"{DUPS_PATH}/{NFC} (2).mkv") == sha(4)
    assert {await fs.sha256(f"{DUPS_PATH}/{NFC}/x.mkv"), await fs.sha256(f"{DUPS_PATH}/{NFC} (2)/x.mkv")} == {
        sha(5),
        sha(6),
    }
    assert sorted([await fs.sha256(f"{DUPS_PATH}/{n}") for n in long_names]) == sorted([sha(7), sha(8)])
    torrents = await fs.listdir("realdebrid/torrents")
    assert {"Same", "Same (2)", "A\u2215B", "A\u2215B (2)", "Dups"} <= set(torrents)
    long_torrents = [n for n in torrents if n.startswith("LLL")]
    assert len(long_torrents) == 2 and all(len(n.encode()) <= 255 for n in long_torrents)
    assert await fs.sha256("realdebrid/torrents/Same/f.mkv") == sha(11)
    assert await fs.sha256("realdebrid/torrents/Same (2)/f.mkv") == sha(12)
    assert await fs.sha256("realdebrid/torrents/A\u2215B/f.mkv") == sha(13)


async def test_attributes_of_lookup_getattr_and_readdir_agree(fs: FS):
    listed = await fs.listdir(DUPS_PATH)
    attr = await fs.lookup(f"{DUPS_PATH}/a (2).mkv")
    assert stat.S_ISREG(attr.st_mode) and stat.S_IMODE(attr.st_mode) == 0o444
    assert attr.st_size == content(2).size and attr.st_uid == os.getuid()
    again = await fs.ops.getattr(attr.st_ino, fs.ctx)
    assert (again.st_ino, again.st_size, again.st_mode) == (attr.st_ino, attr.st_size, attr.st_mode)
    assert (listed["a (2).mkv"].st_ino, listed["a (2).mkv"].st_size) == (attr.st_ino, attr.st_size)
    directory = await fs.lookup(f"{DUPS_PATH}/{NFC}")
    assert stat.S_ISDIR(directory.st_mode)
    assert await errno_of(fs.lookup(f"{DUPS_PATH}/nope.mkv")) == errno.ENOENT
    assert await errno_of(fs.lookup(f"{DUPS_PATH}/a.mkv/x")) == errno.ENOTDIR
    assert await errno_of(fs.ops.getattr(12345, fs.ctx)) == errno.ENOENT


@pytest.mark.parametrize("batch", [1, 3])
async def test_readdir_resumes_at_next_id(fs: FS, batch: int):
    """A kernel buffer that holds a few entries: every name once, none lost."""
    assert sorted(await fs.listdir(DUPS_PATH, batch=batch)) == sorted(await fs.listdir(DUPS_PATH))


async def test_read_only_places_refuse_writes_with_erofs(fs: FS):
    ops, ctx = fs.ops, fs.ctx
    existing = await fs.inode(f"{DUPS_PATH}/a.mkv")
    assert await errno_of(ops.open(existing, os.O_WRONLY, ctx)) == errno.EROFS
    assert await errno_of(ops.open(existing, os.O_RDWR | os.O_TRUNC, ctx)) == errno.EROFS
    dups = await fs.inode(DUPS_PATH)
    assert await errno_of(ops.mkdir(dups, b"new", 0o755, ctx)) == errno.EROFS
    assert await errno_of(ops.create(dups, b"new.mkv", 0o644, os.O_WRONLY, ctx)) == errno.EROFS
    assert await errno_of(ops.mkdir(1, b"top", 0o755, ctx)) == errno.EROFS
    assert await errno_of(ops.unlink(1, b"realdebrid", ctx)) == errno.EROFS
    assert await errno_of(ops.open(dups, os.O_RDONLY, ctx)) == errno.EISDIR
    # Nothing changed: the same names, the same bytes.
    assert "new" not in await fs.listdir(DUPS_PATH)
    assert await fs.sha256(f"{DUPS_PATH}/a.mkv") == sha(1)


@pytest.mark.parametrize(
    "status, code, expected",
    [
        (403, 9, errno.EACCES),  # permission denied: PermissionDenied
        (401, 8, errno.EACCES),  # bad token: AuthError
        (451, 35, errno.EIO),  # infringing file: FileUnavailable
    ],
)
async def test_client_errors_reach_the_caller_as_their_errno(fs: FS, emu, log_guard, status, code, expected):
    log_guard.expect(r"read failed|unrestrict|Real-Debrid")
    inode = await fs.inode(f"realdebrid/torrents/Error {code}/f.mkv")
    await in_thread(
        emu.action,
        "realdebrid",
        "inject_error",
        {
            "route": "POST /unrestrict/link",
            "status": status,
            "error": f"error_{code}",
            "code": code,
            "times": 1,
        },
    )
    info = await fs.ops.open(inode, os.O_RDONLY, fs.ctx)
    try:
        assert await errno_of(fs.ops.read(info.fh, 0, 4096)) == expected
    finally:
        await fs.ops.release(info.fh)


async def test_a_vanished_file_lives_until_the_kernel_forgets_it(fs: FS, emu):
    gone = await fs.lookup("realdebrid/torrents/Gone/f.mkv")
    await fs.lookup("realdebrid/torrents/Gone/f.mkv")  # the kernel now holds two lookups
    node = fs.tree.nodes[gone.st_ino]
    assert node.lookups == 2
    await in_thread(emu.action, "realdebrid", "remove_torrent", {"id": "TGONE"})

    async def vanished() -> bool:
        return "Gone" not in await fs.listdir("realdebrid/torrents")

    await poll(vanished, "the torrent to vanish from the listing")
    # Still known by inode (an open file, a cached dentry), until forgotten.
    assert (await fs.ops.getattr(gone.st_ino, fs.ctx)).st_size == gone.st_size
    await fs.ops.forget([(gone.st_ino, 1)])
    assert (await fs.ops.getattr(gone.st_ino, fs.ctx)).st_ino == gone.st_ino
    await fs.ops.forget([(gone.st_ino, 1)])
    assert await errno_of(fs.ops.getattr(gone.st_ino, fs.ctx)) == errno.ENOENT
    assert gone.st_ino not in fs.tree.nodes
