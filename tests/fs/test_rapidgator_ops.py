"""Rapidgator through `Operations`, without a kernel: a paged folder lists
whole, a file reads its bytes, and the write path (create, write, flush,
release) hands the bytes to the upload manager, which gets them to the
service; service refusals reach the caller as their errno; an unlinked file
keeps its inode while the kernel still holds a lookup of it."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from typing import Any

from tests.emulators.content import SyntheticContent, sha256_of
from tests.fs.harness import FS, errno_of, in_thread, poll
from tests.rapidgator import rapidgator_config, rapidgator_library

FILM = SyntheticContent(2 * (1 << 20) + 5, 12)

LIBRARY = rapidgator_library(
    {
        "folders": [
            {"name": "Movies", "files": [{"name": "film.mkv", "content": {"size": FILM.size, "seed": 12}}]},
            {
                "name": "Paged",
                "files": [
                    {"name": f"f{i}.bin", "content": {"size": 100 + i, "seed": 100 + i}} for i in range(7)
                ],
            },
            {"name": "Uploads"},
            {"name": "Errors"},
            {"name": "Forget", "files": [{"name": "old.txt", "content": {"text": "old\n"}}]},
        ],
    },
    processing_delay=0.1,
    per_page_max=3,  # listings need every page
)


def mount_config(emu) -> str:
    return rapidgator_config(emu)


async def remote(emu, path: str) -> dict[str, Any] | None:
    """What the service holds at `path` (name, size, md5), if anything."""
    return (await in_thread(emu.view, "rapidgator"))["paths"].get(path)


async def deleted(emu, path: str) -> None:
    """Waits until the service no longer holds `path`: an upload the mount had not
    seen confirmed yet when it was deleted is deleted once the service finishes it."""

    async def gone() -> bool:
        return await remote(emu, path) is None

    await poll(gone, f"{path} to be deleted on the service")


async def test_paged_folder_lists_whole_and_a_file_reads_its_bytes(fs: FS):
    assert sorted(await fs.listdir("rapidgator/Paged", batch=2)) == [f"f{i}.bin" for i in range(7)]
    attr = await fs.lookup("rapidgator/Movies/film.mkv")
    assert attr.st_size == FILM.size and stat.S_IMODE(attr.st_mode) == 0o644
    assert await fs.sha256("rapidgator/Movies/film.mkv") == sha256_of(FILM)


async def test_written_bytes_reach_the_service(fs: FS, emu):
    data = hashlib.sha256(b"seed").digest() * 40_000 + b"end"  # 1.28 MB: several writes
    attr = await fs.write("rapidgator/Uploads/new.bin", data)
    # Listed and readable at once (from the spool), under the inode create gave.
    assert (await fs.lookup("rapidgator/Uploads/new.bin")).st_ino == attr.st_ino
    assert (await fs.ops.getattr(attr.st_ino, fs.ctx)).st_size == len(data)
    assert await fs.read("rapidgator/Uploads/new.bin") == data

    async def uploaded() -> dict[str, Any] | None:
        return await remote(emu, "/Uploads/new.bin")

    info = await poll(uploaded, "the upload")
    assert (info["size"], info["md5"]) == (len(data), hashlib.md5(data).hexdigest())
    assert await fs.read("rapidgator/Uploads/new.bin") == data
    await fs.ops.unlink(await fs.inode("rapidgator/Uploads"), b"new.bin", fs.ctx)
    await deleted(emu, "/Uploads/new.bin")


async def test_exceeded_traffic_is_edquot(fs: FS, emu, log_guard):
    log_guard.expect(r"Exceeded traffic")
    inode = await fs.inode("rapidgator/Movies/film.mkv")
    await in_thread(emu.action, "rapidgator", "set_traffic_left", {"bytes": 0})
    try:
        info = await fs.ops.open(inode, os.O_RDONLY, fs.ctx)
        try:
            assert await errno_of(fs.ops.read(info.fh, 0, 4096)) == errno.EDQUOT
        finally:
            await fs.ops.release(info.fh)
    finally:
        await in_thread(emu.action, "rapidgator", "set_traffic_left", {"bytes": None})


async def test_no_storage_space_is_enospc_at_flush(fs: FS, emu, log_guard):
    log_guard.expect(r"Not enough storage space")
    left = (await in_thread(emu.view, "rapidgator"))["user"]["storage"]["left"]
    await in_thread(emu.action, "rapidgator", "set_storage_left", {"bytes": 1000})
    try:
        errors = await fs.inode("rapidgator/Errors")
        info, _ = await fs.ops.create(errors, b"huge.bin", 0o644, os.O_WRONLY | os.O_CREAT, fs.ctx)
        try:
            assert await fs.ops.write(info.fh, 0, b"x" * 5000) == 5000
            assert await errno_of(fs.ops.flush(info.fh)) == errno.ENOSPC
        finally:
            await fs.ops.release(info.fh)
    finally:
        await in_thread(emu.action, "rapidgator", "set_storage_left", {"bytes": left})
    assert "huge.bin" not in await fs.listdir("rapidgator/Errors")
    assert await remote(emu, "/Errors/huge.bin") is None


async def test_a_refused_name_is_einval(fs: FS, emu):
    errors = await fs.inode("rapidgator/Errors")
    await in_thread(emu.action, "rapidgator", "reject_names", {"names": ["bad|dir"]})
    try:
        assert await errno_of(fs.ops.mkdir(errors, b"bad|dir", 0o755, fs.ctx)) == errno.EINVAL
    finally:
        await in_thread(emu.action, "rapidgator", "reject_names", {"names": []})
    assert "bad|dir" not in await fs.listdir("rapidgator/Errors")


async def test_an_unlinked_file_keeps_its_inode_until_forgotten(fs: FS, emu):
    folder = await fs.inode("rapidgator/Forget")
    attr = await fs.lookup("rapidgator/Forget/old.txt")
    await fs.lookup("rapidgator/Forget/old.txt")  # the kernel now holds two lookups
    assert fs.tree.nodes[attr.st_ino].lookups == 2
    await fs.ops.unlink(folder, b"old.txt", fs.ctx)
    assert await remote(emu, "/Forget/old.txt") is None
    assert "old.txt" not in await fs.listdir("rapidgator/Forget")
    assert await errno_of(fs.lookup("rapidgator/Forget/old.txt")) == errno.ENOENT
    # The kernel may still use the inode (an open file, a cached name): it stays
    # until the kernel forgets every lookup of it.
    assert (await fs.ops.getattr(attr.st_ino, fs.ctx)).st_size == len(b"old\n")
    await fs.ops.forget([(attr.st_ino, 1)])
    assert (await fs.ops.getattr(attr.st_ino, fs.ctx)).st_ino == attr.st_ino
    await fs.ops.forget([(attr.st_ino, 1)])
    assert await errno_of(fs.ops.getattr(attr.st_ino, fs.ctx)) == errno.ENOENT


async def test_a_listing_is_trusted_for_listing_ttl(fs: FS, emu):
    """The default listing_ttl (10 s): listing again costs no API call; once the
    listing is older than that, it is asked for again (every page)."""

    async def api_calls() -> int:
        return (await in_thread(emu.stats))["calls_per_service"].get("rapidgator", 0)

    await fs.inode("rapidgator/Paged")
    before = await api_calls()
    assert len(await fs.listdir("rapidgator/Paged")) == 7
    first = await api_calls() - before
    assert first >= 3  # 7 files in pages of 3
    for _ in range(3):
        assert len(await fs.listdir("rapidgator/Paged")) == 7
        assert await fs.lookup("rapidgator/Paged/f3.bin")
    assert await api_calls() - before == first
    fs.tree.listing_ttl = 0  # as if the time had passed
    assert len(await fs.listdir("rapidgator/Paged")) == 7
    assert await api_calls() - before >= 2 * first
