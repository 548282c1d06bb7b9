"""The upload manager: the one owner of a written file from its commit until
the service confirms it.

It alone writes the journal (one fsynced JSON file per upload), decides
whether an upload is instant, drives the sessions through a provider (the
small protocol below: start, info, send, place, delete), retries what is
temporary, and deletes spools. Sources only ask it questions (`pending`,
`alias`, `records`...) and read the `confirmed` channel; it never calls up
into a source. See docs/uploads.md for the journal format and the rules.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import trio

from clients.errors import NotFound, RateLimited, RemoteError, TemporaryError
from clients.retry import Backoff

log = logging.getLogger(__name__)

JOURNAL_VERSION = 1
RETRIES = 5  # attempts = RETRIES + 1, with the backoff of clients/retry.py between them
RETRY_BACKOFF = Backoff(initial=1.0, maximum=16.0)
POLL_FIRST, POLL_MAX = 0.1, 2.0
POLL_STEADY = 3.0  # poll every POLL_FIRST this long (most uploads finish), then back off
PROCESSING_TIMEOUT = 600.0  # an upload Processing longer than this is retried
RELEASE_GRACE = 60.0  # a confirmed upload's spool outlives the kernel's caches
ABANDON_GRACE = 30.0  # an abandoned session still Uploading after this never completes
REAP_RETRIES = 3  # retries of a reaper that failed (then: next mount)
REAP_BACKOFF = Backoff(initial=5.0, multiplier=5.0, maximum=120.0)

# Failures worth another attempt: the service or the network may recover. Any
# other error is the service's answer about this file and ends the upload.
TEMPORARY = (TemporaryError, RateLimited, OSError)

# Record states: writing (fsynced while still open) -> queued -> sending ->
# processing -> done, or failed. A record whose file was deleted while the
# service may still turn its session into a file is `abandoned` until the
# reaper made sure that file does not appear (or deleted it).
WRITING, QUEUED, SENDING, PROCESSING, DONE, FAILED = (
    "writing",
    "queued",
    "sending",
    "processing",
    "done",
    "failed",
)
ABANDONED = "abandoned"

# Session states, as the providers document them (Rapidgator's numbers).
UPLOADING, SESSION_PROCESSING, SESSION_DONE, SESSION_FAILED = 0, 1, 2, 3


@dataclass
class Session:
    """A provider's upload session as the manager needs it."""

    upload_id: str
    state: int
    url: str | None = None  # where the body goes (carries a session token)
    file: dict[str, Any] | None = None  # the remote file once done: file_id, name, folder_id, ...

    def __repr__(self) -> str:
        return f"Session({self.upload_id!r}, state={self.state})"


class Provider(Protocol):
    """The steps of one service's upload sessions (errors: clients.errors)."""

    async def start(self, name: str, md5: str, size: int, folder: Any) -> Session: ...

    async def info(self, upload_id: str) -> Session: ...  # NotFound: the session is gone

    async def send(self, url: str, path: Path, name: str, size: int, progress: Any) -> Session | None: ...

    async def place(self, file: dict[str, Any], folder: Any, name: str) -> dict[str, Any]: ...

    async def delete(self, file_id: str) -> None: ...


@dataclass
class UploadRecord:
    id: str
    folder: Any  # the source's folder id (JSON value)
    name: str
    spool: str  # path of the spool file holding the bytes
    size: int
    md5: str
    key: str  # the tree key the file is shown under
    created: float = field(default_factory=time.time)
    replaces: list[str] = field(default_factory=list)  # remote ids to delete once done
    session: dict[str, Any] = field(default_factory=dict)  # upload_id and the upload url
    state: str = QUEUED
    attempts: int = 0
    error: str | None = None
    result: dict[str, Any] | None = None  # the remote file, once done
    version: int = JOURNAL_VERSION
    sent: int = field(default=0, compare=False)  # bytes sent in this attempt (memory only)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("sent")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UploadRecord:
        known = set(cls.__dataclass_fields__) - {"sent"}
        return cls(**{k: v for k, v in data.items() if k in known})

    def __repr__(self) -> str:  # the session's url carries a token
        return f"UploadRecord({self.id!r}, {self.name!r}, {self.state})"


