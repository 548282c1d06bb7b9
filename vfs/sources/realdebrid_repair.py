"""Bounded repair of Real-Debrid torrents whose links answer hoster_unavailable (19).

Only adding the torrent again helps (docs/providers.md, "Real-Debrid", code
19). A repair adds the same hash as a magnet, selects the same files, waits
until Real-Debrid has downloaded it, checks that the file which failed is
served now, and only then deletes the old torrent. Each torrent (by hash) is
repaired at most once per `repair_interval` and at most
`repair_max_attempts` times; after that, or with `repair = false`, it is
reported broken in `torrents/.status` and its broken files fail at once.
Never a loop: attempts are counted on disk, so a remount does not start
over.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from clients.errors import NeedsRepair, NotFound, RemoteError
from clients.ratelimit import BACKGROUND
from clients.realdebrid import RealDebridClient, TorrentInfo

log = logging.getLogger(__name__)

FAILED_STATUSES = {"magnet_error", "error", "virus", "dead"}


@dataclass
class Repair:
    hash: str
    torrent: str  # the id of the torrent being repaired
    name: str
    files: list[int]  # its selected file ids
    broken: list[int]  # file ids whose link answered 19
    reason: str
    attempts: int = 0
    last: float = 0.0  # wall clock of the last attempt
    new: str | None = None  # the torrent added again, until it is judged
    state: str = "waiting"  # waiting | adding | broken | repaired
    history: list[str] = field(default_factory=list)


class Repairs:
    def __init__(
        self,
        client: RealDebridClient,
        enabled: bool,
        interval: float,
        max_attempts: int,
        saved: dict[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.enabled = enabled
        self.interval = interval
        self.max_attempts = max_attempts
        self.by_hash: dict[str, Repair] = {}
        for key, value in (saved or {}).items():
            try:
                self.by_hash[key] = Repair(**value)
            except TypeError:
                log.info("Real-Debrid: dropping an unreadable repair record for %s", key)

    def to_json(self) -> dict[str, Any]:
        return {key: asdict(repair) for key, repair in self.by_hash.items()}

    def broken(self, torrent_id: str, file_id: int) -> Repair | None:
        """The repair record when this file is known broken (reads fail at once)."""
        for repair in self.by_hash.values():
            if repair.torrent == torrent_id and file_id in repair.broken and repair.state != "repaired":
                return repair
        return None

    def report(self, info: TorrentInfo, file_id: int, error: NeedsRepair) -> Repair:
        """A read met code 19 on `file_id` of this torrent."""
        torrent = info.torrent
        key = torrent.hash or torrent.id
        repair = self.by_hash.get(key)
        if repair is None or repair.torrent != torrent.id:
            repair = Repair(
                key, torrent.id, torrent.filename, [f.id for f in info.files if f.selected], [], reason=""
            )
            if key in self.by_hash:  # a repaired torrent broke again: the count goes on
                repair.attempts = self.by_hash[key].attempts
                repair.last = self.by_hash[key].last
            self.by_hash[key] = repair
        if file_id not in repair.broken:
            repair.broken.append(file_id)
        repair.reason = f"hoster_unavailable (code {error.code})" if error.code else str(error)
        if repair.state == "repaired":
            repair.state = "waiting"
        if not self.enabled:
            repair.state = "broken"
        log.info(
            "Real-Debrid: %s has a broken link (%s)%s",
            torrent.filename,
            repair.reason,
            "; it will be added again" if repair.state == "waiting" else "",
        )
        return repair

    def wanted(self) -> bool:
        return any(r.state in ("waiting", "adding") for r in self.by_hash.values())

    async def step(self, on_repaired: Callable[[Repair], Awaitable[None]]) -> bool:
        """Moves every repair one step; returns whether a record changed."""
        changed = False
        for repair in list(self.by_hash.values()):
            if repair.state == "adding":
                changed |= await self._check(repair, on_repaired)
            elif repair.state == "waiting":
                changed |= await self._start(repair)
        return changed

    async def _start(self, repair: Repair) -> bool:
        if repair.attempts >= self.max_attempts:
            self._give_up(repair)
            return True
        if repair.attempts and time.time() - repair.last < self.interval:
            return False
        repair.attempts += 1
        repair.last = time.time()
        try:
            repair.new = await self.client.add_magnet(
                f"magnet:?xt=urn:btih:{repair.hash}", priority=BACKGROUND
            )
        except RemoteError as exc:
            self._failed(repair, f"adding it again failed: {exc}")
            return True
        repair.state = "adding"
        log.info(
            "Real-Debrid: repairing %s: added again as %s (attempt %d of %d)",
            repair.name,
            repair.new,
            repair.attempts,
            self.max_attempts,
        )
        return True

    async def _check(self, repair: Repair, on_repaired: Callable[[Repair], Awaitable[None]]) -> bool:
        assert repair.new is not None
        try:
            raw = await self.client.torrent_info_json(repair.new, BACKGROUND)
        except NotFound:
            self._failed(repair, "the torrent added again disappeared")
            return True
        status = raw.get("status")
        if status == "waiting_files_selection":
            await self.client.select_files(repair.new, ",".join(str(f) for f in repair.files))
            return False
        if status in FAILED_STATUSES:
            await self._drop_new(repair)
            self._failed(repair, f"the torrent added again ended as {status}")
            return True
        if status != "downloaded":
            return False
        # Downloaded: the file that failed must be served now, or this did not help.
        info = TorrentInfo.from_json(raw)
        pairs = info.selected_files_with_links()
        link = next((link for file, link in pairs if file.id in repair.broken), None)
        if pairs and link is not None:
            try:
                await self.client.unrestrict_link(link, BACKGROUND)
            except NeedsRepair:
                await self._drop_new(repair)
                self._failed(repair, "the torrent added again is broken too")
                return True
        try:
            await self.client.delete_torrent(repair.torrent)
        except NotFound:
            pass
        log.info("Real-Debrid: repaired %s (now %s)", repair.name, repair.new)
        repair.history.append(f"repaired as {repair.new}")
        repair.state = "repaired"
        await on_repaired(repair)
        repair.torrent, repair.new, repair.broken = repair.new, None, []
        return True

    async def _drop_new(self, repair: Repair) -> None:
        try:
            await self.client.delete_torrent(repair.new or "")
        except RemoteError as exc:
            log.info("Real-Debrid: could not delete the failed copy %s: %s", repair.new, exc)
        repair.new = None

    def _failed(self, repair: Repair, why: str) -> None:
        repair.history.append(why)
        repair.state = "waiting"
        repair.new = None
        log.info("Real-Debrid: repair of %s, attempt %d: %s", repair.name, repair.attempts, why)
        if repair.attempts >= self.max_attempts:
            self._give_up(repair)

    def _give_up(self, repair: Repair) -> None:
        repair.state = "broken"
        log.warning(
            "Real-Debrid: %s is broken (%s) and was added again %d times; giving up (see torrents/.status)",
            repair.name,
            repair.reason,
            repair.attempts,
        )

    def status_lines(self, shown_name: Callable[[str], str | None]) -> list[str]:
        lines = []
        for repair in self.by_hash.values():
            if repair.state == "repaired":
                continue
            name = shown_name(repair.torrent) or repair.name
            what = {"waiting": "to repair", "adding": "repairing", "broken": "broken"}[repair.state]
            tried = (
                f"added again {repair.attempts} of {self.max_attempts} times"
                if self.enabled
                else "repair = false"
            )
            lines.append(
                f"{what:<12} {name} ({repair.torrent}): {repair.reason}; {tried}"
                + (f"; {repair.history[-1]}" if repair.history else "")
            )
        return lines
