"""Real-Debrid as a source: `downloads/` and `torrents/<name>/<path>`.

Torrent files resolve through `/unrestrict/link` of their hoster link (the
n-th selected file goes with the n-th link); downloads use their `download`
URL until it fails, then unrestrict their original link again.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import trio

from clients.errors import AuthError, NotFound
from clients.realdebrid import Download, RealDebridClient, Torrent, TorrentInfo
from ..config import Config, ConfigError
from .base import DirectLink, Entry, Source

log = logging.getLogger(__name__)

PLAYABLE_STATUS = "downloaded"


class RealDebridSource(Source):
    name = "realdebrid"

    def __init__(self, config: Config, http: httpx.AsyncClient) -> None:
        rd = config.realdebrid
        if rd is None or not rd.token:
            raise ConfigError("no Real-Debrid token: set [realdebrid] token in the config file "
                              "or DEBRIDFS_REALDEBRID_TOKEN in the environment")
        self.client = RealDebridClient(http, rd.api_url, rd.token)
        self.list_ttl = config.mount.listing_ttl
        self._downloads: list[Download] = []
        self._torrents: list[Torrent] = []
        self._listed_at: dict[str, float] = {}
        self._infos: dict[str, TorrentInfo] = {}
        self._links: dict[Any, DirectLink] = {}
        self._lock = trio.Lock()

    async def check(self) -> None:
        user = await self.client.user()
        log.info("Real-Debrid: logged in as %s (%s)", user.get("username", "?"), user.get("type", "?"))

    async def _fresh(self, what: str) -> None:
        async with self._lock:
            listed = self._listed_at.get(what)
            if listed is not None and time.monotonic() - listed < self.list_ttl:
                return
            if what == "downloads":
                self._downloads = await self.client.downloads()
            else:
                self._torrents = await self.client.torrents()
            self._listed_at[what] = time.monotonic()

    async def _info(self, torrent: Torrent) -> TorrentInfo:
        info = self._infos.get(torrent.id)
        if info is None or info.torrent.ended != torrent.ended or info.torrent.bytes != torrent.bytes:
            info = await self.client.torrent_info(torrent.id)
            self._infos[torrent.id] = info
        return info

    def _torrent(self, torrent_id: str) -> Torrent:
        for torrent in self._torrents:
            if torrent.id == torrent_id:
                return torrent
        raise NotFound(f"torrent {torrent_id} is gone")

    async def list_dir(self, ref: Any) -> list[Entry]:
        now = time.time()
        if ref is None:
            return [Entry("downloads", "downloads", True, mtime=now, ref=("downloads",)),
                    Entry("torrents", "torrents", True, mtime=now, ref=("torrents",))]
        kind = ref[0]
        if kind == "downloads":
            await self._fresh("downloads")
            return [Entry(d.filename, f"d/{d.id}", False, size=d.filesize, mtime=d.generated or 0,
                          ref=("download", d.id)) for d in self._downloads]
        if kind == "torrents":
            await self._fresh("torrents")
            return [Entry(t.filename, f"t/{t.id}", True, mtime=t.ended or t.added or 0,
                          ref=("torrent", t.id, ""))
                    for t in self._torrents if t.status == PLAYABLE_STATUS]
        if kind == "torrent":
            _, torrent_id, prefix = ref
            await self._fresh("torrents")
            torrent = self._torrent(torrent_id)
            return self._torrent_entries(torrent, await self._info(torrent), prefix)
        raise NotFound(f"unknown directory {ref!r}")

    def _torrent_entries(self, torrent: Torrent, info: TorrentInfo, prefix: str) -> list[Entry]:
        """Entries directly below `prefix` ('' or 'a/b/') inside the torrent."""
        mtime = torrent.ended or torrent.added or 0
        entries: dict[str, Entry] = {}
        for position, (file, _link) in enumerate(info.selected_files_with_links()):
            path = file.path.lstrip("/")
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix):]
            head, sep, _tail = rest.partition("/")
            if sep:
                sub = prefix + head + "/"
                entries.setdefault(sub, Entry(head, f"t/{torrent.id}/{sub}", True, mtime=mtime,
                                              ref=("torrent", torrent.id, sub)))
            else:
                entries[rest + "\0file"] = Entry(head, f"t/{torrent.id}/f{file.id}", False,
                                                 size=file.bytes, mtime=mtime,
                                                 ref=("tfile", torrent.id, position))
        return list(entries.values())

    async def resolve(self, ref: Any, *, refresh: bool = False) -> DirectLink:
        if not refresh and ref in self._links:
            return self._links[ref]
        kind = ref[0]
        if kind == "download":
            download = next((d for d in self._downloads if d.id == ref[1]), None)
            if download is None:
                raise NotFound(f"download {ref[1]} is gone")
            if not refresh and download.download:
                link = DirectLink(download.download, download.filesize, download.chunks or None)
            else:
                fresh = await self.client.unrestrict_link(download.link)
                link = DirectLink(fresh.download, fresh.filesize or download.filesize, fresh.chunks or None)
        elif kind == "tfile":
            _, torrent_id, position = ref
            info = self._infos.get(torrent_id)
            if info is None:
                info = await self._info(self._torrent(torrent_id))
            pairs = info.selected_files_with_links()
            if position >= len(pairs):
                raise NotFound(f"file {position} of torrent {torrent_id} is gone")
            file, hoster_link = pairs[position]
            fresh = await self.client.unrestrict_link(hoster_link)
            link = DirectLink(fresh.download, file.bytes, fresh.chunks or None)
        else:
            raise NotFound(f"not a file: {ref!r}")
        self._links[ref] = link
        return link


__all__ = ["RealDebridSource", "AuthError"]
