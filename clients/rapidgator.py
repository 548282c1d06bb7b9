"""Rapidgator API v2 client (docs/providers.md, "Rapidgator").

Every call is a POST with a form body: the `token` is a parameter of every
method, and a form body keeps it out of URLs that proxies or logs record.
Replies are the envelope `{"response": ..., "status": N, "details": "..."}`;
errors are mapped to `clients.errors` by the documented status codes and
the few documented texts (`map_error`); other refusals are `Refused`,
quoting the service. After a `Please wait` login reply, no new login for
5 minutes. A 401
(session gone) is renewed once by logging in again when a login and password
are available; otherwise the caller gets an `AuthError` saying to log in.

Uploads: `upload_file` streams a spool file from disk as multipart/form-data
(one part named `file`) with a known Content-Length, never held in memory:
to a plain HTTP upload URL with sendfile(2) (`clients/filepost.py`), to an
https one (or through a proxy) through httpx, chunk by chunk.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trio

from . import filepost
from .errors import (
    AccountLocked,
    AuthError,
    NotFound,
    QuotaExceeded,
    RateLimited,
    Refused,
    RemoteError,
    TemporaryError,
)
from .fields import optional_bool, optional_int, optional_size, optional_timestamp
from .http import redact_url, retry_after_seconds
from .retry import Backoff, Retrying, is_temporary

log = logging.getLogger(__name__)

API_RETRIES = 4
API_BACKOFF = Backoff(initial=1.0, maximum=30.0)
PER_PAGE = 500
UPLOAD_CHUNK = 4 << 20  # fewer worker-thread hops per byte (measured: 1 MiB gave ~79% of curl)
UPLOAD_TIMEOUT = httpx.Timeout(60.0, connect=10.0, read=300.0)
UPLOAD_TIMEOUTS = filepost.Timeouts(connect=10.0, write=60.0, read=300.0)  # the same, for plain HTTP
LOGIN_BACKOFF = 300.0  # after `Please wait`, no login for 5 min (providers.md, "Rapidgator", Errors)


class TwoFactorRequired(AuthError):
    """user/login needs the one-time `code` of a 2FA account."""


def _int(value: Any, default: int = 0) -> int:
    number = optional_int(value)
    return default if number is None else number


def _part(response: Any, key: str, method: str) -> dict[str, Any]:
    """The object `key` of a reply; a reply without it is a clear error, not a KeyError."""
    value = response.get(key) if isinstance(response, dict) else None
    if not isinstance(value, dict):
        raise TemporaryError(f"Rapidgator {method}: the reply has no {key}")
    return value


def envelope_status(body: dict[str, Any], default: int) -> int:
    """The envelope's status: `status`, or `response_status` in the v1 spelling that
    JDownloader also reads (docs/providers.md, "Rapidgator", Replies the documents leave open)."""
    return _int(body.get("status", body.get("response_status")), default)


def envelope_details(body: dict[str, Any]) -> str:
    return str(body.get("details") or body.get("response_details") or "")


@dataclass(frozen=True)
class RGUser:
    """The account (`user` in user/login and user/info). Every field may be
    missing or null; `storage.total` arrives as a string (docs/providers.md, Rapidgator "Formats")."""

    email: str | None
    is_premium: bool
    premium_end_time: int | None  # unix seconds
    folder_id: str | None  # the root folder, when the reply names it
    traffic_left: int | None  # bytes
    storage_left: int | None  # bytes
    max_file_size: int | None  # bytes, per upload

    @classmethod
    def from_json(cls, data: Any) -> RGUser:
        user = data if isinstance(data, dict) else {}

        def part(name: str) -> dict[str, Any]:
            value = user.get(name)
            return value if isinstance(value, dict) else {}

        return cls(
            email=str(user["email"]) if user.get("email") else None,
            is_premium=bool(optional_bool(user.get("is_premium"))),
            premium_end_time=optional_int(user.get("premium_end_time")),
            folder_id=str(user["folder_id"]) if user.get("folder_id") else None,
            traffic_left=optional_int(part("traffic").get("left")),
            storage_left=optional_int(part("storage").get("left")),
            max_file_size=optional_int(part("upload").get("max_file_size")),
        )


@dataclass(frozen=True)
class RGFile:
    file_id: str
    name: str
    folder_id: str
    size: int
    md5: str
    created: float

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RGFile:
        return cls(
            file_id=str(data["file_id"]),
            name=str(data.get("name") or data["file_id"]),
            folder_id=str(data.get("folder_id") or ""),
            size=optional_size(data.get("size")) or 0,
            md5=str(data.get("hash") or "").lower(),
            created=optional_timestamp(data.get("created")) or 0.0,
        )


@dataclass(frozen=True)
class RGFolder:
    folder_id: str
    name: str
    parent_id: str | None
    created: float
    nb_files: int = 0
    nb_folders: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RGFolder:
        parent = data.get("parent_folder_id")
        return cls(
            folder_id=str(data["folder_id"]),
            name=str(data.get("name") or data["folder_id"]),
            parent_id=str(parent) if parent else None,
            created=optional_timestamp(data.get("created")) or 0.0,
            nb_files=_int(data.get("nb_files")),
            nb_folders=_int(data.get("nb_folders")),
        )


@dataclass(frozen=True)
class FolderContent:
    folder: RGFolder
    folders: list[RGFolder]
    files: list[RGFile]


@dataclass(frozen=True)
class UploadSession:
    upload_id: str
    state: int  # 0 Uploading, 1 Processing, 2 Done, 3 Fail
    url: str | None
    file: RGFile | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UploadSession:
        file = data.get("file")
        return cls(
            upload_id=str(data["upload_id"]),
            state=_int(data.get("state"), -1),
            url=data.get("url") or None,
            file=RGFile.from_json(file) if isinstance(file, dict) and file.get("file_id") else None,
        )

    def __repr__(self) -> str:  # the URL carries the session token (sid=)
        return f"UploadSession({self.upload_id!r}, state={self.state})"


@dataclass(frozen=True)
class DownloadLink:
    url: str
    delay: int

    def __repr__(self) -> str:
        return f"DownloadLink(<url>, delay={self.delay})"


# The texts clients branch on (providers.md, "Rapidgator", Errors).
THROTTLED = "please wait"  # user/login: too many logins (JDownloader backs off 5 min)
TWO_FACTOR = "code is required"  # user/login on a 2FA account without `code`
LOCKED = ("locked", "frozen")  # "ACCOUNT LOCKED FOR VIOLATION...", "User is FROZEN"


def map_error(method: str, status: int, details: str, retry_after: float | None = None) -> RemoteError:
    """The service's envelope -> the error vocabulary, by the documented status
    codes (401 session, 404 not found, 423 traffic, 429/`Please wait`
    throttling, 5xx temporary) and the few documented texts. Anything else is
    `Refused`, quoting the service's words: the caller decides what it means."""
    text = details or f"HTTP {status}"
    lower = text.lower()
    message = f"Rapidgator {method}: {text}"
    kw = {"status": status}
    if THROTTLED in lower or status == 429:
        return RateLimited(message, retry_after=retry_after, **kw)
    if TWO_FACTOR in lower:
        return TwoFactorRequired(message, **kw)
    if status != 423 and any(word in lower for word in LOCKED):  # 423's reason phrase is "Locked"
        return AccountLocked(message, **kw)
    if status == 401:
        return AuthError(message, **kw)
    if status == 423:
        return QuotaExceeded(message, **kw)
    if status == 404:
        return NotFound(message, **kw)
    if status >= 500:
        return TemporaryError(message, retry_after=retry_after, **kw)
    return Refused(message, **kw)


