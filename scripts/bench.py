#!/usr/bin/env python3
"""Benchmark of the read path against a real origin: debridfs, rclone mount and
curl side by side, in one run, on the same nginx.

    .venv/bin/python scripts/bench.py [--quick] [--runs 3] [--out docs/benchmarks.md]

What it does (all on loopback, all started and stopped here):
- writes the test files (synthetic, checkable) into a temporary directory and
  serves them with nginx (sendfile, byte ranges, keep-alive, autoindex);
- starts the Real-Debrid emulator with `--data-base-url` pointing at nginx:
  the API is emulated, every byte read comes from nginx;
- mounts debridfs on that emulator, and `rclone mount :http:` (defaults) on
  the same nginx; each measurement group gets a fresh mount of each peer;
- for the capped rows, a second nginx server adds `limit_rate` per connection
  and a small proxy delays each request by the RTT.

Readers: "hashed" reads 1 MiB at a time and sha256s what it read (a player
consuming its data), "cp" is coreutils cp. Every byte is checked against the
expected sha256. Each figure is the median of `--runs` runs (range in
brackets). A benchmark, not a test: nothing here is asserted but the hashes.
`scripts/setup.sh --bench` installs nginx and rclone (the script runs it when
either is missing).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MiB = 1 << 20
GiB = 1 << 30
TOKEN = "bench-token"
INFO = "GET /torrents/info/{id}"
STEP_TIMEOUT = 120.0  # no single step of the benchmark may take longer
CAP_RATE = "25m"  # nginx limit_rate: 25 MiB/s per connection
CAP_RTT = 0.020


# The origin: files, nginx, the delay proxy


@dataclass
class Sizes:
    big: int
    random: int
    capped: int
    conc: int
    dirs: int = 500
    files_per_dir: int = 10

    @classmethod
    def of(cls, quick: bool) -> Sizes:
        if quick:
            return cls(big=256 * MiB, random=128 * MiB, capped=64 * MiB, conc=32 * MiB)
        return cls(big=1 * GiB, random=256 * MiB, capped=256 * MiB, conc=128 * MiB)


CONC_READERS = 8
PEERS = ("debridfs", "rclone", "curl")
GROUPS = ("reads", "listing", "cp", "concurrent", "capped")


def file_specs(sizes: Sizes) -> dict[str, dict]:
    specs = {
        "big.bin": {"size": sizes.big, "seed": 101},
        "random.bin": {"size": sizes.random, "seed": 104},
        "ttfb.bin": {"size": 16 * MiB, "seed": 105},
        "capped.bin": {"size": sizes.capped, "seed": 103},
    }
    for i in range(CONC_READERS):
        specs[f"conc{i}.bin"] = {"size": sizes.conc, "seed": 200 + i}
    return specs


def write_files(www: Path, sizes: Sizes, media: dict[str, Path]) -> dict[str, str]:
    """Writes the served files; returns their sha256s."""
    from tests.emulators.content import SyntheticContent

    files = www / "files"
    files.mkdir(parents=True)
    hashes = {}
    for name, spec in file_specs(sizes).items():
        content = SyntheticContent(**spec)
        digest = hashlib.sha256()
        with open(files / name, "wb") as f:
            for offset in range(0, content.size, 8 * MiB):
                data = content.read(offset, 8 * MiB)
                f.write(data)
                digest.update(data)
        hashes[name] = digest.hexdigest()
    for name, path in media.items():
        shutil.copyfile(path, files / name)
    # The listing tree (for rclone; debridfs lists the same shape from the emulator).
    for d in range(sizes.dirs):
        folder = www / "lib" / f"Show {d:04d}"
        folder.mkdir(parents=True)
        for i in range(sizes.files_per_dir):
            with open(folder / f"episode {i:02d}.mkv", "wb") as f:
                f.truncate(4096)
    for path in [www, *www.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return hashes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


NGINX_CONF = """\
worker_processes 2;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
user root root;
events {{ worker_connections 1024; }}
http {{
    log_format bytes '$body_bytes_sent';
    access_log {tmp}/access.log bytes;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    keepalive_timeout 60s;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {www};
        autoindex on;
        # Direct links minted by the emulator: /data/<token>/<name> is the file <name>.
        location ~ ^/data/[^/]+/(?<file>[^/]+)$ {{ alias {www}/files/$file; }}
    }}
    server {{
        listen 127.0.0.1:{capped_port};
        root {www};
        autoindex on;
        limit_rate {rate};
        location ~ ^/data/[^/]+/(?<file>[^/]+)$ {{ alias {www}/files/$file; limit_rate {rate}; }}
    }}
}}
"""


@dataclass
class Origin:
    tmp: Path
    port: int
    capped_port: int
    proxy_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def capped_url(self) -> str:
        """The capped server behind the delay proxy."""
        return f"http://127.0.0.1:{self.proxy_port}"

    def log_bytes(self) -> int:
        """Bytes nginx has sent so far (body bytes, from the access log)."""
        with open(self.tmp / "access.log") as f:
            return sum(int(line) for line in f if line.strip().isdigit())


@contextlib.contextmanager
def run_origin(tmp: Path, www: Path) -> Iterator[Origin]:
    origin = Origin(tmp, free_port(), free_port(), free_port())
    conf = tmp / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(tmp=tmp, www=www, port=origin.port, capped_port=origin.capped_port, rate=CAP_RATE)
    )
    (tmp / "access.log").touch()
    nginx = subprocess.Popen(
        [shutil.which("nginx") or "nginx", "-c", str(conf), "-p", str(tmp)],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "nginx.stderr", "wb"),
    )
    proxy = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--delay-proxy",
            str(origin.proxy_port),
            str(origin.capped_port),
            str(CAP_RTT),
        ]
    )
    try:
        for port in (origin.port, origin.capped_port, origin.proxy_port):
            wait_until(
                lambda port=port: _listening(port) or nginx.poll() is not None, 15, f"port {port} to listen"
            )
            if nginx.poll() is not None:
                raise SystemExit("bench: nginx failed:\n" + (tmp / "nginx.stderr").read_text())
        yield origin
    finally:
        for process in (proxy, nginx):
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
            if process.poll() is None:
                process.kill()
                process.wait()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def delay_proxy(listen: int, upstream: int, delay: float) -> None:
    """Adds `delay` to every request and connection (an RTT): the request
    direction waits, responses pass straight through (nginx caps their rate)
    with splice(2), so the proxy costs next to no CPU and never paces them."""
    import threading

    def requests(client: socket.socket, server: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                time.sleep(delay)
                server.sendall(data)
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_WR)

    def responses(server: socket.socket, client: socket.socket) -> None:
        read_end, write_end = os.pipe()
        try:
            while True:
                n = os.splice(server.fileno(), write_end, 1 << 20)
                if n == 0:
                    break
                while n:
                    n -= os.splice(read_end, client.fileno(), n)
        except OSError:
            pass
        finally:
            os.close(read_end)
            os.close(write_end)
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def connection(client: socket.socket) -> None:
        time.sleep(delay)  # the connection's handshake
        try:
            server = socket.create_connection(("127.0.0.1", upstream))
        except OSError:
            client.close()
            return
        for sock in (client, server):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=requests, args=(client, server), daemon=True).start()
        responses(server, client)
        client.close()
        server.close()

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    listener = socket.create_server(("127.0.0.1", listen), backlog=128)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=connection, args=(client,), daemon=True).start()


# Peers


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out waiting for {what}")
        time.sleep(0.02)


class Process:
    """CPU and memory of a mount daemon."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def idle(self, seconds: float = 0.5) -> bool:
        """True when the process used under 5% of a core for `seconds`."""
        before = self.cpu_seconds()
        time.sleep(seconds)
        return self.cpu_seconds() - before < 0.05 * seconds

    @contextlib.contextmanager
    def profiled(self, out: Path | None) -> Iterator[None]:
        """Samples the daemon with py-spy (when `out` is given) while the block runs."""
        if out is None:
            yield
            return
        spy = subprocess.Popen(
            ["py-spy", "record", "-r", "200", "--native", "-f", "raw", "-o", str(out), "-p", str(self.pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield
        finally:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)

    def reset_peak_rss(self) -> None:
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def _status(self, key: str) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024
        return 0.0

    def rss_mib(self) -> float:
        return self._status("VmRSS:")

    def peak_rss_mib(self) -> float:
        return self._status("VmHWM:")


@dataclass
class PeerMount:
    name: str
    root: Path  # where the files are
    lib: Path  # the 500-directory tree
    daemon: Process


def library(sizes: Sizes, hashes: dict[str, str], media: dict[str, Path]) -> dict:
    from tests.emulators.content import SyntheticContent  # noqa: F401  (specs below)

    downloads = [
        {"id": f"F{i:03d}", "filename": name, "content": spec}
        for i, (name, spec) in enumerate(file_specs(sizes).items())
    ]
    for i, (name, path) in enumerate(media.items()):
        downloads.append({"id": f"M{i:03d}", "filename": name, "content": {"path": str(path)}})
    torrents = []
    for d in range(sizes.dirs):
        torrents.append(
            {
                "filename": f"Show {d:04d}",
                "files": [
                    {"path": f"/episode {i:02d}.mkv", "content": {"size": 4096, "seed": 7}}
                    for i in range(sizes.files_per_dir)
                ],
            }
        )
    return {
        "realdebrid": {
            "token": TOKEN,
            "rate_limit_per_minute": 0,
            "downloads": downloads,
            "torrents": torrents,
        }
    }


class Peers:
    """Starts fresh mounts of debridfs and rclone."""

    def __init__(
        self, work: Path, origin: Origin, sizes: Sizes, emu_handles: dict, extra_config: str = ""
    ) -> None:
        self.work = work
        self.extra_config = extra_config
        self.emu = emu_handles
        self.origin = origin
        self.sizes = sizes
        self.count = 0

    @contextlib.contextmanager
    def debridfs(self, capped: bool = False) -> Iterator[PeerMount]:
        """`debridfs mount` as a user runs it: INFO logging, no debug instruments
        (the test suite's mounts log at DEBUG and time every trio task step)."""
        from tests.mounting import read_line, unmount, write_config

        self.count += 1
        workdir = self.work / f"d{self.count}"
        workdir.mkdir()
        emu = self.emu["capped" if capped else "plain"]
        config = write_config(
            workdir,
            f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\n'
            "rate_limit_per_minute = 100000\n" + self.extra_config,
        )
        path, log = workdir / "mnt", workdir / "mnt.log"
        path.mkdir()
        env = {key: value for key, value in os.environ.items() if key != "DEBRIDFS_DEBUG_BLOCKING_MS"}
        env.update(
            XDG_STATE_HOME=str(workdir / "state"),
            XDG_CACHE_HOME=str(workdir / "cache"),
            XDG_CONFIG_HOME=str(workdir / "xdgconfig"),
        )
        emu.reset_stats()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vfs.cli",
                "--log-level",
                "INFO",
                "--log-file",
                str(log),
                "--config",
                str(config),
                "mount",
                str(path),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
        try:
            if "mounted at" not in read_line(process, 30):
                raise SystemExit(
                    "bench: debridfs did not mount:\n" + (log.read_text()[-2000:] if log.exists() else "")
                )
            # The first sync fetches every torrent's details in the background; a
            # user lists a library that is already known.
            wait_until(
                lambda: emu.calls("realdebrid", INFO) >= self.sizes.dirs and "details of" in log.read_text(),
                STEP_TIMEOUT,
                "the first sync",
            )
            daemon = Process(process.pid)
            wait_until(daemon.idle, STEP_TIMEOUT, "the daemon to finish its first sync")
            yield PeerMount("debridfs", path / "realdebrid/downloads", path / "realdebrid/torrents", daemon)
        finally:
            unmount(path, process)
            if process.poll() is None:
                subprocess.run(["fusermount3", "-uz", str(path)], capture_output=True)
                process.kill()
                process.wait()

    @contextlib.contextmanager
    def rclone(self, capped: bool = False) -> Iterator[PeerMount]:
        self.count += 1
        path = self.work / f"r{self.count}"
        path.mkdir()
        url = self.origin.capped_url if capped else self.origin.url
        log = open(self.work / f"rclone{self.count}.log", "wb")
        process = subprocess.Popen(
            [
                "rclone",
                "mount",
                ":http:",
                str(path),
                "--http-url",
                url + "/",
                "--read-only",
                "--config",
                "/dev/null",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: os.path.ismount(path) or process.poll() is not None, 30, "rclone mount")
            if process.poll() is not None:
                raise SystemExit(
                    "bench: rclone mount failed:\n" + (self.work / f"rclone{self.count}.log").read_text()
                )
            yield PeerMount("rclone", path / "files", path / "lib", Process(process.pid))
        finally:
            subprocess.run(["fusermount3", "-u", str(path)], capture_output=True)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(15)
            if process.poll() is None:
                subprocess.run(["fusermount3", "-uz", str(path)], capture_output=True)
                process.kill()
                process.wait()
            log.close()


# Readers (each in its own process: the benchmark's own GIL must not pace them)

HASHED_READER = """
import hashlib, json, sys, time
t = time.perf_counter(); h = hashlib.sha256(); n = 0
with open(sys.argv[1], "rb", buffering=0) as f:
    while chunk := f.read(1 << 20):
        h.update(chunk); n += len(chunk)
print(json.dumps({"seconds": time.perf_counter() - t, "bytes": n, "sha256": h.hexdigest()}))
"""

RANDOM_READER = """
import json, os, random, sys, time
path, count, seed, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
fd = os.open(path, os.O_RDONLY); size = os.fstat(fd).st_size; rng = random.Random(seed)
times = []
for i in range(count):
    if stop != "-" and os.path.exists(stop) and i >= 20:
        break
    offset = rng.randrange(0, size - 65536) & ~4095
    t = time.perf_counter(); data = os.pread(fd, 65536, offset); times.append(time.perf_counter() - t)
    assert len(data) == 65536
print(json.dumps(times))
"""

OPEN_READER = """
import json, sys, time
t = time.perf_counter()
with open(sys.argv[1], "rb", buffering=0) as f:
    data = f.read(65536)
print(json.dumps({"seconds": time.perf_counter() - t, "bytes": len(data)}))
"""


def python(script: str, *args: str, timeout: float = STEP_TIMEOUT) -> object:
    out = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=timeout
    )
    if out.returncode:
        raise SystemExit(f"bench: reader failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


# Measurements


@dataclass
class Results:
    values: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def add(self, metric: str, peer: str, value: float) -> None:
        self.values.setdefault((metric, peer), []).append(value)
        print(f"    {metric:<44} {peer:<9} {value:10.2f}", flush=True)

    def median(self, metric: str, peer: str) -> float | None:
        values = self.values.get((metric, peer))
        return statistics.median(values) if values else None

    def cell(self, metric: str, peer: str, digits: int) -> str:
        values = self.values.get((metric, peer))
        if not values:
            return "–"
        text = f"{statistics.median(values):,.{digits}f}"
        if len(values) > 1 and max(values) - min(values) >= 10**-digits:
            text += f" ({min(values):,.{digits}f}–{max(values):,.{digits}f})"
        return text


class Bench:
    def __init__(
        self,
        peers: Peers,
        origin: Origin,
        hashes: dict[str, str],
        sizes: Sizes,
        scratch: Path,
        groups: set[str],
        peer_names: set[str],
        profile: Path | None = None,
    ) -> None:
        self.profile = profile
        self.groups = groups
        self.peer_names = peer_names
        self.peers = peers
        self.origin = origin
        self.hashes = hashes
        self.sizes = sizes
        self.scratch = scratch
        self.results = Results()

    def mounts(self, capped: bool = False) -> Iterator[contextlib.AbstractContextManager[PeerMount]]:
        """A fresh mount of each peer in the run, one after the other."""
        for name in PEERS:
            if name in self.peer_names:
                yield self.peers.debridfs(capped) if name == "debridfs" else self.peers.rclone(capped)

    def profile_to(self, peer: PeerMount, label: str) -> Path | None:
        """Where py-spy writes the daemon's samples of one measurement (--profile)."""
        if self.profile is None or peer.name != "debridfs":
            return None
        self.profile.mkdir(parents=True, exist_ok=True)
        return self.profile / f"{label}-{time.strftime('%H%M%S')}.txt"

    def hashed_read(self, peer: PeerMount, name: str) -> None:
        cpu = peer.daemon.cpu_seconds()
        peer.daemon.reset_peak_rss()
        with peer.daemon.profiled(self.profile_to(peer, "hashed")):
            out = python(HASHED_READER, str(peer.root / name))
        if out["sha256"] != self.hashes[name]:
            raise SystemExit(f"bench: {peer.name} read wrong bytes of {name}")
        self.results.add(
            "sequential MiB/s (1 MiB reads, hashed)", peer.name, out["bytes"] / out["seconds"] / MiB
        )
        self.results.add(
            "daemon CPU s/GiB (hashed read)",
            peer.name,
            (peer.daemon.cpu_seconds() - cpu) / (out["bytes"] / GiB),
        )
        self.results.add(
            "peak RSS MiB (1 GiB read)" if self.sizes.big == GiB else "peak RSS MiB (read)",
            peer.name,
            peer.daemon.peak_rss_mib(),
        )

    def cp(self, peer: PeerMount, name: str, metric: str) -> float:
        target = self.scratch / "copy"
        cpu = peer.daemon.cpu_seconds()
        started = time.perf_counter()
        subprocess.run(["cp", str(peer.root / name), str(target)], check=True, timeout=STEP_TIMEOUT)
        elapsed = time.perf_counter() - started
        size = target.stat().st_size
        if sha256_file(target) != self.hashes[name]:
            raise SystemExit(f"bench: {peer.name} copied wrong bytes of {name}")
        target.unlink()
        self.results.add(metric, peer.name, size / elapsed / MiB)
        if metric.startswith("sequential"):
            self.results.add(
                "daemon CPU s/GiB (cp)", peer.name, (peer.daemon.cpu_seconds() - cpu) / (size / GiB)
            )
        return size / elapsed / MiB

    def curl(self, base: str, name: str, metric: str) -> None:
        out = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", f"{base}/files/{name}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=STEP_TIMEOUT,
        ).stdout.split()
        self.results.add(metric, "curl", float(out[0]) / float(out[1]) / MiB)

    def first_bytes(self, peer: PeerMount) -> None:
        out = python(OPEN_READER, str(peer.root / "ttfb.bin"))
        self.results.add("open + first 64 KiB, ms", peer.name, out["seconds"] * 1000)

    def random_reads(self, peer: PeerMount) -> None:
        times = python(RANDOM_READER, str(peer.root / "random.bin"), "200", "7", "-")
        self.results.add("200 random 64 KiB reads p50, ms", peer.name, percentile(times, 0.5) * 1000)
        self.results.add("200 random 64 KiB reads p99, ms", peer.name, percentile(times, 0.99) * 1000)

    def listing(self, peer: PeerMount) -> None:
        for label in ("cold", "warm"):
            started = time.perf_counter()
            out = subprocess.run(
                ["ls", "-lR", str(peer.lib)], capture_output=True, text=True, check=True, timeout=STEP_TIMEOUT
            ).stdout
            elapsed = time.perf_counter() - started
            files = out.count(".mkv")
            expected = self.sizes.dirs * self.sizes.files_per_dir
            if files != expected:
                raise SystemExit(f"bench: {peer.name} listed {files} files, not {expected}")
            self.results.add(
                f"ls -lR {self.sizes.dirs} dirs / {expected:,} files {label}, s", peer.name, elapsed
            )

    def concurrent(self, peer: PeerMount) -> None:
        """8 cp readers and 8 random readers at once; then one cp alone."""
        names = [f"conc{i}.bin" for i in range(CONC_READERS)]
        stop = self.scratch / "stop"
        stop.unlink(missing_ok=True)
        randoms = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    RANDOM_READER,
                    str(peer.root / "random.bin"),
                    "100000",
                    str(seed),
                    str(stop),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for seed in range(CONC_READERS)
        ]
        before = self.origin.log_bytes()
        cpu = peer.daemon.cpu_seconds()
        started = time.perf_counter()
        with peer.daemon.profiled(self.profile_to(peer, "concurrent")):
            copies = [subprocess.Popen(["cp", str(peer.root / n), str(self.scratch / n)]) for n in names]
            for copy in copies:
                copy.wait(STEP_TIMEOUT)
        elapsed = time.perf_counter() - started
        stop.touch()
        fetched = self.origin.log_bytes() - before
        cpu = peer.daemon.cpu_seconds() - cpu
        times: list[float] = []
        for reader in randoms:
            out, _ = reader.communicate(timeout=STEP_TIMEOUT)
            times.extend(json.loads(out))
        for n in names:
            if sha256_file(self.scratch / n) != self.hashes[n]:
                raise SystemExit(f"bench: {peer.name} copied wrong bytes of {n}")
            (self.scratch / n).unlink()
        self.results.add(
            "16 readers: 8 cp aggregate MiB/s", peer.name, len(names) * self.sizes.conc / elapsed / MiB
        )
        self.results.add("16 readers: random 64 KiB p99, ms", peer.name, percentile(times, 0.99) * 1000)
        self.results.add("16 readers: random 64 KiB p50, ms", peer.name, percentile(times, 0.5) * 1000)
        # What the origin sent against what the readers asked for (read-ahead evicted before it was
        # read shows up here); nginx logs a response when it ends, so this is approximate.
        asked = len(names) * self.sizes.conc + len(times) * 65536
        self.results.add("16 readers: fetched/read", peer.name, fetched / asked)
        self.results.add("16 readers: daemon CPU s/GiB read", peer.name, cpu / (asked / GiB))

    def media(self, peer: PeerMount, names: list[str]) -> None:
        for name in names:
            before = self.origin.log_bytes()
            script = '"$@" >/dev/null 2>&1; grep ^rchar /proc/$$/io'
            out = subprocess.run(
                [
                    "sh",
                    "-c",
                    script,
                    "sh",
                    "ffprobe",
                    "-v",
                    "error",
                    "-show_format",
                    "-show_streams",
                    str(peer.root / name),
                ],
                capture_output=True,
                text=True,
                timeout=STEP_TIMEOUT,
            ).stdout
            rchar = int(out.split()[1])
            # nginx writes its log line when the response ends; wait until it has settled.
            settled = [before - 1, before]

            def quiet(settled: list[int] = settled, before: int = before) -> bool:
                settled.append(self.origin.log_bytes())
                return settled[-1] == settled[-2] and settled[-1] > before

            wait_until(quiet, 10, "nginx to log the probe")
            fetched = settled[-1] - before
            self.results.add(f"ffprobe {name}: fetched/read", peer.name, fetched / max(rchar, 1))

    def run(self, runs: int, media: list[str]) -> None:
        for run in range(1, runs + 1):
            print(f"  run {run}/{runs}", flush=True)
            if "reads" in self.groups:
                for mount in self.mounts():
                    with mount as peer:
                        self.results.add("idle RSS after mounting, MiB", peer.name, peer.daemon.rss_mib())
                        self.first_bytes(peer)
                        self.hashed_read(peer, "big.bin")
                        self.random_reads(peer)
                        if run == 1 and media:
                            self.media(peer, media)
            if self.groups & {"listing", "cp", "concurrent"}:
                for mount in self.mounts():
                    with mount as peer:
                        if "listing" in self.groups:
                            self.listing(peer)
                        if "cp" in self.groups:
                            self.cp(peer, "big.bin", "sequential MiB/s (cp)")
                        if "concurrent" in self.groups:
                            self.cp(peer, "conc0.bin", "one cp alone MiB/s")
                            self.concurrent(peer)
            if "reads" in self.groups and "curl" in self.peer_names:
                self.curl(self.origin.url, "big.bin", "sequential MiB/s (1 MiB reads, hashed)")
            if "capped" in self.groups:
                for mount in self.mounts(capped=True):
                    with mount as peer:
                        self.cp(peer, "capped.bin", "capped: sequential MiB/s (cp)")
                if "curl" in self.peer_names:
                    self.curl(self.origin.capped_url, "capped.bin", "capped: sequential MiB/s (cp)")

    def table(self) -> str:
        r = self.results
        rows = [
            ("sequential MiB/s, 1 MiB reads hashed", "sequential MiB/s (1 MiB reads, hashed)", 0),
            ("sequential MiB/s, cp", "sequential MiB/s (cp)", 0),
            ("daemon CPU s/GiB, hashed read", "daemon CPU s/GiB (hashed read)", 2),
            ("daemon CPU s/GiB, cp", "daemon CPU s/GiB (cp)", 2),
            (
                f"sequential MiB/s, {CAP_RATE[:-1]} MiB/s per connection + {CAP_RTT * 1000:.0f} ms RTT, cp",
                "capped: sequential MiB/s (cp)",
                1,
            ),
            ("open + first 64 KiB, ms", "open + first 64 KiB, ms", 1),
            ("200 random 64 KiB reads p50, ms", "200 random 64 KiB reads p50, ms", 2),
            ("200 random 64 KiB reads p99, ms", "200 random 64 KiB reads p99, ms", 2),
        ]
        listing = [k for k in {m for m, _ in r.values} if k.startswith("ls -lR")]
        rows += [(m, m, 2) for m in sorted(listing)]
        rows += [
            ("idle RSS after mounting, MiB", "idle RSS after mounting, MiB", 0),
            (
                "peak RSS during the hashed read, MiB",
                next((m for m, _ in r.values if m.startswith("peak RSS")), "peak RSS MiB (read)"),
                0,
            ),
            ("one cp alone, MiB/s", "one cp alone MiB/s", 0),
            ("16 readers: 8 cp aggregate, MiB/s", "16 readers: 8 cp aggregate MiB/s", 0),
            ("16 readers: random 64 KiB p50, ms", "16 readers: random 64 KiB p50, ms", 1),
            ("16 readers: random 64 KiB p99, ms", "16 readers: random 64 KiB p99, ms", 1),
            ("16 readers: fetched/read", "16 readers: fetched/read", 2),
            ("16 readers: daemon CPU s/GiB read", "16 readers: daemon CPU s/GiB read", 2),
        ]
        rows += [
            (m.split(":")[0] + ", fetched/read", m, 2)
            for m, _ in r.values
            if m.startswith("ffprobe") and _ == "debridfs"
        ]
        lines = [
            "| | debridfs | rclone mount | curl | debridfs/rclone | debridfs/curl |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for label, metric, digits in rows:
            d, rc, c = (r.median(metric, p) for p in ("debridfs", "rclone", "curl"))
            ratio = lambda a, b: f"{a / b:.2f}x" if a is not None and b else "–"  # noqa: E731
            lines.append(
                f"| {label} | {r.cell(metric, 'debridfs', digits)} | {r.cell(metric, 'rclone', digits)}"
                f" | {r.cell(metric, 'curl', digits)} | {ratio(d, rc)} | {ratio(d, c)} |"
            )
        return "\n".join(lines)


def make_media() -> dict[str, Path]:
    """An MP4 with its moov atom at the end and an MKV, made once with ffmpeg."""
    if not shutil.which("ffmpeg"):
        return {}
    directory = ROOT / ".bench"
    directory.mkdir(exist_ok=True)
    files = {"movie.mp4": directory / "movie.mp4", "movie.mkv": directory / "movie.mkv"}
    for path in files.values():
        if not (path.exists() and path.stat().st_size > 0):
            # Without +faststart ffmpeg writes the MP4 moov at the end, as many releases have it.
            subprocess.run(
                [
                    "ffmpeg",
                    "-loglevel",
                    "error",
                    "-y",
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc2=size=1280x720:rate=30",
                    "-f",
                    "lavfi",
                    "-i",
                    "sine=frequency=440",
                    "-t",
                    "120",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-b:v",
                    "6M",
                    "-c:a",
                    "aac",
                    "-shortest",
                    str(path),
                ],
                check=True,
            )
    return files


def ensure_tools() -> None:
    if not (shutil.which("nginx") and shutil.which("rclone")):
        subprocess.run(["bash", str(ROOT / "scripts/setup.sh"), "--bench"], check=True)


def leftover_mounts(work: Path) -> None:
    for line in Path("/proc/mounts").read_text().splitlines():
        point = line.split()[1]
        if point.startswith(str(work)):
            subprocess.run(["fusermount3", "-uz", point], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller files (256 MiB big file), one run")
    parser.add_argument("--runs", type=int, default=None, help="runs per figure (default 3; 1 with --quick)")
    parser.add_argument("--no-media", action="store_true", help="skip the ffprobe rows")
    parser.add_argument(
        "--config",
        default="",
        metavar="TOML",
        help="appended to debridfs's config, e.g. '[mount]\\nread_ahead_kb = 4096'",
    )
    parser.add_argument(
        "--only", nargs="+", choices=GROUPS, default=list(GROUPS), help="measure these groups of rows only"
    )
    parser.add_argument("--peers", nargs="+", choices=PEERS, default=list(PEERS), help="run these peers only")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="record the debridfs daemon with py-spy (folded stacks) in the hashed read and the 16 readers",
    )
    parser.add_argument("--out", type=Path, default=None, help="append the table to this markdown file")
    parser.add_argument("--delay-proxy", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.delay_proxy:
        delay_proxy(int(args.delay_proxy[0]), int(args.delay_proxy[1]), float(args.delay_proxy[2]))
        return
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root (nginx, rclone mount and the daemon's read_ahead_kb need it)")
    ensure_tools()
    from tests.emulators.harness import run_emulator

    # A SIGTERM (a timeout) unwinds like Ctrl-C: mounts, nginx and the emulators are cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))

    sizes = Sizes.of(args.quick)
    runs = args.runs or (1 if args.quick else 3)
    media = {} if args.no_media else make_media()
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="debridfs-bench-", dir="/var/tmp"))
    work.chmod(0o755)
    try:
        print(
            f"debridfs benchmark: {os.cpu_count()} cores, {platform.platform()}, "
            f"{'quick' if args.quick else 'full'} run, {runs} run(s); writing files...",
            flush=True,
        )
        hashes = write_files(work / "www", sizes, media)
        lib = library(sizes, hashes, media)
        with contextlib.ExitStack() as stack:
            scratch = Path(tempfile.mkdtemp(prefix="debridfs-bench-", dir="/dev/shm"))
            stack.callback(shutil.rmtree, scratch, ignore_errors=True)
            origin = stack.enter_context(run_origin(work, work / "www"))
            emus = {
                "plain": stack.enter_context(run_emulator(lib, ["--data-base-url", origin.url])),
                "capped": stack.enter_context(run_emulator(lib, ["--data-base-url", origin.capped_url])),
            }
            peers = Peers(work, origin, sizes, emus, args.config.replace("\\n", "\n"))
            bench = Bench(
                peers, origin, hashes, sizes, scratch, set(args.only), set(args.peers), args.profile
            )
            try:
                bench.run(runs, list(media))
            finally:
                leftover_mounts(work)
    finally:
        leftover_mounts(work)
        shutil.rmtree(work, ignore_errors=True)
    table = bench.table()
    heading = (
        f"### {time.strftime('%Y-%m-%d %H:%M')} — `scripts/bench.py{' --quick' if args.quick else ''}`: "
        f"{os.cpu_count()} cores, {platform.platform()}, median of {runs} run(s), "
        f"{time.monotonic() - started:.0f} s" + (f", debridfs config `{args.config}`" if args.config else "")
    )
    print("\n" + heading + "\n\n" + table)
    if args.out:
        with open(args.out, "a") as f:
            f.write(f"\n{heading}\n\n{table}\n")


if __name__ == "__main__":
    main()
