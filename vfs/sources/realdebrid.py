"""Real-Debrid as a source: `downloads/`, `torrents/<name>/<path>`, optional groups.

Everything listed is served from memory, filled by a background sync
(`realdebrid_sync.py` is folded in here: see `_sync_loop`) and persisted in
sqlite (`realdebrid_store.py`), so `ls -lR` costs no API call and a remount
is browsable at once. Torrent files resolve through the `download` URL of
their `/downloads` entry or a cached link, else `/unrestrict/link` of their
hoster link (the n-th selected file goes with the n-th link).

Writes: a `.torrent` or `.magnet` file copied into `torrents/` adds it; a
`.links` file in `downloads/` unrestricts each hoster link in it. Deleting
obeys `allow_delete`. `torrents/.status` and `downloads/.status` tell what
is not shown and why.
"""

from __future__ import annotations

import contextlib
import logging
import re
import subprocess
import time
from typing import Any

import httpx
import trio

from clients.errors import (FileUnavailable, InvalidName, NotEmpty, NotFound, PermissionDenied,
                            ReadOnly, RemoteError)
from clients.ratelimit import BACKGROUND, FOREGROUND, RateLimiter
from clients.realdebrid import (Credentials, Download, OAuthCredentials, RealDebridClient, Torrent,
                                TorrentInfo)
from ..config import Config, ConfigError
from ..names import safe_name
from .base import DirectLink, Entry, Source
from .links import LinkRow
from .realdebrid_store import Store

log = logging.getLogger(__name__)

PLAYABLE_STATUS = "downloaded"
ACTIVE_STATUSES = {"magnet_conversion", "waiting_files_selection", "queued", "downloading",
                   "compressing", "uploading"}
PAGE_LIMIT = 2500
INFO_CONCURRENCY = 8
FULL_PASS_EVERY = 10          # refreshes between full passes over every list page
PENDING_POLL = 2.0            # seconds between polls of torrents we added
ON_CHANGE_TIMEOUT = 300.0    # an on_change command running longer is killed


def info_signature(item: dict[str, Any]) -> tuple:
    """What decides whether a torrent's /torrents/info must be fetched again."""
    return (item.get("status"), item.get("bytes"), item.get("progress"), item.get("ended"))


