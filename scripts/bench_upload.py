#!/usr/bin/env python3
"""Benchmark of the Rapidgator write path: `cp` of a big file into a real mount
against a raw `curl -F file=@...` multipart POST to the same emulator's upload
URL, interleaved, in the same run.

    .venv/bin/python scripts/bench_upload.py [--size-mib 300] [--runs 3]

Each run is timed from its start until the emulator confirms the file (upload
session state 2): for cp that is cp (close returned) plus the background upload
and processing; for curl it is file/upload, the POST, and upload_info polling.
Every run uses fresh bytes (a different first block), so none is an instant
upload. The emulator keeps received bytes on /dev/shm when it has room, as the
tests do. A benchmark, not a test: it asserts nothing but the md5s.

The daemon runs as users run it: at log level INFO, without the test suite's
blocked-loop detector (it times every trio task step; `--debug-blocking-ms N`
turns it on).
Besides wall times it prints the daemon's CPU seconds per upload (during the
cp, and from close until confirmed) and curl's for its POST: on a machine
busy with other work, wall times swing run to run, CPU seconds much less.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.emulators.harness import run_emulator  # noqa: E402
from tests.mounting import BLOCKING_ENV, mounted  # noqa: E402

MiB = 1 << 20
LOGIN, PASSWORD = "bench@example.org", "pw-Xq7secret"
LIBRARY = {
    "rapidgator": {
        "login": LOGIN,
        "password": PASSWORD,
        "processing_delay": 0.0,
        "user": {"storage": {"total": str(1 << 40)}, "upload": {"max_file_size": 1 << 40}},
        "root": {"name": "root", "folders": [{"name": "Bench"}]},
    }
}


def make_file(path: Path, size: int) -> None:
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        for offset in range(0, size, MiB):
            f.write(block[: min(MiB, size - offset)])


def stamp(path: Path, run: str) -> str:
    """Makes the file's bytes unique to `run`; returns the md5."""
    with open(path, "r+b") as f:
        f.write(hashlib.sha256(run.encode()).digest())
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(8 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


def wait_for(condition, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("not confirmed in time")
        time.sleep(0.01)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all its threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def logged_post(log_text: str, name: str) -> float:
    """The POST alone, as the daemon logged it ("sent NAME: N bytes in Ts")."""
    found = re.findall(rf"sent {re.escape(name)}: \d+ bytes in ([\d.]+)s", log_text)
    return float(found[-1]) if found else float("nan")


def run_cp(emu, mount, src: Path, name: str, md5: str) -> tuple[float, float, float, float]:
    """Seconds until close and until confirmed; daemon CPU seconds during cp and after close."""
    target = mount.path / "rapidgator" / "Bench" / name
    pid = mount.process.pid
    cpu_before = cpu_seconds(pid)
    started = time.monotonic()
    subprocess.run(["cp", str(src), str(target)], check=True, timeout=300)
    closed = time.monotonic() - started
    cpu_closed = cpu_seconds(pid)

    def confirmed() -> bool:
        info = emu.view("rapidgator")["paths"].get(f"/Bench/{name}")
        return info is not None and info["md5"] == md5

    wait_for(confirmed)
    total = time.monotonic() - started
    return closed, total, cpu_closed - cpu_before, cpu_seconds(pid) - cpu_closed


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_curl(
    api: str, token: str, src: Path, name: str, md5: str, folder_id: str
) -> tuple[float, float, float]:
    """curl's POST seconds (its own time_total), seconds until confirmed, curl's CPU seconds."""
    size = src.stat().st_size
    with httpx.Client(timeout=30) as http:
        started = time.monotonic()
        upload = http.post(
            f"{api}/file/upload",
            data={"token": token, "name": name, "hash": md5, "size": size, "folder_id": folder_id},
        ).json()["response"]["upload"]
        cpu_before = child_cpu()
        post = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{time_total}", "-F", f"file=@{src}", upload["url"]],
            check=True,
            timeout=300,
            capture_output=True,
            text=True,
        )
        cpu = child_cpu() - cpu_before
        while True:
            state = http.post(
                f"{api}/file/upload_info", data={"token": token, "upload_id": upload["upload_id"]}
            ).json()["response"]["upload"]
            if state["state"] == 2:
                assert state["file"]["hash"] == md5
                return float(post.stdout), time.monotonic() - started, cpu
            if state["state"] == 3:
                raise RuntimeError("curl upload failed")
            time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--debug-blocking-ms", type=int, default=0, help="run the daemon with the blocked-loop detector"
    )
    args = parser.parse_args()
    size = args.size_mib * MiB
    shm = Path("/dev/shm")
    if shm.is_dir() and os.statvfs(shm).f_bavail * os.statvfs(shm).f_frsize > 4 * size + (1 << 30):
        os.environ["TMPDIR"] = str(shm)
    with (
        tempfile.TemporaryDirectory(prefix="bench-upload-", dir="/var/tmp") as tmp,
        run_emulator(LIBRARY) as emu,
    ):
        work = Path(tmp)
        src = work / "big.bin"
        make_file(src, size)
        api = emu.urls["rapidgator"]
        token = httpx.post(f"{api}/user/login", data={"login": LOGIN, "password": PASSWORD}).json()[
            "response"
        ]["token"]
        folder_id = next(
            f["folder_id"] for f in emu.view("rapidgator")["tree"]["folders"] if f["name"] == "Bench"
        )
        config = f'[rapidgator]\napi_url = "{api}"\nlogin = "{LOGIN}"\npassword = "{PASSWORD}"\n'
        cp_close, cp_total, curl_total, curl_post, posts = [], [], [], [], []
        cpu_cp, cpu_after, cpu_curl = [], [], []
        load_before = os.getloadavg()[0]
        env = {BLOCKING_ENV: str(args.debug_blocking_ms) if args.debug_blocking_ms else ""}
        with mounted(work, config, env=env, args=("--log-level", "INFO")) as mount:
            for run in range(args.runs):
                md5 = stamp(src, f"cp{run}")
                closed, total, during, after = run_cp(emu, mount, src, f"cp{run}.bin", md5)
                cp_close.append(closed)
                cp_total.append(total)
                cpu_cp.append(during)
                cpu_after.append(after)
                posts.append(logged_post(mount.log_text(), f"cp{run}.bin"))
                md5 = stamp(src, f"curl{run}")
                posted, curl_confirmed, cpu = run_curl(api, token, src, f"curl{run}.bin", md5, folder_id)
                curl_post.append(posted)
                curl_total.append(curl_confirmed)
                cpu_curl.append(cpu)
                print(
                    f"run {run + 1}: cp closed {closed:.2f}s, POST {posts[-1]:.2f}s, confirmed {total:.2f}s "
                    f"(daemon CPU {during:.2f}s during cp, {after:.2f}s after close); "
                    f"curl POST {posted:.2f}s, confirmed {curl_confirmed:.2f}s (curl CPU {cpu:.2f}s)",
                    flush=True,
                )
            for run in range(args.runs):
                os.unlink(mount.path / "rapidgator" / "Bench" / f"cp{run}.bin")
            log_text = mount.log_text()
        if posts:
            print(
                f"POST alone, median: debridfs {statistics.median(posts):.2f}s "
                f"({size / statistics.median(posts) / 1e6:.0f} MB/s), curl "
                f"{statistics.median(curl_post):.2f}s "
                f"({size / statistics.median(curl_post) / 1e6:.0f} MB/s); "
                f"debridfs/curl {100 * statistics.median(curl_post) / statistics.median(posts):.0f}%"
            )
        if os.environ.get("BENCH_LOG"):
            Path(os.environ["BENCH_LOG"]).write_text(log_text)
    cp_med, curl_med = statistics.median(cp_total), statistics.median(curl_total)
    print(
        f"{args.size_mib} MiB, median of {args.runs}: cp until close {statistics.median(cp_close):.2f}s, "
        f"cp until confirmed {cp_med:.2f}s ({size / cp_med / 1e6:.0f} MB/s); curl until confirmed "
        f"{curl_med:.2f}s ({size / curl_med / 1e6:.0f} MB/s); debridfs/curl throughput "
        f"{100 * curl_med / cp_med:.0f}%"
    )
    print(
        f"CPU seconds, median: daemon during cp {statistics.median(cpu_cp):.2f}, daemon from close until "
        f"confirmed {statistics.median(cpu_after):.2f}, curl's POST {statistics.median(cpu_curl):.2f}; "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after ({os.cpu_count()} CPUs)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
