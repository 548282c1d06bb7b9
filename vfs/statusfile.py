"""The running mount's status, for `debridfs status` in another process.

The mount rewrites `STATE_DIR/status.json` (mode 0600) every few seconds:
each service's account, expiry, traffic left, sync state, last error and read
counts (vfs/readstats.py), the pending uploads and the cache use; it removes
the file when it unmounts.
`render()` turns it into the text `debridfs status` prints, in human units.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import trio

from .units import human_duration, human_size

log = logging.getLogger(__name__)

STATUS_FILE = "status.json"
INTERVAL = 2.0  # seconds between rewrites


class StatusFile:
    def __init__(
        self, state_dir: Path, mountpoint: Path, sources: list[Any], engine: Any, disk: Any, disk_max: int
    ) -> None:
        self.path = state_dir / STATUS_FILE
        self.mountpoint = mountpoint
        self.sources = [s for s in sources if not s.name.startswith(".")]
        self.engine = engine
        self.disk = disk
        self.disk_max = disk_max
        self.started = time.time()

    def snapshot(self) -> dict[str, Any]:
        services = []
        uploads = []
        for source in self.sources:
            try:
                info = source.status_info()
            except Exception as exc:  # a status must never take the mount down
                log.info("%s: no status: %s", source.name, exc)
                info = {"last_error": f"status unavailable: {exc}"}
            reads = self.engine.stats.counts.get(source.name)
            if reads:
                info = {**info, "reads": dict(reads)}
            services.append({"name": source.name, **info})
            uploads += [{**row, "source": source.name} for row in source.upload_status()]
        cache = {"memory_used": self.engine.cache.used_bytes, "memory_max": self.engine.cache.max_bytes}
        if self.disk is not None:
            cache.update(disk_used=self.disk.used_bytes(), disk_max=self.disk_max)
        return {
            "pid": os.getpid(),
            "mountpoint": str(self.mountpoint),
            "started": self.started,
            "updated": time.time(),
            "services": services,
            "uploads": uploads,
            "cache": cache,
        }

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            while True:
                text = json.dumps(self.snapshot(), default=str)
                await trio.to_thread.run_sync(write_private, self.path, text)
                await trio.sleep(INTERVAL)
        finally:
            with contextlib.suppress(OSError):
                self.path.unlink()


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(partial, path)


def read_status(state_dir: Path) -> dict[str, Any] | None:
    """The running mount's status, or None (no mount, or one that died)."""
    try:
        data: dict[str, Any] = json.loads((state_dir / STATUS_FILE).read_text())
        os.kill(int(data["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return data


def when(timestamp: float | None) -> str:
    if not timestamp:
        return "?"
    text = time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))
    left = timestamp - time.time()
    return f"{text} ({human_duration(left)} left)" if left > 0 else f"{text} (expired)"


def format_reads(counts: dict[str, int]) -> str:
    """The read engine's counts of one service (vfs/readstats.py), on one line."""
    return ", ".join(
        f"{counts.get(name, 0)} {label}"
        for name, label in (
            ("transfers", "transfers"),
            ("stalls", "stalls"),
            ("retries", "retries"),
            ("resolutions", "links resolved again"),
            ("failed_reads", "failed reads"),
        )
    )


def render(data: dict[str, Any]) -> str:
    from .uploads import format_status

    since = time.strftime("%Y-%m-%d %H:%M", time.localtime(data["started"]))
    lines = [f"debridfs mounted at {data['mountpoint']} (pid {data['pid']}, since {since})", ""]
    for service in data["services"]:
        lines.append(service["name"])
        rows = [("account", service.get("account"))]
        if service.get("expires"):
            rows.append(("expires", when(service["expires"])))
        if service.get("traffic_left") is not None:
            rows.append(("traffic left", human_size(service["traffic_left"])))
        rows += [("sync", service.get("sync")), ("last error", service.get("last_error"))]
        if service.get("reads"):
            rows.append(("reads", format_reads(service["reads"])))
        lines += [f"  {label:<13}{value}" for label, value in rows if value]
        lines.append("")
    cache = data["cache"]
    text = f"memory {human_size(cache['memory_used'])} of {human_size(cache['memory_max'])}"
    if "disk_used" in cache:
        text += f"; disk {human_size(cache['disk_used'])} of {human_size(cache['disk_max'])}"
    lines += ["cache", f"  {text}", "", "uploads"]
    lines += ["  " + line for line in format_status(data["uploads"]).splitlines()]
    return "\n".join(lines) + "\n"
