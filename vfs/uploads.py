"""Upload sessions: a journal on disk and background tasks that drive them.

A source hands a finished spool to `UploadManager.submit`; the record is in the
journal (fsynced) before `submit` returns, and a task of the manager's nursery
drives it with the source's `driver` coroutine (the provider's steps: start a
session, send the bytes, poll). Transient failures are retried with backoff,
a bounded number of times; then the record stays in the journal as `failed`
(and is tried again at the next mount). The spool is deleted only after the
service confirmed the file and the source has shown the remote file
(`release`), never before. See docs/uploads.md for the format and invariants.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

import trio

from clients.errors import (AuthError, InvalidName, NoSpace, NotFound, QuotaExceeded, RemoteError,
                            TooBig)

log = logging.getLogger(__name__)

JOURNAL_VERSION = 1
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)     # attempts = len + 1
PERMANENT = (NoSpace, QuotaExceeded, InvalidName, TooBig, AuthError, NotFound)

# States a record goes through: queued -> sending -> processing -> done (or failed).
QUEUED, SENDING, PROCESSING, DONE, FAILED = "queued", "sending", "processing", "done", "failed"
# A record whose file was deleted (or replaced) while the service may still turn
# its session into a file: kept in the journal until the source's reaper made
# sure that file does not appear (or deleted it).
ABANDONED = "abandoned"
REAP_DELAYS = (5.0, 30.0, 120.0)   # retries of a reaper that failed (then: next mount)


@dataclass
class UploadRecord:
    id: str
    folder: Any                    # the source's folder id (JSON value)
    name: str
    spool: str                     # path of the spool file holding the bytes
    size: int
    md5: str
    key: str                       # the tree key the file is shown under
    created: float = field(default_factory=time.time)
    replaces: list[str] = field(default_factory=list)   # remote ids to delete once done
    session: dict[str, Any] = field(default_factory=dict)   # provider resume data (no secrets)
    state: str = QUEUED
    attempts: int = 0
    error: str | None = None
    result: dict[str, Any] | None = None   # the remote file, once done
    version: int = JOURNAL_VERSION
    sent: int = field(default=0, compare=False)   # bytes sent in this attempt (memory only)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("sent")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "UploadRecord":
        known = set(cls.__dataclass_fields__) - {"sent"}
        return cls(**{k: v for k, v in data.items() if k in known})


Driver = Callable[[UploadRecord, "UploadManager"], Awaitable[dict[str, Any]]]


class Journal:
    """One JSON file per pending upload in `directory` (0700), each 0600,
    replaced atomically (write, fsync, rename, fsync the directory)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def load(self) -> list[UploadRecord]:
        if not self.directory.exists():
            return []
        records = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                records.append(UploadRecord.from_json(json.loads(path.read_text())))
            except (ValueError, TypeError, OSError) as exc:
                log.warning("upload journal: ignoring unreadable %s (%s)", path.name, exc)
        records.sort(key=lambda r: r.created)
        return records

    def _write(self, record: UploadRecord) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        final = self.directory / f"{record.id}.json"
        tmp = self.directory / f".{record.id}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, json.dumps(record.to_json(), indent=1).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        self._sync_dir()

    def _remove(self, record_id: str) -> None:
        (self.directory / f"{record_id}.json").unlink(missing_ok=True)
        self._sync_dir()

    def _sync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    async def save(self, record: UploadRecord) -> None:
        await trio.to_thread.run_sync(self._write, record)

    async def remove(self, record_id: str) -> None:
        await trio.to_thread.run_sync(self._remove, record_id)