class Journal:
    """One JSON file per pending upload in `directory` (0700), each 0600,
    replaced atomically (write, fsync, rename, fsync the directory)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # One change at a time, in order: a save still in a worker thread must
        # not land after a later save or removal of the same record.
        self._lock = trio.Lock()

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
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                data = json.dumps(record.to_json(), indent=1).encode()
                if os.write(fd, data) != len(data):
                    raise OSError(28, "short write")  # ENOSPC without the errno module
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, final)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
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
        async with self._lock:
            await trio.to_thread.run_sync(self._write, record)

    async def remove(self, record_id: str) -> None:
        async with self._lock:
            if self.directory.exists():
                await trio.to_thread.run_sync(self._remove, record_id)


class UploadManager:
    """Runs the uploads of one source through its `provider`."""

    def __init__(
        self,
        journal_dir: Path,
        provider: Provider,
        max_parallel: int = 2,
        retries: int = RETRIES,
    ) -> None:
        self.journal = Journal(journal_dir)
        self.provider = provider
        self.retries = retries
        loaded = self.journal.load()
        self._records: dict[str, UploadRecord] = {r.id: r for r in loaded if r.state != ABANDONED}
        self._abandoned: dict[str, UploadRecord] = {r.id: r for r in loaded if r.state == ABANDONED}
        self._aliases: dict[str, str] = {}  # remote file id -> the key its spool was shown under
        self._mtimes: dict[str, float] = {}  # remote file id -> the mtime its spool was shown with
        self._limit = trio.Semaphore(max_parallel)
        self._nursery: trio.Nursery | None = None
        self._scopes: dict[str, trio.CancelScope] = {}
        self._shown: set[str] = set()  # DONE and announced (no longer "pending")
        # Confirmed uploads, for the source to show (it reads; nothing calls it).
        self._confirmed_in, self.confirmed = trio.open_memory_channel[UploadRecord](float("inf"))

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    # ------------------------------------------------------------ questions

    def pending(self, folder: Any) -> list[UploadRecord]:
        """Uploads into `folder` the service has not confirmed yet (listed from the spool)."""
        return [r for r in self._records.values() if r.folder == folder and r.state not in (DONE, WRITING)]

    def same_name(self, folder: Any, name: str) -> list[UploadRecord]:
        """Committed uploads named `name` in `folder`, pending or just confirmed
        (whose remote file may not be in the source's listing yet): a newer
        file of that name replaces them."""
        return [
            r for r in self._records.values() if r.folder == folder and r.name == name and r.state != WRITING
        ]

    def get(self, record_id: str) -> UploadRecord | None:
        return self._records.get(record_id)

    def alias(self, file_id: str) -> str | None:
        """The tree key a confirmed upload's remote file keeps (its spool's)."""
        return self._aliases.get(file_id)

    def mtime(self, file_id: str) -> float | None:
        """The mtime a confirmed upload's remote file keeps in this mount (its
        spool's): an editor that saved it must not find it changed since."""
        return self._mtimes.get(file_id)

    def _alias(self, record: UploadRecord, file_id: Any) -> None:
        self._aliases[str(file_id)] = record.key
        self._mtimes[str(file_id)] = record.created

    def spools(self) -> set[str]:
        """Spool paths the journal names (the rest of the spool dir is orphaned)."""
        return {r.spool for r in (*self._records.values(), *self._abandoned.values())}

    def status(self) -> list[dict[str, Any]]:
        """Uploads not yet confirmed by the service."""
        return [
            {
                "name": r.name,
                "state": r.state,
                "size": r.size,
                "sent": r.size if r.state in (PROCESSING, DONE) else r.sent,
                "attempts": r.attempts,
                "error": r.error,
            }
            for r in sorted(self._records.values(), key=lambda r: r.created)
            if r.id not in self._shown and r.state != WRITING
        ]

    # ------------------------------------------------------------ lifecycle

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for record in list(self._abandoned.values()):
                nursery.start_soon(self._reap, record)
            for record in list(self._records.values()):
                if record.state == DONE:
                    # Confirmed before a crash: finish the after-work, then clean up.
                    nursery.start_soon(self._finish, record)
                    continue
                if record.state == WRITING:
                    # fsynced, then the writer (or the mount) died: upload what is on disk.
                    if not await self._adopt(record):
                        continue
                log.info("resuming the upload of %s (%s)", record.name, record.state)
                self._start(record)
            task_status.started()
            try:
                await trio.sleep_forever()
            finally:
                # A commit still finishing after this (the mount's closers) is
                # journaled and resumes at the next mount.
                self._nursery = None
                # Unmounting: nothing shows the spools of confirmed uploads any more.
                with trio.CancelScope(shield=True):
                    for record in [r for r in self._records.values() if r.state == DONE]:
                        await self.release(record)

    async def _adopt(self, record: UploadRecord) -> bool:
        from .spool import md5_file

        path = Path(record.spool)
        try:
            record.size = (await trio.to_thread.run_sync(path.stat)).st_size
            record.md5 = await trio.to_thread.run_sync(md5_file, path)
        except OSError:
            log.info("the spool of %s is gone; nothing to upload", record.name)
            self._records.pop(record.id, None)
            await self.journal.remove(record.id)
            return False
        record.state = QUEUED
        await self.save(record)
        return True

    async def keep(self, record: UploadRecord) -> None:
        """Journals a file still being written (fsync): a crash uploads what was synced."""
        record.state = WRITING
        await self.journal.save(record)
        self._records[record.id] = record

    async def drop(self, record_id: str) -> None:
        """Forgets a `keep` record whose file was discarded (the caller deletes the spool)."""
        record = self._records.get(record_id)
        if record is not None and record.state == WRITING:
            del self._records[record_id]
            await self.journal.remove(record_id)

    async def submit(self, record: UploadRecord) -> UploadRecord:
        """Takes a finished spool: journals it durably, then asks the service.
        Returns the record, `done` when the upload was instant. Raises (and
        forgets the record; the caller still owns the spool) when the journal
        cannot be written or the service refuses the file."""
        record.state = QUEUED
        await self.journal.save(record)
        try:
            session = await self.provider.start(record.name, record.md5, record.size, record.folder)
        except TEMPORARY as exc:
            log.info("upload of %s will be retried in the background: %s", record.name, exc)
            session = None
        except BaseException as exc:
            self._records.pop(record.id, None)
            with trio.CancelScope(shield=True):
                await self.journal.remove(record.id)
            if isinstance(exc, RemoteError):
                log.warning("cannot upload %s: %s", record.name, exc)
            raise
        self._records[record.id] = record
        # A newer version of the same name replaces it.
        for other in [r for r in self.same_name(record.folder, record.name) if r.id != record.id]:
            mine = session.file.get("file_id") if session is not None and session.file else None
            if other.state == DONE and mine is not None and (other.result or {}).get("file_id") == mine:
                await self.release(other)  # the service gave both the same file: keep it
            else:
                await self.cancel(other.id)
        if session is not None and session.state == SESSION_DONE and session.file is not None:
            # Instant: the service already had these bytes; nothing is sent.
            log.info("instant upload of %s (%d bytes)", record.name, record.size)
            await self._confirm(record, session.file, announce=False)
            await self.release(record)
            return record
        if session is not None:
            record.session = {"upload_id": session.upload_id, "url": session.url}
            await self.save(record)
        self._start(record)
        return record

    def _start(self, record: UploadRecord) -> None:
        if self._nursery is None:
            return  # started by run() once the mount runs
        scope = trio.CancelScope()
        self._scopes[record.id] = scope
        self._nursery.start_soon(self._drive, record, scope)

    async def save(self, record: UploadRecord) -> None:
        """Journals a change of a running upload. A failing disk is not fatal:
        the older record on disk still resumes the upload correctly."""
        if record.id not in self._records and record.id not in self._abandoned:
            return
        try:
            await self.journal.save(record)
        except OSError as exc:
            log.warning("cannot update the upload journal for %s: %s", record.name, exc)

    async def move(self, record_id: str, folder: Any, name: str, replaces: list[str]) -> UploadRecord:
        """`mv` of a pending file: the service learns the new place once it has the file."""
        record = self._records.get(record_id)
        if record is None:
            raise NotFound("the upload is gone")
        record.name, record.folder = name, folder
        record.replaces = sorted(set(record.replaces) | set(replaces))
        await self.journal.save(record)
        if record.state == DONE and record.result is not None:
            await self._place(record)
        return record

    async def cancel(self, record_id: str) -> UploadRecord | None:
        """Stops and forgets an upload (its file was deleted); removes the spool.
        A confirmed one has its remote file deleted; a session the service may
        still finish goes to the reaper, so the deleted file does not come back."""
        record = self._records.pop(record_id, None)
        scope = self._scopes.pop(record_id, None)
        if scope is not None:
            scope.cancel()
        if record is None:
            return None
        await trio.to_thread.run_sync(lambda: Path(record.spool).unlink(missing_ok=True))
        if record.state == DONE and record.result:
            await self._delete(record.result["file_id"])
            await self.journal.remove(record.id)
        elif record.session.get("upload_id") and record.state != WRITING:
            record.state = ABANDONED
            self._abandoned[record.id] = record
            await self.save(record)  # a crash before the reaper ends: next mount
            if self._nursery is not None:
                self._nursery.start_soon(self._reap, record)
        else:
            await self.journal.remove(record.id)
        return record

    def listed(self, file_ids: set[str]) -> None:
        """A listing shows these remote files: confirmed spools among them may go."""
        for record in list(self._records.values()):
            if record.state == DONE and (record.result or {}).get("file_id") in file_ids:
                self._soon(self.release, record)

    async def release(self, record: UploadRecord) -> None:
        """The remote file is shown now: the spool and the record may go."""
        if record.state != DONE:
            raise AssertionError("a spool is released only after the service confirmed it")
        if self._records.pop(record.id, None) is None:
            return
        await trio.to_thread.run_sync(lambda: Path(record.spool).unlink(missing_ok=True))
        await self.journal.remove(record.id)

    def _soon(self, function: Any, *args: Any) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(function, *args)

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
                file = await self._attempt(record)
            except TEMPORARY as exc:
                if record.attempts > self.retries:
                    await self._fail(record, exc)
                    return
                wait = RETRY_BACKOFF.wait(record.attempts - 1, getattr(exc, "retry_after", None))
                record.error = str(exc)
                record.state = QUEUED
                await self.save(record)
                log.info("upload of %s: %s; attempt %d in %.0fs", record.name, exc, record.attempts + 1, wait)
                await trio.sleep(wait)
                continue
            except RemoteError as exc:
                await self._fail(record, exc)
                return
            log.info("uploaded %s (%d bytes)", record.name, record.size)
            await self._confirm(record, file, announce=True)
            return

    async def _attempt(self, record: UploadRecord) -> dict[str, Any]:
        """Starts or resumes the session of `record`; returns the remote file."""
        provider = self.provider
        session: Session | None = None
        upload_id = record.session.get("upload_id")
        url = record.session.get("url")
        if upload_id:
            try:
                session = await provider.info(upload_id)
            except NotFound:
                session = None
            if session is not None and session.state == SESSION_FAILED:
                log.info("upload of %s: the service failed the last session; starting again", record.name)
                session = None
            elif session is not None and session.state == UPLOADING and not (session.url or url):
                log.info("upload of %s: the session has no upload URL; starting a new one", record.name)
                session = None
        if session is None:
            session = await provider.start(record.name, record.md5, record.size, record.folder)
            url = session.url
            record.session = {"upload_id": session.upload_id, "url": url}
            await self.save(record)
        if session.state == UPLOADING:
            session = await self._send(record, session, session.url or url)
        record.state = PROCESSING
        await self.save(record)
        return await self._wait_processed(record, session)

    async def _send(self, record: UploadRecord, session: Session, url: str | None) -> Session:
        if not url:
            record.session = {}
            raise TemporaryError("the upload session has no upload URL")
        record.state = SENDING
        started = trio.current_time()
        try:
            reply = await self.provider.send(
                url, Path(record.spool), record.name, record.size, lambda sent: setattr(record, "sent", sent)
            )
        except NotFound:
            record.session = {}  # the session is gone (e.g. a new token): start again
            raise TemporaryError("the upload session is gone") from None
        except TEMPORARY:
            raise
        except RemoteError as exc:
            # Refused: the session's state says why (received meanwhile, still
            # receiving an older POST, or failed), whatever the wording.
            try:
                reply = await self.provider.info(session.upload_id)
            except NotFound:
                record.session = {}
                raise TemporaryError(f"the upload session is gone ({exc})") from None
            if reply.state == UPLOADING:
                raise TemporaryError(str(exc)) from None
        elapsed = max(trio.current_time() - started, 1e-6)
        log.info(
            "sent %s: %d bytes in %.2fs (%.1f MB/s)",
            record.name,
            record.size,
            elapsed,
            record.size / elapsed / 1e6,
        )
        return reply or await self.provider.info(session.upload_id)

    async def _wait_processed(self, record: UploadRecord, session: Session) -> dict[str, Any]:
        delay = POLL_FIRST
        deadline = trio.current_time() + PROCESSING_TIMEOUT
        steady_until = trio.current_time() + POLL_STEADY
        while True:
            if session.state == SESSION_DONE and session.file is not None:
                return session.file
            if session.state == SESSION_FAILED:
                record.session = {}
                raise TemporaryError("the service failed the upload (state 3)")
            if session.state == UPLOADING and record.state == PROCESSING:
                raise TemporaryError("the service did not receive the upload; sending it again")
            if trio.current_time() > deadline:
                raise TemporaryError("the service is still processing the upload; checking again later")
            await trio.sleep(delay)
            if trio.current_time() > steady_until:
                delay = min(delay * 1.5, POLL_MAX)
            session = await self.provider.info(session.upload_id)

    async def _confirm(self, record: UploadRecord, file: dict[str, Any], announce: bool) -> None:
        """The service has the file: journal it, then put it where the record says."""
        record.state, record.result, record.error = DONE, file, None
        # Before any await: from now on listings show the remote file instead of
        # the spool, and under the spool's key it keeps the inode the kernel knows.
        self._alias(record, file["file_id"])
        await self.save(record)
        await self._place(record)
        self._alias(record, record.result["file_id"])
        self._shown.add(record.id)
        if announce:
            self._confirmed_in.send_nowait(record)
            self._soon(self._release_later, record)

    async def _place(self, record: UploadRecord) -> None:
        """Applies renames/moves made while uploading and deletes what it replaces
        (idempotent: run again after a crash)."""
        assert record.result is not None
        try:
            record.result = await self.provider.place(record.result, record.folder, record.name)
            for file_id in record.replaces:
                if file_id != record.result["file_id"]:
                    await self._delete(file_id)
        except RemoteError as exc:
            log.warning("uploaded %s, but could not finish moving/replacing it: %s", record.name, exc)
        await self.save(record)

    async def _delete(self, file_id: str) -> None:
        try:
            await self.provider.delete(file_id)
        except NotFound:
            pass

    async def _finish(self, record: UploadRecord) -> None:
        self._alias(record, (record.result or {}).get("file_id"))
        await self._place(record)
        self._alias(record, (record.result or {}).get("file_id"))
        self._shown.add(record.id)
        self._confirmed_in.send_nowait(record)
        await self.release(record)

    async def _release_later(self, record: UploadRecord) -> None:
        await trio.sleep(RELEASE_GRACE)
        if record.id in self._records:
            await self.release(record)

    async def _fail(self, record: UploadRecord, exc: BaseException) -> None:
        record.state, record.error = FAILED, str(exc)
        await self.save(record)
        log.warning(
            "upload of %s failed after %d attempt(s): %s (the file stays in the "
            "upload journal and is tried again at the next mount)",
            record.name,
            record.attempts,
            exc,
        )

    # ------------------------------------------------------------ abandoned sessions

    async def _reap(self, record: UploadRecord) -> None:
        for attempt in range(REAP_RETRIES + 1):
            try:
                await self._reap_once(record)
                break
            except (RemoteError, OSError) as exc:
                if attempt == REAP_RETRIES:
                    log.warning(
                        "could not make sure the deleted %s does not come back from its "
                        "upload session: %s (tried again at the next mount)",
                        record.name,
                        exc,
                    )
                    return
                wait = REAP_BACKOFF.wait(attempt, getattr(exc, "retry_after", None))
                log.info("checking the abandoned upload of %s: %s; again in %.0fs", record.name, exc, wait)
                await trio.sleep(wait)
        self._abandoned.pop(record.id, None)
        await self.journal.remove(record.id)

    async def _reap_once(self, record: UploadRecord) -> None:
        """Waits for the session's end and deletes the file it becomes, so that
        a removed file never comes back."""
        upload_id = record.session.get("upload_id")
        if not upload_id:
            return
        now = trio.current_time()
        # State 0 (bytes not received) only ends a wait after a grace: a POST cut
        # off just after its last byte still turns into Processing.
        unsent_deadline, deadline = now + ABANDON_GRACE, now + PROCESSING_TIMEOUT
        delay = POLL_FIRST
        while True:
            try:
                session = await self.provider.info(upload_id)
            except NotFound:
                return
            if session.state == SESSION_DONE and session.file is not None:
                await self._delete(str(session.file["file_id"]))
                log.info(
                    "%s was deleted while the service processed its upload; deleted the file "
                    "the upload became (%s)",
                    record.name,
                    session.file["file_id"],
                )
                return
            if session.state == SESSION_FAILED:
                return
            now = trio.current_time()
            if (session.state == UPLOADING and now > unsent_deadline) or now > deadline:
                return
            await trio.sleep(delay)
            delay = min(delay * 1.5, POLL_MAX)


def format_status(rows: list[dict[str, Any]]) -> str:
    """The text of `MOUNT/.debridfs/uploads` and `debridfs status`."""
    if not rows:
        return "no uploads pending\n"
    lines = []
    for row in rows:
        size = max(1, row["size"])
        percent = 100.0 * row["sent"] / size if row["size"] else 100.0
        line = (
            f"{row.get('source', '?')}\t{row['state']}\t{percent:5.1f}%\t"
            f"{row['sent']}/{row['size']}\t{row['path'] if 'path' in row else row['name']}"
        )
        if row.get("error"):
            line += f"\t({row['error']})"
        lines.append(line)
    return "source\tstate\tprogress\tbytes\tfile\n" + "\n".join(lines) + "\n"
