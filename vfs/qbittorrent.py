"""A download client for Sonarr and Radarr: what the qBittorrent WebAPI v2 shows
of the torrents they add, kept on Real-Debrid.

A torrent added through the API goes to Real-Debrid by the Real-Debrid
source's one add path (`RealDebridSource.add`: the rate limiter, file
selection, `torrents/.status`), selecting its video files (all files when it
has none). Its qBittorrent state follows Real-Debrid's
status; once it is `downloaded` and its files show in the mount, its
category's directory (a local directory) gets `<torrent>/<path>` symlinks with
absolute targets inside the mount, each written atomically (a temporary name,
then rename), and only then is it reported complete with `content_path`
pointing there: the *arr app imports by moving a symlink, no byte is copied.
Deleting it removes the symlinks this service wrote; the torrent is deleted on
Real-Debrid only when the app asks for its files to go (`deleteFiles`) and
`[realdebrid] allow_delete` permits. What Real-Debrid refuses (infringing,
dead, too many active downloads...) becomes the `error` state with a reason
(`torrents/properties` comment, `.debridfs/qbittorrent`, the log).

Which torrents it shows: the ones added through it, kept with their category
in `qbittorrent.json` in the state directory (so a remount knows them). The
HTTP side (vfs/qbittorrent_api.py) is an ASGI app served by hypercorn's trio
worker inside the mount's nursery.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trio

from clients.errors import RemoteError

from .config import Config, QbittorrentConfig, valid_category
from .names import safe_name
from .release import is_video
from .torrentfile import BadTorrent, magnet_hash, magnet_name, torrent_hash

log = logging.getLogger(__name__)

TRACK_INTERVAL = 1.0  # seconds between looks at Real-Debrid's state (memory only)
WAKE_EVERY = 5.0  # at most this often, ask the sync for details it has not fetched
MISSING_GRACE = 120.0  # an added torrent Real-Debrid never lists is an error after this
ERROR_STATUSES = {"error", "magnet_error", "virus", "dead"}
META_STATUSES = {"magnet_conversion", "waiting_files_selection"}
MAX_TORRENT_BYTES = 10 << 20  # a .torrent fetched from a URL larger than this is refused
INFINITE_ETA = 8640000  # what qBittorrent reports when it cannot tell


@dataclass
class Record:
    """One torrent as the *arr app knows it."""

    hash: str
    name: str
    category: str
    added_on: float
    tid: str | None = None  # Real-Debrid's id; None when adding failed
    error: str | None = None  # why it is in the `error` state
    seen: bool = False  # Real-Debrid listed it at least once
    completed_on: float | None = None
    content_path: str | None = None  # set once the symlinks are written
    links: list[str] = field(default_factory=list)  # symlinks written (absolute paths)


class QbittorrentService:
    def __init__(
        self,
        config: Config,
        http: httpx.AsyncClient,
        rd: Any,
        mountpoint: Path,
        changed: Callable[[list[str], str], None],
    ) -> None:
        qb = config.qbittorrent
        assert qb is not None
        self.qb: QbittorrentConfig = qb
        self.download_dir: Path = qb.download_dir or config.state_dir / "qbittorrent"
        self.http = http
        self.rd = rd
        self.allow_delete = bool(config.realdebrid and config.realdebrid.allow_delete)
        self.mountpoint = mountpoint
        self.changed = changed
        self.state_file = config.state_dir / "qbittorrent.json"
        self.records: dict[str, Record] = {}
        self.created_categories: dict[str, str] = {}  # made through the API: name -> directory
        self.listening: list[str] = []
        self._woken_at = -float("inf")
        self._save_lock = trio.Lock()
        self._nursery: trio.Nursery | None = None

    # ------------------------------------------------------------------ life

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        from hypercorn.config import Config as ServerConfig
        from hypercorn.trio import serve

        from .qbittorrent_api import build_app

        await trio.to_thread.run_sync(self._load)
        server = ServerConfig()
        host = f"[{self.qb.host}]" if ":" in self.qb.host else self.qb.host
        server.bind = [f"{host}:{self.qb.port}"]
        server.accesslog = None
        server.errorlog = logging.getLogger("hypercorn.error")
        server.graceful_timeout = 1.0
        async with trio.open_nursery() as nursery:
            try:
                self.listening = await nursery.start(serve, build_app(self), server)
            except (OSError, BaseExceptionGroup) as exc:
                # hypercorn binds inside its own nursery: the OSError comes in a group
                failure = exc.subgroup(OSError) if isinstance(exc, BaseExceptionGroup) else exc
                while isinstance(failure, BaseExceptionGroup):
                    failure = failure.exceptions[0]
                if failure is None:
                    raise
                log.error(
                    "qBittorrent API: cannot listen on %s:%d (%s); the mount goes on without it",
                    self.qb.host,
                    self.qb.port,
                    failure.strerror or failure,
                )
                task_status.started()
                return
            log.info("qBittorrent API listening on %s", " ".join(self.listening))
            self._nursery = nursery
            nursery.start_soon(self._track)
            task_status.started()

    def _load(self) -> None:
        try:
            data = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("qBittorrent API: %s is unreadable (%s); starting empty", self.state_file, exc)
            return
        self.created_categories = {str(k): str(v) for k, v in data.get("categories", {}).items()}
        for item in data.get("torrents", []):
            try:
                record = Record(**item)
            except TypeError:
                log.warning("qBittorrent API: skipping an unreadable torrent record in %s", self.state_file)
                continue
            self.records[record.hash] = record

    async def save(self) -> None:
        data = {"categories": self.created_categories, "torrents": [asdict(r) for r in self.records.values()]}
        text = json.dumps(data, indent=1)

        def write() -> None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_file.with_name(self.state_file.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.state_file)

        async with self._save_lock:
            await trio.to_thread.run_sync(write)

    # ------------------------------------------------------------------ categories

    def categories(self) -> dict[str, Path]:
        result = {name: Path(path) for name, path in self.created_categories.items()}
        result.update(self.qb.categories)
        return result

    def save_path(self, category: str) -> Path:
        return self.categories().get(category) or self.download_dir

    async def create_category(self, name: str, save_path: str) -> None:
        if not valid_category(name):
            raise ValueError("Invalid category name")
        if name in self.categories():
            raise FileExistsError("Category already exists")
        path = save_path.strip() or str(self.download_dir / name)
        if not os.path.isabs(path):
            raise ValueError("The save path must be absolute")
        self.created_categories[name] = path
        await self.save()

    async def remove_categories(self, names: list[str]) -> None:
        for name in names:
            self.created_categories.pop(name, None)
        await self.save()

    # ------------------------------------------------------------------ adding

    async def add_magnet(self, uri: str, category: str) -> None:
        hash_ = magnet_hash(uri)  # BadTorrent: not a magnet
        if hash_ in self.records:
            return
        await self._add(hash_, magnet_name(uri) or hash_, uri, category)

    async def add_torrent_file(self, data: bytes, category: str) -> None:
        hash_, name = torrent_hash(data)
        if hash_ in self.records:
            return
        await self._add(hash_, name or hash_, data, category)

    async def add_url(self, url: str, category: str) -> None:
        """A magnet, or an http(s) URL of a .torrent (which may redirect to a magnet)."""
        for _ in range(6):
            if url.startswith("magnet:"):
                await self.add_magnet(url, category)
                return
            if not url.startswith(("http://", "https://")):
                raise BadTorrent("only magnet and http(s) URLs can be added")
            try:
                async with self.http.stream("GET", url, follow_redirects=False) as response:
                    if response.is_redirect:
                        url = str(response.url.join(response.headers.get("location", "")))
                        continue
                    if response.status_code != 200:
                        raise BadTorrent(f"the .torrent URL answered {response.status_code}")
                    data = b""
                    async for chunk in response.aiter_bytes():
                        data += chunk
                        if len(data) > MAX_TORRENT_BYTES:
                            raise BadTorrent("the .torrent file is too large")
            except httpx.HTTPError as exc:
                raise BadTorrent(f"could not fetch the .torrent ({type(exc).__name__})") from None
            await self.add_torrent_file(data, category)
            return
        raise BadTorrent("too many redirects")

    async def _add(self, hash_: str, name: str, what: str | bytes, category: str) -> None:
        """Records the torrent (the app sees it at once, as metaDL) and hands it to
        Real-Debrid in the background: a slow or refusing service never holds up
        the app's request; a refusal becomes the error state."""
        record = Record(hash=hash_, name=name, category=category, added_on=time.time())
        self.records[hash_] = record
        await self.save()
        assert self._nursery is not None
        self._nursery.start_soon(self._send, record, what)

    async def _send(self, record: Record, what: str | bytes) -> None:
        try:
            record.tid = await self.rd.add(
                what, f"{record.name} (qBittorrent API, category {record.category or '-'})", keep=is_video
            )
        except RemoteError as exc:
            record.error = str(exc)
            log.warning("qBittorrent API: %s could not be added: %s", record.name, exc)
        record.added_on = time.time()  # the grace for Real-Debrid to list it starts now
        if self.records.get(record.hash) is record:
            await self.save()

    # ------------------------------------------------------------------ following Real-Debrid

    async def _track(self) -> None:
        while True:
            changed = False
            for record in list(self.records.values()):
                try:
                    changed |= await self._follow(record)
                except OSError as exc:
                    if record.error is None:
                        record.error = f"could not write the symlinks: {exc.strerror or exc}"
                        log.warning("qBittorrent API: %s: %s", record.name, record.error)
                        changed = True
            if changed:
                await self.save()
            await trio.sleep(TRACK_INTERVAL)

    async def _follow(self, record: Record) -> bool:
        """Moves `record` on from what the Real-Debrid source knows; True if it changed."""
        if record.error is not None or record.tid is None or record.content_path is not None:
            return False
        torrent = self.rd.torrents.get(record.tid)
        if torrent is None:
            if record.seen or time.time() - record.added_on > MISSING_GRACE:
                record.error = "the torrent is no longer on Real-Debrid"
                log.warning("qBittorrent API: %s: %s", record.name, record.error)
                return True
            return False
        changed = not record.seen
        record.seen = True
        if record.name == record.hash:
            # a magnet without a name: Real-Debrid's is the best there is. Otherwise the
            # release name the app gave stays (Real-Debrid renames single-file torrents
            # after their file; the app matches downloads by their release name).
            record.name, changed = torrent.filename, True
        if torrent.status in ERROR_STATUSES:
            record.error = f"Real-Debrid status {torrent.status}"
            log.warning("qBittorrent API: %s: %s", record.name, record.error)
            return True
        if torrent.status != "downloaded":
            return changed
        files = self.rd.shown_files(record.tid)
        if files is None:
            if time.monotonic() - self._woken_at > WAKE_EVERY:
                self._woken_at = time.monotonic()
                self.rd.wake()  # the next sync fetches the details
            return changed
        if not files:
            record.error = "Real-Debrid serves none of its files (see torrents/.status)"
            log.warning("qBittorrent API: %s: %s", record.name, record.error)
            return True
        return await self._link(record, torrent.filename, [item.path for item in files]) or changed

    async def _link(self, record: Record, name: str, paths: list[str]) -> bool:
        """Writes the symlinks once every target shows in the mount."""
        source_root = self.mountpoint / "realdebrid" / "torrents" / safe_name(name)
        link_root = self.save_path(record.category) / safe_name(record.name)
        pairs = []
        for path in paths:
            relative = Path(*[safe_name(part) for part in path.strip("/").split("/") if part])
            pairs.append((source_root / relative, link_root / relative))

        def write() -> list[str] | None:
            # stat through the mount from a worker thread: the daemon serves it
            if not all(os.path.exists(target) for target, _link in pairs):
                return None
            written = []
            for target, link in pairs:
                link.parent.mkdir(parents=True, exist_ok=True)
                tmp = link.with_name(f".{link.name}.debridfs-tmp")
                if os.path.lexists(tmp):
                    os.unlink(tmp)
                os.symlink(target, tmp)
                os.replace(tmp, link)
                written.append(str(link))
            return written

        written = await trio.to_thread.run_sync(write)
        if written is None:
            return False
        record.links = written
        record.content_path = str(link_root)
        record.completed_on = time.time()
        log.info("qBittorrent API: %s is complete: %d symlinks in %s", name, len(written), link_root)
        self.changed([str(link_root)], "Created")
        return True

    # ------------------------------------------------------------------ deleting

    async def delete(self, hashes: list[str], delete_files: bool) -> None:
        for hash_ in hashes:
            record = self.records.pop(hash_.lower(), None)
            if record is None:
                continue
            await trio.to_thread.run_sync(self._unlink, record)
            if record.content_path is not None:
                self.changed([record.content_path], "Deleted")
            if delete_files and record.tid is not None and record.tid in self.rd.torrents:
                if self.allow_delete:
                    await self.rd.delete(record.tid)
                else:
                    log.info(
                        "qBittorrent API: %s removed; kept on Real-Debrid (allow_delete = false)", record.name
                    )
        await self.save()

    def _unlink(self, record: Record) -> None:
        """Removes the symlinks this service wrote (those the app moved are gone
        already), then the directories they leave empty."""
        root = Path(record.content_path) if record.content_path else None
        for link in record.links:
            path = Path(link)
            if path.is_symlink():
                path.unlink()
            parent = path.parent
            while root is not None and parent != root.parent and parent.is_relative_to(root):
                try:
                    parent.rmdir()
                except OSError:
                    break
                parent = parent.parent

    async def set_category(self, hashes: list[str], category: str) -> None:
        if category and category not in self.categories():
            raise KeyError(category)
        for hash_ in hashes:
            record = self.records.get(hash_.lower())
            if record is None or record.category == category:
                continue
            if record.content_path is not None:
                # move the links: written again under the new category by the tracker
                await trio.to_thread.run_sync(self._unlink, record)
                self.changed([record.content_path], "Deleted")
                record.content_path, record.links, record.completed_on = None, [], None
            record.category = category
        await self.save()

    # ------------------------------------------------------------------ what the API shows

    def state_of(self, record: Record) -> tuple[str, float]:
        """(qBittorrent state, progress 0..1)."""
        if record.error is not None:
            return "error", 0.0
        if record.content_path is not None:
            return "pausedUP", 1.0
        torrent = self.rd.torrents.get(record.tid) if record.tid else None
        if torrent is None or torrent.status in META_STATUSES:
            return "metaDL", 0.0
        progress = min(max(torrent.progress / 100.0, 0.0), 1.0)
        if torrent.status == "downloaded":
            return "checkingUP", 1.0  # finished; symlinks not written yet
        if torrent.status == "queued":
            return "queuedDL", progress
        return "downloading", min(progress, 0.999)

    def info(self, record: Record) -> dict[str, Any]:
        state, progress = self.state_of(record)
        item = self.rd.items.get(record.tid, {}) if record.tid else {}
        size = int(item.get("bytes") or 0)
        speed = int(item.get("speed") or 0) if state == "downloading" else 0
        left = int(size * (1 - progress))
        save_path = str(self.save_path(record.category))
        return {
            "hash": record.hash,
            "name": record.name,
            "size": size,
            "total_size": size,
            "progress": progress,
            "dlspeed": speed,
            "upspeed": 0,
            "eta": 0 if progress >= 1 else (left // speed if speed else INFINITE_ETA),
            "state": state,
            "category": record.category,
            "tags": "",
            "save_path": save_path + "/",
            "content_path": record.content_path or os.path.join(save_path, safe_name(record.name)),
            "added_on": int(record.added_on),
            "completion_on": int(record.completed_on) if record.completed_on else -1,
            "amount_left": left,
            "downloaded": size - left,
            "uploaded": 0,
            "ratio": 0,
            "ratio_limit": -2,
            "seeding_time_limit": -2,
            "inactive_seeding_time_limit": -2,
            "seeding_time": 0,
            "time_active": int(time.time() - record.added_on),
            "last_activity": int(record.completed_on or record.added_on),
            "num_seeds": int(item.get("seeders") or 0),
            "num_leechs": 0,
            "priority": 0,
            "auto_tmm": False,
            "force_start": False,
            "super_seeding": False,
            "seq_dl": False,
            "magnet_uri": f"magnet:?xt=urn:btih:{record.hash}",
        }

    def files(self, record: Record) -> list[dict[str, Any]]:
        state, progress = self.state_of(record)
        info = self.rd.infos.get(record.tid) if record.tid else None
        if info is None:
            return []
        return [
            {
                "index": i,
                "name": file.path.lstrip("/"),
                "size": file.bytes,
                "progress": progress,
                "priority": 1,
                "is_seed": progress >= 1,
                "piece_range": [0, 0],
                "availability": 1,
            }
            for i, file in enumerate(f for f in info.files if f.selected)
        ]

    def status_text(self) -> bytes:
        lines = [
            "# qBittorrent API: " + (" ".join(self.listening) or "not listening"),
            "# state, category, name, reason",
            "",
        ]
        for record in self.records.values():
            state, progress = self.state_of(record)
            lines.append(
                f"{state:<12} {progress * 100:5.1f}%  {record.category or '-':<12} {record.name}"
                + (f"  ({record.error})" if record.error else "")
            )
        return ("\n".join(lines) + "\n").encode()
