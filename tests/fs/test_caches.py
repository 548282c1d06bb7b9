"""The read caches through `Operations`, each proved used by the emulator's
counters: a second read of the same bytes costs zero origin requests (the
memory cache), a second open costs no new link (the source's link cache), and
a new mount over the same cache dir reads from disk (the disk cache). Each
first step is counted too, so a counter that never moves cannot pass."""

from __future__ import annotations

from pathlib import Path

from tests.emulators.content import SyntheticContent, sha256_of
from tests.fs.harness import FS, in_thread, readdir_reply, running
from tests.realdebrid import one_torrent_library

MiB = 1 << 20
TOKEN = "rd-cache-token"
UNRESTRICT = "POST /unrestrict/link"
FILES = {
    "memory.bin": SyntheticContent(3 * MiB + 5, 501),
    "link.bin": SyntheticContent(8 * MiB, 502),
    "disk.bin": SyntheticContent(3 * MiB + 7, 503),
}
LIBRARY = one_torrent_library(TOKEN, "TCACHE", "cache", FILES)
DIR = "realdebrid/torrents/cache"


def mount_config(emu, cache_dir: Path | None = None) -> str:
    # keep_open_seconds = 0: a closed file's read state (and its link) goes at
    # once, so a second open shows what the caches behind it keep.
    text = (
        f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\n'
        "[read]\nkeep_open_seconds = 0\n"
    )
    if cache_dir is not None:
        text += f'[cache]\ncache_dir = "{cache_dir}"\n'
    return text


async def counters(emu) -> tuple[int, int, int]:
    """(data requests, data bytes, /unrestrict/link calls) since the last reset."""
    stats = await in_thread(emu.stats)
    return stats["data_requests"], stats["data_bytes"], stats["calls"].get(f"realdebrid {UNRESTRICT}", 0)


async def test_a_second_read_costs_no_origin_request(fs: FS, emu):
    await in_thread(emu.reset_stats)
    assert await fs.sha256(f"{DIR}/memory.bin") == sha256_of(FILES["memory.bin"])
    requests, size, _ = await counters(emu)
    assert requests >= 1 and size >= FILES["memory.bin"].size
    assert fs.parts.engine.files == {}, "the read state outlived the close"
    await in_thread(emu.reset_stats)
    assert await fs.sha256(f"{DIR}/memory.bin") == sha256_of(FILES["memory.bin"])
    assert await counters(emu) == (0, 0, 0)


async def test_a_second_open_costs_no_new_link(fs: FS, emu):
    content = FILES["link.bin"]
    inode = await fs.inode(f"{DIR}/link.bin")
    await in_thread(emu.reset_stats)
    info = await fs.ops.open(inode, 0, fs.ctx)
    assert bytes(await fs.ops.read(info.fh, 0, 65536)) == content.read(0, 65536)
    await fs.ops.release(info.fh)
    assert (await counters(emu))[2] == 1
    assert fs.parts.engine.files == {}, "the read state outlived the close"
    await in_thread(emu.reset_stats)
    # Bytes nobody read yet (the tail): they come from the origin, over the link
    # the source kept.
    info = await fs.ops.open(inode, 0, fs.ctx)
    offset = content.size - 65536
    assert bytes(await fs.ops.read(info.fh, offset, 65536)) == content.read(offset, 65536)
    await fs.ops.release(info.fh)
    requests, _, unrestricts = await counters(emu)
    assert requests >= 1 and unrestricts == 0


async def test_a_new_mount_reads_from_the_disk_cache(emu, tmp_path, load_test_config, monkeypatch):
    monkeypatch.setattr("pyfuse3.readdir_reply", readdir_reply)
    config = load_test_config(mount_config(emu, tmp_path / "blocks"))
    await in_thread(emu.reset_stats)
    async with running(config) as fs:
        assert await fs.sha256(f"{DIR}/disk.bin") == sha256_of(FILES["disk.bin"])
    assert (await counters(emu))[1] >= FILES["disk.bin"].size
    await in_thread(emu.reset_stats)
    async with running(config) as fs:  # a new memory cache: only the disk has the bytes
        assert await fs.sha256(f"{DIR}/disk.bin") == sha256_of(FILES["disk.bin"])
    assert (await counters(emu))[:2] == (0, 0)
