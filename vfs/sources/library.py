"""`MOUNT/library/{movies,shows}`: the Real-Debrid torrents as a media library.

`movies/Title (Year)/<file>` and `shows/Title (Year)/Season NN/<file>`, placed
from release names (vfs/release.py); samples, extras, non-video files and
names that do not parse stay only in `realdebrid/torrents/`. It is a view of
the Real-Debrid source's memory: no API call, ever (a torrent whose details
are not synced yet joins when they are). Files resolve through the
Real-Debrid source, so they are the same remote files as in `torrents/`.

The whole view is rebuilt (parse results are cached, so this is cheap) after
the Real-Debrid source reports a change, and only the directories whose
entries changed are marked stale. Keys are Real-Debrid ids (files) and the
normalised title and year (folders), so inodes and names stay the same across
refreshes and remounts; clashing names are resolved by `unique_names` in key
order like everywhere else. Changed title folders are reported to
`change_listeners` (media-server notifications).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from clients.errors import NotFound

from ..names import safe_name
from ..release import Place, place
from .base import DirectLink, Entry, Ref, Source
from .realdebrid_state import Shown

if TYPE_CHECKING:
    from clients.realdebrid import Torrent

    from .realdebrid import RealDebridSource

log = logging.getLogger(__name__)

REBUILD_EVERY = 30.0  # seconds: also catches details loaded on demand (no change event)


@dataclass(frozen=True, slots=True)
class KindDir(Ref):
    """`movies/` or `shows/`."""

    kind: str


@dataclass(frozen=True, slots=True)
class TitleDir(Ref):
    """A title's folder, by its normalised title and year."""

    key: str


@dataclass(frozen=True, slots=True)
class SeasonDir(Ref):
    """`Season NN/` of a show's folder."""

    key: str
    season: int


