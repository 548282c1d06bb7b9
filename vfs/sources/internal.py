"""`MOUNT/.debridfs/`: debridfs's own status files, read-only.

`uploads` lists every upload not yet confirmed by its service (state,
progress, errors); `stats` counts, per provider, how reads went since the
mount (transfers, stalls, retries, links resolved again); `notify` and
`qbittorrent` (when configured) tell how media-server notifications and the
qBittorrent API are doing. All are generated when opened.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from clients.errors import NotFound

from ..readstats import ReadStats
from ..uploads import format_status
from .base import Entry, Ref, Source

log = logging.getLogger(__name__)


class InternalSource(Source):
    name = ".debridfs"

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        self.read_stats = ReadStats()  # the mount hands over the read engine's
        # more generated files (name -> render), e.g. `notify`, `qbittorrent` (vfs/media.py)
        self.extra_files: dict[str, Any] = {}

    def uploads_text(self) -> bytes:
        rows = []
        for source in self.sources:
            for row in source.upload_status():
                rows.append({**row, "source": source.name})
        return format_status(rows).encode()

    async def list_dir(self, ref: Ref | None) -> list[Entry]:
        if ref is not None:
            raise NotFound(f"no directory {ref!r}")
        # The size is the text's length now; the file is served with direct_io
        # and generated at open, so a longer text still reads in full.
        files = {"uploads": self.uploads_text, "stats": self.stats_text, **self.extra_files}
        return [
            Entry(name, name, False, size=len(render()), mtime=time.time(), virtual=render)
            for name, render in files.items()
        ]

    def stats_text(self) -> bytes:
        return self.read_stats.text()
