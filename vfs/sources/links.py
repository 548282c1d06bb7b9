"""Link services as sources: a persistent list of added hoster links, shown as files.

Every link service (portal, Premiumize, RapidShare...) shows `MOUNT/<service>/`
with one file per working link and a `.status` file that lists the account
state and every link that failed or waits, with its reason. Links are added by
`debridfs add` or by writing a `*.links` file (one URL per line) into the
service directory; removing a file forgets its link.

The links live in one sqlite database under `config.state_dir` (WAL mode, so a
running mount sees what `debridfs add` wrote). A link is "new" until its
service was asked about it (`probe`: name and size), then "ok", "failed" (never
retried: the user re-adds it) or "waiting" (retried after `retry_at`).

New and waiting links are probed by a background task for the life of the
mount (`run`), not only when someone lists the directory: a link that waited
for a fair-use window or a maintenance appears by itself. The service's
`retry_in_seconds` is respected (never sooner), a floor that doubles per
attempt up to `MAX_RETRY` (the jittered backoff of `clients/retry.py`) keeps a
service that says "retry in 1 s" forever from being asked every second, and a
link still waiting after `GIVE_UP_AFTER` fails with its last reason.

Subclasses implement `probe`, `direct_link` and `account_lines`; the service's
knowledge stays in its own source and client.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from clients.codes import WAIT_KINDS
from clients.errors import AuthError, InvalidName, NotFound, RemoteError
from clients.retry import Backoff

from .base import DirectLink, Entry, Ref, Source

if TYPE_CHECKING:
    from ..spool import SpoolFile

log = logging.getLogger(__name__)

STATUS_NAME = ".status"
LINKS_SUFFIX = ".links"
PROBE_CONCURRENCY = 4
PROBE_TIMEOUT = 60.0
DEFAULT_RETRY = 300.0  # when a transient failure names no delay (then doubled per attempt)
MIN_RETRY = 1.0  # the first retry's floor; doubled per attempt (backoff)
MAX_RETRY = 3600.0  # the backoff's cap (a longer retry_in_seconds is still respected)
# The floor under a wait the service named, the wait when it named none, and the
# pause of the retry task while the account refuses (all jittered: clients/retry.py).
NAMED_BACKOFF = Backoff(initial=MIN_RETRY, maximum=MAX_RETRY)
UNNAMED_BACKOFF = Backoff(initial=DEFAULT_RETRY, maximum=MAX_RETRY)
ACCOUNT_BACKOFF = Backoff(initial=60.0, maximum=MAX_RETRY)
GIVE_UP_AFTER = 86400.0  # a link waiting this long fails with its last reason
IDLE_RECHECK = 300.0  # the retry task's longest sleep (links added by another process)
MAX_LINKS_FILE = 1 << 20  # a .links file is a list of URLs, not a payload

NEW, OK, FAILED, WAITING = "new", "ok", "failed", "waiting"

SCHEMA = """
CREATE TABLE IF NOT EXISTS links (
    service  TEXT NOT NULL,
    url      TEXT NOT NULL,
    added_at REAL NOT NULL,
    state    TEXT NOT NULL,           -- new | ok | failed | waiting
    name     TEXT,
    size     INTEGER,
    reason   TEXT,                    -- why failed / waiting
    note     TEXT,                    -- the last read problem of an ok link
    retry_at REAL,
    data     TEXT NOT NULL DEFAULT '{}',   -- the service's own state (JSON)
    PRIMARY KEY (service, url)
)
"""


@dataclass(frozen=True, slots=True)
class LinkRef(Ref):
    """A link shown as a file (the status file's ref is None)."""

    url: str


@dataclass
class LinkRow:
    service: str
    url: str
    added_at: float
    state: str
    name: str | None = None
    size: int | None = None
    reason: str | None = None
    note: str | None = None
    retry_at: float | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return "l/" + hashlib.sha1(self.url.encode()).hexdigest()[:20]


@dataclass
class LinkInfo:
    """What a service says about a link: shown name and size, plus its own state."""

    name: str
    size: int
    data: dict[str, Any] = field(default_factory=dict)


class LinkStore:
    """The link database. Synchronous (the CLI uses it directly); sources call
    it through `trio.to_thread`. One short-lived connection per call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            # Created private before sqlite touches it; the -wal/-shm files copy its mode.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        return db

    def add(self, service: str, urls: Iterable[str]) -> list[str]:
        """Adds (or re-arms) links; returns the URLs given, deduplicated, in order."""
        added: list[str] = []
        now = time.time()
        with self._connect() as db:
            for url in urls:
                if url in added:
                    continue
                added.append(url)
                # Adding a known link again retries it from scratch (the way to revive a failed one).
                db.execute(
                    "INSERT INTO links (service, url, added_at, state) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(service, url) DO UPDATE SET state = CASE WHEN "
                    "links.state = 'ok' THEN 'ok' ELSE 'new' END, reason = NULL, "
                    "retry_at = NULL",
                    (service, url, now, NEW),
                )
        return added

    def rows(self, service: str) -> list[LinkRow]:
        with self._connect() as db:
            found = db.execute(
                "SELECT * FROM links WHERE service = ? ORDER BY added_at, url", (service,)
            ).fetchall()
        return [
            LinkRow(
                service=r["service"],
                url=r["url"],
                added_at=r["added_at"],
                state=r["state"],
                name=r["name"],
                size=r["size"],
                reason=r["reason"],
                note=r["note"],
                retry_at=r["retry_at"],
                data=json.loads(r["data"] or "{}"),
            )
            for r in found
        ]

    def get(self, service: str, url: str) -> LinkRow | None:
        return next((row for row in self.rows(service) if row.url == url), None)

    def update(self, service: str, url: str, **values: Any) -> None:
        if "data" in values:
            values["data"] = json.dumps(values["data"])
        columns = ", ".join(f"{name} = ?" for name in values)
        with self._connect() as db:
            db.execute(
                f"UPDATE links SET {columns} WHERE service = ? AND url = ?", (*values.values(), service, url)
            )

    def remove(self, service: str, url: str) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM links WHERE service = ? AND url = ?", (service, url))


def store_for(state_dir: Path) -> LinkStore:
    return LinkStore(state_dir / "links.sqlite")


def parse_links(text: str) -> list[str]:
    """One URL per line; blank lines and `#` comments are skipped."""
    urls = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            urls.append(line)
    return urls


def is_transient(exc: BaseException) -> bool:
    """The service said "later" (a wait in the client's error table), not "never"."""
    return isinstance(exc, WAIT_KINDS)


def describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def when(timestamp: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(timestamp))


class LinkSource(Source):
    """The shared behaviour of link services; subclasses add the provider."""

    writable = True  # the service directory takes *.links files and rm

    def __init__(self, state_dir: Path) -> None:
        self.store = store_for(state_dir)
        self._links: dict[str, DirectLink] = {}
        self._probe_limit = trio.CapacityLimiter(PROBE_CONCURRENCY)
        self._probing: set[str] = set()  # URLs being probed (listing and retry task share work)
        self._wake = trio.Event()  # set when links were added: the retry task looks again
        self._on_change = lambda ref: None
        self._known_rows: list[LinkRow] = []  # the store's rows as last read (status_info)

    # ---- what a service provides --------------------------------------
    async def probe(self, url: str) -> LinkInfo:
        """Asks the service about a new link (name, size); raises to refuse it."""
        raise NotImplementedError

    async def direct_link(self, row: LinkRow, refresh: bool) -> DirectLink:
        """A direct link for a known-good link; may update `row.data` (saved after)."""
        raise NotImplementedError

    def account_lines(self) -> list[str]:
        """The account part of `.status`."""
        return []

    def status_info(self) -> dict[str, Any]:
        # The rows last read from the store: status_info runs on the trio thread
        # every few seconds and must not query sqlite there.
        rows = self._known_rows
        counts = {state: sum(1 for r in rows if r.state == state) for state in (OK, WAITING, FAILED)}
        info: dict[str, Any] = {
            "account": "; ".join(line.removeprefix("account: ") for line in self.account_lines()) or "?",
            "sync": f"links: {counts[OK]} ok, {counts[WAITING]} waiting, {counts[FAILED]} failed",
        }
        failed = [r for r in rows if r.state in (WAITING, FAILED) and r.reason]
        if failed:
            info["last_error"] = f"{failed[-1].url}: {failed[-1].reason}"
        return info

    async def periodic(self) -> None:
        """The service's own background work for the life of the mount (account re-checks)."""

    # ---- background ---------------------------------------------------
    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._retry_loop)
            nursery.start_soon(self.periodic)
            task_status.started()

    async def _retry_loop(self) -> None:
        """Probes new links and waiting links whose `retry_at` passed; sleeps until the next one."""
        failed_rounds = 0
        while True:
            account_backoff = 0.0
            try:
                await self._probe_due()
            except AuthError as exc:
                # The account is the problem: the links stay new; try again later, more slowly.
                account_backoff = ACCOUNT_BACKOFF.wait(failed_rounds)
                failed_rounds += 1
                log.info(
                    "%s: links wait for the account: %s (next try in %.0fs)",
                    self.name,
                    describe(exc),
                    account_backoff,
                )
            except Exception as exc:  # the task must outlive one bad round (sqlite busy...)
                account_backoff = ACCOUNT_BACKOFF.wait(failed_rounds)
                failed_rounds += 1
                log.info("%s: link retry round failed: %s", self.name, describe(exc))
            else:
                failed_rounds = 0
            rows = await self._rows()
            now = time.time()
            due = [row.retry_at or now for row in rows if row.state == WAITING]
            due += [now for row in rows if row.state == NEW]
            delay = min(due, default=now + IDLE_RECHECK) - now
            delay = min(max(delay, MIN_RETRY, account_backoff), IDLE_RECHECK)
            self._wake = trio.Event()
            with trio.move_on_after(delay):
                await self._wake.wait()

    # ---- the store, from trio ----------------------------------------
    async def _rows(self) -> list[LinkRow]:
        self._known_rows = await trio.to_thread.run_sync(self.store.rows, self.name)
        return self._known_rows

    async def _update(self, url: str, **values: Any) -> None:
        await trio.to_thread.run_sync(lambda: self.store.update(self.name, url, **values))

    # ---- adding -------------------------------------------------------
    async def add_links(self, urls: list[str]) -> list[LinkRow]:
        """Adds links and asks the service about them now (used by `debridfs add`)."""
        added = await trio.to_thread.run_sync(self.store.add, self.name, urls)
        await self._probe_due()
        self._changed()
        rows = {row.url: row for row in await self._rows()}
        return [rows[url] for url in added if url in rows]

    def _changed(self) -> None:
        self._wake.set()
        self._on_change(None)

    async def _probe_due(self) -> None:
        now = time.time()
        due = [
            row
            for row in await self._rows()
            if row.url not in self._probing
            and (row.state == NEW or (row.state == WAITING and (row.retry_at or 0) <= now))
        ]
        refused: list[AuthError] = []
        if due:
            async with trio.open_nursery() as nursery:
                for row in due:
                    self._probing.add(row.url)
                    nursery.start_soon(self._probe_one, row, refused)
            self._on_change(None)  # states changed: the next listing shows them
        if refused:
            raise refused[0]  # the account is the problem, not the links: say so once

    async def _probe_one(self, row: LinkRow, refused: list[AuthError]) -> None:
        try:
            async with self._probe_limit:
                await self._probe_guarded(row, refused)
        finally:
            self._probing.discard(row.url)

    async def _probe_guarded(self, row: LinkRow, refused: list[AuthError]) -> None:
        attempts = int(row.data.get("attempts", 0)) + 1 if row.state == WAITING else 1
        try:
            with trio.fail_after(PROBE_TIMEOUT):
                info = await self.probe(row.url)
        except trio.TooSlowError:
            await self._wait_or_fail(row, attempts, "the service did not answer in time", None)
        except AuthError as exc:
            refused.append(exc)  # the link stays new: it is tried again once the account works
        except RemoteError as exc:
            log.info("%s: link %s refused: %s", self.name, row.url, describe(exc))
            if is_transient(exc):
                await self._wait_or_fail(row, attempts, describe(exc), getattr(exc, "retry_after", None))
            else:
                await self._update(row.url, state=FAILED, reason=describe(exc), retry_at=None)
        else:
            data = {k: v for k, v in row.data.items() if k not in ("attempts", "waiting_since")}
            await self._update(
                row.url,
                state=OK,
                name=info.name,
                size=info.size,
                reason=None,
                note=None,
                retry_at=None,
                data={**data, **info.data},
            )

    async def _wait_or_fail(
        self, row: LinkRow, attempts: int, reason: str, retry_after: float | None
    ) -> None:
        """Records a transient refusal: waiting until the service's time (at least the
        backoff floor), or failed once the link has waited `GIVE_UP_AFTER`."""
        now = time.time()
        since = float(row.data.get("waiting_since", now)) if row.state == WAITING else now
        if now - since >= GIVE_UP_AFTER:
            await self._update(
                row.url, state=FAILED, retry_at=None, reason=f"{reason} (gave up after {attempts} attempts)"
            )
            return
        # No time named (or 0): the slow schedule, not the floor.
        if retry_after:
            delay = NAMED_BACKOFF.wait(attempts - 1, retry_after)
        else:
            delay = UNNAMED_BACKOFF.wait(attempts - 1)
        await self._update(
            row.url,
            state=WAITING,
            reason=reason,
            retry_at=now + delay,
            data={**row.data, "attempts": attempts, "waiting_since": since},
        )

    # ---- listing ------------------------------------------------------
    async def list_dir(self, ref: Ref | None) -> list[Entry]:
        if ref is not None:
            raise NotFound(f"{self.name}: no directory {ref!r}")
        try:
            await self._probe_due()
        except AuthError as exc:
            log.warning("%s: %s", self.name, exc)
        rows = await self._rows()
        entries = [self.entry_for(row) for row in rows if row.state == OK]
        status = self.status_text(rows).encode()
        entries.append(
            Entry(
                STATUS_NAME, STATUS_NAME, False, size=len(status), mtime=time.time(), virtual=self._status_now
            )
        )
        return entries

    def entry_for(self, row: LinkRow) -> Entry:
        return Entry(
            row.name or row.url.rstrip("/").rsplit("/", 1)[-1],
            row.key,
            False,
            size=row.size or 0,
            mtime=row.added_at,
            ref=LinkRef(row.url),
            xattrs=self.xattrs_for(row),
        )

    def xattrs_for(self, row: LinkRow) -> dict[str, bytes]:
        return {}

    async def _status_now(self) -> bytes:
        # Made at open(2): the rows come from sqlite, read in a worker thread.
        return self.status_text(await self._rows()).encode()

    def status_text(self, rows: list[LinkRow]) -> str:
        lines = [f"# {self.name}"] + self.account_lines()
        counts = {state: sum(1 for r in rows if r.state == state) for state in (OK, NEW, WAITING, FAILED)}
        lines.append(
            f"links: {counts[OK]} ok, {counts[WAITING]} waiting, {counts[FAILED]} failed, {counts[NEW]} new"
        )
        for row in rows:
            if row.state == OK and row.note:
                lines.append(f"ok       {row.url}  ({row.name}): {row.note}")
            elif row.state == WAITING:
                retry = f" (retry at {when(row.retry_at)})" if row.retry_at else ""
                lines.append(f"waiting  {row.url}: {row.reason}{retry}")
            elif row.state == FAILED:
                lines.append(f"failed   {row.url}: {row.reason}")
            elif row.state == NEW:
                lines.append(f"new      {row.url}")
        return "\n".join(lines) + "\n"

    # ---- reading ------------------------------------------------------
    async def resolve(self, ref: Ref | None, *, refresh: bool = False) -> DirectLink:
        if not isinstance(ref, LinkRef):
            raise NotFound(f"{self.name}: not a link: {ref!r}")
        url = ref.url
        if not refresh and url in self._links:
            return self._links[url]
        row = await trio.to_thread.run_sync(self.store.get, self.name, url)
        if row is None or row.state != OK:
            raise NotFound(f"{self.name}: link {url} was removed")
        before = dict(row.data)
        try:
            link = await self.direct_link(row, refresh)
        except WAIT_KINDS as exc:
            # Shown in .status; the file stays (a later read may work).
            await self._update(url, note=describe(exc), data=row.data)
            raise
        except AuthError:
            raise
        except RemoteError as exc:
            if isinstance(exc, NotFound):
                raise
            # The service will not serve it: the link leaves the listing for .status.
            await self._update(url, state=FAILED, reason=describe(exc), data=row.data)
            self._changed()
            raise
        if row.note or row.data != before:
            await self._update(url, note=None, data=row.data)
        self._links[url] = link
        return link

    # ---- writing: *.links files and rm --------------------------------
    async def create_file(self, parent_ref: Ref | None, name: str) -> None:
        if parent_ref is not None or not name.endswith(LINKS_SUFFIX) or name == LINKS_SUFFIX:
            raise InvalidName(
                f"{self.name}: only a list of links (a file named *{LINKS_SUFFIX}) can be written here"
            )

    async def commit_file(self, parent_ref: Ref | None, name: str, spool: SpoolFile) -> Entry | None:
        try:
            if spool.size > MAX_LINKS_FILE:
                raise InvalidName(f"{name}: too big for a list of links")
            raw = spool.read(0, spool.size)
        finally:
            spool.discard()
        urls = parse_links(raw.decode("utf-8", errors="replace"))
        await trio.to_thread.run_sync(self.store.add, self.name, urls)
        log.info("%s: %d link(s) added from %s", self.name, len(urls), name)
        self._changed()
        return None

    async def unlink(self, parent_ref: Ref | None, ref: Ref | None) -> None:
        if not isinstance(ref, LinkRef):
            raise InvalidName(f"{self.name}: {STATUS_NAME} cannot be removed")
        await trio.to_thread.run_sync(self.store.remove, self.name, ref.url)
        self._links.pop(ref.url, None)


async def wait_bounded(seconds: float, deadline: float) -> bool:
    """Sleeps `seconds` if that ends before `deadline` (trio clock); False otherwise."""
    if trio.current_time() + seconds > deadline:
        return False
    await trio.sleep(seconds)
    return True
