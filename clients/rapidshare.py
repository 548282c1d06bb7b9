"""RapidShare rsapi.cgi client (../shared/api/rapidshare-api-rsapiget.txt, NOTES §4).

Plain-text replies. API calls are POSTs with every parameter in the form body
(documented), so the password never appears in a URL. `download_v1` answers
`DL:<host>,<dlauth>,<countdown>,<md5>`; the file URL on `<host>` carries the
account cookie (premium) or the dlauth ticket (free, valid after `countdown`
seconds). `ERROR: <sentence> (<ref>)` lines map to `clients.errors` here by
their sentence (the reference is informational).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import httpx

from .errors import (AccountLocked, AuthError, FileUnavailable, InvalidName, LinkExpired, NotReady,
                     PermissionDenied, QuotaExceeded, RateLimited, RemoteError, TemporaryError)

log = logging.getLogger(__name__)

WAIT_RE = re.compile(r"wait (\d+) seconds")
# sentence prefix (lower case) -> (error class, retry after seconds or None)
ERRORS: list[tuple[str, type[RemoteError], float | None]] = [
    ("login failed. account locked", AccountLocked, None),
    ("login failed", AuthError, None),
    ("rapidpro expired", AuthError, None),
    ("you need rapidpro", PermissionDenied, None),
    ("no traffic left", QuotaExceeded, None),
    ("you need to wait", RateLimited, None),            # seconds come from the sentence
    ("download auth not yet valid", NotReady, None),    # idem
    ("download auth invalid", LinkExpired, None),
    ("file not found", FileUnavailable, None),
    ("file deleted", FileUnavailable, None),
    ("file id invalid", InvalidName, None),
    ("this file is marked as illegal", FileUnavailable, None),
    ("filename invalid", InvalidName, None),
    ("folder not found", FileUnavailable, None),
    ("all free download slots are full", RateLimited, 600),
    ("please stop flooding", RateLimited, 600),
    ("download permission denied", PermissionDenied, None),
    ("this server's filesystem is in maintenance", TemporaryError, 300),
    ("server error", TemporaryError, 60),
]
CHECK_STATUS = {0: (FileUnavailable, "file not found"), 3: (TemporaryError, "server down"),
                4: (FileUnavailable, "file marked as illegal"),
                5: (PermissionDenied, "anonymous file locked (too many downloads)")}


def parse_error(text: str) -> RemoteError:
    sentence = text.strip().removeprefix("ERROR:").strip()
    plain = re.sub(r"\s*\([0-9a-f]{8}\)$", "", sentence)
    lower = plain.lower()
    for prefix, kind, retry in ERRORS:
        if lower.startswith(prefix):
            wait = WAIT_RE.search(lower)
            retry = float(wait.group(1)) if wait else retry
            message = f"RapidShare: {plain}"
            if kind in (RateLimited, TemporaryError):
                return kind(message, retry_after=retry)
            if kind is NotReady:
                error = NotReady(message)
                error.retry_after = retry   # type: ignore[attr-defined]
                return error
            return kind(message)
    return RemoteError(f"RapidShare: {plain}")


def parse_file_url(url: str) -> tuple[str, str]:
    """`https://rapidshare.com/files/<fileid>/<filename>` -> (fileid, filename)."""
    parts = [p for p in urlsplit(url.strip()).path.split("/") if p]
    if len(parts) < 3 or parts[-3] != "files" or not parts[-2].isdigit():
        raise InvalidName("not a RapidShare link (https://rapidshare.com/files/<id>/<name>)")
    return parts[-2], parts[-1]


@dataclass(frozen=True)
class DownloadTicket:
    host: str
    dlauth: str
    countdown: int
    md5: str | None            # lower-case hex, None when the service has none


@dataclass(frozen=True)
class FileCheck:
    fileid: str
    filename: str
    size: int
    md5: str | None


@dataclass
class Account:
    premium: bool
    details: dict[str, str] = field(default_factory=dict)
    cookie: str | None = field(default=None, repr=False)


class RapidShareClient:
    def __init__(self, http: httpx.AsyncClient, api_url: str, login: str | None,
                 password: str | None) -> None:
        self.http = http
        self.api_url = api_url
        self._login = login
        self._password = password
        self.scheme = urlsplit(api_url).scheme or "https"

    def __repr__(self) -> str:
        return f"RapidShareClient({self.api_url!r})"

    @property
    def has_login(self) -> bool:
        return bool(self._login and self._password)

    async def call(self, sub: str, params: dict[str, str], *, auth: bool = True) -> str:
        form = {"sub": sub, **params}
        if auth and self.has_login:
            form.update(login=self._login or "", password=self._password or "")
        try:
            response = await self.http.post(self.api_url, data=form)
        except httpx.TransportError as exc:
            raise TemporaryError(f"RapidShare {sub}: {type(exc).__name__}", retry_after=60) from None
        text = response.text.strip()
        if text.startswith("ERROR:"):
            raise parse_error(text)
        if response.status_code >= 400:
            kind = TemporaryError if response.status_code >= 500 else RemoteError
            raise kind(f"RapidShare {sub}: HTTP {response.status_code}", status=response.status_code)
        return text

    async def account(self) -> Account:
        if not self.has_login:
            return Account(premium=False)
        text = await self.call("getaccountdetails_v1", {"withcookie": "1"})
        details = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        cookie = details.pop("cookie", None)
        return Account(premium=details.get("type") == "prem", details=details, cookie=cookie)

    async def check_file(self, fileid: str, filename: str) -> FileCheck:
        text = await self.call("checkfiles_v1", {"files": fileid, "filenames": filename, "incmd5": "1"},
                               auth=False)
        fields = text.splitlines()[0].split(",") if text else []
        if len(fields) < 6:
            raise TemporaryError("RapidShare checkfiles: unreadable reply", retry_after=60)
        status = int(fields[4]) if fields[4].isdigit() else 0
        if status in CHECK_STATUS:
            kind, meaning = CHECK_STATUS[status]
            message = f"RapidShare: {meaning} (checkfiles status {status})"
            raise kind(message, retry_after=300) if kind is TemporaryError else kind(message)
        md5 = fields[6].lower() if len(fields) > 6 and re.fullmatch(r"[0-9a-fA-F]{32}", fields[6]) else None
        return FileCheck(fileid=fields[0], filename=fields[1], size=int(fields[2]), md5=md5)

    async def download(self, fileid: str, filename: str) -> DownloadTicket:
        text = await self.call("download_v1", {"fileid": fileid, "filename": filename, "withmd5hex": "1"})
        if not text.startswith("DL:"):
            raise TemporaryError("RapidShare download: unexpected reply", retry_after=60)
        fields = text[3:].split(",")
        if len(fields) < 3:
            raise TemporaryError("RapidShare download: unexpected reply", retry_after=60)
        md5 = fields[3].strip().lower() if len(fields) > 3 else ""
        return DownloadTicket(host=fields[0], dlauth=fields[1], countdown=int(fields[2] or 0),
                              md5=md5 if re.fullmatch(r"[0-9a-f]{32}", md5) else None)

    def file_url(self, ticket: DownloadTicket, fileid: str, filename: str, cookie: str | None) -> str:
        """The documented file URL on the DL host (scheme of api_url)."""
        params = {"sub": "download", "fileid": fileid, "filename": filename}
        if ticket.dlauth and ticket.dlauth != "0":
            params["dlauth"] = ticket.dlauth
        elif cookie:
            params["cookie"] = cookie
        return f"{self.scheme}://{ticket.host}/cgi-bin/rsapi.cgi?{urlencode(params)}"
