"""Wires the media-server side into a mount: `[[notify]]` notifications and the
`[qbittorrent]` API, both background tasks in the mount's nursery, and their
status files in `MOUNT/.debridfs/`.

Change events come from sources that offer `change_listeners` (Real-Debrid
and the library view: `[(added|removed|changed, absolute path)]` after every
change the mount shows), from the directories other sources report changed to the tree
(links added, uploads done), and from the qBittorrent API (symlinks written
or removed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import trio

from .config import Config
from .notifier import Notifier
from .sources.base import Ref, Source
from .sources.internal import InternalSource
from .tree import ROOT_INODE, Node, Tree

log = logging.getLogger(__name__)

UPDATE_TYPES = {"added": "Created", "removed": "Deleted", "changed": "Modified"}


class MediaServices:
    def __init__(
        self, config: Config, http: httpx.AsyncClient, sources: list[Source], mountpoint: Path, tree: Tree
    ) -> None:
        self.notifier = Notifier(config.notify, http) if config.notify else None
        self.status_files: dict[str, Callable[[], bytes]] = {}
        self.qbittorrent: Any = None
        rd = next((s for s in sources if s.name == "realdebrid"), None)
        if self.notifier is not None:
            self.status_files["notify"] = self.notifier.status_text
            for source in sources:
                if hasattr(source, "change_listeners"):
                    source.change_listeners.append(self._from_source)
            self._watch_sources(tree, mountpoint, [s for s in sources if not hasattr(s, "change_listeners")])
        if config.qbittorrent is not None and rd is not None:  # the config requires [realdebrid]
            from .qbittorrent import QbittorrentService

            self.qbittorrent = QbittorrentService(config, http, rd, mountpoint, self.changed)
            self.status_files["qbittorrent"] = self.qbittorrent.status_text
        for internal in sources:
            if isinstance(internal, InternalSource):
                internal.extra_files.update(self.status_files)

    def changed(self, paths: list[str], update_type: str) -> None:
        if self.notifier is not None:
            self.notifier.changed(paths, update_type)

    def _from_source(self, changes: list[tuple[str, str]]) -> None:
        """A source's [(added|removed|changed, absolute path)]."""
        for kind, path in changes:
            self.changed([path], UPDATE_TYPES.get(kind, "Modified"))

    def _watch_sources(self, tree: Tree, mountpoint: Path, sources: list[Source]) -> None:
        """Sources without change listeners (links added, uploads done, folders
        changed) tell the tree which directories changed, through the callback
        the tree registered with them: it is chained, and those directories are
        sent too."""
        for source in sources:
            inner = getattr(source, "_on_change", None)
            if inner is None:
                continue

            def chained(
                ref: Ref | None, source: Source = source, inner: Callable[[Ref | None], None] = inner
            ) -> None:
                inner(ref)
                self.changed(
                    [str(mountpoint / path) for path in directory_paths(tree, source, ref)], "Modified"
                )

            source._on_change = chained

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            if self.notifier is not None:
                await nursery.start(self.notifier.run)
            if self.qbittorrent is not None:
                await nursery.start(self.qbittorrent.run)
            task_status.started()


def directory_paths(tree: Tree, source: Source, ref: Ref | None) -> list[str]:
    """Paths (relative to the mount) of the directories of `source` with `ref`."""
    paths = []
    for node in list(tree.nodes.values()):
        if node.source is not source or not node.is_dir or node.ref != ref or not node.attached:
            continue
        names: list[str] = []
        current: Node | None = node
        while current is not None and current.inode != ROOT_INODE and len(names) < 1000:
            names.append(current.name)
            current = tree.nodes.get(current.parent)
        if current is not None:
            paths.append("/".join(reversed(names)))
    return paths
