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
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import trio

from clients.errors import AuthError, InvalidName, NoSpace, NotEmpty, NotFound, Refused, RemoteError, TooBig
from clients.rapidgator import RapidgatorClient, RGFile, RGFolder, TwoFactorRequired, UploadSession

from ..config import RAPIDGATOR_API_URL, RAPIDGATOR_CREDENTIALS, Config, ConfigError, default_config_path
from ..uploads import DONE, Session, UploadManager, UploadRecord
from .base import DirectLink, Entry, Ref, Source

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_CONNECTIONS = 5  # JDownloader's limit for premium links (providers.md, "Rapidgator")


@dataclass(frozen=True, slots=True)
class FolderRef(Ref):
    """A folder below the root (the root itself is None)."""

    folder_id: str


@dataclass(frozen=True, slots=True)
class FileRef(Ref):
    """A file on the service."""

    file_id: str


@dataclass(frozen=True, slots=True)
class UploadRef(Ref):
    """A written file not yet confirmed by the service (its upload record)."""

    record_id: str


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
    uploads: UploadManager  # always: every written file is uploaded

    def __init__(self, config: Config, http: httpx.AsyncClient) -> None:
        rg = config.rapidgator
        if rg is None:
            raise ConfigError("no [rapidgator] section")
        self.credentials_file = rg.credentials_file
        stored = load_credentials(self.credentials_file)
        token = rg.token or stored.get("token")
        login, password = rg.login or stored.get("login"), rg.password or stored.get("password")
        if not token and not (login and password):
            raise ConfigError(
                "no Rapidgator credentials: run `debridfs login rapidgator`, or set "
                "token (or login and password) in [rapidgator]"
            )
        self.client = RapidgatorClient(
            http, rg.api_url, token, login=login, password=password, on_token=self._store_token
        )
        self.uploads = UploadManager(config.state_dir / "uploads" / self.name, RapidgatorUploads(self.client))
        self.root_id: str | None = None
        self._files: dict[str, dict[str, RGFile]] = {}  # folder id -> file id -> file
        self._folders: dict[str, dict[str, RGFolder]] = {}  # folder id -> sub-folders
        self._by_id: dict[str, RGFile] = {}
        self._links: dict[str, DirectLink] = {}
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
        self.root_id = user.folder_id or (await self.client.folder_info(None)).folder_id
        log.info(
            "Rapidgator: logged in as %s (%s)", user.email or "?", "premium" if user.is_premium else "free"
        )

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.uploads.run)
            nursery.start_soon(self._show_confirmed)
            task_status.started()

    def _folder(self, ref: Ref | None) -> str:
        assert self.root_id is not None, "check() runs before anything else"
        return ref.folder_id if isinstance(ref, FolderRef) else self.root_id

    def _tree_ref(self, folder_id: str) -> FolderRef | None:
        return None if folder_id == self.root_id else FolderRef(folder_id)

    # ------------------------------------------------------------ browsing

    async def list_dir(self, ref: Ref | None) -> list[Entry]:
        folder_id = self._folder(ref)
        content = await self.client.folder_content(folder_id)
        self._folders[folder_id] = {f.folder_id: f for f in content.folders}
        self._files[folder_id] = {f.file_id: f for f in content.files}
        self._by_id.update(self._files[folder_id])
        pending = self.uploads.pending(folder_id)
        hidden = {r.name for r in pending}  # a pending upload replaces the older file of its name
        entries = [self._folder_entry(f) for f in content.folders]
        entries += [self._file_entry(f) for f in content.files if f.name not in hidden]
        entries += [self._pending_entry(r) for r in pending]
        # Confirmed uploads listed as remote files now: their spools may go (after
        # this listing is applied; the release task runs at the next checkpoint).
        self.uploads.listed(set(self._files[folder_id]))
        return entries

    def _folder_entry(self, folder: RGFolder) -> Entry:
        return Entry(
            folder.name,
            f"dir/{folder.folder_id}",
            True,
            mtime=folder.created,
            ref=FolderRef(folder.folder_id),
            writable=True,
        )

    def _file_entry(self, file: RGFile) -> Entry:
        return Entry(
            file.name,
            self.uploads.alias(file.file_id) or f"file/{file.file_id}",
            False,
            size=file.size,
            mtime=self.uploads.mtime(file.file_id) or file.created,
            ref=FileRef(file.file_id),
            xattrs={"user.md5": file.md5.encode()} if file.md5 else {},
            writable=True,
        )

    def _pending_entry(self, record: UploadRecord) -> Entry:
        return Entry(
            record.name,
            record.key,
            False,
            size=record.size,
            mtime=record.created,
            ref=UploadRef(record.id),
            xattrs={"user.md5": record.md5.encode()},
            local=Path(record.spool),
            writable=True,
        )

    async def resolve(self, ref: Ref | None, *, refresh: bool = False) -> DirectLink:
        if not isinstance(ref, FileRef):
            raise NotFound(f"not a remote file: {ref!r}")
        file_id = ref.file_id
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

    async def mkdir(self, parent_ref: Ref | None, name: str) -> Entry:
        folder = await _naming(self.client.folder_create(name, self._folder(parent_ref)))
        self._folders.setdefault(self._folder(parent_ref), {})[folder.folder_id] = folder
        return Entry(
            name,
            f"dir/{folder.folder_id}",
            True,
            mtime=folder.created or time.time(),
            ref=FolderRef(folder.folder_id),
            writable=True,
        )

    async def _is_empty(self, folder_id: str) -> bool:
        content = await self.client.folder_content(folder_id)
        return not content.files and not content.folders and not self.uploads.pending(folder_id)

    async def rmdir(self, parent_ref: Ref | None, ref: Ref | None) -> None:
        if not isinstance(ref, FolderRef):
            raise NotFound(f"not a folder: {ref!r}")
        if not await self._is_empty(ref.folder_id):
            raise NotEmpty("the folder is not empty")
        await self.client.folder_delete(ref.folder_id)
        self._folders.get(self._folder(parent_ref), {}).pop(ref.folder_id, None)

    async def unlink(self, parent_ref: Ref | None, ref: Ref | None) -> None:
        match ref:
            case UploadRef(record_id):
                record = await self.uploads.cancel(record_id)
                if record is not None and record.result:
                    self._forget_file(record.result["file_id"])
            case FileRef(file_id):
                await self._delete_file(file_id)
            case _:
                raise NotFound(f"not a file: {ref!r}")

    async def _delete_file(self, file_id: str) -> None:
        try:
            await self.client.file_delete(file_id)
        except NotFound:
            pass
        file = self._by_id.pop(file_id, None)
        if file is not None:
            self._files.get(file.folder_id, {}).pop(file_id, None)

    async def rename(
        self, ref: Ref | None, old_parent_ref: Ref | None, new_parent_ref: Ref | None, new_name: str
    ) -> Entry:
        old_folder, new_folder = self._folder(old_parent_ref), self._folder(new_parent_ref)
        if isinstance(ref, FolderRef):
            return await self._rename_folder(ref.folder_id, old_folder, new_folder, new_name)
        if not isinstance(ref, FileRef | UploadRef):
            raise NotFound(f"not a file: {ref!r}")
        doomed_files, doomed_uploads = self._same_name(new_folder, new_name, ref)
        if isinstance(ref, UploadRef):
            # The service learns the new place when it has the file (the manager applies it).
            record = await self.uploads.move(ref.record_id, new_folder, new_name, doomed_files)
            entry = self.upload_entry(record)
        else:
            ident = ref.file_id
            file = self._by_id.get(ident)
            old_name = file.name if file is not None else None
            # Renamed first: a name the service refuses then changes nothing.
            if file is None or file.name != new_name:
                file = await _naming(self.client.file_rename(ident, new_name))
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

    async def _rename_folder(self, folder_id: str, old_folder: str, new_folder: str, new_name: str) -> Entry:
        target = next(
            (
                f
                for f in self._folders.get(new_folder, {}).values()
                if f.name == new_name and f.folder_id != folder_id
            ),
            None,
        )
        if target is not None and not await self._is_empty(target.folder_id):
            raise NotEmpty(f"{new_name} is a folder that is not empty")
        if any(f.name == new_name for f in self._files.get(new_folder, {}).values()):
            raise InvalidName("a file has that name")  # the kernel stops most of these first
        old = self._folders.get(old_folder, {}).get(folder_id)
        # Renamed first: a name the service refuses then changes nothing.
        folder = await _naming(self.client.folder_rename(folder_id, new_name))
        if new_folder != old_folder:
            try:
                await self.client.folder_move(folder_id, new_folder)
            except RemoteError:
                if old is not None and old.name != new_name:
                    await self.client.folder_rename(folder_id, old.name)
                raise
            folder = RGFolder(
                folder.folder_id, folder.name, new_folder, folder.created, folder.nb_files, folder.nb_folders
            )
        if target is not None:
            await self.client.folder_delete(target.folder_id)
            self._folders.get(new_folder, {}).pop(target.folder_id, None)
        self._folders.get(old_folder, {}).pop(folder_id, None)
        self._folders.setdefault(new_folder, {})[folder_id] = folder
        return self._folder_entry(folder)

    def _same_name(self, folder_id: str, name: str, own_ref: Ref | None) -> tuple[list[str], list[str]]:
        """Files and pending uploads named `name` in the folder, other than `own_ref`."""
        files = [
            f.file_id
            for f in self._files.get(folder_id, {}).values()
            if f.name == name and FileRef(f.file_id) != own_ref
        ]
        uploads = [r.id for r in self.uploads.same_name(folder_id, name) if UploadRef(r.id) != own_ref]
        return files, uploads

    def _forget_file(self, file_id: str) -> None:
        file = self._by_id.pop(file_id, None)
        if file is not None:
            self._files.get(file.folder_id, {}).pop(file_id, None)

    def _remember_file(self, file: RGFile) -> None:
        self._by_id[file.file_id] = file
        self._files.setdefault(file.folder_id, {})[file.file_id] = file

    # ------------------------------------------------------------ writing

    async def create_file(self, parent_ref: Ref | None, name: str) -> None:
        if not name or len(name.encode()) > 255:
            raise InvalidName(f"Rapidgator refuses the name {name!r}")

    def upload_destination(self, parent_ref: Ref | None, name: str) -> tuple[str, list[str]]:
        """Where a written file goes, and the remote files of that name it replaces."""
        folder_id = self._folder(parent_ref)
        return folder_id, self._same_name(folder_id, name, None)[0]

    def upload_entry(self, record: UploadRecord) -> Entry:
        """What the tree shows for a committed file: pending, or the remote file."""
        if record.state == DONE and record.result is not None:
            file = RGFile.from_json(record.result)
            self._remember_file(file)
            return self._file_entry(file)
        return self._pending_entry(record)

    async def _show_confirmed(self) -> None:
        """Confirmed uploads become remote files under the key of their spool."""
        async for record in self.uploads.confirmed:
            if record.result is not None:
                for file_id in record.replaces:
                    self._forget_file(file_id)
                self._remember_file(RGFile.from_json(record.result))
                self._on_change(self._tree_ref(record.folder))


