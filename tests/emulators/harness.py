"""Runs the emulator server in a subprocess for tests.

    with run_emulator({"realdebrid": {...}, "hoster_links": [...]}) as emu:
        api = emu.urls["realdebrid"]          # e.g. http://127.0.0.1:PORT/realdebrid/rest/1.0
        emu.faults({"api": {"realdebrid": {"status_burst": 503, "status_burst_count": 2}}})
        assert emu.stats()["calls"]["realdebrid GET /user"] == 1

The server is `python -m tests.emulators --port 0 --library <file>`; its first
stdout line (JSON: base_url and one API URL per service) is read, then the
process serves until the context exits (terminated, then killed).

As a pytest fixture:

    @pytest.fixture(scope="module")
    def emu():
        with run_emulator(LIBRARY) as handle:
            yield handle
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0


class EmulatorHandle:
    def __init__(self, proc: subprocess.Popen[bytes], urls: dict[str, str]) -> None:
        self.proc = proc
        self.urls = urls
        self.base_url: str = urls["base_url"]
        self.http = httpx.Client(base_url=self.base_url, timeout=10.0)

    def url(self, service: str) -> str:
        """The API base URL of `service` (e.g. ".../realdebrid/rest/1.0")."""
        return self.urls[service]

    def _post(self, path: str, body: Any = None) -> Any:
        response = self.http.post(path, json=body) if body is not None else self.http.post(path)
        if response.status_code >= 400:
            raise RuntimeError(f"control {path} -> {response.status_code}: {response.text}")
        return response.json()

    def stats(self) -> dict[str, Any]:
        """{"calls": {"<service> <METHOD> <route>": n}, "calls_per_service", "data_requests", "data_bytes"}"""
        return self.http.get("/_control/stats").json()

    def calls(self, service: str, endpoint: str) -> int:
        return self.stats()["calls"].get(f"{service} {endpoint}", 0)

    def reset_stats(self) -> None:
        self._post("/_control/stats/reset")

    def faults(self, patch: dict[str, Any]) -> None:
        self._post("/_control/faults", patch)

    def reset_faults(self) -> None:
        self._post("/_control/faults/reset")

    def expire_links(self) -> int:
        return self._post("/_control/expire_links")["expired"]

    def view(self, service: str) -> dict[str, Any]:
        response = self.http.get(f"/_control/state/{service}")
        response.raise_for_status()
        return response.json()

    def action(self, service: str, action: str, args: dict[str, Any] | None = None) -> Any:
        return self._post(f"/_control/{service}/{action}", args or {})

    def close(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@contextlib.contextmanager
def run_emulator(
    library: dict[str, Any] | str = "sample", extra_args: Sequence[str] = ()
) -> Iterator[EmulatorHandle]:
    """Starts the emulator with `library` (a dict, or "sample") and yields its handle."""
    with tempfile.TemporaryDirectory(prefix="debridfs-emu-") as tmp:
        if isinstance(library, str):
            library_arg = library
        else:
            library_path = Path(tmp) / "library.json"
            library_path.write_text(json.dumps(library))
            library_arg = str(library_path)
        stderr_path = Path(tmp) / "stderr.log"
        with open(stderr_path, "wb") as stderr:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.emulators",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--library",
                    library_arg,
                    *extra_args,
                ],
                cwd=REPO_ROOT,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        handle = None
        try:
            line = _first_line(proc, START_TIMEOUT)
            if not line:
                proc.kill()
                proc.wait(5)
                raise RuntimeError("emulator did not start:\n" + stderr_path.read_text(errors="replace"))
            urls = json.loads(line)
            # keep draining stdout so a chatty server never blocks on a full pipe
            threading.Thread(target=_drain, args=(proc.stdout,), daemon=True).start()
            handle = EmulatorHandle(proc, urls)
            yield handle
        finally:
            if handle is not None:
                handle.close()
            elif proc.poll() is None:
                proc.kill()
                proc.wait(5)


def _first_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    buffer = b""
    fd = proc.stdout.fileno()
    try:
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return ""
            chunk = os.read(fd, 4096)
            if not chunk:
                return ""
            buffer += chunk
    finally:
        selector.close()
    return buffer.split(b"\n", 1)[0].decode()


def _drain(stream: Any) -> None:
    with contextlib.suppress(Exception):
        while stream.read(65536):
            pass
