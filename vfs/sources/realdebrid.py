"""Real-Debrid as a source: `downloads/`, `torrents/<name>/<path>`, optional groups.

Everything listed is served from memory (`realdebrid_state.py`), filled by
a background sync (`realdebrid_sync.py`) and persisted in sqlite
(`realdebrid_store.py`), so `ls -lR` costs no API call and a remount is
browsable at once; listings and links are `realdebrid_view.py`. This module
is the source itself: start-up, and the writes.

Writes: a `.torrent` or `.magnet` file copied into `torrents/` adds it; a
`.links` file in `downloads/` unrestricts each hoster link in it. Deleting
obeys `allow_delete`. `torrents/.status` and `downloads/.status` tell what
is not shown and why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import trio

from clients.errors import InvalidName, NotEmpty, NotFound, PermissionDenied, ReadOnly, RemoteError
from clients.ratelimit import FOREGROUND
from clients.realdebrid import TorrentInfo

from .base import DirectLink, Entry, Ref
from .links import LinkRow
from .realdebrid_refs import (
    ArchiveMember,
    DownloadFile,
    DownloadsDir,
    StatusFile,
    TorrentDir,
    TorrentFile,
    TorrentLink,
    TorrentsDir,
)
from .realdebrid_repair import Repairs
from .realdebrid_state import Shown, info_signature, load_credentials
from .realdebrid_store import Store
from .realdebrid_view import RealDebridView

log = logging.getLogger(__name__)


class RealDebridSource(RealDebridView):
    """Real-Debrid as a source (see the module docstring)."""

    name = "realdebrid"
    writable = True
    listings_in_memory = True

    async def check(self) -> None:
        user = await self.client.user()
        self.user = user
        log.info("Real-Debrid: logged in as %s (%s)", user.username or "?", user.type or "?")
        self.store = Store(self.state_dir / f"realdebrid-{user.id or 'account'}.sqlite3")
        started = time.monotonic()
        snap = await self.store.load()
        for tid, (item, info) in snap.torrents.items():
            self._put_item(item)
            if info is not None:
                self.infos[tid] = TorrentInfo.from_json(info)
                self._raw_infos[tid] = info
                self.info_sigs[tid] = info_signature(self.infos[tid].torrent)
        self.pages = [(etag, list(ids)) for etag, ids in snap.meta.get("torrent_pages", [])]
        self.order = [tid for _etag, ids in self.pages for tid in ids if tid in self.torrents]
        listed = set(self.order)
        self.order += [tid for tid in self.torrents if tid not in listed]
        total = snap.meta.get("torrent_total")
        self.total = total if isinstance(total, int) and total >= 0 else None
        self._listed = bool(snap.torrents or snap.downloads)
        self._set_downloads(snap.downloads)
        self.downloads_etag = snap.meta.get("downloads_etag")
        self.dead = dict(snap.dead)
        self.sizes = {str(k): int(v) for k, v in snap.meta.get("download_sizes", {}).items()}
        self.rar_members = {
            link: [(str(p), int(o), int(n)) for p, o, n in members]
            for link, members in snap.meta.get("rar_members", {}).items()
        }
        self.repairs = Repairs(
            self.client,
            self.rd.repair,
            self.rd.repair_interval,
            self.rd.repair_max_attempts,
            snap.meta.get("repairs"),
        )
        self.link_names = {
            link: (str(name), int(size)) for link, (name, size) in snap.meta.get("link_names", {}).items()
        }
        for link, (url, size, chunks, created) in snap.links.items():
            self.links[link] = (DirectLink(url, size, chunks or None), created)
        for tid, details in self.infos.items():
            # before the mount is up: the first listing of torrents/ finds it done
            self._has_files(self.torrents[tid], details)
        if snap.torrents or snap.downloads:
            # Shown from disk: the first refresh is the cheap check (one call);
            # /downloads and the full pass over every page come later.
            self._refreshes = 1
            self._downloads_at = time.monotonic()
            log.info(
                "Real-Debrid: %d torrents and %d downloads loaded from disk in %.2fs",
                len(self.torrents),
                len(self.downloads),
                time.monotonic() - started,
            )

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
                await self.store.aclose()

    async def create_file(self, parent_ref: Ref | None, name: str) -> None:
        if isinstance(parent_ref, TorrentsDir) and name.lower().endswith((".torrent", ".magnet")):
            return
        if isinstance(parent_ref, DownloadsDir) and name.lower().endswith(".links"):
            return
        raise ReadOnly(
            "only .torrent and .magnet files can be added in torrents/, .links files in downloads/"
        )

    async def commit_file(self, parent_ref: Ref | None, name: str, spool: Any) -> Entry | None:
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

    async def add(self, what: str | bytes, name: str, keep: Callable[[str], bool] | None = None) -> str:
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

    def shown_files(self, tid: str) -> list[Shown] | None:
        """The files a finished torrent shows (`.path` from the torrent's root,
        `.ref` resolves it), or None while it is not finished or its details are
        not synced. Memory only: never an API call."""
        torrent, info = self.torrents.get(tid), self.infos.get(tid)
        if torrent is None or info is None or not self._visible(torrent) or self._needs_info(tid):
            return None
        return self._torrent_files(torrent, info)

    async def _unrestrict(self, links: list[str]) -> list[tuple[str, dict[str, Any] | None, str]]:
        """Adds hoster links to the account: `/unrestrict/check`, then `/unrestrict/link`
        (which puts them in the downloads list). Returns (link, reply or None, result)."""
        results: list[tuple[str, dict[str, Any] | None, str]] = []
        for link in links:
            try:
                check = await self.client.unrestrict_check(link)
                data = await self.client.unrestrict_link_json(link)
            except RemoteError as exc:
                reason = f"failed: {exc.args[0].split(': ', 1)[-1] if exc.args else exc}"
                log.info("Real-Debrid: could not add %s: %s", link, reason)
                results.append((link, None, reason))
                continue
            results.append((link, data, f"added: {check.filename or ''}"))
        return results

    async def add_links(self, urls: list[str]) -> list[LinkRow]:
        """`debridfs add realdebrid URL...`: the links join the account's downloads,
        which a running mount shows at its next downloads refresh."""
        rows = []
        for link, data, result in await self._unrestrict(urls):
            if data is None:
                rows.append(
                    LinkRow("realdebrid", link, time.time(), "failed", reason=result.removeprefix("failed: "))
                )
            else:
                rows.append(
                    LinkRow(
                        "realdebrid",
                        link,
                        time.time(),
                        "ok",
                        name=data.get("filename"),
                        size=int(data.get("filesize") or 0),
                    )
                )
        return rows

    async def _add_links(self, text: str) -> None:
        links = [
            line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")
        ]
        added = []
        for link, data, result in await self._unrestrict(links):
            self.link_results.append((time.time(), link, result))
            if data is not None:
                added.append(
                    {
                        **data,
                        "generated": data.get("generated")
                        or time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                    }
                )
        if added:
            await self._find_sizes(added)
            ids = {item["id"] for item in added}
            self._set_downloads(
                added
                + [
                    d
                    for d in self.download_items
                    if d.get("id") not in ids and d.get("link") not in {a.get("link") for a in added}
                ]
            )
            if self.store is not None:
                await self.store.save_downloads(self.download_items)
        self._notify(DownloadsDir())

    def _refuse_delete(self, what: str) -> None:
        if not self.rd.allow_delete:
            log.warning(
                "refusing to delete %s on Real-Debrid: set allow_delete = true in the "
                "[realdebrid] section of the config to allow it",
                what,
            )
            raise PermissionDenied(f"deleting {what} is not allowed (allow_delete = false)")

    async def unlink(self, parent_ref: Ref | None, ref: Ref | None) -> None:
        match ref:
            case StatusFile():
                raise ReadOnly(".status is generated")
            case DownloadFile(download_id):
                await self._delete_download(download_id)
            case TorrentFile() | TorrentLink() | ArchiveMember():
                self._hide_file(ref)
            case _:
                raise NotFound(f"not a file: {ref!r}")

    async def _delete_download(self, download_id: str) -> None:
        download = next((d for d in self.downloads if d.id == download_id), None)
        self._refuse_delete(f"download {download.filename if download else download_id}")
        try:
            await self.client.delete_download(download_id)
        except NotFound:
            pass
        self._set_downloads([d for d in self.download_items if str(d.get("id")) != download_id])
        if self.store is not None:
            await self.store.save_downloads(self.download_items)

    def _hide_file(self, ref: TorrentFile | TorrentLink | ArchiveMember) -> None:
        """One file of a torrent cannot be deleted on Real-Debrid: it is hidden
        until the torrent directory itself is removed (rm -r does both)."""
        tid = ref.tid
        name = self.torrents[tid].filename if tid in self.torrents else tid
        self._refuse_delete(f"torrent {name}")
        info = self.infos.get(tid)
        torrent = self.torrents.get(tid)
        if info is not None and torrent is not None:
            for item in self._torrent_files(torrent, info, with_hidden=True):
                if item.ref == ref:
                    self.hidden.add(f"t/{tid}/{item.key}")
                    self._files_changed(tid)

    async def rmdir(self, parent_ref: Ref | None, ref: Ref | None) -> None:
        if not isinstance(ref, TorrentDir) or ref.view:
            raise ReadOnly("only torrent directories in torrents/ can be removed")
        tid, prefix = ref.tid, ref.prefix
        torrent = self.torrents.get(tid)
        self._refuse_delete(f"torrent {torrent.filename if torrent else tid}")
        if torrent is not None:
            # Emptiness is judged on the details: load them when they are not
            # here (a failure refuses the rmdir), never assume a torrent empty.
            info = self.infos.get(tid)
            if info is None or self._needs_info(tid):
                info = await self._load_info(tid, FOREGROUND)
            if self._unnamed_links(info) or any(
                item.path.lstrip("/").startswith(prefix) for item in self._torrent_files(torrent, info)
            ):
                raise NotEmpty(f"{torrent.filename}/{prefix}: not empty")
        if prefix:
            self.hidden.add(f"t/{tid}/{prefix}")
            self._files_changed(tid)
            return
        await self.delete(tid)

    async def delete(self, tid: str) -> None:
        """Deletes a torrent on Real-Debrid (callers check allow_delete first); the
        on_change hook and the change listeners hear of it like of any removal."""
        torrent = self.torrents.get(tid)
        try:
            await self.client.delete_torrent(tid)
        except NotFound:
            pass
        log.info("Real-Debrid: deleted torrent %s", torrent.filename if torrent else tid)
        before = self._shown_names()
        self._forget_torrent(tid)
        self.order = [t for t in self.order if t != tid]
        if self.store is not None:
            await self.store.save_torrents([], [tid])
        self._notify(*self._top_refs())
        self._run_on_change(self._changes(before, {tid}))


__all__ = ["RealDebridSource", "load_credentials"]
