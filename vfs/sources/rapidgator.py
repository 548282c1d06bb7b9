"""Rapidgator as a source: the account's folders, readable and writable.

`MOUNT/rapidgator/` is the root folder. Files carry size, created time and
md5 (xattr `user.md5`); reads resolve `file/download` (waiting its `delay`).
Written files become upload sessions (vfs/uploads.py): journaled before
close returns, uploaded in the background, listed and readable from their
spool until the service confirms them. Namespace operations map to
folder/file create, rename, move and delete; `mv` onto an existing name
replaces it as POSIX says.

`login_command` is `debridfs login rapidgator`.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import trio

from clients.errors import (AuthError, InvalidName, NoSpace, NotEmpty, NotFound, QuotaExceeded,
                            RemoteError, TemporaryError, TooBig)
from clients.rapidgator import RapidgatorClient, RGFile, RGFolder, TwoFactorRequired, UploadSession
from ..config import (RAPIDGATOR_API_URL, RAPIDGATOR_CREDENTIALS, Config, ConfigError,
                      default_config_path)
from ..spool import SPOOL_KEY_PREFIX
from ..uploads import DONE, PROCESSING, SENDING, UploadManager, UploadRecord
from .base import DirectLink, Entry, Source

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 5            # JDownloader's limit for Rapidgator premium links (NOTES §5)
POLL_FIRST, POLL_MAX = 0.1, 2.0
POLL_STEADY = 3.0              # poll every POLL_FIRST this long (most uploads finish), then back off
PROCESSING_TIMEOUT = 600.0     # an upload Processing longer than this is retried
RELEASE_GRACE = 60.0           # a confirmed upload's spool outlives the kernel's caches
ABANDON_GRACE = 30.0           # an abandoned session still Uploading after this never completes
REFUSALS = (NoSpace, QuotaExceeded, InvalidName, TooBig)


# ---------------------------------------------------------------- stored credentials

def load_credentials(path: Path | None) -> dict[str, str]:
    if path is None or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable ({exc})") from None
    return {k: str(v) for k, v in data.items() if v is not None}


def store_credentials(path: Path, data: dict[str, str]) -> None:
    """Written 0600 from the start (never briefly readable by others), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, json.dumps(data, indent=1).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


# ---------------------------------------------------------------- the source

