"""Real-Debrid source, part 1: the state in memory and what it shows.

Everything listings need lives here (torrents, details, downloads, links,
dead files, names of archived links, RAR members), with the pure rules
deriving what is shown from it: which files a torrent shows (`_torrent_files`),
which torrent directories a view has (`_torrent_dirs`) and under which names
(`_shown_names`, the tree's own rule). No API call is made here.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trio

from clients.ratelimit import RateLimiter
from clients.realdebrid import (
    Credentials,
    Download,
    OAuthCredentials,
    RealDebridClient,
    Torrent,
    TorrentInfo,
    User,
)

from .. import heap
from ..config import Config, ConfigError
from ..names import unique_names
from ..progress import Progress
from .base import DirectLink, Entry, Ref, Source
from .realdebrid_refs import (
    ArchiveMember,
    GroupDir,
    TorrentDir,
    TorrentFile,
    TorrentItem,
    TorrentLink,
    TorrentsDir,
)
from .realdebrid_repair import Repairs
from .realdebrid_store import Store

log = logging.getLogger(__name__)

PLAYABLE_STATUS = "downloaded"
ACTIVE_STATUSES = {
    "magnet_conversion",
    "waiting_files_selection",
    "queued",
    "downloading",
    "compressing",
    "uploading",
}
PAGE_LIMIT = 2500
MAX_PAGES = 400  # 1,000,000 torrents: a list that never ends is not believed
UNAVAILABLE_WAIT = 600.0  # code 24 without a wait of its own (the table has one)
CONFIRM_GONE_MAX = 20  # /torrents/info calls per sync to confirm unlisted torrents are gone
INFO_CONCURRENCY = 8
PREPARE_BATCH = 500  # torrent directory entries made per trio step
FULL_PASS_EVERY = 10  # refreshes between full passes over every list page
PENDING_POLL = 2.0  # seconds between polls of torrents we added
ON_CHANGE_TIMEOUT = 300.0  # an on_change command running longer is killed
HOOK_ENV_KEEP = ("PATH", "HOME", "LANG")  # all an on_change command gets of our environment
HOOK_ENV_MAX = 64 * 1024  # bytes per DEBRIDFS_* list variable


@dataclass(frozen=True)
class Shown:
    """A file shown inside a torrent directory."""

    key: str  # "f<file id>", or "l<link index>" for a link shown as itself
    path: str  # inside the torrent, starting with "/"
    size: int
    ref: TorrentItem
    dead_key: int  # the file id in `dead`, or -1 - link index


def info_signature(torrent: Torrent) -> tuple[object, ...]:
    """What decides whether a torrent's /torrents/info must be fetched again."""
    return (torrent.status, torrent.bytes, torrent.progress, torrent.ended)