class RealDebridSource(Source):
    name = "realdebrid"
    writable = True
    listings_in_memory = True

    def __init__(self, config: Config, http: httpx.AsyncClient) -> None:
        rd = config.realdebrid
        if rd is None:
            raise ConfigError("no [realdebrid] section in the config")
        credentials: Credentials
        if rd.token:
            credentials = Credentials(rd.token)
        else:
            stored = load_credentials(rd.credentials_file)
            if stored is None:
                raise ConfigError("no Real-Debrid token: set [realdebrid] token in the config file "
                                  "or DEBRIDFS_REALDEBRID_TOKEN in the environment, "
                                  "or run `debridfs login realdebrid`")
            credentials = OAuthCredentials(stored["client_id"], stored["client_secret"],
                                           stored["refresh_token"])
        self.rd = rd
        self.state_dir = config.state_dir
        self.client = RealDebridClient(http, rd.api_url, credentials,
                                       RateLimiter(rd.rate_limit_per_minute), rd.oauth_url)
        self.groups = {name: re.compile(pattern) for name, pattern in rd.groups.items()}
        self.extensions = set(rd.extensions) if rd.extensions is not None else None
        self.store: Store | None = None
        # memory: everything listings need
        self.torrents: dict[str, Torrent] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.infos: dict[str, TorrentInfo] = {}
        self._raw_infos: dict[str, dict[str, Any]] = {}
        self.info_sigs: dict[str, tuple] = {}
        self.downloads: list[Download] = []
        self.download_items: list[dict[str, Any]] = []
        self.pages: list[tuple[str | None, list[str]]] = []   # torrents list: (etag, ids) per page
        self.total = -1
        self.downloads_etag: str | None = None
        self.dead: dict[tuple[str, int], str] = {}
        self.links: dict[str, tuple[DirectLink, float]] = {}
        self.hidden: set[str] = set()               # keys removed by rm while the torrent stays
        self.pending: dict[str, float] = {}         # torrents we added: id -> when
        self.selections: dict[str, Any] = {}        # torrents we added: id -> file filter
        self.link_results: list[tuple[float, str, str]] = []   # .links outcomes: (when, link, result)
        self._on_change = None
        # called with [(absolute path, removed?)] after a change the mount shows
        self.change_listeners: list[Any] = []
        self._hooks: trio.Nursery | None = None
        self._hook_slot = trio.Lock()               # one on_change command at a time
        self._wake = trio.Event()
        self._info_locks: dict[str, trio.Lock] = {}
        self._refreshes = 0
        self._downloads_at = -float("inf")

    # ------------------------------------------------------------------ start-up

    async def check(self) -> None:
        user = await self.client.user()
        log.info("Real-Debrid: logged in as %s (%s)", user.get("username", "?"), user.get("type", "?"))
        self.store = Store(self.state_dir / f"realdebrid-{user.get('id', 'account')}.sqlite3")
        started = time.monotonic()
        snap = await self.store.load()
        for tid, (item, info) in snap.torrents.items():
            self._put_item(item)
            if info is not None:
                self.infos[tid] = TorrentInfo.from_json(info)
                self._raw_infos[tid] = info
                self.info_sigs[tid] = info_signature(info)
        self.pages = [(etag, list(ids)) for etag, ids in snap.meta.get("torrent_pages", [])]
        self.order = [tid for _etag, ids in self.pages for tid in ids if tid in self.torrents]
        self.order += [tid for tid in self.torrents if tid not in set(self.order)]
        self.total = int(snap.meta.get("torrent_total", -1))
        self._set_downloads(snap.downloads)
        self.downloads_etag = snap.meta.get("downloads_etag")
        self.dead = dict(snap.dead)
        for link, (url, size, chunks, created) in snap.links.items():
            self.links[link] = (DirectLink(url, size, chunks or None), created)
        if snap.torrents or snap.downloads:
            # Shown from disk: the first refresh is the cheap check (one call);
            # /downloads and the full pass over every page come later.
            self._refreshes = 1
            self._downloads_at = time.monotonic()
            log.info("Real-Debrid: %d torrents and %d downloads loaded from disk in %.2fs",
                     len(self.torrents), len(self.downloads), time.monotonic() - started)

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        if self.total < 0:
            # Nothing on disk yet (first mount): the lists (a few calls) come before
            # the mount is ready, so it does not start empty; details follow.
            try:
                await self.refresh_torrents(full=True)
                await self.refresh_downloads()
                self._downloads_at = time.monotonic()
            except RemoteError as exc:
                log.warning("Real-Debrid: first sync failed (%s); retrying in the background", exc)
        task_status.started()
        try:
            async with trio.open_nursery() as hooks:
                self._hooks = hooks
                await self._sync_loop()
        finally:
            self._hooks = None
            if self.store is not None:
                self.store.close()

    def wake(self) -> None:
        self._wake.set()

    def _put_item(self, item: dict[str, Any]) -> None:
        torrent = Torrent.from_json(item)
        self.torrents[torrent.id] = torrent
        self.items[torrent.id] = item

    def _set_downloads(self, items: list[dict[str, Any]]) -> None:
        self.download_items = items
        self.downloads = [Download.from_json(d) for d in items]

    def _notify(self, *refs: Any) -> None:
        if self._on_change is None:
            return
        for ref in refs:
            self._on_change(ref)

    # ------------------------------------------------------------------ sync

    async def _sync_loop(self) -> None:
        while True:
            self._refreshes += 1
            full = self._refreshes % FULL_PASS_EVERY == 1 or not self.pages
            changed: list[str] = []
            try:
                changed = await self.refresh_torrents(full=full)
                if time.monotonic() - self._downloads_at >= self.rd.downloads_refresh_interval:
                    self._downloads_at = time.monotonic()
                    if await self.refresh_downloads():
                        changed.append("downloads")
                await self._fetch_infos()
                await self._advance_pending()
            except RemoteError as exc:
                log.info("Real-Debrid sync failed (%s); keeping what is shown", exc)
            if changed:
                self._run_on_change(changed)
            interval = PENDING_POLL if self.pending else self.rd.refresh_interval
            with trio.move_on_after(interval):
                await self._wake.wait()
            self._wake = trio.Event()

    async def refresh_torrents(self, full: bool) -> list[str]:
        """One pass over `/torrents`; returns the names of what changed.

        The first page with If-None-Match is the cheap check: 304 and the same
        total mean nothing changed (one call). Only a complete, consistent
        listing may remove torrents: a partial one never shrinks the tree.
        """
        old_pages = self.pages
        first = await self.client.page("/torrents", 0, PAGE_LIMIT, old_pages[0][0] if old_pages else None)
        if first.items is None and first.total == self.total and not full:
            return []
        pages: list[tuple[str | None, list[str]]] = []
        fresh: dict[str, dict[str, Any]] = {}
        page = first
        index = 0
        while True:
            if page.items is None:          # unchanged since our copy of this page
                ids = old_pages[index][1] if index < len(old_pages) else []
                for tid in ids:
                    if tid in self.items:
                        fresh.setdefault(tid, self.items[tid])
                pages.append((page.etag, ids))
                count = len(ids)
            else:
                ids = []
                for item in page.items:
                    tid = str(item["id"])
                    ids.append(tid)
                    fresh.setdefault(tid, item)
                pages.append((page.etag, ids))
                count = len(page.items)
            offset = (index + 1) * PAGE_LIMIT
            if count < PAGE_LIMIT or offset >= page.total or page.total < 0:
                break
            index += 1
            etag = old_pages[index][0] if index < len(old_pages) else None
            page = await self.client.page("/torrents", offset, PAGE_LIMIT, etag)
        total = page.total if page.total >= 0 else first.total
        complete = total < 0 or (len(fresh) == total and first.total == total)
        return await self._apply_torrents(fresh, pages, total, complete)

    async def _apply_torrents(self, fresh: dict[str, dict[str, Any]], pages: list, total: int,
                              complete: bool) -> list[str]:
        changed_ids = [tid for tid, item in fresh.items() if self.items.get(tid) != item]
        removed = [tid for tid in self.torrents if tid not in fresh] if complete else []
        if not complete:
            log.info("Real-Debrid: torrent list changed while it was read (%d of %d); "
                     "keeping torrents that were not seen", len(fresh), total)
        # what the on_change hook hears about: torrents that were or are shown
        gone_names = ["removed:" + self.torrents[tid].filename for tid in removed
                      if self._visible(self.torrents[tid])]
        gone_names += ["removed:" + self.torrents[tid].filename for tid in changed_ids   # renamed
                       if tid in self.torrents and self._visible(self.torrents[tid])
                       and self.torrents[tid].filename != fresh[tid].get("filename")]
        for tid in changed_ids:
            self._put_item(fresh[tid])
        for tid in removed:
            self._forget_torrent(tid)
        if complete:
            self.order = list(fresh)
            self.pages, self.total = pages, total
        else:
            self.order = list(fresh) + [tid for tid in self.order if tid not in fresh]
        if self.store is not None:
            await self.store.save_torrents(
                [(tid, fresh[tid], None if tid not in self.infos else self._info_json(tid))
                 for tid in changed_ids], removed,
                {"torrent_pages": self.pages, "torrent_total": self.total})
        if changed_ids or removed:
            log.info("Real-Debrid: %d torrents changed, %d removed", len(changed_ids), len(removed))
            self._notify(*self._top_refs())
            # A torrent whose details must be fetched again is notified once they
            # are here (_fetch_infos): relisting it now would fetch them at
            # FOREGROUND priority, ahead of reads.
            ready = [tid for tid in changed_ids if not self._needs_info(tid)]
            if len(ready) <= 100:
                self._notify(*[("torrent", tid, "", view) for tid in ready for view in self._views()])
        return [self.torrents[tid].filename for tid in changed_ids
                if self._visible(self.torrents[tid])] + gone_names

    def _info_json(self, tid: str) -> dict[str, Any] | None:
        return self._raw_infos.get(tid)

    def _forget_torrent(self, tid: str) -> None:
        self.torrents.pop(tid, None)
        self.items.pop(tid, None)
        self.infos.pop(tid, None)
        self.info_sigs.pop(tid, None)
        self._raw_infos.pop(tid, None)
        for key in [k for k in self.dead if k[0] == tid]:
            del self.dead[key]

    def _needs_info(self, tid: str) -> bool:
        item = self.items.get(tid)
        if item is None or item.get("status") != PLAYABLE_STATUS:
            return False
        return self.info_sigs.get(tid) != info_signature(item)

    async def _fetch_infos(self) -> None:
        """`/torrents/info` for new or changed finished torrents only, a few at a time."""
        wanted = [tid for tid in self.order if self._needs_info(tid)]
        if not wanted:
            return
        log.info("Real-Debrid: fetching details of %d torrents", len(wanted))
        batch: list[str] = []
        fetched: list[str] = []
        limiter = trio.CapacityLimiter(INFO_CONCURRENCY)

        async def one(tid: str) -> None:
            async with limiter:
                try:
                    await self._load_info(tid, BACKGROUND, save=False)
                except NotFound:
                    return
                batch.append(tid)
                fetched.append(tid)

        async def flush() -> None:
            done, batch[:] = list(batch), []
            if done and self.store is not None:
                await self.store.save_torrents([(tid, self.items[tid], self._raw_infos[tid])
                                                for tid in done if tid in self.items], [])

        for start in range(0, len(wanted), 500):
            async with trio.open_nursery() as nursery:
                for tid in wanted[start:start + 500]:
                    nursery.start_soon(one, tid)
            await flush()
        self._notify(*self._top_refs())
        if len(fetched) <= 100:
            self._notify(*[("torrent", tid, "", view) for tid in fetched for view in self._views()])

    async def _load_info(self, tid: str, priority: int, save: bool = True) -> TorrentInfo:
        # A FOREGROUND caller (someone lists the torrent) does not wait for the
        # lock: its holder may be a background fetch queued in the rate limiter
        # behind a minute of sync. At worst the details are fetched twice.
        lock = self._info_locks.setdefault(tid, trio.Lock()) if priority != FOREGROUND else None
        async with lock if lock is not None else _no_lock():
            if not self._needs_info(tid) and tid in self.infos:
                return self.infos[tid]
            raw = await self.client.torrent_info_json(tid, priority)
            info = TorrentInfo.from_json(raw)
            self._raw_infos[tid] = raw
            self.infos[tid] = info
            self.info_sigs[tid] = info_signature(raw)
            if tid in self.items and info_signature(raw) != info_signature(self.items[tid]):
                # the info is newer than our list item: believe it
                merged = {**self.items[tid], **{k: raw[k] for k in raw if k != "files"}}
                self._put_item(merged)
            if save and self.store is not None:
                await self.store.save_torrents([(tid, self.items.get(tid, raw), raw)], [])
            return info

    async def refresh_downloads(self) -> bool:
        first = await self.client.page("/downloads", 0, PAGE_LIMIT, self.downloads_etag)
        if first.items is None and first.total == len(self.downloads):
            return False
        items = list(first.items or [])
        if first.items is None:
            first = await self.client.page("/downloads", 0, PAGE_LIMIT)
            items = list(first.items or [])
        while first.total > len(items):
            page = await self.client.page("/downloads", len(items), PAGE_LIMIT)
            if not page.items:
                break
            items.extend(page.items)
        if items == self.download_items:
            return False
        self._set_downloads(items)
        self.downloads_etag = first.etag
        if self.store is not None:
            await self.store.save_downloads(items, {"downloads_etag": first.etag})
        self._notify(("downloads",))
        return True

    async def _advance_pending(self) -> None:
        """Torrents we added: select their files (all, or what the adder's filter
        keeps) once Real-Debrid knows them."""
        for tid in list(self.pending):
            try:
                raw = await self.client.torrent_info_json(tid, BACKGROUND)
            except NotFound:
                self.pending.pop(tid, None)
                continue
            status = raw.get("status")
            if status == "waiting_files_selection":
                keep = self.selections.get(tid)
                ids = [str(f.get("id")) for f in raw.get("files") or []
                       if keep is not None and keep(str(f.get("path", "")))]
                await self.client.select_files(tid, ",".join(ids) or "all")
                self.selections.pop(tid, None)
                log.info("Real-Debrid: selected %s files of %s", len(ids) or "all",
                         raw.get("filename", tid))
            elif status not in ACTIVE_STATUSES:
                # downloaded, or an end state (error, dead, virus...): the sync takes over
                self.pending.pop(tid, None)
            if tid in self.items or status:
                item = {k: v for k, v in raw.items() if k != "files"}
                if self.items.get(tid) != item:
                    self._put_item(item)
                    if tid not in self.order:
                        self.order.insert(0, tid)
                    self._notify(*self._top_refs())
            if time.time() - self.pending.get(tid, time.time()) > 3600:
                self.pending.pop(tid, None)

    def _run_on_change(self, changed: list[str]) -> None:
        """Starts the on_change command with the paths that changed (absolute
        when the mount point is known), in the background: a media server's
        scan must not hold up the sync. It is reaped, and killed after
        ON_CHANGE_TIMEOUT; commands run one at a time."""
        paths: list[str] = []
        removed: set[int] = set()        # positions in `paths` of what is gone
        for name in changed:
            if name == "downloads":
                paths.append("realdebrid/downloads")
            elif name.startswith("removed:"):
                removed.add(len(paths))
                paths.append(f"realdebrid/torrents/{safe_name(name[len('removed:'):])}")
            else:
                paths.append(f"realdebrid/torrents/{safe_name(name)}")
                paths += [f"realdebrid/{group}/{safe_name(name)}"
                          for group, pattern in self.groups.items() if pattern.search(name)]
        if not paths:
            return
        if self.mountpoint is not None:
            paths = [str(self.mountpoint / path) for path in paths]
            for listener in self.change_listeners:   # e.g. media-server notifications
                listener([(path, i in removed) for i, path in enumerate(paths)])
        if self.rd.on_change and self._hooks is not None:
            self._hooks.start_soon(self._hook, paths)

    async def _hook(self, paths: list[str]) -> None:
        command = [*self.rd.on_change, *paths]
        async with self._hook_slot:
            try:
                with trio.move_on_after(ON_CHANGE_TIMEOUT) as scope:
                    done = await trio.run_process(command, stdin=subprocess.DEVNULL, check=False,
                                                  start_new_session=True)
            except OSError as exc:
                log.warning("on_change command %s failed to start: %s", self.rd.on_change[0], exc)
                return
        if scope.cancelled_caught:
            log.warning("on_change command %s ran longer than %.0fs; killed",
                        self.rd.on_change[0], ON_CHANGE_TIMEOUT)
        elif done.returncode != 0:
            log.warning("on_change command %s exited with status %d",
                        self.rd.on_change[0], done.returncode)
        else:
            log.info("on_change: ran %s with %d paths", self.rd.on_change[0], len(paths))

    # ------------------------------------------------------------------ listing

    def _views(self) -> list[str]:
        return [""] + list(self.groups)

    def _top_refs(self) -> list[tuple]:
        return [("torrents",)] + [("group", name) for name in self.groups]

    def _visible(self, torrent: Torrent) -> bool:
        return torrent.status == PLAYABLE_STATUS and f"t/{torrent.id}" not in self.hidden

    async def list_dir(self, ref: Any) -> list[Entry]:
        now = time.time()
        if ref is None:
            entries = [Entry("downloads", "downloads", True, mtime=now, ref=("downloads",), writable=True),
                       Entry("torrents", "torrents", True, mtime=now, ref=("torrents",), writable=True)]
            entries += [Entry(name, f"group/{name}", True, mtime=now, ref=("group", name))
                        for name in self.groups]
            return entries
        kind = ref[0]
        if kind == "downloads":
            entries = [Entry(d.filename, f"d/{d.id}", False, size=d.filesize, mtime=d.generated or 0,
                             ref=("download", d.id))
                       for d in self.downloads if self._wanted_file(d.filename)]
            entries.append(self._status_entry("downloads", self.downloads_status))
            return entries
        if kind in ("torrents", "group"):
            view = "" if kind == "torrents" else ref[1]
            pattern = self.groups.get(view) if view else None
            entries = []
            for tid in self.order:
                torrent = self.torrents.get(tid)
                if torrent is None or not self._visible(torrent):
                    continue
                if pattern is not None and not pattern.search(torrent.filename):
                    continue
                info = self.infos.get(tid)
                if info is not None and not self._torrent_files(torrent, info, with_hidden=True):
                    continue     # every file dead or filtered out
                entries.append(Entry(torrent.filename, f"{view}t/{tid}", True,
                                     mtime=torrent.ended or torrent.added or 0,
                                     ref=("torrent", tid, "", view), writable=not view))
            if not view:
                entries.append(self._status_entry("torrents", self.torrents_status))
            return entries
        if kind == "torrent":
            _, tid, prefix, view = ref
            torrent = self.torrents.get(tid)
            if torrent is None:
                raise NotFound(f"torrent {tid} is gone")
            info = self.infos.get(tid)
            if info is None or self._needs_info(tid):
                # not synced yet: someone is looking, so it goes before the background sync
                info = await self._load_info(tid, FOREGROUND)
            return self._torrent_entries(torrent, info, prefix, view)
        raise NotFound(f"unknown directory {ref!r}")

    def _status_entry(self, where: str, render: Any) -> Entry:
        size = len(render())
        return Entry(".status", f"{where}/.status", False, size=size, mtime=time.time(),
                     ref=("status", where), virtual=render)

    def _wanted_file(self, name: str) -> bool:
        if self.extensions is None:
            return True
        return name.rsplit(".", 1)[-1].lower() in self.extensions if "." in name else False

    def _torrent_files(self, torrent: Torrent, info: TorrentInfo,
                       with_hidden: bool = False) -> list[tuple[int, Any]]:
        """(position, file) of the files shown: selected, linked, not dead, wanted
        (and not removed by rm, unless `with_hidden`)."""
        shown = []
        for position, (file, _link) in enumerate(info.selected_files_with_links()):
            if (torrent.id, file.id) in self.dead:
                continue
            if not with_hidden and f"t/{torrent.id}/f{file.id}" in self.hidden:
                continue
            if not self._wanted_file(file.path):
                continue
            shown.append((position, file))
        return shown

    def _torrent_entries(self, torrent: Torrent, info: TorrentInfo, prefix: str, view: str) -> list[Entry]:
        """Entries directly below `prefix` ('' or 'a/b/') inside the torrent."""
        mtime = torrent.ended or torrent.added or 0
        entries: dict[str, Entry] = {}
        for position, file in self._torrent_files(torrent, info):
            path = file.path.lstrip("/")
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix):]
            head, sep, _tail = rest.partition("/")
            if sep:
                sub = prefix + head + "/"
                if f"t/{torrent.id}/{sub}" in self.hidden:
                    continue
                entries.setdefault(sub, Entry(head, f"{view}t/{torrent.id}/{sub}", True, mtime=mtime,
                                              ref=("torrent", torrent.id, sub, view), writable=not view))
            else:
                entries[rest + "\0file"] = Entry(head, f"{view}t/{torrent.id}/f{file.id}", False,
                                                 size=file.bytes, mtime=mtime,
                                                 ref=("tfile", torrent.id, position))
        return list(entries.values())

    # ------------------------------------------------------------------ status files

    def torrents_status(self) -> bytes:
        lines = ["# Real-Debrid torrents: status, progress, name (id)", ""]
        for tid in self.order:
            t = self.torrents.get(tid)
            if t is None:
                continue
            lines.append(f"{t.status:<24} {t.progress:5.1f}%  {t.filename} ({t.id})")
        dead = sorted(self.dead.items())
        if dead:
            lines += ["", "# files Real-Debrid will not serve (hidden)", ""]
            for (tid, file_id), reason in dead:
                info = self.infos.get(tid)
                path = next((f.path for f in info.files if f.id == file_id), f"file {file_id}") \
                    if info else f"file {file_id}"
                name = self.torrents[tid].filename if tid in self.torrents else tid
                lines.append(f"{reason:<24} {name}{path}")
        return ("\n".join(lines) + "\n").encode()

    def downloads_status(self) -> bytes:
        lines = ["# links added through .links files: result, link", ""]
        for when, link, result in self.link_results[-1000:]:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))
            lines.append(f"{stamp}  {result:<32} {link}")
        return ("\n".join(lines) + "\n").encode()

    # ------------------------------------------------------------------ reading

    async def resolve(self, ref: Any, *, refresh: bool = False) -> DirectLink:
        kind = ref[0]
        if kind == "download":
            download = next((d for d in self.downloads if d.id == ref[1]), None)
            if download is None:
                raise NotFound(f"download {ref[1]} is gone")
            if not refresh and download.download:
                return DirectLink(download.download, download.filesize, download.chunks or None)
            fresh = await self.client.unrestrict_link(download.link)
            return DirectLink(fresh.download, fresh.filesize or download.filesize, fresh.chunks or None)
        if kind != "tfile":
            raise NotFound(f"not a file: {ref!r}")
        _, tid, position = ref
        info = self.infos.get(tid)
        if info is None:
            if tid not in self.torrents:
                raise NotFound(f"torrent {tid} is gone")
            info = await self._load_info(tid, FOREGROUND)
        pairs = info.selected_files_with_links()
        if position >= len(pairs):
            raise NotFound(f"file {position} of torrent {tid} is gone")
        file, hoster_link = pairs[position]
        if (tid, file.id) in self.dead:
            raise FileUnavailable(f"{file.path}: Real-Debrid will not serve it ({self.dead[tid, file.id]})")
        if not refresh:
            cached = self.links.get(hoster_link)
            if cached is not None:
                return cached[0]
            known = next((d for d in self.downloads if d.link == hoster_link and d.download), None)
            if known is not None:
                # Real-Debrid already generated a link for it: no /unrestrict call.
                link = DirectLink(known.download, file.bytes, known.chunks or None)
                self.links[hoster_link] = (link, known.generated or time.time())
                return link
        self.links.pop(hoster_link, None)
        try:
            fresh = await self.client.unrestrict_link(hoster_link)
        except FileUnavailable as exc:
            reason = {24: "unavailable_file", 35: "infringing_file"}.get(exc.code or 0, "unavailable")
            log.warning("Real-Debrid: %s of %s is %s; hiding it (see torrents/.status)",
                        file.path, self.torrents[tid].filename if tid in self.torrents else tid, reason)
            self.dead[tid, file.id] = reason
            if self.store is not None:
                await self.store.mark_dead(tid, file.id, reason)
            self._notify(*self._top_refs(), *[("torrent", tid, "", view) for view in self._views()])
            raise
        link = DirectLink(fresh.download, file.bytes, fresh.chunks or None)
        now = time.time()
        self.links[hoster_link] = (link, now)
        if self.store is not None:
            await self.store.save_link(hoster_link, fresh.download, file.bytes, fresh.chunks, now)
        return link

    # ------------------------------------------------------------------ writing

    async def create_file(self, parent_ref: Any, name: str) -> None:
        if parent_ref == ("torrents",) and name.lower().endswith((".torrent", ".magnet")):
            return
        if parent_ref == ("downloads",) and name.lower().endswith(".links"):
            return
        raise ReadOnly("only .torrent and .magnet files can be added in torrents/, "
                       ".links files in downloads/")

    async def commit_file(self, parent_ref: Any, name: str, spool: Any) -> Entry | None:
        try:
            data = spool.read(0, spool.size)
        finally:
            spool.discard()
        lower = name.lower()
        if lower.endswith(".links"):
            await self._add_links(data.decode("utf-8", "replace"))
            return None
        if lower.endswith(".magnet"):
            magnet = data.decode("utf-8", "replace").strip()
            if not magnet.startswith("magnet:?"):
                raise InvalidName(f"{name}: not a magnet URI")
            await self.add(magnet, name)
        else:
            await self.add(data, name)
        return None

    async def add(self, what: str | bytes, name: str, keep: Any = None) -> str:
        """Adds a magnet URI (str) or a .torrent file (bytes); returns the torrent id.
        The one add path: `cp x.magnet`, `cp x.torrent` and the qBittorrent API.
        `keep(path) -> bool` chooses the files to select (none kept: all)."""
        if isinstance(what, str):
            tid = await self.client.add_magnet(what)
        else:
            tid = await self.client.add_torrent(what)
        log.info("Real-Debrid: added %s as torrent %s", name, tid)
        if keep is not None:
            self.selections[tid] = keep
        self.pending[tid] = time.time()
        self.wake()
        return tid

    def shown_files(self, tid: str) -> list[tuple[int, Any]] | None:
        """(position, file) of the files a finished torrent shows (`file.path` from
        the torrent's root; `("tfile", tid, position)` resolves it), or None while
        it is not finished or its details are not synced. Memory only."""
        torrent, info = self.torrents.get(tid), self.infos.get(tid)
        if torrent is None or info is None or not self._visible(torrent) or self._needs_info(tid):
            return None
        return self._torrent_files(torrent, info)

    async def _unrestrict(self, links: list[str]) -> list[tuple[str, dict | None, str]]:
        """Adds hoster links to the account: `/unrestrict/check`, then `/unrestrict/link`
        (which puts them in the downloads list). Returns (link, reply or None, result)."""
        results = []
        for link in links:
            try:
                check = await self.client.unrestrict_check(link)
                data = await self.client.unrestrict_link_json(link)
            except RemoteError as exc:
                reason = f"failed: {exc.args[0].split(': ', 1)[-1] if exc.args else exc}"
                log.info("Real-Debrid: could not add %s: %s", link, reason)
                results.append((link, None, reason))
                continue
            results.append((link, data, f"added: {check.get('filename', '')}"))
        return results

    async def add_links(self, urls: list[str]) -> list[LinkRow]:
        """`debridfs add realdebrid URL...`: the links join the account's downloads,
        which a running mount shows at its next downloads refresh."""
        rows = []
        for link, data, result in await self._unrestrict(urls):
            if data is None:
                rows.append(LinkRow("realdebrid", link, time.time(), "failed",
                                    reason=result.removeprefix("failed: ")))
            else:
                rows.append(LinkRow("realdebrid", link, time.time(), "ok", name=data.get("filename"),
                                    size=int(data.get("filesize") or 0)))
        return rows

    async def _add_links(self, text: str) -> None:
        links = [line.strip() for line in text.splitlines()
                 if line.strip() and not line.strip().startswith("#")]
        added = []
        for link, data, result in await self._unrestrict(links):
            self.link_results.append((time.time(), link, result))
            if data is not None:
                added.append({**data, "generated": data.get("generated") or time.strftime(
                    "%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())})
        if added:
            ids = {item["id"] for item in added}
            self._set_downloads(added + [d for d in self.download_items if d.get("id") not in ids
                                         and d.get("link") not in {a.get("link") for a in added}])
            if self.store is not None:
                await self.store.save_downloads(self.download_items)
        self._notify(("downloads",))

    def _refuse_delete(self, what: str) -> None:
        if not self.rd.allow_delete:
            log.warning("refusing to delete %s on Real-Debrid: set allow_delete = true in the "
                        "[realdebrid] section of the config to allow it", what)
            raise PermissionDenied(f"deleting {what} is not allowed (allow_delete = false)")

    async def unlink(self, parent_ref: Any, ref: Any) -> None:
        kind = ref[0]
        if kind == "status":
            raise ReadOnly(".status is generated")
        if kind == "download":
            download = next((d for d in self.downloads if d.id == ref[1]), None)
            self._refuse_delete(f"download {download.filename if download else ref[1]}")
            try:
                await self.client.delete_download(ref[1])
            except NotFound:
                pass
            self._set_downloads([d for d in self.download_items if str(d.get("id")) != ref[1]])
            if self.store is not None:
                await self.store.save_downloads(self.download_items)
            return
        if kind == "tfile":
            _, tid, position = ref
            name = self.torrents[tid].filename if tid in self.torrents else tid
            self._refuse_delete(f"torrent {name}")
            # One file of a torrent cannot be deleted on Real-Debrid: it is hidden
            # until the torrent directory itself is removed (rm -r does both).
            info = self.infos.get(tid)
            if info is not None:
                pairs = info.selected_files_with_links()
                if position < len(pairs):
                    self.hidden.add(f"t/{tid}/f{pairs[position][0].id}")
            return
        raise NotFound(f"not a file: {ref!r}")

    async def rmdir(self, parent_ref: Any, ref: Any) -> None:
        if ref[0] != "torrent" or ref[3]:
            raise ReadOnly("only torrent directories in torrents/ can be removed")
        _, tid, prefix, _view = ref
        torrent = self.torrents.get(tid)
        self._refuse_delete(f"torrent {torrent.filename if torrent else tid}")
        info = self.infos.get(tid)
        if torrent is not None and info is not None:
            left = [f for _pos, f in self._torrent_files(torrent, info)
                    if f.path.lstrip("/").startswith(prefix)]
            if left:
                raise NotEmpty(f"{torrent.filename}/{prefix}: not empty")
        if prefix:
            self.hidden.add(f"t/{tid}/{prefix}")
            return
        await self.delete(tid)

    async def delete(self, tid: str) -> None:
        """Deletes a torrent on Real-Debrid (callers check allow_delete first)."""
        torrent = self.torrents.get(tid)
        try:
            await self.client.delete_torrent(tid)
        except NotFound:
            pass
        log.info("Real-Debrid: deleted torrent %s", torrent.filename if torrent else tid)
        self._forget_torrent(tid)
        self.order = [t for t in self.order if t != tid]
        if self.store is not None:
            await self.store.save_torrents([], [tid])
        self._notify(*self._top_refs())
        if torrent is not None and self._visible(torrent):
            self._run_on_change(["removed:" + torrent.filename])


@contextlib.asynccontextmanager
async def _no_lock() -> Any:
    yield


def load_credentials(path: Any) -> dict[str, str] | None:
    """The OAuth credentials `debridfs login realdebrid` stored, or None."""
    import json

    if path is None or not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not all(data.get(k) for k in ("client_id", "client_secret", "refresh_token")):
        return None
    return data


__all__ = ["RealDebridSource", "load_credentials"]
