"""Wires the media-server side into a mount: `[[notify]]` notifications and the
`[qbittorrent]` API, both background tasks in the mount's nursery, and their
status files in `MOUNT/.debridfs/`.

Change events come from sources that offer `change_listeners` (Real-Debrid:
`[(absolute path, removed?)]` after every change the mount shows) and from the
qBittorrent API (symlinks written or removed).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

import httpx
import trio

from .config import Config
from .notify import Notifier
from .sources.base import Source

log = logging.getLogger(__name__)


class MediaServices:
    def __init__(self, config: Config, http: httpx.AsyncClient, sources: list[Source],
                 mountpoint: Path) -> None:
        self.notifier = Notifier(config.notify, http) if config.notify else None
        self.status_files: dict[str, Callable[[], bytes]] = {}
        self.qbittorrent: Any = None
        rd = next((s for s in sources if s.name == "realdebrid"), None)
        if self.notifier is not None:
            self.status_files["notify"] = self.notifier.status_text
            for source in sources:
                if hasattr(source, "change_listeners"):
                    source.change_listeners.append(self._from_source)
        if config.qbittorrent is not None and rd is not None:   # the config requires [realdebrid]
            from .qbittorrent import QbittorrentService

            self.qbittorrent = QbittorrentService(config, http, rd, mountpoint, self.changed)
            self.status_files["qbittorrent"] = self.qbittorrent.status_text
        self._known: set[str] = set()
        internal = next((s for s in sources if s.name == ".debridfs"), None)
        if internal is not None:
            internal.extra_files.update(self.status_files)

    def changed(self, paths: list[str], update_type: str) -> None:
        if self.notifier is not None:
            self.notifier.changed(paths, update_type)

    def _from_source(self, changes: list[tuple[str, bool]]) -> None:
        """A source's change: gone -> Deleted; first seen -> Created; else Modified."""
        for path, removed in changes:
            if removed:
                self._known.discard(path)
                self.changed([path], "Deleted")
            else:
                self.changed([path], "Modified" if path in self._known else "Created")
                self._known.add(path)

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            if self.notifier is not None:
                await nursery.start(self.notifier.run)
            if self.qbittorrent is not None:
                await nursery.start(self.qbittorrent.run)
            task_status.started()
