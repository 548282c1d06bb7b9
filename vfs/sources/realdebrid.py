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
import os
import re
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import httpx
import rarfile
import trio

from clients.errors import (FileUnavailable, InvalidName, NeedsRepair, NotEmpty, NotFound, PermissionDenied,
                            ReadOnly, RemoteError)
from clients.ratelimit import BACKGROUND, FOREGROUND, RateLimiter
from clients.realdebrid import (Credentials, Download, OAuthCredentials, Page, RealDebridClient, Torrent,
                                TorrentInfo, proven_complete)
from ..config import Config, ConfigError
from ..archives import stored_members
from ..names import unique_names
from .base import DirectLink, Entry, Source
from .links import LinkRow
from .realdebrid_repair import Repair, Repairs
from .realdebrid_store import Store

log = logging.getLogger(__name__)

PLAYABLE_STATUS = "downloaded"
ACTIVE_STATUSES = {"magnet_conversion", "waiting_files_selection", "queued", "downloading",
                   "compressing", "uploading"}
PAGE_LIMIT = 2500
MAX_PAGES = 400               # 1,000,000 torrents: a list that never ends is not believed
UNAVAILABLE_WAIT = 600.0      # code 24 without a wait of its own (the table has one)
CONFIRM_GONE_MAX = 20         # /torrents/info calls per sync to confirm unlisted torrents are gone
INFO_CONCURRENCY = 8
FULL_PASS_EVERY = 10          # refreshes between full passes over every list page
PENDING_POLL = 2.0            # seconds between polls of torrents we added
ON_CHANGE_TIMEOUT = 300.0    # an on_change command running longer is killed
HOOK_ENV_KEEP = ("PATH", "HOME", "LANG")   # all an on_change command gets of our environment
HOOK_ENV_MAX = 64 * 1024                   # bytes per DEBRIDFS_* list variable