class UploadManager:
    """Runs the uploads of one source. `driver(record, manager)` performs or
    resumes the provider's session and returns the remote file (JSON);
    `on_done(record)` lets the source show it."""

    def __init__(self, journal_dir: Path, driver: Driver,
                 on_done: Callable[[UploadRecord], Awaitable[None]],
                 max_parallel: int = 2, retry_delays: tuple[float, ...] = RETRY_DELAYS,
                 reaper: Callable[[UploadRecord], Awaitable[None]] | None = None) -> None:
        self.journal = Journal(journal_dir)
        self.driver = driver
        self.on_done = on_done
        self.reaper = reaper
        self.retry_delays = retry_delays
        loaded = self.journal.load()
        self.records: dict[str, UploadRecord] = {r.id: r for r in loaded if r.state != ABANDONED}
        self.abandoned: dict[str, UploadRecord] = {r.id: r for r in loaded if r.state == ABANDONED}
        self._limit = trio.Semaphore(max_parallel)
        self._nursery: trio.Nursery | None = None
        self._scopes: dict[str, trio.CancelScope] = {}
        self._shown: set[str] = set()   # DONE and handled by the source (no longer "pending")

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    # ------------------------------------------------------------ lifecycle

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for record in list(self.abandoned.values()):
                nursery.start_soon(self._reap, record)
            for record in list(self.records.values()):
                if record.state == DONE:
                    # Confirmed before a crash: finish the source's part, then clean up.
                    nursery.start_soon(self._finish, record)
                else:
                    log.info("resuming the upload of %s (%s)", record.name, record.state)
                    self._start(record)
            task_status.started()
            try:
                await trio.sleep_forever()
            finally:
                # Unmounting: nothing shows the spools of confirmed uploads any more.
                with trio.CancelScope(shield=True):
                    for record in [r for r in self.records.values() if r.state == DONE]:
                        await self.release(record)

    async def submit(self, record: UploadRecord) -> None:
        """Journals the record (durably) and starts its upload."""
        await self.journal.save(record)
        self.records[record.id] = record
        self._start(record)

    def _start(self, record: UploadRecord) -> None:
        if self._nursery is None:
            return   # started by run() once the mount runs
        scope = trio.CancelScope()
        self._scopes[record.id] = scope
        self._nursery.start_soon(self._drive, record, scope)

    async def save(self, record: UploadRecord) -> None:
        if record.id in self.records:
            await self.journal.save(record)

    async def cancel(self, record_id: str) -> UploadRecord | None:
        """Stops and forgets an upload (its file was deleted); removes the spool.
        A session the service may still finish is handed to the reaper, so that
        the deleted file does not come back when its processing completes."""
        record = self.records.pop(record_id, None)
        scope = self._scopes.pop(record_id, None)
        if scope is not None:
            scope.cancel()
        if record is None:
            return None
        Path(record.spool).unlink(missing_ok=True)
        if self.reaper is not None and record.session and record.state != DONE:
            record.state = ABANDONED
            self.abandoned[record.id] = record
            await self.journal.save(record)    # a crash before the reaper ends: next mount
            if self._nursery is not None:
                self._nursery.start_soon(self._reap, record)
        else:
            await self.journal.remove(record.id)
        return record

    async def _reap(self, record: UploadRecord) -> None:
        assert self.reaper is not None
        for wait in (*REAP_DELAYS, None):
            try:
                await self.reaper(record)
                break
            except (RemoteError, OSError) as exc:
                if wait is None:
                    log.warning("could not make sure the deleted %s does not come back from its "
                                "upload session: %s (tried again at the next mount)", record.name, exc)
                    return
                log.info("checking the abandoned upload of %s: %s; again in %.0fs", record.name, exc, wait)
                await trio.sleep(wait)
        self.abandoned.pop(record.id, None)
        await self.journal.remove(record.id)

    async def release(self, record: UploadRecord) -> None:
        """The remote file is shown now: the spool and the record may go."""
        if record.state != DONE:
            raise AssertionError("a spool is released only after the service confirmed it")
        self.records.pop(record.id, None)
        await trio.to_thread.run_sync(lambda: Path(record.spool).unlink(missing_ok=True))
        await self.journal.remove(record.id)

    # ------------------------------------------------------------ driving

    async def _drive(self, record: UploadRecord, scope: trio.CancelScope) -> None:
        with scope:
            async with self._limit:
                await self._attempts(record)
        self._scopes.pop(record.id, None)

    async def _attempts(self, record: UploadRecord) -> None:
        while True:
            record.attempts += 1
            record.sent = 0
            try:
                result = await self.driver(record, self)
            except PERMANENT as exc:
                await self._fail(record, exc)
                return
            except (RemoteError, OSError) as exc:
                if record.attempts > len(self.retry_delays):
                    await self._fail(record, exc)
                    return
                wait = self.retry_delays[record.attempts - 1]
                record.error = str(exc)
                record.state = QUEUED
                await self.save(record)
                log.info("upload of %s: %s; attempt %d in %.0fs", record.name, exc,
                         record.attempts + 1, wait)
                await trio.sleep(wait)
                continue
            record.state, record.result, record.error = DONE, result, None
            await self.save(record)
            log.info("uploaded %s (%d bytes)", record.name, record.size)
            await self._done(record)
            return

    async def _done(self, record: UploadRecord) -> None:
        try:
            await self.on_done(record)
        except Exception:   # a bug there must not end the mount; the record stays DONE
            log.exception("after uploading %s", record.name)
        self._shown.add(record.id)

    async def _finish(self, record: UploadRecord) -> None:
        await self._done(record)
        await self.release(record)

    async def _fail(self, record: UploadRecord, exc: BaseException) -> None:
        record.state, record.error = FAILED, str(exc)
        await self.save(record)
        log.warning("upload of %s failed after %d attempt(s): %s (the file stays in the "
                    "upload journal and is tried again at the next mount)",
                    record.name, record.attempts, exc)

    # ------------------------------------------------------------ status

    def status(self) -> list[dict[str, Any]]:
        """Uploads not yet confirmed by the service."""
        return [{"name": r.name, "state": r.state, "size": r.size,
                 "sent": r.size if r.state in (PROCESSING, DONE) else r.sent,
                 "attempts": r.attempts, "error": r.error}
                for r in sorted(self.records.values(), key=lambda r: r.created)
                if r.id not in self._shown]   # confirmed and shown: only cleanup is left


def format_status(rows: list[dict[str, Any]]) -> str:
    """The text of `MOUNT/.debridfs/uploads` and `debridfs status`."""
    if not rows:
        return "no uploads pending\n"
    lines = []
    for row in rows:
        size = max(1, row["size"])
        percent = 100.0 * row["sent"] / size if row["size"] else 100.0
        line = (f"{row.get('source', '?')}\t{row['state']}\t{percent:5.1f}%\t"
                f"{row['sent']}/{row['size']}\t{row['path'] if 'path' in row else row['name']}")
        if row.get("error"):
            line += f"\t({row['error']})"
        lines.append(line)
    return "source\tstate\tprogress\tbytes\tfile\n" + "\n".join(lines) + "\n"
