#!/usr/bin/env python3
"""Benchmark of the read path: debridfs through a real mount, side by side with
raw HTTP on the same server, in the same run.

    .venv/bin/python scripts/bench.py [--quick] [--origin URL] [--out docs/benchmarks.md]

Starts the emulators (or uses the one at --origin, which must have been started
with this script's library: `--print-library`), mounts, and prints one table.
Every byte read is checked against its sha256. A benchmark, not a test: it
asserts nothing but the hashes.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import trio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.emulators.content import SyntheticContent, content_from_spec, sha256_of  # noqa: E402
from tests.emulators.harness import run_emulator  # noqa: E402
from tests.mounting import mounted  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30
TOKEN = "bench-token"
MEDIA_DIR = ROOT / ".bench"


def make_media() -> dict[str, Path]:
    """An MP4 with its moov atom at the end and an MKV, made once with ffmpeg."""
    MEDIA_DIR.mkdir(exist_ok=True)
    files = {"movie.mp4": MEDIA_DIR / "movie.mp4", "movie.mkv": MEDIA_DIR / "movie.mkv"}
    for name, path in files.items():
        if path.exists() and path.stat().st_size > 0:
            continue
        # ffmpeg writes the MP4 moov at the end unless told +faststart: what many releases have.
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i", "sine=frequency=440",
                        "-t", "120", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "6M",
                        "-c:a", "aac", "-shortest", str(path)], check=True)
    return files


def library(quick: bool) -> dict:
    big = (256 if quick else 1024) * MiB
    downloads = [
        {"id": "SEQ", "filename": "seq.bin", "content": {"size": big, "seed": 101}},
        {"id": "SEQ2", "filename": "seq2.bin", "content": {"size": big, "seed": 102}},
        {"id": "CAP", "filename": "capped.bin", "content": {"size": 256 * MiB, "seed": 103}},
        {"id": "RND", "filename": "random.bin", "content": {"size": 512 * MiB, "seed": 104}},
        {"id": "TTFB", "filename": "ttfb.bin", "content": {"size": 64 * MiB, "seed": 105}},
    ]
    for i in range(16):
        downloads.append({"id": f"C{i}", "filename": f"conc{i:02d}.bin",
                          "content": {"size": (64 if quick else 128) * MiB, "seed": 200 + i}})
    for name, path in make_media().items():
        for copy in ("probe", "seek"):
            downloads.append({"id": f"{copy}-{name}", "filename": f"{copy}-{name}",
                              "content": {"path": str(path)}})
    return {"realdebrid": {"token": TOKEN, "rate_limit_per_minute": 0, "downloads": downloads}}


class Daemon:
    """CPU and memory of the mount process."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def reset_peak_rss(self) -> None:
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


def drop_caches() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/sys/vm/drop_caches").write_text("3")


