"""Media-server notifications: changed directories, batched, to Plex/Jellyfin/Emby.

Anything that changes what a media server should see (a torrent shown or
gone, symlinks of a finished qBittorrent download) calls `Notifier.changed`
with absolute paths. That only records them: each configured server has its
own task that waits `batch_seconds` after the first change, takes everything
collected (deduplicated: the last update type of a path wins), maps the paths
through `path_map` and sends one batch. Calls to one server are spaced by
`min_interval`; a failed batch is retried on the policy of `clients/retry.py`
(jittered backoff, honouring Retry-After), merged with what arrived meanwhile,
and given up after `retries` attempts. Failures are logged and kept for
`MOUNT/.debridfs/notify`. Nothing here is awaited by a FUSE request or by a
sync: a server that is down never blocks the mount.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import trio

from clients.errors import RemoteError
from clients.mediaservers import SERVERS, MediaServer
from clients.retry import Backoff, Retrying, is_temporary

from .config import NotifyConfig

log = logging.getLogger(__name__)

BACKOFF = Backoff(initial=1.0, maximum=60.0)
HISTORY = 50  # results kept per server for the status file


def map_path(path: str, path_map: dict[str, str]) -> str:
    """The path as the server sees it: the longest matching prefix is replaced."""
    for prefix in sorted(path_map, key=len, reverse=True):
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            return path_map[prefix] + path[len(prefix.rstrip("/")) :]
    return path


@dataclass
class ServerState:
    config: NotifyConfig
    client: MediaServer
    pending: dict[str, str] = field(default_factory=dict)  # path -> update type
    wanted: trio.Event = field(default_factory=trio.Event)
    last_call: float = -float("inf")
    sent: int = 0
    failed: int = 0
    history: list[tuple[float, str]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.config.kind} {self.client.url}"

    def remember(self, text: str) -> None:
        self.history.append((time.time(), text))
        del self.history[:-HISTORY]


class Notifier:
    def __init__(self, configs: Iterable[NotifyConfig], http: httpx.AsyncClient) -> None:
        self.servers = [ServerState(c, SERVERS[c.kind](http, c.url, c.token)) for c in configs]

    def changed(self, paths: Iterable[str], update_type: str = "Modified") -> None:
        """Records changed absolute paths; never waits."""
        paths = list(paths)
        for server in self.servers:
            for path in paths:
                server.pending[path] = update_type
            if paths:
                server.wanted.set()

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            for server in self.servers:
                nursery.start_soon(self._serve, server)
            task_status.started()

    async def _serve(self, server: ServerState) -> None:
        while True:
            await server.wanted.wait()
            await trio.sleep(server.config.batch_seconds)
            wait = server.last_call + server.config.min_interval - time.monotonic()
            if wait > 0:
                await trio.sleep(wait)
            batch, server.pending = server.pending, {}
            server.wanted = trio.Event()
            if batch:
                await self._send(server, batch)

    async def _send(self, server: ServerState, batch: dict[str, str]) -> None:
        retrying = Retrying(backoff=BACKOFF, attempts=server.config.retries - 1)
        while True:
            updates = [(map_path(path, server.config.path_map), kind) for path, kind in batch.items()]
            server.last_call = time.monotonic()
            try:
                calls = await server.client.scan(updates)
            except RemoteError as exc:
                wait = retrying.next_delay(exc) if is_temporary(exc) else None
                if wait is None:
                    server.failed += 1
                    server.remember(f"failed ({exc}); {len(batch)} paths dropped")
                    log.warning(
                        "notify %s: %s; %d changed paths not sent", server.config.kind, exc, len(batch)
                    )
                    return
                server.remember(f"attempt {retrying.attempt} failed ({exc}); retrying in {wait:.0f}s")
                log.info("notify %s: %s; retrying in %.1fs", server.config.kind, exc, wait)
                await trio.sleep(wait)
                # what changed meanwhile joins this batch (newer update types win)
                batch = {**batch, **server.pending}
                server.pending = {}
                continue
            server.sent += 1
            server.remember(f"sent {len(batch)} paths in {calls} calls")
            log.info("notify %s: sent %d changed paths", server.config.kind, len(batch))
            return

    def status_text(self) -> bytes:
        lines = ["# media-server notifications: server, batches sent, failed, recent results", ""]
        for server in self.servers:
            lines.append(
                f"{server.label}  sent {server.sent}  failed {server.failed}  "
                f"waiting {len(server.pending)} paths"
            )
            for when, text in server.history[-10:]:
                stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))
                lines.append(f"  {stamp}  {text}")
        return ("\n".join(lines) + "\n").encode()
