"""The Real-Debrid metadata database (sqlite3 in the XDG state dir).

It holds what the last good sync saw: torrent list items and their
`/torrents/info` replies, the `/downloads` list, list ETags, files classified
as never servable, and generated links. A remount loads it whole before any
API call, so the tree is browsable at once. One file per account (by user
id), mode 0600: it holds download URLs.

sqlite calls block, so they run in a worker thread, one at a time.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, TypeVarTuple

import trio

log = logging.getLogger(__name__)

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

# A torrent as stored: id, its list item, its `/torrents/info` reply (None until fetched).
TorrentRow = tuple[str, dict[str, Any], dict[str, Any] | None]

SCHEMA = """
CREATE TABLE IF NOT EXISTS torrents (id TEXT PRIMARY KEY, item TEXT NOT NULL, info TEXT);
CREATE TABLE IF NOT EXISTS downloads (pos INTEGER PRIMARY KEY, item TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dead (torrent TEXT, file INTEGER, reason TEXT, PRIMARY KEY (torrent, file));
CREATE TABLE IF NOT EXISTS links (link TEXT PRIMARY KEY, url TEXT, size INTEGER, chunks INTEGER,
                                  created REAL);
"""


@dataclass
class Snapshot:
    torrents: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = field(default_factory=dict)
    downloads: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    dead: dict[tuple[str, int], str] = field(default_factory=dict)
    links: dict[str, tuple[str, int, int, float]] = field(default_factory=dict)


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = trio.Lock()

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            os.chmod(self.path, 0o600)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(SCHEMA)
            self._db = db
        return self._db

    async def _run(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        async with self._lock:
            return await trio.to_thread.run_sync(fn, *args)

    # --- reading

    async def load(self) -> Snapshot:
        return await self._run(self._load)

    def _load(self) -> Snapshot:
        db = self._open()
        snap = Snapshot()
        for tid, item, info in db.execute("SELECT id, item, info FROM torrents"):
            snap.torrents[tid] = (json.loads(item), json.loads(info) if info else None)
        snap.downloads = [
            json.loads(item) for (item,) in db.execute("SELECT item FROM downloads ORDER BY pos")
        ]
        snap.meta = {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}
        snap.dead = {(t, f): r for t, f, r in db.execute("SELECT torrent, file, reason FROM dead")}
        snap.links = {
            link: (url, size, chunks, created)
            for link, url, size, chunks, created in db.execute(
                "SELECT link, url, size, chunks, created FROM links"
            )
        }
        return snap

    # --- writing

    async def save_torrents(
        self, upserts: list[TorrentRow], deletes: list[str], meta: dict[str, Any] | None = None
    ) -> None:
        await self._run(self._save_torrents, upserts, deletes, meta or {})

    def _save_torrents(self, upserts: list[TorrentRow], deletes: list[str], meta: dict[str, Any]) -> None:
        db = self._open()
        with db:
            db.execute("BEGIN")
            db.executemany(
                "INSERT OR REPLACE INTO torrents (id, item, info) VALUES (?, ?, ?)",
                [
                    (tid, json.dumps(item), json.dumps(info) if info is not None else None)
                    for tid, item, info in upserts
                ],
            )
            db.executemany("DELETE FROM torrents WHERE id = ?", [(tid,) for tid in deletes])
            db.executemany("DELETE FROM dead WHERE torrent = ?", [(tid,) for tid in deletes])
            self._put_meta(db, meta)

    async def save_downloads(self, items: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> None:
        await self._run(self._save_downloads, items, meta or {})

    def _save_downloads(self, items: list[dict[str, Any]], meta: dict[str, Any]) -> None:
        db = self._open()
        with db:
            db.execute("BEGIN")
            db.execute("DELETE FROM downloads")
            db.executemany(
                "INSERT INTO downloads (pos, item) VALUES (?, ?)",
                [(n, json.dumps(item)) for n, item in enumerate(items)],
            )
            self._put_meta(db, meta)

    @staticmethod
    def _put_meta(db: sqlite3.Connection, meta: dict[str, Any]) -> None:
        db.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [(k, json.dumps(v)) for k, v in meta.items()],
        )

    async def mark_dead(self, torrent_id: str, file_id: int, reason: str) -> None:
        await self._run(
            self._exec,
            "INSERT OR REPLACE INTO dead (torrent, file, reason) VALUES (?, ?, ?)",
            (torrent_id, file_id, reason),
        )

    async def save_link(self, link: str, url: str, size: int, chunks: int, created: float) -> None:
        await self._run(
            self._exec,
            "INSERT OR REPLACE INTO links (link, url, size, chunks, created) VALUES (?, ?, ?, ?, ?)",
            (link, url, size, chunks, created),
        )

    async def drop_link(self, link: str) -> None:
        await self._run(self._exec, "DELETE FROM links WHERE link = ?", (link,))

    def _exec(self, sql: str, args: tuple[str | int | float, ...]) -> None:
        db = self._open()
        with db:
            db.execute(sql, args)

    async def aclose(self) -> None:
        """Closes the database in a worker thread (closing checkpoints the WAL:
        disk I/O that must not stall the trio thread), after pending writes."""
        with trio.CancelScope(shield=True):
            await self._run(self.close)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