class RapidgatorUploads:
    """Rapidgator's upload steps for the upload manager (vfs/uploads.py)."""

    def __init__(self, client: RapidgatorClient) -> None:
        self.client = client

    @staticmethod
    def _session(session: UploadSession) -> Session:
        return Session(
            session.upload_id,
            session.state,
            session.url,
            _file_json(session.file) if session.file is not None else None,
        )

    async def start(self, name: str, md5: str, size: int, folder: Any) -> Session:
        try:
            return self._session(await self.client.upload_start(name, md5, size, folder))
        except Refused as exc:
            raise await self._explain(exc, size) from None

    async def _explain(self, exc: Refused, size: int) -> RemoteError:
        """A refusal the API documents no wording for: the account's documented
        limits (user.storage.left, user.upload.max_file_size) may explain it."""
        try:
            user = await self.client.user_info()
        except RemoteError:
            return exc
        left, biggest = user.storage_left, user.max_file_size
        if biggest is not None and size > biggest:
            return TooBig(f"{exc} (the account takes files up to {biggest} bytes)", status=exc.status)
        if left is not None and size > left:
            return NoSpace(f"{exc} ({left} bytes of storage left)", status=exc.status)
        return exc

    async def info(self, upload_id: str) -> Session:
        return self._session(await self.client.upload_info(upload_id))

    async def send(self, url: str, path: Path, name: str, size: int, progress: Any) -> Session | None:
        reply = await self.client.upload_file(url, path, name, size, progress=progress)
        return self._session(reply) if reply is not None else None

    async def place(self, file: dict[str, Any], folder: Any, name: str) -> dict[str, Any]:
        current = RGFile.from_json(file)
        if current.folder_id != folder:
            await self.client.file_move(current.file_id, folder)
            current = RGFile(
                current.file_id, current.name, folder, current.size, current.md5, current.created
            )
        if current.name != name:
            renamed = await self.client.file_rename(current.file_id, name)
            current = RGFile(
                current.file_id, renamed.name, current.folder_id, current.size, current.md5, current.created
            )
        return _file_json(current)

    async def delete(self, file_id: str) -> None:
        await self.client.file_delete(file_id)


async def _naming(call: Awaitable[T]) -> T:
    """A call whose only choice of the user's is a name (folder/create,
    folder/rename, file/rename): a refusal the docs do not explain refuses the name."""
    try:
        return await call
    except Refused as exc:
        raise InvalidName(str(exc), status=exc.status) from None


def _file_json(file: RGFile) -> dict[str, Any]:
    return {
        "file_id": file.file_id,
        "name": file.name,
        "folder_id": file.folder_id,
        "size": file.size,
        "hash": file.md5,
        "created": int(file.created),
    }


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
    path = (
        rg.credentials_file
        if rg is not None and rg.credentials_file is not None
        else (config.path or default_config_path()).parent / RAPIDGATOR_CREDENTIALS
    )
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
    keep = (
        _ask("Store the login and password so that an expired session is renewed automatically? [y/N] ")
        .strip()
        .lower()
    )
    if keep in ("y", "yes"):
        data.update(login=login, password=password)
    store_credentials(path, data)
    print(
        f"debridfs: logged in to Rapidgator; token stored in {path}"
        + (" with the login and password" if "password" in data else "")
    )
    return 0


__all__ = ["RapidgatorSource", "login_command", "InvalidName", "NoSpace"]
