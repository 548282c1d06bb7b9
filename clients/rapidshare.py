"""RapidShare rsapi.cgi client (docs/providers.md, "RapidShare").

Plain-text replies. API calls are POSTs with every parameter in the form body
(documented), so the password never appears in a URL. `download` answers
`DL:<host>,<dlauth>,<countdown>,<md5>`; the file URL on `<host>` carries the
account cookie (premium) or the dlauth ticket (free, valid after `countdown`
seconds). `ERROR: <sentence> (<ref>)` lines map to `clients.errors` through
`ERRORS`, by their sentence (the reference is informational).

Routine names: the 2009 API called them `download_v1`, `checkfiles_v1`,
`getaccountdetails_v1`; later servers know only `download`, `checkfiles`,
`getaccountdetails` and answer `ERROR: Invalid routine called.` to the others.
The client asks with the newer name first, falls back to the other name once
when the server does not know it, and remembers which naming the server takes
(for the file server's URL too).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import httpx

from .codes import PERMANENT, USER, WAIT, Rule
from .errors import (
    AccountLocked,
    AuthError,
    FileUnavailable,
    InvalidName,
    LinkExpired,
    NotReady,
    PermissionDenied,
    RateLimited,
    RemoteError,
    TemporaryError,
)
from .fields import optional_int

log = logging.getLogger(__name__)

WAIT_RE = re.compile(r"wait (\d+) seconds")
INVALID_ROUTINE = "invalid routine called"
NAMINGS = ("", "_v1")  # suffixes, newest first
CF = 'providers.md, "RapidShare", checkfiles: status'
N4 = 'providers.md, "RapidShare", Errors'
# Sentence prefix (lower case) -> rule; first match wins (docs/providers.md, "RapidShare", Errors).
ERRORS: list[tuple[str, Rule]] = [
    ("login failed. account locked", Rule(USER, AccountLocked, "account locked", None, f"{N4} (b45c2518)")),
    ("login failed", Rule(USER, AuthError, "login failed", None, f"{N4} (221a75e5, 0320f9f0)")),
    ("rapidpro expired", Rule(USER, AuthError, "RapidPro expired", None, f"{N4} (34fa3175)")),
    # An IP-bound limit for free downloads, not a dead link: clients wait 5 minutes and ask again.
    (
        "you need rapidpro",
        Rule(
            WAIT,
            RateLimited,
            "free download limit of this IP address",
            300,
            f"{N4} (8d5611a9); a client in the RapidShare article waits 300 s",
        ),
    ),
    # Traffic comes back (daily / bought); the file is fine.
    ("no traffic left", Rule(WAIT, RateLimited, "no traffic left on the account", 3600, N4)),
    ("you need to wait", Rule(WAIT, RateLimited, "IP wait", None, f"{N4}: the seconds are in the sentence")),
    (
        "download auth not yet valid",
        Rule(
            WAIT,
            NotReady,
            "countdown not over",
            None,
            'providers.md, "RapidShare", download: wait `countdown` s',
        ),
    ),
    (
        "download auth invalid",
        Rule(
            WAIT,
            LinkExpired,
            "ticket expired: ask for a new one",
            0,
            'providers.md, "RapidShare", download: dlauth tickets expire',
        ),
    ),
    ("file not found", Rule(PERMANENT, FileUnavailable, "file not found", None, N4)),
    ("file deleted", Rule(PERMANENT, FileUnavailable, "file deleted", None, N4)),
    ("file id invalid", Rule(PERMANENT, InvalidName, "file id invalid", None, N4)),
    ("this file is marked as illegal", Rule(PERMANENT, FileUnavailable, "illegal", None, N4)),
    ("filename invalid", Rule(PERMANENT, InvalidName, "filename invalid", None, N4)),
    ("folder not found", Rule(PERMANENT, FileUnavailable, "folder not found", None, N4)),
    (
        "all free download slots are full",
        Rule(WAIT, RateLimited, "free slots full", 600, f'{N4}: "please try again later"'),
    ),
    ("please stop flooding", Rule(WAIT, RateLimited, "flooding", 600, f"{N4}: clients wait 6-10 min")),
    (
        "download permission denied",
        Rule(PERMANENT, PermissionDenied, "permission denied", None, f"{N4} (prefix)"),
    ),
    (
        "this server's filesystem is in maintenance",
        Rule(WAIT, TemporaryError, "maintenance", 300, f"{N4} (prefix)"),
    ),
    (
        INVALID_ROUTINE,
        Rule(
            PERMANENT,
            RemoteError,
            "the server knows neither routine name",
            None,
            'providers.md, "RapidShare", Routine names',
        ),
    ),
]
# A sentence nobody documented: asked again later (the link layer gives up after a day);
# the document's own rule is "stop retrying a failed request after 3 tries" per request.
UNKNOWN = Rule(WAIT, TemporaryError, "unknown error", 300, f"{N4}: anything else")
# checkfiles status column -> rule (providers.md, "RapidShare", checkfiles); 1, 2, 6 are OK.
CHECK_STATUS: dict[int, Rule] = {
    0: Rule(PERMANENT, FileUnavailable, "file not found", None, f"{CF} 0"),
    3: Rule(WAIT, TemporaryError, "server down", 300, f"{CF} 3"),
    4: Rule(PERMANENT, FileUnavailable, "file marked as illegal", None, f"{CF} 4"),
    5: Rule(
        PERMANENT,
        PermissionDenied,
        "anonymous file locked (too many downloads)",
        None,
        f"{CF} 5",
    ),
}


def rule_for(text: str) -> tuple[Rule, str]:
    """The rule for an `ERROR:` line, and its sentence without the reference."""
    sentence = text.strip().removeprefix("ERROR:").strip()
    plain = re.sub(r"\s*\([0-9a-f]{8}\)$", "", sentence)
    lower = plain.lower()
    return next((rule for prefix, rule in ERRORS if lower.startswith(prefix)), UNKNOWN), plain


def parse_error(text: str) -> RemoteError:
    rule, plain = rule_for(text)
    wait = WAIT_RE.search(plain.lower())
    return rule.error(f"RapidShare: {plain}", retry_after=float(wait.group(1)) if wait else None)


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
    md5: str | None  # lower-case hex, None when the service has none


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
    def __init__(
        self, http: httpx.AsyncClient, api_url: str, login: str | None, password: str | None
    ) -> None:
        self.http = http
        self.api_url = api_url
        self._login = login
        self._password = password
        self.scheme = urlsplit(api_url).scheme or "https"
        self.suffix: str | None = None  # the routine naming the server took ("" or "_v1")

    def __repr__(self) -> str:
        return f"RapidShareClient({self.api_url!r})"

    @property
    def has_login(self) -> bool:
        return bool(self._login and self._password)

    async def call(self, routine: str, params: dict[str, str], *, auth: bool = True) -> str:
        """Calls `routine` (the name without `_v1`) under the naming the server takes."""
        first = self.suffix if self.suffix is not None else NAMINGS[0]
        for suffix in (first, *(s for s in NAMINGS if s != first)):
            try:
                text = await self._post(routine + suffix, params, auth)
            except RemoteError as exc:
                if INVALID_ROUTINE in str(exc).lower() and suffix == first:
                    log.info(
                        "RapidShare: the server does not know %s; trying the other name", routine + suffix
                    )
                    continue  # once: the other naming
                raise
            if self.suffix != suffix:
                log.info("RapidShare: the server takes routine names like %s", routine + suffix)
                self.suffix = suffix
            return text
        raise AssertionError("unreachable")

    async def _post(self, sub: str, params: dict[str, str], auth: bool) -> str:
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
        text = await self.call("getaccountdetails", {"withcookie": "1"})
        pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
        details = {key.strip().lower(): value.strip() for key, value in pairs}
        cookie = details.pop("cookie", None)
        if "type" not in details and "accountid" not in details:
            # Not an account reply (a web page, another API): going on as a
            # free user would ignore the login without a word.
            raise RemoteError("RapidShare getaccountdetails: the reply holds no account details")
        return Account(premium=details.get("type", "").lower() == "prem", details=details, cookie=cookie)

    async def check_file(self, fileid: str, filename: str) -> FileCheck:
        text = await self.call(
            "checkfiles", {"files": fileid, "filenames": filename, "incmd5": "1"}, auth=False
        )
        fields = [field.strip() for field in text.splitlines()[0].split(",")] if text else []
        status = optional_int(fields[4]) if len(fields) >= 6 else None
        size = optional_int(fields[2]) if len(fields) >= 6 else None
        if status is None or size is None:
            raise TemporaryError("RapidShare checkfiles: unreadable reply", retry_after=60)
        rule = CHECK_STATUS.get(status)
        if rule is not None:
            raise rule.error(f"RapidShare: {rule.text} (checkfiles status {status})")
        md5 = fields[6].lower() if len(fields) > 6 and re.fullmatch(r"[0-9a-fA-F]{32}", fields[6]) else None
        return FileCheck(fileid=fields[0], filename=fields[1], size=size, md5=md5)

    async def download(self, fileid: str, filename: str) -> DownloadTicket:
        text = await self.call("download", {"fileid": fileid, "filename": filename, "withmd5hex": "1"})
        if not text.startswith("DL:"):
            raise TemporaryError("RapidShare download: unexpected reply", retry_after=60)
        fields = [field.strip() for field in text[3:].split(",")]
        countdown = optional_int(fields[2] or 0) if len(fields) >= 3 else None
        if countdown is None or not fields[0]:
            raise TemporaryError("RapidShare download: unexpected reply", retry_after=60)
        md5 = fields[3].lower() if len(fields) > 3 else ""
        return DownloadTicket(
            host=fields[0],
            dlauth=fields[1],
            countdown=max(0, countdown),
            md5=md5 if re.fullmatch(r"[0-9a-f]{32}", md5) else None,
        )

    def file_url(self, ticket: DownloadTicket, fileid: str, filename: str, cookie: str | None) -> str:
        """The documented file URL on the DL host (scheme of api_url), under the server's naming."""
        params = {"sub": "download" + (self.suffix or ""), "fileid": fileid, "filename": filename}
        if ticket.dlauth and ticket.dlauth != "0":
            params["dlauth"] = ticket.dlauth
        elif cookie:
            params["cookie"] = cookie
        return f"{self.scheme}://{ticket.host}/cgi-bin/rsapi.cgi?{urlencode(params)}"
