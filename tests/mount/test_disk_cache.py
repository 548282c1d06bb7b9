"""The persistent disk cache through a real mount: a file read once is read
again after a remount without touching the server, and the cache stays within
its size by evicting what was read longest ago. Each test proves the cache was
used (a read costs zero origin bytes), not only that it stayed small."""

from __future__ import annotations

import os

from tests.emulators.content import SyntheticContent, sha256_of
from tests.mounting import mounted, sha256_through

MiB = 1 << 20
TOKEN = "rd-disk-token"
FILES = {
    "a.bin": SyntheticContent(12 * MiB + 7, 401),
    "b.bin": SyntheticContent(12 * MiB, 402),
    "c.bin": SyntheticContent(12 * MiB, 403),
}
LIBRARY = {
    "realdebrid": {
        "token": TOKEN,
        "rate_limit_per_minute": 0,
        "downloads": [
            {"id": name, "filename": name, "content": {"size": c.size, "seed": c.seed}}
            for name, c in FILES.items()
        ],
    }
}


def config(emu, cache_dir, max_size: str) -> str:
    return (
        f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\n'
        f'[cache]\ncache_dir = "{cache_dir}"\ncache_max_size = "{max_size}"\n'
    )


def disk_usage(directory) -> int:
    return sum(os.stat(p).st_blocks * 512 for p in directory.iterdir())


def test_a_file_read_once_is_served_from_disk_after_remount(emu, tmp_path):
    cache_dir = tmp_path / "cache"
    with mounted(tmp_path, config(emu, cache_dir, "1GiB")) as mount:
        assert sha256_through(mount.path / "realdebrid/downloads/a.bin") == sha256_of(FILES["a.bin"])
    assert all(p.stat().st_mode & 0o077 == 0 for p in cache_dir.iterdir())
    emu.reset_stats()
    with mounted(tmp_path, config(emu, cache_dir, "1GiB")) as mount:
        assert sha256_through(mount.path / "realdebrid/downloads/a.bin") == sha256_of(FILES["a.bin"])
    assert emu.stats()["data_bytes"] == 0


def test_a_lost_record_costs_a_download_not_wrong_bytes(emu, tmp_path):
    cache_dir = tmp_path / "cache"
    with mounted(tmp_path, config(emu, cache_dir, "1GiB")) as mount:
        sha256_through(mount.path / "realdebrid/downloads/b.bin")
    records = list(cache_dir.glob("*.json"))
    assert records, "the first mount cached nothing"
    for record in records:
        record.write_text("{not json")  # as a crash mid-write would leave it
    emu.reset_stats()
    with mounted(tmp_path, config(emu, cache_dir, "1GiB")) as mount:
        assert sha256_through(mount.path / "realdebrid/downloads/b.bin") == sha256_of(FILES["b.bin"])
    assert emu.stats()["data_bytes"] >= FILES["b.bin"].size
    assert list(cache_dir.glob("*.json")), "the second read was not cached again"


def test_the_cache_stays_within_its_size_and_keeps_what_was_read_last(emu, tmp_path):
    cache_dir = tmp_path / "cache"
    with mounted(tmp_path, config(emu, cache_dir, "20MiB")) as mount:
        for name in FILES:  # 36 MiB through a 20 MiB cache
            assert sha256_through(mount.path / "realdebrid/downloads" / name) == sha256_of(FILES[name])
    assert disk_usage(cache_dir) <= 20 * MiB + 64 * 1024
    emu.reset_stats()
    with mounted(tmp_path, config(emu, cache_dir, "20MiB")) as mount:
        assert sha256_through(mount.path / "realdebrid/downloads/c.bin") == sha256_of(FILES["c.bin"])
        assert emu.stats()["data_bytes"] == 0  # the last one read: served from disk
        assert sha256_through(mount.path / "realdebrid/downloads/a.bin") == sha256_of(FILES["a.bin"])
        assert emu.stats()["data_bytes"] >= FILES["a.bin"].size  # the first one was evicted