class RapidgatorClient:
    """`token` may be None when a login and password are given (logs in on first use).
    `on_token` is called with each new token so that it can be stored."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        api_url: str,
        token: str | None = None,
        *,
        login: str | None = None,
        password: str | None = None,
        on_token: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._login = login
        self._password = password
        self._on_token = on_token
        self._renew_lock = trio.Lock()
        self._no_login_until = 0.0  # trio clock: throttled, log in again only after this

    def __repr__(self) -> str:
        return f"RapidgatorClient({self.api_url!r})"

    @property
    def can_renew(self) -> bool:
        return bool(self._login and self._password)

    # ------------------------------------------------------------ transport

    async def _post(self, method: str, params: dict[str, Any]) -> Any:
        """One API call with retries on 429/5xx/transport errors; returns `response`."""
        retrying = Retrying(backoff=API_BACKOFF, attempts=API_RETRIES)
        while True:
            try:
                reply = await self.http.post(f"{self.api_url}/{method}", data=params)
            except httpx.TransportError as exc:
                error: RemoteError = TemporaryError(f"Rapidgator {method}: {type(exc).__name__}")
            else:
                try:
                    body = reply.json()
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    error = map_error(
                        method,
                        reply.status_code,
                        f"HTTP {reply.status_code}, not JSON",
                        retry_after_seconds(reply),
                    )
                else:
                    status = envelope_status(body, reply.status_code)
                    if reply.status_code < 400 and status < 400:
                        return body.get("response")
                    error = map_error(
                        method,
                        status if status >= 400 else reply.status_code,
                        envelope_details(body),
                        retry_after_seconds(reply),
                    )
            if not is_temporary(error) or (isinstance(error, RateLimited) and method == "user/login"):
                raise error
            wait = retrying.delay_for(error)
            log.info("%s; retrying in %.1fs", error, wait)
            await trio.sleep(wait)

    async def call(self, method: str, **params: Any) -> Any:
        """An authenticated call; a lost session is renewed once when possible."""
        params = {k: v for k, v in params.items() if v is not None}
        if self._token is None:
            await self.renew(None)
        token = self._token
        try:
            return await self._post(method, {**params, "token": token})
        except AuthError as exc:
            if isinstance(exc, AccountLocked) or exc.status != 401:
                raise
            await self.renew(token)
            return await self._post(method, {**params, "token": self._token})

    async def renew(self, failed_token: str | None) -> None:
        """Logs in again (once for all callers that saw `failed_token` fail)."""
        async with self._renew_lock:
            if self._token is not None and self._token != failed_token:
                return  # another task already renewed it
            if not self.can_renew:
                raise AuthError(
                    "the Rapidgator session has expired and no login/password is stored: "
                    "run `debridfs login rapidgator` again",
                    status=401,
                )
            wait = self._no_login_until - trio.current_time()
            if wait > 0:
                # Throttled: a login now could only prolong it (providers.md, "Rapidgator", Errors).
                raise RateLimited(
                    f"Rapidgator asked to wait before logging in again ({wait:.0f}s left)", retry_after=wait
                )
            log.info("Rapidgator: %s", "session expired; logging in again" if failed_token else "logging in")
            try:
                token, _user = await self.login(self._login or "", self._password or "")
            except RateLimited as exc:
                self._no_login_until = trio.current_time() + max(exc.retry_after or 0, LOGIN_BACKOFF)
                log.warning("%s; no new login for %.0fs", exc, LOGIN_BACKOFF)
                raise
            except TwoFactorRequired:
                raise AuthError(
                    "the Rapidgator session has expired and the account needs a 2FA code: "
                    "run `debridfs login rapidgator` again",
                    status=401,
                ) from None
            self._token = token
            if self._on_token is not None:
                await self._on_token(token)

    async def login(self, login: str, password: str, code: str | None = None) -> tuple[str, RGUser]:
        params = {"login": login, "password": password}
        if code:
            params["code"] = code
        try:
            response = await self._post("user/login", params)
        except AuthError as exc:
            if isinstance(exc, TwoFactorRequired):
                raise
            raise AuthError(
                f"Rapidgator refused the login: {exc}".replace("Rapidgator user/login: ", ""),
                status=exc.status,
            ) from None
        token = response.get("token") if isinstance(response, dict) else None
        if not token:
            raise TemporaryError("Rapidgator user/login: the reply has no token")
        return str(token), RGUser.from_json(response.get("user"))

    # ------------------------------------------------------------ account and folders

    async def user_info(self) -> RGUser:
        reply = await self.call("user/info")
        return RGUser.from_json(reply.get("user") if isinstance(reply, dict) else None)

    async def folder_info(self, folder_id: str | None = None) -> RGFolder:
        return RGFolder.from_json(
            _part(await self.call("folder/info", folder_id=folder_id), "folder", "folder/info")
        )

    async def folder_content(self, folder_id: str | None) -> FolderContent:
        """All pages; sub-folders are deduplicated (every page repeats them)."""
        folders: dict[str, RGFolder] = {}
        files: dict[str, RGFile] = {}
        page, total, folder = 1, 1, None
        while page <= total:
            response = await self.call(
                "folder/content", folder_id=folder_id, page=page, per_page=PER_PAGE, sort_column="created"
            )
            data = _part(response, "folder", "folder/content")
            folder = RGFolder.from_json(data)
            for sub in data.get("folders") or ():
                folders.setdefault(str(sub["folder_id"]), RGFolder.from_json(sub))
            for item in data.get("files") or ():
                files.setdefault(str(item["file_id"]), RGFile.from_json(item))
            pager = response.get("pager")
            total = _int(pager.get("total") if isinstance(pager, dict) else None, 1)
            page += 1
        assert folder is not None
        return FolderContent(folder, list(folders.values()), list(files.values()))

    async def folder_create(self, name: str, parent_id: str | None) -> RGFolder:
        response = await self.call("folder/create", name=name, folder_id=parent_id)
        return RGFolder.from_json(_part(response, "folder", "folder/create"))

    async def folder_rename(self, folder_id: str, name: str) -> RGFolder:
        response = await self.call("folder/rename", folder_id=folder_id, name=name)
        return RGFolder.from_json(_part(response, "folder", "folder/rename"))

    async def folder_move(self, folder_id: str, dest_id: str) -> None:
        self._batch(
            "folder/move", await self.call("folder/move", folder_id=folder_id, folder_id_dest=dest_id)
        )

    async def folder_delete(self, folder_id: str) -> None:
        self._batch("folder/delete", await self.call("folder/delete", folder_id=folder_id))

    # ------------------------------------------------------------ files

    async def file_rename(self, file_id: str, name: str) -> RGFile:
        response = await self.call("file/rename", file_id=file_id, name=name)
        return RGFile.from_json(_part(response, "file", "file/rename"))

    async def file_move(self, file_id: str, dest_id: str) -> None:
        self._batch("file/move", await self.call("file/move", file_id=file_id, folder_id_dest=dest_id))

    async def file_delete(self, file_id: str) -> None:
        self._batch("file/delete", await self.call("file/delete", file_id=file_id))

    async def file_download(self, file_id: str) -> DownloadLink:
        response = await self.call("file/download", file_id=file_id)
        url = response.get("download_url") if isinstance(response, dict) else None
        if not url:
            raise TemporaryError("Rapidgator file/download: the reply has no download_url")
        return DownloadLink(str(url), max(0, _int(response.get("delay"))))

    @staticmethod
    def _batch(method: str, response: Any) -> None:
        """Batch replies are HTTP 200 even when the one id failed: look at `fail`."""
        result = response.get("result") if isinstance(response, dict) else None
        result = result if isinstance(result, dict) else {}
        if _int(result.get("fail")) or not _int(result.get("success")):
            errors = "; ".join(map(str, result.get("errors") or [])) or "failed"
            if method.endswith("/delete"):
                # How a batch says "no such id" (providers.md, "Rapidgator", Methods): already gone.
                raise NotFound(f"Rapidgator {method}: {errors}", status=400)
            raise map_error(method, 400, errors)

    # ------------------------------------------------------------ uploads

    async def upload_start(self, name: str, md5: str, size: int, folder_id: str | None) -> UploadSession:
        response = await self.call("file/upload", name=name, hash=md5, size=size, folder_id=folder_id)
        return UploadSession.from_json(_part(response, "upload", "file/upload"))

    async def upload_info(self, upload_id: str) -> UploadSession:
        response = await self.call("file/upload_info", upload_id=upload_id)
        return UploadSession.from_json(_part(response, "upload", "file/upload_info"))

    async def upload_file(
        self, url: str, path: Path, name: str, size: int, progress: Callable[[int], None] | None = None
    ) -> UploadSession | None:
        """POSTs `path` as the `file` part of a multipart body to the session's URL."""
        boundary = "debridfs" + secrets.token_hex(16)
        safe_name = name.replace("\\", "_").replace('"', "%22").replace("\r", " ").replace("\n", " ")
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{safe_name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + size + len(tail)),
        }
        fd = await trio.to_thread.run_sync(os.open, path, os.O_RDONLY)
        try:
            if filepost.plain_http(url):
                content_type = headers["Content-Type"]
                reply = await filepost.post_file(
                    url, content_type, head, fd, size, tail, UPLOAD_TIMEOUTS, progress
                )
            else:
                reply = await self._post_streamed(
                    url, headers, _multipart_body(fd, size, head, tail, progress)
                )
        finally:
            os.close(fd)
        try:
            envelope = json.loads(reply.body)
        except ValueError:
            envelope = None
        status = envelope_status(envelope, reply.status) if isinstance(envelope, dict) else reply.status
        if reply.status >= 400 or status >= 400:
            details = envelope_details(envelope) if isinstance(envelope, dict) else ""
            status = max(status, reply.status)
            error = map_error("upload", status, details or f"HTTP {status}")
            if status >= 500:
                error = TemporaryError(str(error), status=status)
            raise error
        data = envelope.get("response") if isinstance(envelope, dict) else None
        if isinstance(data, dict) and isinstance(data.get("upload"), dict):
            data = data["upload"]  # as file/upload_info words it
        if isinstance(data, dict) and "upload_id" in data:
            return UploadSession.from_json(data)
        return None  # a 200 that is not the usual envelope: upload_info tells the rest

    async def _post_streamed(
        self, url: str, headers: dict[str, str], body: AsyncIterator[bytes]
    ) -> filepost.Reply:
        """The body through httpx: https, or a proxy from the environment."""
        try:
            reply = await self.http.post(url, content=body, headers=headers, timeout=UPLOAD_TIMEOUT)
        except httpx.TransportError as exc:
            raise TemporaryError(f"upload to {redact_url(url)}: {type(exc).__name__}") from None
        return filepost.Reply(reply.status_code, reply.content)


async def _multipart_body(
    fd: int, size: int, head: bytes, tail: bytes, progress: Callable[[int], None] | None
) -> AsyncIterator[bytes]:
    """The body, read from disk in a worker thread chunk by chunk."""
    yield head
    offset = 0
    while offset < size:
        chunk = await trio.to_thread.run_sync(os.pread, fd, min(UPLOAD_CHUNK, size - offset), offset)
        if not chunk:
            raise TemporaryError("the spool file is shorter than announced")
        offset += len(chunk)
        yield chunk
        if progress is not None:
            progress(offset)
    yield tail


__all__ = [
    "RapidgatorClient",
    "RGFile",
    "RGFolder",
    "FolderContent",
    "UploadSession",
    "DownloadLink",
    "TwoFactorRequired",
    "map_error",
    "Awaitable",
]