class RapidgatorSource(Source):
    name = "rapidgator"
    writable = True

    def __init__(self, config: Config, http: httpx.AsyncClient) -> None:
        rg = config.rapidgator
        if rg is None:
            raise ConfigError("no [rapidgator] section")
        self.credentials_file = rg.credentials_file
        stored = load_credentials(self.credentials_file)
        token = rg.token or stored.get("token")
        login, password = rg.login or stored.get("login"), rg.password or stored.get("password")
        if not token and not (login and password):
            raise ConfigError("no Rapidgator credentials: run `debridfs login rapidgator`, or set "
                              "token (or login and password) in [rapidgator]")
        self.client = RapidgatorClient(http, rg.api_url, token, login=login, password=password,
                                       on_token=self._store_token)
        self.uploads = UploadManager(config.state_dir / "uploads" / self.name, self._drive_upload,
                                     self._upload_done, reaper=self._reap_session)
        self.root_id: str | None = None
        self._files: dict[str, dict[str, RGFile]] = {}      # folder id -> file id -> file
        self._folders: dict[str, dict[str, RGFolder]] = {}  # folder id -> sub-folders
        self._by_id: dict[str, RGFile] = {}
        self._links: dict[str, DirectLink] = {}
        self._aliases: dict[str, str] = {}   # uploaded file id -> the key it was shown under
        self._nursery: trio.Nursery | None = None
        self._on_change = lambda ref: None

    async def _store_token(self, token: str) -> None:
        # fsync: in a worker thread, never on the trio thread (a renewal happens mid-read).
        await trio.to_thread.run_sync(self._store_token_sync, token)

    def _store_token_sync(self, token: str) -> None:
        if self.credentials_file is None:
            return
        data = load_credentials(self.credentials_file)
        data["token"] = token
        try:
            store_credentials(self.credentials_file, data)
        except OSError as exc:
            log.info("could not store the renewed Rapidgator token: %s", exc)

    async def check(self) -> None:
        user = await self.client.user_info()
        self.root_id = str(user["folder_id"]) if user.get("folder_id") else \
            (await self.client.folder_info(None)).folder_id
        log.info("Rapidgator: logged in as %s (%s)", user.get("email", "?"),
                 "premium" if user.get("is_premium") else "free")

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(self.uploads.run)
            task_status.started()

    def _folder(self, ref: Any) -> str:
        assert self.root_id is not None, "check() runs before anything else"
        return ref if isinstance(ref, str) else self.root_id

    def _tree_ref(self, folder_id: str) -> Any:
        return None if folder_id == self.root_id else folder_id

    # ------------------------------------------------------------ browsing

    async def list_dir(self, ref: Any) -> list[Entry]:
        folder_id = self._folder(ref)
        content = await self.client.folder_content(folder_id)
        self._folders[folder_id] = {f.folder_id: f for f in content.folders}
        self._files[folder_id] = {f.file_id: f for f in content.files}
        self._by_id.update(self._files[folder_id])
        pending = [r for r in self.uploads.records.values() if r.folder == folder_id and r.state != DONE]
        hidden = {r.name for r in pending}   # a pending upload replaces the older file of its name
        entries = [self._folder_entry(f) for f in content.folders]
        entries += [self._file_entry(f) for f in content.files if f.name not in hidden]
        entries += [self._pending_entry(r) for r in pending]
        # Confirmed uploads listed as remote files now: their spools may go (after
        # this listing is applied; the release task runs at the next checkpoint).
        for record in list(self.uploads.records.values()):
            if record.state == DONE and (record.result or {}).get("file_id") in self._files[folder_id]:
                self._soon(self.uploads.release, record)
        return entries

    def _folder_entry(self, folder: RGFolder) -> Entry:
        return Entry(folder.name, f"dir/{folder.folder_id}", True, mtime=folder.created,
                     ref=folder.folder_id, writable=True)

    def _file_entry(self, file: RGFile) -> Entry:
        return Entry(file.name, self._aliases.get(file.file_id, f"file/{file.file_id}"), False,
                     size=file.size, mtime=file.created, ref=("file", file.file_id),
                     xattrs={"user.md5": file.md5.encode()} if file.md5 else {}, writable=True)

    def _pending_entry(self, record: UploadRecord) -> Entry:
        return Entry(record.name, record.key, False, size=record.size, mtime=record.created,
                     ref=("upload", record.id), xattrs={"user.md5": record.md5.encode()},
                     local=Path(record.spool), writable=True)

    async def resolve(self, ref: Any, *, refresh: bool = False) -> DirectLink:
        if not isinstance(ref, tuple) or ref[0] != "file":
            raise NotFound(f"not a remote file: {ref!r}")
        file_id = ref[1]
        if not refresh and file_id in self._links:
            return self._links[file_id]
        download = await self.client.file_download(file_id)
        if download.delay > 0:
            log.info("Rapidgator asks to wait %ds before downloading", download.delay)
            await trio.sleep(download.delay)
        file = self._by_id.get(file_id)
        size = file.size if file is not None else 0
        link = DirectLink(download.url, size, MAX_CONNECTIONS if size > 2 << 20 else 1)
        self._links[file_id] = link
        return link

    def upload_status(self) -> list[dict[str, Any]]:
        return self.uploads.status()

    # ------------------------------------------------------------ namespace

    async def mkdir(self, parent_ref: Any, name: str) -> Entry:
        folder = await self.client.folder_create(name, self._folder(parent_ref))
        self._folders.setdefault(self._folder(parent_ref), {})[folder.folder_id] = folder
        return Entry(name, f"dir/{folder.folder_id}", True, mtime=folder.created or time.time(),
                     ref=folder.folder_id, writable=True)

    async def _is_empty(self, folder_id: str) -> bool:
        content = await self.client.folder_content(folder_id)
        pending = any(r.folder == folder_id for r in self.uploads.records.values() if r.state != DONE)
        return not content.files and not content.folders and not pending

    async def rmdir(self, parent_ref: Any, ref: Any) -> None:
        if not await self._is_empty(ref):
            raise NotEmpty("the folder is not empty")
        await self.client.folder_delete(ref)
        self._folders.get(self._folder(parent_ref), {}).pop(ref, None)

    async def unlink(self, parent_ref: Any, ref: Any) -> None:
        kind, ident = ref
        if kind == "upload":
            record = await self.uploads.cancel(ident)
            if record is not None and record.state == DONE and record.result:
                await self._delete_file(record.result["file_id"])
            return
        await self._delete_file(ident)

    async def _delete_file(self, file_id: str) -> None:
        try:
            await self.client.file_delete(file_id)
        except NotFound:
            pass
        file = self._by_id.pop(file_id, None)
        if file is not None:
            self._files.get(file.folder_id, {}).pop(file_id, None)

    async def rename(self, ref: Any, old_parent_ref: Any, new_parent_ref: Any, new_name: str) -> Entry:
        old_folder, new_folder = self._folder(old_parent_ref), self._folder(new_parent_ref)
        if isinstance(ref, str):
            return await self._rename_folder(ref, old_folder, new_folder, new_name)
        kind, ident = ref
        doomed_files, doomed_uploads = self._same_name(new_folder, new_name, ref)
        if kind == "upload":
            record = self.uploads.records.get(ident)
            if record is None:
                raise NotFound("the upload is gone")
            # The service learns the new place when the upload is done (see _upload_done).
            record.name, record.folder = new_name, new_folder
            record.replaces = sorted(set(record.replaces) | set(doomed_files))
            await self.uploads.save(record)
            entry = self._pending_entry(record)
        else:
            file = self._by_id.get(ident)
            old_name = file.name if file is not None else None
            # Renamed first: a name the service refuses then changes nothing.
            if file is None or file.name != new_name:
                file = await self.client.file_rename(ident, new_name)
            if new_folder != old_folder:
                try:
                    await self.client.file_move(ident, new_folder)
                except RemoteError:
                    if old_name is not None and old_name != new_name:
                        await self.client.file_rename(ident, old_name)
                    raise
                file = RGFile(file.file_id, file.name, new_folder, file.size, file.md5, file.created)
            self._forget_file(ident)
            self._remember_file(file)
            for file_id in doomed_files:
                await self._delete_file(file_id)
            entry = self._file_entry(file)
        for record_id in doomed_uploads:
            await self.uploads.cancel(record_id)
        return entry

    async def _rename_folder(self, folder_id: str, old_folder: str, new_folder: str,
                             new_name: str) -> Entry:
        target = next((f for f in self._folders.get(new_folder, {}).values()
                       if f.name == new_name and f.folder_id != folder_id), None)
        if target is not None and not await self._is_empty(target.folder_id):
            raise NotEmpty(f"{new_name} is a folder that is not empty")
        if any(f.name == new_name for f in self._files.get(new_folder, {}).values()):
            raise InvalidName("a file has that name")   # the kernel stops most of these first
        old = self._folders.get(old_folder, {}).get(folder_id)
        # Renamed first: a name the service refuses then changes nothing.
        folder = await self.client.folder_rename(folder_id, new_name)
        if new_folder != old_folder:
            try:
                await self.client.folder_move(folder_id, new_folder)
            except RemoteError:
                if old is not None and old.name != new_name:
                    await self.client.folder_rename(folder_id, old.name)
                raise
            folder = RGFolder(folder.folder_id, folder.name, new_folder, folder.created,
                              folder.nb_files, folder.nb_folders)
        if target is not None:
            await self.client.folder_delete(target.folder_id)
            self._folders.get(new_folder, {}).pop(target.folder_id, None)
        self._folders.get(old_folder, {}).pop(folder_id, None)
        self._folders.setdefault(new_folder, {})[folder_id] = folder
        return self._folder_entry(folder)

    def _same_name(self, folder_id: str, name: str, own_ref: Any) -> tuple[list[str], list[str]]:
        """Files and pending uploads named `name` in the folder, other than `own_ref`."""
        files = [f.file_id for f in self._files.get(folder_id, {}).values()
                 if f.name == name and ("file", f.file_id) != own_ref]
        uploads = [r.id for r in self.uploads.records.values()
                   if r.folder == folder_id and r.name == name and r.state != DONE
                   and ("upload", r.id) != own_ref]
        return files, uploads

    def _forget_file(self, file_id: str) -> None:
        file = self._by_id.pop(file_id, None)
        if file is not None:
            self._files.get(file.folder_id, {}).pop(file_id, None)

    def _remember_file(self, file: RGFile) -> None:
        self._by_id[file.file_id] = file
        self._files.setdefault(file.folder_id, {})[file.file_id] = file

    # ------------------------------------------------------------ writing

    async def create_file(self, parent_ref: Any, name: str) -> None:
        if not name or len(name.encode()) > 255:
            raise InvalidName(f"Rapidgator refuses the name {name!r}")

    async def commit_file(self, parent_ref: Any, name: str, spool: Any) -> Entry | None:
        folder_id = self._folder(parent_ref)
        md5 = await spool.digest()
        size = spool.size
        spool.close()
        doomed_files, doomed_uploads = self._same_name(folder_id, name, None)
        record = UploadRecord(id=UploadManager.new_id(), folder=folder_id, name=name,
                              spool=str(spool.path), size=size, md5=md5,
                              key=SPOOL_KEY_PREFIX + spool.path.name, replaces=doomed_files)
        # Journaled first: from here on a crash loses nothing.
        await self.uploads.journal.save(record)
        try:
            session: UploadSession | None = await self.client.upload_start(name, md5, size, folder_id)
        except REFUSALS as exc:
            await self.uploads.journal.remove(record.id)
            log.warning("cannot upload %s to Rapidgator: %s", name, exc)
            raise
        except RemoteError as exc:
            log.info("upload of %s will be retried in the background: %s", name, exc)
            session = None
        for record_id in doomed_uploads:
            await self.uploads.cancel(record_id)
        if session is not None and session.state == 2 and session.file is not None:
            # Instant upload: the service already has these bytes; nothing is sent.
            record.state, record.result = DONE, _file_json(session.file)
            self.uploads.records[record.id] = record
            await self._upload_done(record, notify=False)
            await self.uploads.release(record)
            log.info("instant upload of %s (%d bytes)", name, size)
            return self._file_entry(self._by_id[session.file.file_id])
        if session is not None:
            record.session = {"upload_id": session.upload_id}
        await self.uploads.submit(record)
        return self._pending_entry(record)

    async def _drive_upload(self, record: UploadRecord, manager: UploadManager) -> dict[str, Any]:
        """Starts or resumes the session of `record`; returns the remote file."""
        session: UploadSession | None = None
        upload_id = record.session.get("upload_id")
        if upload_id:
            try:
                session = await self.client.upload_info(upload_id)
            except NotFound:
                session = None
            if session is not None and session.state == 3:
                log.info("upload of %s: the service failed the last session; starting again", record.name)
                session = None
        if session is None:
            session = await self.client.upload_start(record.name, record.md5, record.size, record.folder)
            record.session = {"upload_id": session.upload_id}
            await manager.save(record)
        if session.state == 0:
            record.state = SENDING
            if not session.url:
                raise TemporaryError("the upload session has no upload URL")
            started = trio.current_time()
            try:
                reply = await self.client.upload_file(
                    session.url, Path(record.spool), record.name, record.size,
                    progress=lambda sent: setattr(record, "sent", sent))
            except NotFound:
                record.session = {}      # the session is gone (e.g. a new token): start again
                raise TemporaryError("the upload session is gone") from None
            except RemoteError as exc:
                if "in progress" in str(exc).lower():
                    raise TemporaryError(str(exc)) from None
                if "already finished" not in str(exc).lower():
                    raise
                reply = None
            elapsed = max(trio.current_time() - started, 1e-6)
            log.info("sent %s: %d bytes in %.2fs (%.1f MB/s)", record.name, record.size, elapsed,
                     record.size / elapsed / 1e6)
            session = reply or await self.client.upload_info(session.upload_id)
        record.state = PROCESSING
        await manager.save(record)
        return await self._wait_processed(record, session)

    async def _wait_processed(self, record: UploadRecord, session: UploadSession) -> dict[str, Any]:
        delay = POLL_FIRST
        deadline = trio.current_time() + PROCESSING_TIMEOUT
        steady_until = trio.current_time() + POLL_STEADY
        while True:
            if session.state == 2 and session.file is not None:
                return _file_json(session.file)
            if session.state == 3:
                record.session = {}
                raise TemporaryError("Rapidgator failed the upload (state 3)")
            if session.state == 0 and record.state == PROCESSING:
                raise TemporaryError("Rapidgator did not receive the upload; sending it again")
            if trio.current_time() > deadline:
                raise TemporaryError("Rapidgator is still processing the upload; checking again later")
            await trio.sleep(delay)
            if trio.current_time() > steady_until:
                delay = min(delay * 1.5, POLL_MAX)
            session = await self.client.upload_info(session.upload_id)

    async def _reap_session(self, record: UploadRecord) -> None:
        """The file of `record` was deleted (or replaced) while its session may
        still be finished by the service: wait for the session's end and delete
        the file it becomes, so that a removed file never comes back."""
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
                session = await self.client.upload_info(upload_id)
            except NotFound:
                return
            if session.state == 2 and session.file is not None:
                await self._delete_file(session.file.file_id)
                log.info("%s was deleted while Rapidgator processed its upload; deleted the file "
                         "the upload became (%s)", record.name, session.file.file_id)
                return
            if session.state == 3:
                return
            now = trio.current_time()
            if (session.state == 0 and now > unsent_deadline) or now > deadline:
                return
            await trio.sleep(delay)
            delay = min(delay * 1.5, POLL_MAX)

    async def _upload_done(self, record: UploadRecord, notify: bool = True) -> None:
        """The service has the file: apply renames made meanwhile, replace
        what the file replaces, and show the remote file under the same key."""
        file = RGFile.from_json(record.result or {})
        try:
            if file.folder_id != record.folder:
                await self.client.file_move(file.file_id, record.folder)
                file = RGFile(file.file_id, file.name, record.folder, file.size, file.md5, file.created)
            if file.name != record.name:
                file = await self.client.file_rename(file.file_id, record.name)
            for file_id in record.replaces:
                if file_id != file.file_id:
                    await self._delete_file(file_id)
        except RemoteError as exc:
            log.warning("uploaded %s, but could not finish moving/replacing it: %s", record.name, exc)
        record.result = _file_json(file)
        self._aliases[file.file_id] = record.key
        self._remember_file(file)
        if notify:
            self._on_change(self._tree_ref(record.folder))
            self._soon(self._release_later, record)

    async def _release_later(self, record: UploadRecord) -> None:
        await trio.sleep(RELEASE_GRACE)
        if record.id in self.uploads.records:
            await self.uploads.release(record)

    def _soon(self, function: Any, *args: Any) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(function, *args)


