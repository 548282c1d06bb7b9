"""Real-Debrid source, part 3: what the tree asks for.

Directory listings from memory (`downloads/`, `torrents/<name>/<path>`, groups,
the `.status` files) and `resolve`: a file's direct link, from a cached
link, a `/downloads` entry or `/unrestrict/link` of its hoster link (the n-th
selected file goes with the n-th link, when the counts match).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import trio

from clients.errors import FileUnavailable, NeedsRepair, NotFound
from clients.ratelimit import FOREGROUND
from clients.realdebrid import Torrent, TorrentInfo

from .base import DirectLink, Entry, Ref
from .realdebrid_refs import (
    ArchiveMember,
    DownloadFile,
    DownloadsDir,
    GroupDir,
    StatusFile,
    TorrentDir,
    TorrentFile,
    TorrentLink,
    TorrentsDir,
)
from .realdebrid_state import PREPARE_BATCH
from .realdebrid_sync import RealDebridSync

log = logging.getLogger(__name__)


class RealDebridView(RealDebridSync):
    """Listings and links, served from the state."""

    async def list_dir(self, ref: Ref | None) -> list[Entry]:
        match ref:
            case None:
                now = time.time()
                entries = [
                    Entry("downloads", "downloads", True, mtime=now, ref=DownloadsDir(), writable=True),
                    Entry("torrents", "torrents", True, mtime=now, ref=TorrentsDir(), writable=True),
                ]
                return entries + [
                    Entry(name, f"group/{name}", True, mtime=now, ref=GroupDir(name)) for name in self.groups
                ]
            case DownloadsDir():
                return self._download_entries()
            case TorrentsDir():
                await self._prepare_dirs()
                await self._prepare_status()
                return self._named_dirs("") + [self._status_entry("torrents", self.torrents_status)]
            case GroupDir(name):
                await self._prepare_dirs()
                return self._named_dirs(name)
            case TorrentDir(tid, prefix, view):
                return await self._torrent_listing(tid, prefix, view)
        raise NotFound(f"unknown directory {ref!r}")

    def _download_entries(self) -> list[Entry]:
        entries = [
            Entry(
                d.filename,
                f"d/{d.id}",
                False,
                size=d.filesize,
                mtime=d.generated or 0,
                ref=DownloadFile(d.id),
                rank=(d.generated or 0, d.id),
            )
            for d in self.downloads
            if self._wanted_file(d.filename) and (d.filesize or d.id in self.sizes)
        ]  # 0 is "unknown" until probed
        entries.append(self._status_entry("downloads", self.downloads_status))
        return entries

    async def _torrent_listing(self, tid: str, prefix: str, view: str) -> list[Entry]:
        torrent = self.torrents.get(tid)
        if torrent is None:
            raise NotFound(f"torrent {tid} is gone")
        info = self.infos.get(tid)
        if info is None or self._needs_info(tid):
            # not synced yet: someone is looking, so it goes before the background sync
            info = await self._load_info(tid, FOREGROUND)
        if self._unnamed_links(info):
            await self._name_links(tid, info, FOREGROUND)
        if self._unexamined_archives(info):
            await self._examine_archives(tid, info)
        return self._torrent_entries(torrent, info, prefix, view)

    def _status_entry(self, where: str, render: Any) -> Entry:
        size = len(render())
        return Entry(
            ".status",
            f"{where}/.status",
            False,
            size=size,
            mtime=time.time(),
            ref=StatusFile(where),
            virtual=render,
        )

    def _torrent_entries(self, torrent: Torrent, info: TorrentInfo, prefix: str, view: str) -> list[Entry]:
        """Entries directly below `prefix` ('' or 'a/b/') inside the torrent.
        Two files with the same path are two entries (keyed by file id): the
        tree gives them distinct names."""
        mtime = torrent.ended or torrent.added or 0
        entries: dict[str, Entry] = {}
        # Files removed by rm still hold their directories open: a directory
        # goes with its own rmdir (rm -r unlinks, then rmdirs what it saw).
        for item in self._torrent_files(torrent, info, with_hidden=True):
            removed = f"t/{torrent.id}/{item.key}" in self.hidden
            path = item.path.lstrip("/")
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix) :]
            head, sep, _tail = rest.partition("/")
            if sep:
                sub = prefix + head + "/"
                if f"t/{torrent.id}/{sub}" in self.hidden:
                    continue
                entries.setdefault(
                    sub,
                    Entry(
                        head,
                        f"{view}t/{torrent.id}/{sub}",
                        True,
                        mtime=mtime,
                        ref=TorrentDir(torrent.id, sub, view),
                        writable=not view,
                    ),
                )
            elif not removed:
                entries[item.key] = Entry(
                    head,
                    f"{view}t/{torrent.id}/{item.key}",
                    False,
                    size=item.size,
                    mtime=mtime,
                    ref=item.ref,
                    rank=(abs(item.dead_key),),
                )
        return list(entries.values())

    def status_info(self) -> dict[str, Any]:
        user = self.user
        info: dict[str, Any] = {
            "account": f"{user.username or '?'} ({user.type or '?'})" if user else "? (?)",
            "expires": user.expiration if user else None,
        }
        if self.progress is not None:
            info["sync"] = self.progress.text()
        else:
            last = time.strftime("%H:%M:%S", time.localtime(self.last_sync)) if self.last_sync else "not yet"
            info["sync"] = f"{len(self.torrents)} torrents, {len(self.downloads)} downloads; last sync {last}"
        if self.last_error is not None:
            at, message = self.last_error
            info["last_error"] = f"{time.strftime('%H:%M:%S', time.localtime(at))} {message}"
        return info

    def _status_line(self, t: Torrent, name: str) -> str:
        """A torrent's line in torrents/.status, made once per list item and
        name: listing torrents/ renders the file to learn its size."""
        known = self._status_lines.get(t.id)
        if known is None or known[0] is not t or known[1] != name:
            line = f"{t.status:<24} {t.progress:5.1f}%  {name} ({t.id})"
            known = self._status_lines[t.id] = (t, name, line)
        return known[2]

    async def _prepare_status(self) -> None:
        """Makes the lines of torrents/.status that changed, yielding every
        `PREPARE_BATCH` (5,000 new lines held the trio thread 20-70 ms)."""
        shown = self._shown_names()[""]
        for n, tid in enumerate(list(self.order)):
            t = self.torrents.get(tid)
            if t is not None:
                known = self._status_lines.get(tid)
                if known is None or known[0] is not t or known[1] != shown.get(tid, t.filename):
                    self._status_line(t, shown.get(tid, t.filename))
            if n % PREPARE_BATCH == PREPARE_BATCH - 1:
                await trio.lowlevel.checkpoint()

    def torrents_status(self) -> bytes:
        """Every torrent, under the name the mount shows it by (its Real-Debrid
        name when it is not shown), and the files that are hidden, and why."""
        shown = self._shown_names()[""]
        lines = ["# Real-Debrid torrents: status, progress, name (id)", ""]
        if self.progress is not None:
            lines[1:1] = [f"# sync: {self.progress.text()}"]
        for tid in self.order:
            t = self.torrents.get(tid)
            if t is not None:
                lines.append(self._status_line(t, shown.get(tid, t.filename)))
        made = self._status_lines
        if len(made) > 2 * len(self.torrents) + 64:
            for gone in [tid for tid in made if tid not in self.torrents]:
                del made[gone]
        now = time.monotonic()
        waits = [
            f"{reason:<24} {shown.get(tid) or tid}: file {key}, asked again in {until - now:.0f}s"
            for (tid, key), (until, reason) in sorted(self.unavailable.items())
            if until > now
        ]
        if waits:
            lines += ["", "# files Real-Debrid does not serve for now (code 24)", ""] + waits
        repairs = self.repairs.status_lines(shown.get)
        if repairs:
            lines += ["", "# torrents with broken links (code 19): repairs", ""] + repairs
        dead = sorted(self.dead.items())
        if dead:
            lines += ["", "# files Real-Debrid will not serve (hidden)", ""]
            for (tid, file_id), reason in dead:
                info = self.infos.get(tid)
                path = f"/link {-file_id}" if file_id < 0 else f"/file {file_id}"
                if info is not None:
                    path = next((f.path for f in info.files if f.id == file_id), path)
                name = shown.get(tid) or (self.torrents[tid].filename if tid in self.torrents else tid)
                lines.append(f"{reason:<24} {name}{path}")
        return ("\n".join(lines) + "\n").encode()

    def downloads_status(self) -> bytes:
        lines = ["# links added through .links files: result, link", ""]
        for when, link, result in self.link_results[-1000:]:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))
            lines.append(f"{stamp}  {result:<32} {link}")
        unknown = [d for d in self.downloads if not d.filesize and d.id not in self.sizes]
        if unknown:
            lines += ["", "# downloads whose size is not known yet (hidden until it is)", ""]
            lines += [f"size unknown  {d.filename} ({d.id})" for d in unknown]
        return ("\n".join(lines) + "\n").encode()

    async def resolve(self, ref: Ref | None, *, refresh: bool = False) -> DirectLink:
        match ref:
            case DownloadFile(download_id):
                return await self._resolve_download(download_id, refresh)
            case ArchiveMember(tid, index, n):
                archive = await self.resolve(TorrentLink(tid, index), refresh=refresh)
                info = self.infos.get(tid)
                members = self.rar_members.get(info.torrent.links[index], []) if info is not None else []
                if n >= len(members):
                    raise NotFound(f"{ref!r} is gone")
                _path, offset, size = members[n]
                return DirectLink(
                    archive.url, size, archive.max_connections, offset=offset, total=archive.size
                )
            case TorrentFile() | TorrentLink():
                return await self._resolve_torrent_file(ref, refresh)
        raise NotFound(f"not a file: {ref!r}")

    async def _resolve_download(self, download_id: str, refresh: bool) -> DirectLink:
        download = next((d for d in self.downloads if d.id == download_id), None)
        if download is None:
            raise NotFound(f"download {download_id} is gone")
        if not refresh and download.download:
            return DirectLink(download.download, download.filesize, download.chunks or None)
        fresh = await self.client.unrestrict_link(download.link)
        return DirectLink(fresh.download, fresh.filesize or download.filesize, fresh.chunks or None)

    async def _resolve_torrent_file(self, ref: TorrentFile | TorrentLink, refresh: bool) -> DirectLink:
        tid = ref.tid
        info = self.infos.get(tid)
        if info is None:
            if tid not in self.torrents:
                raise NotFound(f"torrent {tid} is gone")
            info = await self._load_info(tid, FOREGROUND)
        shown = next(
            (
                item
                for item in self._torrent_files(
                    self.torrents.get(tid) or info.torrent, info, with_hidden=True
                )
                if item.ref == ref
            ),
            None,
        )
        if shown is None:
            raise NotFound(f"{ref!r} is gone")
        hoster_link = (
            info.torrent.links[ref.index]
            if isinstance(ref, TorrentLink)
            else info.selected_files_with_links()[ref.position][1]
        )
        if not refresh:
            cached = self.links.get(hoster_link)
            if cached is not None:
                return cached[0]
            known = next((d for d in self.downloads if d.link == hoster_link and d.download), None)
            if known is not None:
                # Real-Debrid already generated a link for it: no /unrestrict call.
                link = DirectLink(known.download, shown.size, known.chunks or None)
                self.links[hoster_link] = (link, known.generated or time.time())
                return link
        waiting = self.unavailable.get((tid, shown.dead_key))
        if waiting is not None and time.monotonic() < waiting[0]:
            raise FileUnavailable(
                f"{shown.path}: unavailable on Real-Debrid ({waiting[1]}); asked "
                f"again in {waiting[0] - time.monotonic():.0f}s",
                code=24,
            )
        broken = self.repairs.broken(tid, shown.dead_key)
        if broken is not None:
            # known broken: asking again would only get 19 again (providers.md, "Real-Debrid")
            raise NeedsRepair(
                f"{shown.path}: broken on Real-Debrid ({broken.reason}); see torrents/.status", code=19
            )
        self.links.pop(hoster_link, None)
        try:
            fresh = await self.client.unrestrict_link(hoster_link)
        except FileUnavailable as exc:
            await self._unservable(tid, shown.dead_key, shown.path, exc)
            raise
        except NeedsRepair as exc:
            self.repairs.report(info, shown.dead_key, exc)
            await self._save_repairs()
            self.wake()
            raise
        link = DirectLink(fresh.download, shown.size, fresh.chunks or None)
        await self._keep_link(hoster_link, link, fresh.chunks)
        return link
