"""`ls -lR` of a 50,000-file Real-Debrid library, and reads while it runs.

Mounts debridfs on the Real-Debrid emulator with 5,000 torrents x 10 files
(the library of tests/mount/test_realdebrid_scale.py) plus one torrent holding
a 256 MiB file, waits for the first sync to end, then runs `ls -lR realdebrid`
cold (the first listing of the mount) and warm, each `--runs` times on a
fresh mount. Meanwhile a reader reads 64 KiB at random offsets of the big
file (each offset read once, so every read goes to the origin) every 20 ms:
a listing that held the trio thread would show in those times. The daemon
runs with the blocked-loop detector at 50 ms, as in the tests.

    .venv/bin/python scripts/bench_biglist.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.emulators.harness import run_emulator  # noqa: E402
from tests.mounting import mounted, wait_until  # noqa: E402

TOKEN = "rd-good-token"
PER_MINUTE = 6000
BIG = 256 * 1024 * 1024
READ = 64 * 1024


def library() -> dict:
    big = {
        "id": "BIGFILE",
        "filename": "Big File",
        "hash": "b" * 40,
        "status": "downloaded",
        "files": [{"path": "/big.bin", "content": {"size": BIG, "seed": 7}, "selected": 1}],
    }
    return {
        "realdebrid": {
            "token": TOKEN,
            "rate_limit_per_minute": PER_MINUTE,
            "torrents": [big],
            "generate": {"torrents": 5000, "files_per_torrent": 10, "file_size": 4096},
        }
    }


def config(url: str) -> str:
    return (
        f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{url}"\n'
        f"rate_limit_per_minute = {PER_MINUTE}\nrefresh_interval = 60\n"
        "downloads_refresh_interval = 3600\n"
    )


class Reader(threading.Thread):
    """64 KiB reads of fresh offsets every 20 ms until stopped; their times in ms."""

    def __init__(self, path: Path, offsets: list[int]) -> None:
        super().__init__(daemon=True)
        self.fd = os.open(path, os.O_RDONLY)
        self.offsets = offsets  # shared by the readers of one mount: none read twice
        self.times: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set() and self.offsets:
            offset = self.offsets.pop() * READ
            t0 = time.perf_counter()
            assert len(os.pread(self.fd, READ, offset)) == READ
            self.times.append((time.perf_counter() - t0) * 1000)
            self.stop.wait(0.02)

    def finish(self) -> list[float]:
        self.stop.set()
        self.join()
        os.close(self.fd)
        return self.times


def ls_lr(root: Path, reader_path: Path, offsets: list[int]) -> tuple[float, int, list[float]]:
    reader = Reader(reader_path, offsets)
    reader.start()
    t0 = time.monotonic()
    out = subprocess.run(["ls", "-lR", str(root)], capture_output=True, text=True, check=True).stdout
    seconds = time.monotonic() - t0
    return seconds, out.count("\n-r"), reader.finish()


def one_mount(workdir: Path, url: str, emu) -> dict[str, object]:
    with mounted(workdir, config(url)) as mount:
        mount.expect_log("trio thread blocked")  # counted below, not fatal here
        wait_until(lambda: emu.calls("realdebrid", "GET /torrents/info/{id}") >= 5001, 300, "the first sync")
        wait_until(lambda: "details of 5001 torrents" in mount.log_text(), 60, "the sync to end")
        root = mount.path / "realdebrid"
        big = root / "torrents/Big File/big.bin"
        fd = os.open(big, os.O_RDONLY)
        os.pread(fd, READ, 0)  # its link resolved before timing
        os.close(fd)
        offsets = random.Random(1).sample(range(1, BIG // READ), BIG // READ - 1)
        cold = ls_lr(root, big, offsets)
        warm = ls_lr(root, big, offsets)
        blocked = [line for line in mount.log_text().splitlines() if "trio thread blocked" in line]
    for line in blocked:
        print("  " + line[:300])
    return {"cold": cold, "warm": warm, "blocked": len(blocked)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    with run_emulator(library()) as emu, tempfile.TemporaryDirectory(prefix="bench-biglist-") as tmp:
        for n in range(args.runs):
            workdir = Path(tmp) / f"run{n}"
            workdir.mkdir()
            emu.reset_stats()
            results.append(one_mount(workdir, emu.urls["realdebrid"], emu))
            r = results[-1]
            print(
                f"run {n + 1}: cold {r['cold'][0]:.2f} s ({r['cold'][1]} files), warm {r['warm'][0]:.2f} s; "
                f"reads during cold p50 {statistics.median(r['cold'][2]):.1f} ms, "
                f"max {max(r['cold'][2]):.1f} ms; blocked-loop reports {r['blocked']}",
                flush=True,
            )
    for which in ("cold", "warm"):
        seconds = [r[which][0] for r in results]  # type: ignore[index]
        reads = sorted(t for r in results for t in r[which][2])  # type: ignore[index]
        print(
            f"ls -lR {which}: median {statistics.median(seconds):.2f} s "
            f"({min(seconds):.2f}-{max(seconds):.2f}); "
            f"64 KiB reads meanwhile: {len(reads)}, p50 {statistics.median(reads):.1f} ms, "
            f"p99 {reads[int(len(reads) * 0.99)]:.1f} ms, max {reads[-1]:.1f} ms"
        )
    print(f"load average {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