def _file_json(file: RGFile) -> dict[str, Any]:
    return {"file_id": file.file_id, "name": file.name, "folder_id": file.folder_id,
            "size": file.size, "hash": file.md5, "created": int(file.created)}


# ---------------------------------------------------------------- debridfs login rapidgator

def _ask(prompt: str, secret: bool = False) -> str:
    """From the terminal when there is one; otherwise one line of stdin (tests, scripts)."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt) if secret else input(prompt)
    print(prompt, end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    print(file=sys.stderr)
    return line.rstrip("\n")


def login_command(args: Any, config: Config) -> int:
    """Asks login, password and (if needed) the 2FA code; stores the token (0600)."""
    from clients.http import make_http_client

    rg = config.rapidgator
    api_url = rg.api_url if rg is not None else RAPIDGATOR_API_URL
    path = (rg.credentials_file if rg is not None and rg.credentials_file is not None
            else (config.path or default_config_path()).parent / RAPIDGATOR_CREDENTIALS)
    login = _ask("Rapidgator login (e-mail): ").strip()
    password = _ask("Password: ", secret=True)

    async def attempt(code: str | None) -> str:
        async with make_http_client(4) as http:
            token, _user = await RapidgatorClient(http, api_url).login(login, password, code)
            return token

    try:
        try:
            token = trio.run(attempt, None)
        except TwoFactorRequired:
            token = trio.run(attempt, _ask("2FA code: ", secret=True).strip())
    except AuthError as exc:
        print(f"debridfs: {exc}", file=sys.stderr)
        return 1
    except RemoteError as exc:
        print(f"debridfs: cannot log in to Rapidgator: {exc}", file=sys.stderr)
        return 1
    data = {"token": token}
    keep = _ask("Store the login and password so that an expired session is renewed "
                "automatically? [y/N] ").strip().lower()
    if keep in ("y", "yes"):
        data.update(login=login, password=password)
    store_credentials(path, data)
    print(f"debridfs: logged in to Rapidgator; token stored in {path}"
          + (" with the login and password" if "password" in data else ""))
    return 0


__all__ = ["RapidgatorSource", "login_command", "InvalidName", "NoSpace"]