class Bench:
    def __init__(self, emu, mount, lib: dict, scratch: Path) -> None:
        self.emu = emu
        self.mount = mount
        self.scratch = scratch
        self.rows: list[tuple[str, str, str]] = []
        self.specs = {d["filename"]: d["content"] for d in lib["realdebrid"]["downloads"]}
        self.downloads = {d["filename"]: d["download"] for d in httpx.get(
            emu.urls["realdebrid"] + "/downloads", params={"limit": 2500},
            headers={"Authorization": f"Bearer {TOKEN}"}).json()}
        self.daemon = Daemon(mount.process.pid)
        self._expected: dict[str, str] = {}

    def row(self, what: str, value: str, note: str = "") -> None:
        self.rows.append((what, value, note))
        print(f"  {what:<58} {value:>22}  {note}", flush=True)

    def expected(self, name: str) -> str:
        if name not in self._expected:
            self._expected[name] = sha256_of(content_from_spec(self.specs[name]))
        return self._expected[name]

    def path(self, name: str) -> Path:
        return self.mount.path / "realdebrid/downloads" / name

    def check(self, name: str, copy: Path) -> None:
        if sha256_file(copy) != self.expected(name):
            raise SystemExit(f"sha256 mismatch for {name}")
        copy.unlink()

    # Sequential

    def cp_mount(self, name: str) -> float:
        target = self.scratch / "copy"
        started = time.perf_counter()
        subprocess.run(["cp", str(self.path(name)), str(target)], check=True)
        elapsed = time.perf_counter() - started
        size = target.stat().st_size
        self.check(name, target)
        return size / elapsed / MiB

    def curl(self, name: str) -> float:
        target = self.scratch / "curl"
        started = time.perf_counter()
        subprocess.run(["curl", "-s", "-o", str(target), self.downloads[name]], check=True)
        elapsed = time.perf_counter() - started
        size = target.stat().st_size
        self.check(name, target)
        return size / elapsed / MiB

    def httpx_streams(self, name: str, streams: int) -> float:
        url, size = self.downloads[name], self.specs[name]["size"]
        target = self.scratch / "httpx"
        with open(target, "wb") as f:
            f.truncate(size)

        async def one(client: httpx.AsyncClient, start: int, end: int) -> None:
            fd = os.open(target, os.O_WRONLY)
            try:
                async with client.stream("GET", url, headers={"Range": f"bytes={start}-{end - 1}"}) as r:
                    pos = start
                    async for chunk in r.aiter_raw():
                        os.pwrite(fd, chunk, pos)
                        pos += len(chunk)
            finally:
                os.close(fd)

        async def main() -> None:
            limits = httpx.Limits(max_connections=streams)
            async with httpx.AsyncClient(limits=limits, timeout=120) as client:
                async with trio.open_nursery() as nursery:
                    step = -(-size // streams)
                    for i in range(streams):
                        nursery.start_soon(one, client, i * step, min(size, (i + 1) * step))

        started = time.perf_counter()
        trio.run(main)
        elapsed = time.perf_counter() - started
        self.check(name, target)
        return size / elapsed / MiB

    def sequential(self, label: str, name: str, name2: str) -> None:
        drop_caches()
        cpu = self.daemon.cpu_seconds()
        mount = self.cp_mount(name)
        cpu_per_gb = (self.daemon.cpu_seconds() - cpu) / (self.specs[name]["size"] / 1e9)
        raw1 = self.httpx_streams(name2, 1)
        curl = self.curl(name2)
        raw8 = self.httpx_streams(name2, 8)
        self.row(f"{label}: cp through the mount, cold", f"{mount:,.0f} MiB/s",
                 f"{mount / raw1:.2f}x httpx, {mount / curl:.2f}x curl; daemon {cpu_per_gb:.2f} CPU s/GB")
        self.row(f"{label}: one httpx stream", f"{raw1:,.0f} MiB/s")
        self.row(f"{label}: curl", f"{curl:,.0f} MiB/s")
        self.row(f"{label}: 8 parallel httpx range streams", f"{raw8:,.0f} MiB/s")

    def warm(self, name: str) -> None:
        # The kernel's page cache serves this (keep_cache); what a player re-reading sees.
        mib = self.cp_mount(name)
        self.row("warm sequential re-read (page cache + memory cache)", f"{mib:,.0f} MiB/s")

    # Latency

    def ttfb(self) -> None:
        started = time.perf_counter()
        with open(self.path("ttfb.bin"), "rb", buffering=0) as f:
            first = f.read(65536)
        elapsed = time.perf_counter() - started
        assert first == SyntheticContent(**self.specs["ttfb.bin"]).read(0, 65536)
        self.row("time to first byte after open (cold link)", f"{elapsed * 1000:.1f} ms")

    def random_reads(self, label: str = "", count: int = 200) -> list[float]:
        content = content_from_spec(self.specs["random.bin"])
        rng = random.Random(7)
        times = []
        fd = os.open(self.path("random.bin"), os.O_RDONLY)
        try:
            for _ in range(count):
                offset = rng.randrange(0, content.size - 65536)
                started = time.perf_counter()
                data = os.pread(fd, 65536, offset)
                times.append(time.perf_counter() - started)
                if data != content.read(offset, 65536):
                    raise SystemExit("random read mismatch")
        finally:
            os.close(fd)
        times.sort()
        if label:
            self.row(f"200 random 64 KiB reads{label}: p50 / p99",
                     f"{times[len(times) // 2] * 1000:.1f} / {times[int(len(times) * 0.99)] * 1000:.1f} ms")
        return times

    # Media servers

    def media(self) -> None:
        base = self._rchar(["ffprobe", "-version"])
        for name in ("movie.mp4", "movie.mkv"):
            self.emu.reset_stats()
            path = self.path(f"probe-{name}")
            started = time.perf_counter()
            rchar = self._rchar(["ffprobe", "-v", "error", "-show_format", "-show_streams", str(path)]) - base
            elapsed = time.perf_counter() - started
            fetched = self.emu.stats()["data_bytes"]
            size = path.stat().st_size
            self.row(f"ffprobe {name} ({size / MiB:.0f} MiB{', moov at end' if name.endswith('mp4') else ''})",
                     f"{elapsed * 1000:.0f} ms", f"fetched/read {fetched / max(rchar, 1):.2f}x "
                     f"({fetched / MiB:.1f} MiB fetched, {rchar / MiB:.2f} MiB read)")
        for name in ("movie.mp4", "movie.mkv"):
            self.emu.reset_stats()
            path = self.path(f"seek-{name}")
            started = time.perf_counter()
            rchar = self._rchar(["ffmpeg", "-v", "error", "-ss", "60", "-i", str(path), "-t", "2",
                                 "-f", "null", "-"]) - base
            elapsed = time.perf_counter() - started
            fetched = self.emu.stats()["data_bytes"]
            self.row(f"ffmpeg -ss 60 -t 2 {name}", f"{elapsed * 1000:.0f} ms",
                     f"fetched/read {fetched / max(rchar, 1):.2f}x ({fetched / MiB:.1f} MiB fetched)")
        for name in ("movie.mp4", "movie.mkv"):   # the media files themselves, byte for byte
            copy = self.scratch / "media"
            shutil.copyfile(self.path(f"probe-{name}"), copy)
            self.check(f"probe-{name}", copy)

    @staticmethod
    def _rchar(command: list[str]) -> int:
        """Bytes the command read: a shell reaps it, and the kernel adds a reaped
        child's I/O counters to its parent's."""
        script = '"$@" >/dev/null 2>&1; grep ^rchar /proc/$$/io'
        out = subprocess.run(["sh", "-c", script, "sh", *command], capture_output=True, text=True).stdout
        return int(out.split()[1])

    # Concurrency

    def concurrent(self, readers: int) -> None:
        names = [f"conc{i:02d}.bin" for i in range(readers)]
        drop_caches()
        self.daemon.reset_peak_rss()
        cpu = self.daemon.cpu_seconds()
        latencies: list[float] = []
        probe = threading.Thread(target=lambda: latencies.extend(self.random_reads(count=100)))
        started = time.perf_counter()
        copies = [subprocess.Popen(["cp", str(self.path(n)), str(self.scratch / f"c{n}")]) for n in names]
        probe.start()
        for copy in copies:
            copy.wait()
        elapsed = time.perf_counter() - started
        probe.join()
        total = sum(self.specs[n]["size"] for n in names)
        cpu_used = self.daemon.cpu_seconds() - cpu
        rss = self.daemon.peak_rss_mib()
        for n in names:
            self.check(n, self.scratch / f"c{n}")
        latencies.sort()
        self.row(f"{readers} concurrent readers (cp), aggregate", f"{total / elapsed / MiB:,.0f} MiB/s",
                 f"peak RSS {rss:.0f} MiB, {cpu_used / (total / 1e9):.2f} CPU s/GB, random 64 KiB "
                 f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms meanwhile")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="256 MiB instead of 1 GiB files")
    parser.add_argument("--origin", default=None, help="base URL of a running emulator with this library")
    parser.add_argument("--print-library", action="store_true")
    parser.add_argument("--per-conn-rate", default="25MB")
    parser.add_argument("--latency", default="20ms")
    parser.add_argument("--out", type=Path, default=None, help="append the table to this markdown file")
    args = parser.parse_args()

    lib = library(args.quick)
    if args.print_library:
        print(json.dumps(lib))
        return
    scratch = Path(tempfile.mkdtemp(prefix="debridfs-bench-", dir="/dev/shm" if Path("/dev/shm").exists() else None))
    workdir = Path(tempfile.mkdtemp(prefix="debridfs-bench-mnt-"))
    try:
        with run_emulator(lib) if args.origin is None else _existing(args.origin) as emu:
            config = f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\n'
            with mounted(workdir, config) as mount:
                mount.expect_log(".")   # a benchmark reports, it does not police the log
                bench = Bench(emu, mount, lib, scratch)
                print(f"debridfs benchmark, {platform.node()}, {os.cpu_count()} cores, "
                      f"{'quick' if args.quick else 'full'} run", flush=True)
                bench.sequential("loopback", "seq.bin", "seq2.bin")
                bench.warm("seq.bin")
                bench.ttfb()
                bench.random_reads(label=" (cold)")
                bench.media()
                for readers in (1, 4, 16):
                    bench.concurrent(readers)
                rate = _rate(args.per_conn_rate)
                emu.faults({"data": {"rate_bps": rate, "latency_ms": float(args.latency.removesuffix("ms"))}})
                label = f"{args.per_conn_rate}/conn + {args.latency}"
                drop_caches()
                mount_mib = bench.cp_mount("capped.bin")
                raw1 = bench.httpx_streams("capped.bin", 1)
                raw8 = bench.httpx_streams("capped.bin", 8)
                bench.row(f"{label}: cp through the mount, cold", f"{mount_mib:,.0f} MiB/s",
                          f"{mount_mib / raw1:.1f}x one stream")
                bench.row(f"{label}: one httpx stream", f"{raw1:,.0f} MiB/s")
                bench.row(f"{label}: 8 parallel httpx range streams", f"{raw8:,.0f} MiB/s")
                emu.reset_faults()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)
    if args.out:
        with open(args.out, "a") as f:
            f.write(f"\n### {time.strftime('%Y-%m-%d %H:%M')} — `scripts/bench.py{' --quick' if args.quick else ''}`"
                    f" on {os.cpu_count()} cores, {platform.platform()}\n\n| measurement | value | note |\n|---|---:|---|\n")
            for what, value, note in bench.rows:
                f.write(f"| {what} | {value} | {note} |\n")


def _rate(text: str) -> float:
    from tests.emulators.__main__ import parse_rate
    return parse_rate(text)


@contextlib.contextmanager
def _existing(origin: str):
    from tests.emulators.harness import EmulatorHandle  # a handle onto a server we did not start
    urls = {"base_url": origin.rstrip("/"), "realdebrid": origin.rstrip("/") + "/realdebrid/rest/1.0"}
    yield EmulatorHandle(None, urls)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