class RealDebridState(Source):
    """Memory of one Real-Debrid account, filled by the sync (realdebrid_sync.py)."""

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
                raise ConfigError(
                    "no Real-Debrid token: set [realdebrid] token in the config file "
                    "or DEBRIDFS_REALDEBRID_TOKEN in the environment, "
                    "or run `debridfs login realdebrid`"
                )
            credentials = OAuthCredentials(
                stored["client_id"], stored["client_secret"], stored["refresh_token"]
            )
        self.rd = rd
        self.state_dir = config.state_dir
        self.client = RealDebridClient(
            http, rd.api_url, credentials, RateLimiter(rd.rate_limit_per_minute), rd.oauth_url
        )
        self.groups = {name: re.compile(pattern) for name, pattern in rd.groups.items()}
        self.extensions = set(rd.extensions) if rd.extensions is not None else None
        self.store: Store | None = None
        # memory: everything listings need
        self.torrents: dict[str, Torrent] = {}
        # The replies as Real-Debrid gave them (list items, details, downloads): the
        # store keeps them verbatim and the sync compares them to find changes;
        # everything else reads the typed copies (torrents, infos, downloads).
        self.items: dict[str, dict[str, Any]] = {}
        self._order: list[str] = []
        self.infos: dict[str, TorrentInfo] = {}
        self._raw_infos: dict[str, dict[str, Any]] = {}
        self.info_sigs: dict[str, tuple[object, ...]] = {}
        self.downloads: list[Download] = []
        self.download_items: list[dict[str, Any]] = []
        self.pages: list[tuple[str | None, list[str]]] = []  # torrents list: (etag, ids) per page
        self.total: int | None = None  # X-Total-Count of the last whole read
        self._listed = False  # a torrent list was read (now or in a past mount)
        self.downloads_etag: str | None = None
        self.dead: dict[tuple[str, int], str] = {}
        self.links: dict[str, tuple[DirectLink, float]] = {}
        self.link_names: dict[str, tuple[str, int]] = {}  # archived torrents' links: name, size
        self.sizes: dict[str, int] = {}  # download id -> size found for filesize 0
        self.rar_members: dict[str, list[tuple[str, int, int]]] = {}  # link -> (path, offset, size)
        self.unavailable: dict[tuple[str, int], tuple[float, str]] = {}  # code 24: until, reason
        self.repairs = Repairs(self.client, rd.repair, rd.repair_interval, rd.repair_max_attempts)
        self.hidden: set[str] = set()  # keys removed by rm while the torrent stays
        self._has_files_memo: dict[str, tuple[TorrentInfo, bool]] = {}  # see _has_files
        # What listing `torrents/` at 5,000 torrents must not build again each
        # time (see _torrent_dirs, _shown_names): the entry of each torrent
        # directory per view, as long as its list item is the same object, and
        # each view's last names, as long as its entries are the same objects.
        self._dir_entries: dict[tuple[str, str], tuple[Torrent, Entry | None]] = {}
        self._names_memo: dict[str, tuple[list[Entry], dict[str, str]]] = {}
        # Each view's whole list, while `_generation` (bumped by `_dirs_changed`) stays.
        self._generation = 0
        self._dirs_made: dict[str, tuple[int, list[Entry]]] = {}
        self._status_lines: dict[str, tuple[Torrent, str, str]] = {}  # torrents/.status, per torrent
        self._named_entries: dict[str, tuple[Entry, Entry]] = {}  # entries renamed by _named_dirs
        self._named_made: dict[str, tuple[int, dict[str, str], list[Entry]]] = {}
        self.pending: dict[str, float] = {}  # torrents we added: id -> when
        self.selections: dict[str, Callable[[str], bool]] = {}  # torrents we added: id -> file filter
        self.unannounced: set[str] = set()  # torrents we added, shown before a list sync
        self.link_results: list[tuple[float, str, str]] = []  # .links outcomes: (when, link, result)
        self._on_change: Callable[[Ref | None], None] = lambda ref: None  # until the tree registers
        # called with [(added|removed|changed, absolute path)] after a change the mount shows
        self.change_listeners: list[Any] = []
        self._hooks: trio.Nursery | None = None
        self._hook_slot = trio.Lock()  # one on_change command at a time
        self._wake = trio.Event()
        self._info_locks: dict[str, trio.Lock] = {}
        self._refreshes = 0
        self._downloads_at = -float("inf")
        # What `debridfs status` shows (RealDebridView.status_info).
        self.user: User | None = None
        self.progress: Progress | None = None
        self.last_sync: float | None = None
        self.last_error: tuple[float, str] | None = None

    def wake(self) -> None:
        self._wake.set()

    @property
    def order(self) -> list[str]:
        """Torrent ids in the order of the torrent list (newest first)."""
        return self._order

    @order.setter
    def order(self, ids: list[str]) -> None:
        self._order = ids
        self._dirs_changed()

    def _dirs_changed(self) -> None:
        """Something `_torrent_dirs` reads changed (a list item, the order,
        details, hidden or dead files, names of links): its lists are stale."""
        self._generation += 1

    def _put_item(self, item: dict[str, Any]) -> None:
        torrent = Torrent.from_json(item)
        old = self.torrents.get(torrent.id)
        self.torrents[torrent.id] = torrent
        self.items[torrent.id] = item
        if (
            old is None
            or _dir_fields(old) != _dir_fields(torrent)
            or self._visible(old) != self._visible(torrent)
        ):
            # (a new progress alone changes no directory: a sync's thousands of
            # such changes must not make every listing start again)
            self._dirs_changed()
        heap.made(4)

    def _set_downloads(self, items: list[dict[str, Any]]) -> None:
        self.download_items = items
        self.downloads = [Download.from_json(d) for d in items]

    def _notify(self, *refs: Ref) -> None:
        for ref in refs:
            self._on_change(ref)

    def _views(self) -> list[str]:
        return [""] + list(self.groups)

    def _top_refs(self) -> list[Ref]:
        return [TorrentsDir(), *[GroupDir(name) for name in self.groups]]

    def _visible(self, torrent: Torrent) -> bool:
        return torrent.status == PLAYABLE_STATUS and f"t/{torrent.id}" not in self.hidden

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
        self._files_changed(tid)

    def _needs_info(self, tid: str) -> bool:
        torrent = self.torrents.get(tid)
        if torrent is None or torrent.status != PLAYABLE_STATUS:
            return False
        return self.info_sigs.get(tid) != info_signature(torrent)

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
            candidates = [
                Shown(f"f{file.id}", file.path, file.bytes, TorrentFile(torrent.id, position), file.id)
                for position, (file, _link) in enumerate(info.selected_files_with_links())
            ]
        else:
            candidates = []
            for index, link in enumerate(info.torrent.links):
                named = self.link_names.get(link)
                if named is not None:
                    candidates.append(
                        Shown(
                            f"l{index}", "/" + named[0], named[1], TorrentLink(torrent.id, index), -1 - index
                        )
                    )
                    # stored members of a RAR: files of their own, byte ranges of the archive
                    candidates += [
                        Shown(
                            f"l{index}m{n}", "/" + path, size, ArchiveMember(torrent.id, index, n), -1 - index
                        )
                        for n, (path, _offset, size) in enumerate(self.rar_members.get(link, ()))
                    ]
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
        details or its archive's names are not known yet). Remembered per
        torrent until its details or `_files_changed` say otherwise: listing
        `torrents/` asks this of every torrent, and must stay cheap."""
        if info is None:
            return True
        known = self._has_files_memo.get(torrent.id)
        if known is not None and known[0] is info:
            return known[1]
        result = bool(self._unnamed_links(info)) or bool(self._torrent_files(torrent, info, with_hidden=True))
        self._has_files_memo[torrent.id] = (info, result)
        return result

    def _files_changed(self, tid: str) -> None:
        """What a torrent shows changed other than by new details (dead or
        hidden files, names of its links, members of its archives)."""
        self._has_files_memo.pop(tid, None)
        self._dirs_changed()

    def _unnamed_links(self, info: TorrentInfo) -> list[str]:
        if info.links_match_files:
            return []
        return [
            link
            for index, link in enumerate(info.torrent.links)
            if link not in self.link_names and (info.torrent.id, -1 - index) not in self.dead
        ]

    def _unexamined_archives(self, info: TorrentInfo) -> list[int]:
        """Indexes of an archived torrent's links that are RARs not yet examined."""
        if info.links_match_files or self.engine is None:
            return []
        return [
            index
            for index, link in enumerate(info.torrent.links)
            if link in self.link_names
            and link not in self.rar_members
            and self.link_names[link][0].lower().endswith(".rar")
            and (info.torrent.id, -1 - index) not in self.dead
        ]

    def _torrent_dirs(self, view: str) -> list[Entry]:
        """The torrent directories of `torrents/` (view "") or of a group.
        An entry depends on the torrent's list item alone, so it is made once
        per item (and per view) and handed out again while the item is the
        same object: 5,000 entries made anew took 15-20 ms of the trio thread.
        The whole list is kept until `_dirs_changed`. Callers get their own copy."""
        kept = self._dirs_made.get(view)
        if kept is not None and kept[0] == self._generation:
            return list(kept[1])
        generation = self._generation
        pattern = self.groups.get(view) if view else None
        made = self._dir_entries
        entries = []
        for tid in self.order:
            torrent = self.torrents.get(tid)
            if torrent is None or not self._visible(torrent):
                continue
            known = made.get((view, tid))
            if known is None or known[0] is not torrent:
                known = (torrent, self._dir_entry(torrent, view, pattern))
                made[view, tid] = known
            entry = known[1]
            if entry is None:
                continue  # not in this group
            if not self._has_files(torrent, self.infos.get(tid)):
                continue  # every file dead or filtered out
            entries.append(entry)
        if len(made) > 2 * len(self.torrents) * len(self._views()) + 64:
            # forgotten torrents' entries: dropped now and then, not at each removal
            for key in [k for k in made if k[1] not in self.torrents]:
                del made[key]
        self._dirs_made[view] = (generation, entries)
        return list(entries)

    async def _prepare_dirs(self) -> None:
        """Makes what `_torrent_dirs` of every view is missing (entries of new
        list items, `_has_files` of changed torrents), yielding every
        `PREPARE_BATCH`: after a sync changed thousands of torrents, making it
        all in one step held the trio thread for 100 ms and more."""
        if all(self._dirs_made.get(view, (None,))[0] == self._generation for view in self._views()):
            return  # nothing changed since the last listing
        made = 0
        views = [(view, self.groups.get(view) if view else None) for view in self._views()]
        for n, tid in enumerate(list(self.order)):
            if made >= PREPARE_BATCH or n % PREPARE_BATCH == PREPARE_BATCH - 1:  # looking costs too
                made = 0
                await trio.lowlevel.checkpoint()
            torrent = self.torrents.get(tid)
            if torrent is None:
                continue
            info = self.infos.get(tid)
            if info is not None:
                known = self._has_files_memo.get(tid)
                if known is None or known[0] is not info:
                    self._has_files(torrent, info)
                    made += 1
            for view, pattern in views:
                entry = self._dir_entries.get((view, tid))
                if entry is None or entry[0] is not torrent:
                    self._dir_entries[view, tid] = (torrent, self._dir_entry(torrent, view, pattern))
                    made += 1
        for view in self._views():
            await trio.lowlevel.checkpoint()
            entries = self._torrent_dirs(view)
            memo = self._names_memo.get(view)
            if memo is None or not _same_objects(memo[0], entries):
                items, _taken, previous = self._naming(view, entries)
                # unique_names is pure: its inputs are plain strings and tuples
                names = await trio.to_thread.run_sync(unique_names, items, None, previous)
                if self._names_memo.get(view) is memo:  # else named meanwhile, from newer entries
                    self._names_memo[view] = (entries, _names_by_torrent(entries, names))

    @staticmethod
    def _dir_entry(torrent: Torrent, view: str, pattern: re.Pattern[str] | None) -> Entry | None:
        if pattern is not None and not pattern.search(torrent.filename):
            return None
        return Entry(
            torrent.filename,
            f"{view}t/{torrent.id}",
            True,
            mtime=torrent.ended or torrent.added or 0,
            ref=TorrentDir(torrent.id, "", view),
            writable=not view,
            rank=(torrent.added or 0, torrent.id),
        )

    def _shown_names(self) -> dict[str, dict[str, str]]:
        """view -> torrent id -> the name the mount shows (vfs/names.py, the
        tree's own rule: a torrent keeps the name it was shown under while
        it exists). Listings hand the tree these names (`_named_dirs`), so
        the tree, `.status` and on_change agree. A view whose entries are the
        very objects of the last call keeps the names of that call."""
        shown: dict[str, dict[str, str]] = {}
        for view in self._views():
            entries = self._torrent_dirs(view)
            memo = self._names_memo.get(view)
            if memo is None or not _same_objects(memo[0], entries):
                names = unique_names(*self._naming(view, entries))
                memo = self._names_memo[view] = (entries, _names_by_torrent(entries, names))
            shown[view] = memo[1]
        return shown

    def _naming(
        self, view: str, entries: list[Entry]
    ) -> tuple[list[tuple[str, str, Any]], None, dict[str, str]]:
        """`unique_names` arguments for a view: its entries (and `.status`),
        nothing taken, and the names shown before."""
        status = [Entry(".status", "torrents/.status", False)] if not view else []
        memo = self._names_memo.get(view)
        previous = {f"{view}t/{tid}": name for tid, name in memo[1].items()} if memo else {}
        return [(e.key, e.name, e.rank) for e in entries + status], None, previous

    def _named_dirs(self, view: str) -> list[Entry]:
        """`_torrent_dirs` under the names `_shown_names` gives them."""
        names = self._shown_names()[view]
        kept = self._named_made.get(view)
        if kept is not None and kept[0] == self._generation and kept[1] is names:
            return list(kept[2])
        generation, entries = self._generation, self._torrent_dirs(view)
        made = self._named_entries
        named = []
        for entry in entries:
            assert isinstance(entry.ref, TorrentDir)
            name = names[entry.ref.tid]
            if name != entry.name:
                known = made.get(entry.key)
                if known is None or known[0] is not entry or known[1].name != name:
                    known = made[entry.key] = (entry, dataclasses.replace(entry, name=name))
                entry = known[1]
            named.append(entry)
        self._named_made[view] = (generation, names, named)
        return list(named)


def _names_by_torrent(entries: list[Entry], names: dict[str, str]) -> dict[str, str]:
    return {e.ref.tid: names[e.key] for e in entries if isinstance(e.ref, TorrentDir)}


def _dir_fields(torrent: Torrent) -> tuple[object, ...]:
    """What a torrent directory's entry is made of (see `_dir_entry`)."""
    return (torrent.filename, torrent.added, torrent.ended)


def _same_objects(a: list[Entry], b: list[Entry]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def load_credentials(path: Path | None) -> dict[str, str] | None:
    """The OAuth credentials `debridfs login realdebrid` stored, or None."""
    if path is None or not path.exists():
        return None
    try:
        data: dict[str, str] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not all(data.get(k) for k in ("client_id", "client_secret", "refresh_token")):
        return None
    return data