class LibrarySource(Source):
    name = "library"
    listings_in_memory = True

    def __init__(self, rd: RealDebridSource) -> None:
        self.rd = rd
        self.index: dict[Ref, list[Entry]] = {}
        self.folders: dict[TitleDir, str] = {}  # folder ref -> its name (for notifications)
        self.change_listeners: list[Callable[[list[tuple[str, str]]], None]] = []
        self._dirty = trio.Event()
        self._built = False
        self._tree_changed: Callable[[Ref | None], None] | None = None

    def listing_changed(self, callback: Callable[[Ref | None], None]) -> None:
        self._tree_changed = callback
        inner = self.rd._on_change

        def both(ref: Ref | None) -> None:  # the Real-Debrid source changed
            if inner is not None:
                inner(ref)
            self._dirty.set()

        self.rd._on_change = both

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        await self.rebuild()
        task_status.started()
        while True:
            with trio.move_on_after(REBUILD_EVERY):
                await self._dirty.wait()
            self._dirty = trio.Event()
            await self.rebuild()
            await trio.sleep(0.2)  # changes come in bursts during a sync

    # ------------------------------------------------------------------ the view

    def _shown(self) -> list[tuple[str, Torrent, list[Shown]]]:
        shown = []
        for tid in self.rd.order:
            torrent = self.rd.torrents.get(tid)
            files = self.rd.shown_files(tid) if torrent is not None else None
            if torrent is not None and files:
                shown.append((tid, torrent, files))
        return shown

    async def rebuild(self) -> None:
        # Placing thousands of names takes seconds when they are new (and tens of
        # ms when cached): a worker thread does it on a snapshot of what is shown.
        shown = self._shown()
        pairs = [(torrent.filename, item.path) for _tid, torrent, files in shown for item in files]
        places = iter(await trio.to_thread.run_sync(_place_all, pairs))
        self._rebuild([(tid, item, next(places)) for tid, _torrent, files in shown for item in files])

    def _rebuild(self, placed_files: list[tuple[str, Shown, Place | None]]) -> None:
        started = time.monotonic()
        placed: dict[str, list[tuple[Place, str, Shown]]] = defaultdict(list)
        titles: dict[str, Counter[str]] = defaultdict(Counter)
        for tid, item, where in placed_files:
            if where is None:
                continue
            placed[where.key].append((where, tid, item))
            titles[where.key][where.folder] += 1
        index: dict[Ref, list[Entry]] = {KindDir("movies"): [], KindDir("shows"): []}
        folders: dict[TitleDir, str] = {}
        for key, items in placed.items():
            # the folder's name: its most common spelling (ties: the first in order)
            folder = sorted(titles[key].items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
            kind = items[0][0].kind
            mtime = max(self._mtime(tid) for _w, tid, _i in items)
            ref = TitleDir(key)
            folders[ref] = f"{kind}/{folder}"
            index[KindDir(kind)].append(Entry(folder, f"d/{key}", True, mtime=mtime, ref=ref))
            if kind == "movies":
                index[ref] = [self._file_entry(tid, item) for _w, tid, item in items]
                continue
            seasons: dict[int, list[Entry]] = defaultdict(list)
            for where, tid, item in items:
                seasons[where.season or 0].append(self._file_entry(tid, item))
            index[ref] = [
                Entry(f"Season {n:02d}", f"d/{key}/s{n}", True, mtime=mtime, ref=SeasonDir(key, n))
                for n in sorted(seasons)
            ]
            for n, entries in seasons.items():
                index[SeasonDir(key, n)] = entries
        old, self.index = self.index, index
        old_folders, self.folders = self.folders, folders
        changed = [d for d in set(old) | set(index) if _shape(old.get(d)) != _shape(index.get(d))]
        for directory in changed:
            if self._tree_changed is not None and directory in old:
                self._tree_changed(directory)
        if self._built:
            self._report(changed, old_folders)
        self._built = True
        log.debug(
            "library: %d titles from %d torrents in %.3fs",
            len(folders),
            len(self.rd.order),
            time.monotonic() - started,
        )

    def _mtime(self, tid: str) -> float:
        torrent = self.rd.torrents.get(tid)
        return (torrent.ended or torrent.added or 0) if torrent else 0

    def _file_entry(self, tid: str, item: Shown) -> Entry:
        """`item` is the Real-Debrid source's Shown: its ref resolves through that source."""
        return Entry(
            item.path.rsplit("/", 1)[-1],
            f"f/{tid}/{item.key}",
            False,
            size=item.size,
            mtime=self._mtime(tid),
            ref=item.ref,
        )

    def _report(self, changed: list[Ref], old_folders: dict[TitleDir, str]) -> None:
        if self.mountpoint is None or not self.change_listeners:
            return
        changes = []
        for changed_ref in changed:
            match changed_ref:
                case TitleDir():
                    ref = changed_ref
                case SeasonDir(key):
                    ref = TitleDir(key)
                case _:
                    continue
            gone = ref not in self.folders
            name = old_folders.get(ref) if gone else self.folders[ref]
            if name is not None:
                kind, _, folder = name.partition("/")
                what = "removed" if gone else "changed" if ref in old_folders else "added"
                changes.append((what, str(self.mountpoint / "library" / kind / safe_name(folder))))
        changes = list(dict.fromkeys(changes))
        if changes:
            for listener in self.change_listeners:
                listener(changes)

    # ------------------------------------------------------------------ the source contract

    async def list_dir(self, ref: Ref | None) -> list[Entry]:
        if ref is None:
            now = time.time()
            return [
                Entry("movies", "movies", True, mtime=now, ref=KindDir("movies")),
                Entry("shows", "shows", True, mtime=now, ref=KindDir("shows")),
            ]
        entries = self.index.get(ref)
        if entries is None:
            raise NotFound(f"library: {ref!r} is gone")
        return entries

    async def resolve(self, ref: Ref | None, *, refresh: bool = False) -> DirectLink:
        link: DirectLink = await self.rd.resolve(ref, refresh=refresh)
        return link


def _place_all(pairs: list[tuple[str, str]]) -> list[Place | None]:
    return [place(torrent_name, path) for torrent_name, path in pairs]


def _shape(entries: list[Entry] | None) -> Any:
    if entries is None:
        return None
    return [(e.key, e.name, e.size, e.mtime) for e in entries]