@dataclass(frozen=True)
class Shown:
    """A file shown inside a torrent directory."""

    key: str            # "f<file id>", or "l<link index>" for a link shown as itself
    path: str           # inside the torrent, starting with "/"
    size: int
    ref: tuple          # ("tfile", torrent id, position), ("tlink", torrent id, link index)
                        # or ("tmember", torrent id, link index, member index)
    dead_key: int       # the file id in `dead`, or -1 - link index


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
        self.total: int | None = None           # X-Total-Count of the last whole read
        self._listed = False                    # a torrent list was read (now or in a past mount)
        self.downloads_etag: str | None = None
        self.dead: dict[tuple[str, int], str] = {}
        self.links: dict[str, tuple[DirectLink, float]] = {}
        self.link_names: dict[str, tuple[str, int]] = {}   # archived torrents' links: name, size
        self.sizes: dict[str, int] = {}             # download id -> size found for filesize 0
        self.rar_members: dict[str, list[tuple[str, int, int]]] = {}   # link -> (path, offset, size)
        self.unavailable: dict[tuple[str, int], tuple[float, str]] = {}   # code 24: until, reason
        self.repairs = Repairs(self.client, rd.repair, rd.repair_interval, rd.repair_max_attempts)
        self.hidden: set[str] = set()               # keys removed by rm while the torrent stays
        self.pending: dict[str, float] = {}         # torrents we added: id -> when
        self.link_results: list[tuple[float, str, str]] = []   # .links outcomes: (when, link, result)
        self._on_change = None
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
        total = snap.meta.get("torrent_total")
        self.total = total if isinstance(total, int) and total >= 0 else None
        self._listed = bool(snap.torrents or snap.downloads)
        self._set_downloads(snap.downloads)
        self.downloads_etag = snap.meta.get("downloads_etag")
        self.dead = dict(snap.dead)
        self.sizes = {str(k): int(v) for k, v in snap.meta.get("download_sizes", {}).items()}
        self.rar_members = {link: [(str(p), int(o), int(n)) for p, o, n in members]
                            for link, members in snap.meta.get("rar_members", {}).items()}
        self.repairs = Repairs(self.client, self.rd.repair, self.rd.repair_interval,
                               self.rd.repair_max_attempts, snap.meta.get("repairs"))
        self.link_names = {link: (str(name), int(size))
                           for link, (name, size) in snap.meta.get("link_names", {}).items()}
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
        if not self._listed:
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
            changed: list[tuple[str, str]] = []
            try:
                if self.repairs.wanted() and await self.repairs.step(self._repaired):
                    await self._save_repairs()
                changed = await self.refresh_torrents(full=full)
                if time.monotonic() - self._downloads_at >= self.rd.downloads_refresh_interval:
                    self._downloads_at = time.monotonic()
                    if await self.refresh_downloads():
                        changed.append(("changed", "realdebrid/downloads"))
                await self._fetch_infos()
                await self._advance_pending()
            except RemoteError as exc:
                log.info("Real-Debrid sync failed (%s); keeping what is shown", exc)
            if changed:
                self._run_on_change(changed)
            interval = PENDING_POLL if self.pending or self.repairs.wanted() else self.rd.refresh_interval
            interval = min(interval, self.rd.refresh_interval)
            with trio.move_on_after(interval):
                await self._wake.wait()
            self._wake = trio.Event()

    async def refresh_torrents(self, full: bool) -> list[tuple[str, str]]:
        """One pass over `/torrents`; returns what changed (see `_changes`).

        The first page with If-None-Match is the cheap check: 304 and the same
        total mean nothing changed (one call). Pages are read until one is
        empty or X-Total-Count is reached. Only a listing proven complete
        (`proven_complete`) removes torrents; otherwise a torrent that was not
        seen is removed only when `/torrents/info` answers 404 for it
        (`_confirm_gone`). See "Never shrink" in docs/invariants.md.
        """
        old_pages = self.pages
        first = await self.client.page("/torrents", 0, PAGE_LIMIT, old_pages[0][0] if old_pages else None)
        if first.items is None and first.total == self.total and not full:
            return []
        pages: list[tuple[str | None, list[str]]] = []
        read: list[Page] = [first]
        fresh: dict[str, dict[str, Any]] = {}
        page = first
        whole = True           # read to the end, without error or gap
        while True:
            index = len(pages)
            if page.items is None:          # unchanged since our copy of this page
                if index >= len(old_pages):
                    whole = False
                    break
                ids = [tid for tid in old_pages[index][1] if tid in self.items]
                for tid in ids:
                    fresh.setdefault(tid, self.items[tid])
            else:
                ids = [str(item["id"]) for item in page.items]
                for tid, item in zip(ids, page.items):
                    fresh.setdefault(tid, item)
            if not ids:
                break
            pages.append((page.etag, ids))
            offset = sum(len(p) for _etag, p in pages)
            if page.total is not None and offset >= page.total:
                break
            if len(pages) >= MAX_PAGES:
                whole = False
                break
            etag = old_pages[index + 1][0] if index + 1 < len(old_pages) else None
            try:
                page = await self.client.page("/torrents", offset, PAGE_LIMIT, etag)
            except RemoteError as exc:
                log.info("Real-Debrid: torrent list page at %d failed (%s); keeping torrents "
                         "that were not seen", offset, exc)
                whole = False
                break
            read.append(page)
        complete = whole and proven_complete(read, len(fresh))
        gone: list[str] = []
        if not complete:
            gone = await self._confirm_gone([tid for tid in self.torrents if tid not in fresh])
        return await self._apply_torrents(fresh, pages, first.total, complete, whole, gone)

    async def _confirm_gone(self, missing: list[str]) -> list[str]:
        """Of torrents an unproven listing left out, those `/torrents/info`
        says are gone (404): at most CONFIRM_GONE_MAX calls, and none after a
        torrent that still exists (then the listing was wrong, not the torrent)."""
        gone = []
        for tid in missing[:CONFIRM_GONE_MAX]:
            try:
                await self.client.torrent_info_json(tid, BACKGROUND)
            except NotFound:
                gone.append(tid)
                continue
            log.info("Real-Debrid: the torrent list left out %d torrents that may still exist; "
                     "keeping them", len(missing) - len(gone))
            break
        return gone

    async def _apply_torrents(self, fresh: dict[str, dict[str, Any]], pages: list, total: int | None,
                              complete: bool, whole: bool, gone: list[str]) -> list[tuple[str, str]]:
        changed_ids = [tid for tid, item in fresh.items() if self.items.get(tid) != item]
        removed = [tid for tid in self.torrents if tid not in fresh] if complete else list(gone)
        if not complete:
            log.info("Real-Debrid: torrent list not proven complete (%d read, total %s); "
                     "%d torrents not seen were confirmed gone", len(fresh), total, len(removed))
        before = self._shown_names()
        for tid in changed_ids:
            self._put_item(fresh[tid])
        for tid in removed:
            self._forget_torrent(tid)
        if complete:
            self.order = list(fresh)
        else:
            self.order = list(fresh) + [tid for tid in self.order if tid not in fresh and tid in self.torrents]
        if whole:
            # The next cheap check compares against what was read, proven or not.
            self.pages, self.total = pages, total
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
        return self._changes(before, set(changed_ids) | set(removed))

    def _shown_names(self) -> dict[str, dict[str, str]]:
        """view -> torrent id -> the name the mount shows (vfs/names.py, the
        tree's own rule applied to the same entries)."""
        shown = {}
        for view in self._views():
            entries = self._torrent_dirs(view)
            status = [Entry(".status", "torrents/.status", False)] if not view else []
            names = unique_names([(e.key, e.name, e.rank) for e in entries + status])
            shown[view] = {e.ref[1]: names[e.key] for e in entries}
        return shown

    def _changes(self, before: dict[str, dict[str, str]], touched: set[str]) -> list[tuple[str, str]]:
        """(added|removed|changed, path under the mount) for the torrents in
        `touched` and any whose shown name moved (a clash appeared or went)."""
        after = self._shown_names()
        changes = []
        for view in self._views():
            old, new = before.get(view, {}), after[view]
            where = f"realdebrid/{view}" if view else "realdebrid/torrents"
            for tid in sorted(set(old) | set(new)):
                was, now = old.get(tid), new.get(tid)
                if was == now and (was is None or tid not in touched):
                    continue
                if was is not None and was == now:
                    changes.append(("changed", f"{where}/{now}"))
                    continue
                if was is not None:
                    changes.append(("removed", f"{where}/{was}"))
                if now is not None:
                    changes.append(("added", f"{where}/{now}"))
        return changes

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
                    info = await self._load_info(tid, BACKGROUND, save=False)
                    if self._unnamed_links(info):
                        await self._name_links(tid, info, BACKGROUND)
                    if self._unexamined_archives(info):
                        await self._examine_archives(tid, info)
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
        """Reads `/downloads`; an entry not seen stays unless the listing is
        proven complete (as for torrents)."""
        first = await self.client.page("/downloads", 0, PAGE_LIMIT, self.downloads_etag)
        if first.items is None and (first.total == len(self.downloads) or
                                    (first.total is None and len(self.downloads) < PAGE_LIMIT)):
            return False
        if first.items is None:
            first = await self.client.page("/downloads", 0, PAGE_LIMIT)
        read, items, page, whole = [first], list(first.items or []), first, True
        while page.items and (page.total is None or len(items) < page.total):
            if len(read) >= MAX_PAGES:
                whole = False
                break
            try:
                page = await self.client.page("/downloads", len(items), PAGE_LIMIT)
            except RemoteError as exc:
                log.info("Real-Debrid: downloads page at %d failed (%s)", len(items), exc)
                whole = False
                break
            read.append(page)
            items.extend(page.items or [])
        seen = {str(item.get("id")) for item in items}
        if not (whole and proven_complete(read, len(seen))):
            items += [d for d in self.download_items if str(d.get("id")) not in seen]
        probed = await self._find_sizes(items)
        by_id = {str(item.get("id")): item for item in items}
        if items == self.download_items or (
                len(by_id) == len(items) and by_id == {str(d.get("id")): d for d in self.download_items}):
            return False     # the same entries (an unproven listing may only reorder them)
        self._set_downloads(items)
        self.downloads_etag = first.etag
        if self.store is not None:
            await self.store.save_downloads(items, {"downloads_etag": first.etag,
                                                    **({"download_sizes": self.sizes} if probed else {})})
        self._notify(("downloads",))
        return True

    async def _find_sizes(self, items: list[dict[str, Any]]) -> bool:
        """Downloads listed with `filesize` 0 ("unknown"): the size is asked of
        the download host once (then remembered) and put in the item, so
        nothing is listed as empty on the API's word. Returns whether a new
        size was found."""
        found = False
        for item in items:
            if item.get("filesize") or not item.get("download"):
                continue
            key = str(item.get("id"))
            if key not in self.sizes:
                size = await self.client.probe_size(str(item["download"]))
                if size is None:
                    continue
                self.sizes[key], found = size, True
            item["filesize"] = self.sizes[key]
        return found

    async def _repaired(self, repair: Repair) -> None:
        """The torrent added again is downloaded and the old one deleted: the
        old one goes now; the new one comes with the list refresh that follows."""
        self._forget_torrent(repair.torrent)
        self.order = [tid for tid in self.order if tid != repair.torrent]
        if self.store is not None:
            await self.store.save_torrents([], [repair.torrent])
        self._notify(*self._top_refs())

    async def _save_repairs(self) -> None:
        if self.store is not None:
            await self.store.save_torrents([], [], {"repairs": self.repairs.to_json()})

    async def _advance_pending(self) -> None:
        """Torrents we added: select all files once Real-Debrid knows them."""
        for tid in list(self.pending):
            try:
                raw = await self.client.torrent_info_json(tid, BACKGROUND)
            except NotFound:
                self.pending.pop(tid, None)
                continue
            status = raw.get("status")
            if status == "waiting_files_selection":
                await self.client.select_files(tid, "all")
                log.info("Real-Debrid: selected all files of %s", raw.get("filename", tid))
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

    def _run_on_change(self, changed: list[tuple[str, str]]) -> None:
        """Starts the on_change command with the paths that changed (absolute
        when the mount point is known; the names the mount shows), in the
        background: a media server's scan must not hold up the sync. It is
        reaped, and killed after ON_CHANGE_TIMEOUT; commands run one at a time."""
        if not self.rd.on_change or self._hooks is None or not changed:
            return
        base = self.mountpoint
        changes = [(kind, str(base / path) if base is not None else path) for kind, path in changed]
        self._hooks.start_soon(self._hook, changes)

    def _hook_env(self, changes: list[tuple[str, str]]) -> dict[str, str]:
        """A minimal environment: never the daemon's own (it holds tokens)."""
        env = {key: os.environ[key] for key in HOOK_ENV_KEEP if key in os.environ}
        env.setdefault("PATH", os.defpath)
        env["DEBRIDFS_SOURCE"] = self.name
        if self.mountpoint is not None:
            env["DEBRIDFS_MOUNTPOINT"] = str(self.mountpoint)
        for kind in ("added", "removed", "changed"):
            value = "\n".join(path for k, path in changes if k == kind)
            if len(value.encode()) > HOOK_ENV_MAX:
                # the kernel refuses longer strings (MAX_ARG_STRLEN); argv has every path
                value = value.encode()[:HOOK_ENV_MAX].decode(errors="ignore").rpartition("\n")[0]
                env["DEBRIDFS_TRUNCATED"] = "1"
            env[f"DEBRIDFS_{kind.upper()}"] = value
        return env

    async def _hook(self, changes: list[tuple[str, str]]) -> None:
        paths = list(dict.fromkeys(path for _kind, path in changes))
        command = [*self.rd.on_change, *paths]
        async with self._hook_slot:
            try:
                with trio.move_on_after(ON_CHANGE_TIMEOUT) as scope:
                    done = await trio.run_process(command, stdin=subprocess.DEVNULL, check=False,
                                                  start_new_session=True, env=self._hook_env(changes))
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
                             ref=("download", d.id), rank=(d.generated or 0, d.id))
                       for d in self.downloads if self._wanted_file(d.filename)
                       and (d.filesize or d.id in self.sizes)]    # 0 is "unknown" until probed
            entries.append(self._status_entry("downloads", self.downloads_status))
            return entries
        if kind in ("torrents", "group"):
            view = "" if kind == "torrents" else ref[1]
            entries = self._torrent_dirs(view)
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
            if self._unnamed_links(info):
                await self._name_links(tid, info, FOREGROUND)
            if self._unexamined_archives(info):
                await self._examine_archives(tid, info)
            return self._torrent_entries(torrent, info, prefix, view)
        raise NotFound(f"unknown directory {ref!r}")

    def _torrent_dirs(self, view: str) -> list[Entry]:
        """The torrent directories of `torrents/` (view "") or of a group."""
        pattern = self.groups.get(view) if view else None
        entries = []
        for tid in self.order:
            torrent = self.torrents.get(tid)
            if torrent is None or not self._visible(torrent):
                continue
            if pattern is not None and not pattern.search(torrent.filename):
                continue
            if not self._has_files(torrent, self.infos.get(tid)):
                continue     # every file dead or filtered out
            entries.append(Entry(torrent.filename, f"{view}t/{tid}", True,
                                 mtime=torrent.ended or torrent.added or 0,
                                 ref=("torrent", tid, "", view), writable=not view,
                                 rank=(torrent.added or 0, tid)))
        return entries

    def _status_entry(self, where: str, render: Any) -> Entry:
        size = len(render())
        return Entry(".status", f"{where}/.status", False, size=size, mtime=time.time(),
                     ref=("status", where), virtual=render)

    def _wanted_file(self, name: str) -> bool:
        if self.extensions is None:
            return True
        return name.rsplit(".", 1)[-1].lower() in self.extensions if "." in name else False

    def _torrent_files(self, torrent: Torrent, info: TorrentInfo, with_hidden: bool = False) -> list[Shown]:
        """The files shown for a torrent: selected, linked, not dead, wanted (and
        not removed by rm, unless `with_hidden`). When the links do not match the
        selected files one to one (RD packed them into an archive), each link is
        shown as what it is, under the name `/unrestrict/link` gives it: never
        a member's name over the archive's bytes."""
        if info.links_match_files:
            candidates = [Shown(f"f{file.id}", file.path, file.bytes, ("tfile", torrent.id, position), file.id)
                          for position, (file, _link) in enumerate(info.selected_files_with_links())]
        else:
            candidates = []
            for index, link in enumerate(info.torrent.links):
                named = self.link_names.get(link)
                if named is not None:
                    candidates.append(Shown(f"l{index}", "/" + named[0], named[1],
                                            ("tlink", torrent.id, index), -1 - index))
                    # stored members of a RAR: files of their own, byte ranges of the archive
                    candidates += [Shown(f"l{index}m{n}", "/" + path, size, ("tmember", torrent.id, index, n),
                                         -1 - index)
                                   for n, (path, _offset, size) in enumerate(self.rar_members.get(link, ()))]
        shown = []
        for item in candidates:
            if (torrent.id, item.dead_key) in self.dead:
                continue
            if not with_hidden and f"t/{torrent.id}/{item.key}" in self.hidden:
                continue
            if not self._wanted_file(item.path):
                continue
            shown.append(item)
        return shown

    def _has_files(self, torrent: Torrent, info: TorrentInfo | None) -> bool:
        """Whether a torrent directory has something to show (or may have: its
        details or its archive's names are not known yet)."""
        if info is None or self._unnamed_links(info):
            return True
        return bool(self._torrent_files(torrent, info, with_hidden=True))

    def _unnamed_links(self, info: TorrentInfo) -> list[str]:
        if info.links_match_files:
            return []
        return [link for index, link in enumerate(info.torrent.links)
                if link not in self.link_names and (info.torrent.id, -1 - index) not in self.dead]

    async def _name_links(self, tid: str, info: TorrentInfo, priority: int) -> None:
        """Learns the name and size of each link of an archived torrent: from
        the downloads list when RD already unrestricted it, else `/unrestrict/link`
        (whose direct link is kept for reading)."""
        for index, link in enumerate(info.torrent.links):
            if link in self.link_names or (tid, -1 - index) in self.dead:
                continue
            known = next((d for d in self.downloads if d.link == link and d.filesize), None)
            if known is not None:
                self.link_names[link] = (known.filename, known.filesize)
                continue
            try:
                fresh = await self.client.unrestrict_link(link, priority)
            except FileUnavailable as exc:
                await self._unservable(tid, -1 - index, f"link {index + 1}", exc)
                if (tid, -1 - index) not in self.dead:
                    raise
                continue
            self.link_names[link] = (fresh.filename or f"link {index + 1}", fresh.filesize)
            await self._keep_link(link, DirectLink(fresh.download, fresh.filesize, fresh.chunks or None),
                                  fresh.chunks)
        if self.store is not None:
            await self.store.save_torrents([], [], {"link_names": self.link_names})

    def _unexamined_archives(self, info: TorrentInfo) -> list[int]:
        """Indexes of an archived torrent's links that are RARs not yet examined."""
        if info.links_match_files or self.engine is None:
            return []
        return [index for index, link in enumerate(info.torrent.links)
                if link in self.link_names and link not in self.rar_members
                and self.link_names[link][0].lower().endswith(".rar")
                and (info.torrent.id, -1 - index) not in self.dead]

    async def _examine_archives(self, tid: str, info: TorrentInfo) -> None:
        """Reads the headers of each RAR link (through the read engine) and
        keeps its stored members (vfs/archives.py). A read that fails leaves
        the archive unexamined: it is tried again at the next listing."""
        for index in self._unexamined_archives(info):
            link = info.torrent.links[index]
            try:
                members = await stored_members(self.engine, (self.name, f"t/{tid}/l{index}"), self,
                                               ("tlink", tid, index), self.link_names[link][1])
            except RemoteError as exc:
                log.info("Real-Debrid: could not read the archive %s: %s", self.link_names[link][0], exc)
                continue
            except rarfile.Error as exc:
                log.info("Real-Debrid: %s is not a RAR archive we can read (%s); shown as it is",
                         self.link_names[link][0], exc)
                members = []
            self.rar_members[link] = [(m.path, m.offset, m.size) for m in members]
            log.info("Real-Debrid: %s holds %d stored members", self.link_names[link][0], len(members))
            if self.store is not None:
                await self.store.save_torrents([], [], {"rar_members": self.rar_members})

    def _torrent_entries(self, torrent: Torrent, info: TorrentInfo, prefix: str, view: str) -> list[Entry]:
        """Entries directly below `prefix` ('' or 'a/b/') inside the torrent.
        Two files with the same path are two entries (keyed by file id): the
        tree gives them distinct names."""
        mtime = torrent.ended or torrent.added or 0
        entries: dict[str, Entry] = {}
        for item in self._torrent_files(torrent, info):
            path = item.path.lstrip("/")
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
                entries[item.key] = Entry(head, f"{view}t/{torrent.id}/{item.key}", False,
                                          size=item.size, mtime=mtime, ref=item.ref,
                                          rank=(abs(item.dead_key),))
        return list(entries.values())

    # ------------------------------------------------------------------ status files

    def torrents_status(self) -> bytes:
        """Every torrent, under the name the mount shows it by (its Real-Debrid
        name when it is not shown), and the files that are hidden, and why."""
        shown = self._shown_names()[""]
        lines = ["# Real-Debrid torrents: status, progress, name (id)", ""]
        for tid in self.order:
            t = self.torrents.get(tid)
            if t is None:
                continue
            lines.append(f"{t.status:<24} {t.progress:5.1f}%  {shown.get(tid, t.filename)} ({t.id})")
        now = time.monotonic()
        waits = [f"{reason:<24} {shown.get(tid) or tid}: file {key}, asked again in {until - now:.0f}s"
                 for (tid, key), (until, reason) in sorted(self.unavailable.items()) if until > now]
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
        if kind == "tmember":
            _, tid, index, n = ref
            archive = await self.resolve(("tlink", tid, index), refresh=refresh)
            info = self.infos.get(tid)
            members = self.rar_members.get(info.torrent.links[index], []) if info is not None else []
            if n >= len(members):
                raise NotFound(f"{ref!r} is gone")
            _path, offset, size = members[n]
            return DirectLink(archive.url, size, archive.max_connections, offset=offset, total=archive.size)
        if kind not in ("tfile", "tlink"):
            raise NotFound(f"not a file: {ref!r}")
        tid = ref[1]
        info = self.infos.get(tid)
        if info is None:
            if tid not in self.torrents:
                raise NotFound(f"torrent {tid} is gone")
            info = await self._load_info(tid, FOREGROUND)
        shown = next((item for item in self._torrent_files(self.torrents.get(tid) or info.torrent, info,
                                                           with_hidden=True) if item.ref == ref), None)
        if shown is None:
            raise NotFound(f"{ref!r} is gone")
        hoster_link = info.torrent.links[ref[2]] if kind == "tlink" else \
            info.selected_files_with_links()[ref[2]][1]
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
            raise FileUnavailable(f"{shown.path}: unavailable on Real-Debrid ({waiting[1]}); asked "
                                  f"again in {waiting[0] - time.monotonic():.0f}s", code=24)
        broken = self.repairs.broken(tid, shown.dead_key)
        if broken is not None:
            # known broken: asking again would only get 19 again (NOTES 2.4)
            raise NeedsRepair(f"{shown.path}: broken on Real-Debrid ({broken.reason}); "
                              "see torrents/.status", code=19)
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

    async def _keep_link(self, hoster_link: str, link: DirectLink, chunks: int) -> None:
        now = time.time()
        self.links[hoster_link] = (link, now)
        if self.store is not None:
            await self.store.save_link(hoster_link, link.url, link.size, chunks, now)

    async def _unservable(self, tid: str, dead_key: int, path: str, exc: FileUnavailable) -> None:
        """Infringing (35/451) is for good: the file is hidden. Unavailable (24)
        is for now (ERROR_TABLE): the file stays listed, its reads fail at once
        until the table's wait has passed, then Real-Debrid is asked again."""
        if exc.code == 35 or exc.status == 451:
            await self._mark_dead(tid, dead_key, path, exc)
            return
        wait = exc.retry_after if exc.retry_after is not None else UNAVAILABLE_WAIT
        self.unavailable[tid, dead_key] = (time.monotonic() + wait, "unavailable_file")
        log.info("Real-Debrid: %s is unavailable for now; asking again in %.0fs", path, wait)

    async def _mark_dead(self, tid: str, dead_key: int, path: str, exc: RemoteError) -> None:
        reason = {24: "unavailable_file", 35: "infringing_file"}.get(exc.code or 0, "unavailable")
        log.warning("Real-Debrid: %s of %s is %s; hiding it (see torrents/.status)",
                    path, self.torrents[tid].filename if tid in self.torrents else tid, reason)
        self.dead[tid, dead_key] = reason
        if self.store is not None:
            await self.store.mark_dead(tid, dead_key, reason)
        self._notify(*self._top_refs(), *[("torrent", tid, "", view) for view in self._views()])

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
            tid = await self.client.add_magnet(magnet)
        else:
            tid = await self.client.add_torrent(data)
        log.info("Real-Debrid: added %s as torrent %s", name, tid)
        self.pending[tid] = time.time()
        self.wake()
        return None

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
            await self._find_sizes(added)
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
        if kind in ("tfile", "tlink", "tmember"):
            tid = ref[1]
            name = self.torrents[tid].filename if tid in self.torrents else tid
            self._refuse_delete(f"torrent {name}")
            # One file of a torrent cannot be deleted on Real-Debrid: it is hidden
            # until the torrent directory itself is removed (rm -r does both).
            info = self.infos.get(tid)
            torrent = self.torrents.get(tid)
            if info is not None and torrent is not None:
                for item in self._torrent_files(torrent, info, with_hidden=True):
                    if item.ref == ref:
                        self.hidden.add(f"t/{tid}/{item.key}")
            return
        raise NotFound(f"not a file: {ref!r}")

    async def rmdir(self, parent_ref: Any, ref: Any) -> None:
        if ref[0] != "torrent" or ref[3]:
            raise ReadOnly("only torrent directories in torrents/ can be removed")
        _, tid, prefix, _view = ref
        torrent = self.torrents.get(tid)
        self._refuse_delete(f"torrent {torrent.filename if torrent else tid}")
        if torrent is not None:
            # Emptiness is judged on the details: load them when they are not
            # here (a failure refuses the rmdir), never assume a torrent empty.
            info = self.infos.get(tid)
            if info is None or self._needs_info(tid):
                info = await self._load_info(tid, FOREGROUND)
            if self._unnamed_links(info) or [item for item in self._torrent_files(torrent, info)
                                             if item.path.lstrip("/").startswith(prefix)]:
                raise NotEmpty(f"{torrent.filename}/{prefix}: not empty")
        if prefix:
            self.hidden.add(f"t/{tid}/{prefix}")
            return
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
