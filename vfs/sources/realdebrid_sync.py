"""Real-Debrid source, part 2: the background sync.

Reads `/torrents` and `/downloads` (never shrinking on unproven listings:
docs/invariants.md), fetches details of new or changed torrents, names the
links of archived torrents and examines RAR archives, runs repairs
(realdebrid_repair.py), persists everything (realdebrid_store.py) and runs
the on_change hook with the names the mount shows.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import time
from typing import Any

import rarfile
import trio

from clients.errors import FileUnavailable, NotFound, RemoteError
from clients.ratelimit import BACKGROUND, FOREGROUND
from clients.realdebrid import Page, TorrentInfo, proven_complete

from .. import heap
from ..archives import stored_members
from ..progress import Progress
from .base import DirectLink
from .realdebrid_refs import DownloadsDir, TorrentDir, TorrentLink
from .realdebrid_repair import Repair
from .realdebrid_state import (
    ACTIVE_STATUSES,
    CONFIRM_GONE_MAX,
    FULL_PASS_EVERY,
    HOOK_ENV_KEEP,
    HOOK_ENV_MAX,
    INFO_CONCURRENCY,
    MAX_PAGES,
    ON_CHANGE_TIMEOUT,
    PAGE_LIMIT,
    PENDING_POLL,
    UNAVAILABLE_WAIT,
    RealDebridState,
    info_signature,
)

log = logging.getLogger(__name__)


class RealDebridSync(RealDebridState):
    """The sync: everything that asks Real-Debrid to update the state."""

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
                self.last_error = (time.time(), str(exc))
            else:
                self.last_sync = time.time()
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
        whole = True  # read to the end, without error or gap
        while True:
            index = len(pages)
            if page.items is None:  # unchanged since our copy of this page
                if index >= len(old_pages):
                    whole = False
                    break
                ids = [tid for tid in old_pages[index][1] if tid in self.items]
                for tid in ids:
                    fresh.setdefault(tid, self.items[tid])
            else:
                ids = [str(item["id"]) for item in page.items]
                for tid, item in zip(ids, page.items, strict=True):
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
                log.info(
                    "Real-Debrid: torrent list page at %d failed (%s); keeping torrents that were not seen",
                    offset,
                    exc,
                )
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
            log.info(
                "Real-Debrid: the torrent list left out %d torrents that may still exist; keeping them",
                len(missing) - len(gone),
            )
            break
        return gone

    async def _apply_torrents(
        self,
        fresh: dict[str, dict[str, Any]],
        pages: list[tuple[str | None, list[str]]],
        total: int | None,
        complete: bool,
        whole: bool,
        gone: list[str],
    ) -> list[tuple[str, str]]:
        changed_ids = [tid for tid, item in fresh.items() if self.items.get(tid) != item]
        removed = [tid for tid in self.torrents if tid not in fresh] if complete else list(gone)
        if not complete:
            log.info(
                "Real-Debrid: torrent list not proven complete (%d read, total %s); "
                "%d torrents not seen were confirmed gone",
                len(fresh),
                total,
                len(removed),
            )
        # the names shown before, for the hook (only worth computing when something changed)
        before = self._shown_names() if changed_ids or removed else None
        for tid in changed_ids:
            self._put_item(fresh[tid])
        for tid in removed:
            self._forget_torrent(tid)
        if complete:
            self.order = list(fresh)
        else:
            self.order = list(fresh) + [
                tid for tid in self.order if tid not in fresh and tid in self.torrents
            ]
        if whole:
            # The next cheap check compares against what was read, proven or not.
            self.pages, self.total = pages, total
        if self.store is not None:
            await self.store.save_torrents(
                [
                    (tid, fresh[tid], None if tid not in self.infos else self._info_json(tid))
                    for tid in changed_ids
                ],
                removed,
                {"torrent_pages": self.pages, "torrent_total": self.total},
            )
        if changed_ids or removed:
            log.info("Real-Debrid: %d torrents changed, %d removed", len(changed_ids), len(removed))
            self._notify(*self._top_refs())
            # A torrent whose details must be fetched again is notified once they
            # are here (_fetch_infos): relisting it now would fetch them at
            # FOREGROUND priority, ahead of reads.
            ready = [tid for tid in changed_ids if not self._needs_info(tid)]
            if len(ready) <= 100:
                self._notify(*[TorrentDir(tid, "", view) for tid in ready for view in self._views()])
        return self._changes(before, set(changed_ids) | set(removed)) if before is not None else []

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
                    changes.append(("added" if tid in self.unannounced else "changed", f"{where}/{now}"))
                    continue
                if was is not None:
                    changes.append(("removed", f"{where}/{was}"))
                if now is not None:
                    changes.append(("added", f"{where}/{now}"))
        self.unannounced -= touched
        return changes

    async def _fetch_infos(self) -> None:
        """`/torrents/info` for new or changed finished torrents only, a few at a time."""
        wanted = [tid for tid in self.order if self._needs_info(tid)]
        if not wanted:
            return
        log.info("Real-Debrid: fetching details of %d torrents", len(wanted))
        progress = self.progress = Progress("Real-Debrid: torrent details", len(wanted), log)
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
                progress.advance()

        async def flush() -> None:
            done, batch[:] = list(batch), []
            if done and self.store is not None:
                await self.store.save_torrents(
                    [(tid, self.items[tid], self._raw_infos[tid]) for tid in done if tid in self.items], []
                )

        for start in range(0, len(wanted), 500):
            async with trio.open_nursery() as nursery:
                for tid in wanted[start : start + 500]:
                    nursery.start_soon(one, tid)
            await flush()
        log.info("%s", progress.finished())
        self.progress = None
        self._notify(*self._top_refs())
        if len(fetched) <= 100:
            self._notify(*[TorrentDir(tid, "", view) for tid in fetched for view in self._views()])

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
            heap.made(len(info.files) + 8)  # kept until the torrent changes
            torrent = self.torrents.get(tid)
            showed = torrent is not None and self._has_files(torrent, self.infos.get(tid))
            self._raw_infos[tid] = raw
            self.infos[tid] = info
            self.info_sigs[tid] = info_signature(info.torrent)
            if tid in self.torrents and info_signature(info.torrent) != info_signature(self.torrents[tid]):
                # the info is newer than our list item: believe it
                merged = {**self.items[tid], **{k: raw[k] for k in raw if k != "files"}}
                self._put_item(merged)
            if tid in self.torrents and self._has_files(self.torrents[tid], info) != showed:
                # (one torrent at a time, not all at listing; most details change no directory)
                self._dirs_changed()
            if save and self.store is not None:
                await self.store.save_torrents([(tid, self.items.get(tid, raw), raw)], [])
            return info

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
                self._files_changed(tid)
                continue
            try:
                fresh = await self.client.unrestrict_link(link, priority)
            except FileUnavailable as exc:
                await self._unservable(tid, -1 - index, f"link {index + 1}", exc)
                if (tid, -1 - index) not in self.dead:
                    raise
                continue
            self.link_names[link] = (fresh.filename or f"link {index + 1}", fresh.filesize)
            self._files_changed(tid)
            await self._keep_link(
                link, DirectLink(fresh.download, fresh.filesize, fresh.chunks or None), fresh.chunks
            )
        if self.store is not None:
            await self.store.save_torrents([], [], {"link_names": self.link_names})

    async def _examine_archives(self, tid: str, info: TorrentInfo) -> None:
        """Reads the headers of each RAR link (through the read engine) and
        keeps its stored members (vfs/archives.py). A read that fails leaves
        the archive unexamined: it is tried again at the next listing."""
        for index in self._unexamined_archives(info):
            link = info.torrent.links[index]
            try:
                members = await stored_members(
                    self.engine,
                    (self.name, f"t/{tid}/l{index}"),
                    self,
                    TorrentLink(tid, index),
                    self.link_names[link][1],
                )
            except RemoteError as exc:
                log.info("Real-Debrid: could not read the archive %s: %s", self.link_names[link][0], exc)
                continue
            except rarfile.Error as exc:
                log.info(
                    "Real-Debrid: %s is not a RAR archive we can read (%s); shown as it is",
                    self.link_names[link][0],
                    exc,
                )
                members = []
            self.rar_members[link] = [(m.path, m.offset, m.size) for m in members]
            self._files_changed(tid)
            log.info("Real-Debrid: %s holds %d stored members", self.link_names[link][0], len(members))
            if self.store is not None:
                await self.store.save_torrents([], [], {"rar_members": self.rar_members})

    async def refresh_downloads(self) -> bool:
        """Reads `/downloads`; an entry not seen stays unless the listing is
        proven complete (as for torrents)."""
        first = await self.client.page("/downloads", 0, PAGE_LIMIT, self.downloads_etag)
        if first.items is None and (
            first.total == len(self.downloads) or (first.total is None and len(self.downloads) < PAGE_LIMIT)
        ):
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
            len(by_id) == len(items) and by_id == {str(d.get("id")): d for d in self.download_items}
        ):
            return False  # the same entries (an unproven listing may only reorder them)
        self._set_downloads(items)
        self.downloads_etag = first.etag
        if self.store is not None:
            await self.store.save_downloads(
                items, {"downloads_etag": first.etag, **({"download_sizes": self.sizes} if probed else {})}
            )
        self._notify(DownloadsDir())
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
                ids = [
                    str(f.get("id"))
                    for f in raw.get("files") or []
                    if keep is not None and keep(str(f.get("path", "")))
                ]
                await self.client.select_files(tid, ",".join(ids) or "all")
                self.selections.pop(tid, None)
                log.info("Real-Debrid: selected %s files of %s", len(ids) or "all", raw.get("filename", tid))
            elif status not in ACTIVE_STATUSES:
                # downloaded, or an end state (error, dead, virus...): the sync takes over
                self.pending.pop(tid, None)
            if tid in self.items or status:
                item = {k: v for k, v in raw.items() if k != "files"}
                if self.items.get(tid) != item:
                    shown = tid in self.torrents and self._visible(self.torrents[tid])
                    self._put_item(item)
                    if not shown and self._visible(self.torrents[tid]):
                        # shown before the list sync sees it: that sync reports it as added
                        self.unannounced.add(tid)
                    if tid not in self.order:
                        self.order.insert(0, tid)
                        self._dirs_changed()
                    self._notify(*self._top_refs())
            if time.time() - self.pending.get(tid, time.time()) > 3600:
                self.pending.pop(tid, None)

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
        log.warning(
            "Real-Debrid: %s of %s is %s; hiding it (see torrents/.status)",
            path,
            self.torrents[tid].filename if tid in self.torrents else tid,
            reason,
        )
        self.dead[tid, dead_key] = reason
        self._files_changed(tid)
        if self.store is not None:
            await self.store.mark_dead(tid, dead_key, reason)
        self._notify(*self._top_refs(), *[TorrentDir(tid, "", view) for view in self._views()])

    def _run_on_change(self, changed: list[tuple[str, str]]) -> None:
        """Starts the on_change command with the paths that changed (absolute
        when the mount point is known; the names the mount shows), in the
        background: a media server's scan must not hold up the sync. It is
        reaped, and killed after ON_CHANGE_TIMEOUT; commands run one at a time."""
        if not changed:
            return
        base = self.mountpoint
        changes = [(kind, str(base / path) if base is not None else path) for kind, path in changed]
        if base is not None:
            for listener in self.change_listeners:  # e.g. media-server notifications
                listener(changes)
        if self.rd.on_change and self._hooks is not None:
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
        program = self.rd.on_change
        if not program:  # _run_on_change starts us only when it is set
            return
        paths = list(dict.fromkeys(path for _kind, path in changes))
        command = [*program, *paths]
        async with self._hook_slot:
            try:
                with trio.move_on_after(ON_CHANGE_TIMEOUT) as scope:
                    done = await trio.run_process(
                        command,
                        stdin=subprocess.DEVNULL,
                        check=False,
                        start_new_session=True,
                        env=self._hook_env(changes),
                    )
            except OSError as exc:
                log.warning("on_change command %s failed to start: %s", program[0], exc)
                return
        if scope.cancelled_caught:
            log.warning("on_change command %s ran longer than %.0fs; killed", program[0], ON_CHANGE_TIMEOUT)
        elif done.returncode != 0:
            log.warning("on_change command %s exited with status %d", program[0], done.returncode)
        else:
            log.info("on_change: ran %s with %d paths", program[0], len(paths))


@contextlib.asynccontextmanager
async def _no_lock() -> Any:
    yield
