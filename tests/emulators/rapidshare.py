"""Emulator of RapidShare's rsapi.cgi (docs/providers.md, "RapidShare"). Plain-text replies.

Mounted at `/rapidshare`; `API_PATH` is `/cgi-bin/rsapi.cgi`, so a client's
`api_url` is `<base>/rapidshare/cgi-bin/rsapi.cgi` (the whole endpoint, like
https://api.rapidshare.com/cgi-bin/rsapi.cgi). GET takes parameters from the
query; POST takes *all* parameters from the form body (query ignored).

Routine names: the record shows both `download_v1`-style names (2009) and the later
names without the suffix; a server knows one naming and answers
`ERROR: Invalid routine called.` to the other. Library key "routine_names":
"plain" (default: the later server, which today's `_v1`-only clients fail on),
"v1" (the 2009 server) or "both". The file server follows the same naming.

    sub=download | download_v1   fileid, filename, [login+password | cookie], [try=1]
        -> DL:<hostname>,<dlauth>,<countdown>,<MD5 UPPERCASE HEX>
    sub=getaccountdetails | getaccountdetails_v1   login, password, [withcookie=1]
        -> key=value lines
    sub=checkfiles | checkfiles_v1   files=<id,id>, filenames=<n,n>, [incmd5=1]
        -> fileid,filename,size,serverid,status,shorthost[,md5] per line

The file server: `<hostname>` in the DL line is `<netloc>/rapidshare/rs<serverid><shorthost>`
(e.g. `127.0.0.1:4711/rapidshare/rs370tl3`), so the documented
`http://<hostname>/cgi-bin/rsapi.cgi?sub=download&fileid=..&filename=..&dlauth=..`
(free; premium: `&login=..&password=..` or `&cookie=..` / `Cookie: enc=..`) works
as-is (use the api_url's scheme). It serves the bytes itself (through the
framework's data host: Range/206, HEAD, data faults), and `start=<byte>` acts as
`Range: bytes=<start>-` when no Range header is sent.

Free users (no login, or a "free" account) get `countdown` seconds and a
dlauth ticket; the file server refuses the ticket before the countdown ends
(`ERROR: Download auth not yet valid. Please wait N seconds.`). Premium users
get `DL:<host>,0,0,<md5>` and their traffic (`premkbleft`, kB) is charged
unless `try=1`.

Library section "rapidshare":

    {
      "login": "demo", "password": "...",
      "account": {"type": "premium" | "free", "accountid": 4711, "email": "...",
                  "validuntil_in_seconds": 2592000,     # or "validuntil": unix; past -> RapidPro expired
                  "premkbleft": 24000000, "bodkb": 0,   # kB
                  "locked": false, "curfiles": 0, "curspace": 0},
      "free_countdown": 30,             # seconds a free user waits before using dlauth
      "free_wait_between_seconds": 0,   # IP wait after a free download (0 = none)
      "rapidpro_required": false,       # free downloads -> "You need RapidPro ..." (8d5611a9)
      "dlauth_ttl": 600,
      "server": {"serverid": 370, "shorthost": "tl3"},
      "files": {"<fileid>": {"url": "<hoster url>",      # any hoster_links URL (e.g. rapidgator)
                             "status": "ok" | "deleted" | "illegal" | "server_down" | "locked"}},
      "error_refs": true,               # append " (xxxxxxxx)" refs; false = 2009-style lines
      "routine_names": "plain",         # "plain" | "v1" | "both" (see above)
      "line_endings": "lf",             # "crlf": lines end in CR LF (a CGI on another server);
                                        # "none": no newline after the last line
      "download_md5": "hex",            # "not found": the DL line's md5 field as some servers sent it
      "link_ttl": null
    }

A fileid resolves through `files[fileid].url`, else the hoster link
`https://rapidshare.com/files/<fileid>/<filename>`, else any hoster link on a
rapidshare host whose path is `/files/<fileid>/...`. fileids are decimal.

Errors (`ERROR: <sentence> (<8 hex>)`, HTTP 200): documented refs are used where
docs/providers.md lists them (221a75e5 password incorrect, b45c2518 locked, 0320f9f0 login
data invalid, 34fa3175 RapidPro expired, 8d5611a9 RapidPro needed); the others
get a stable crc32-derived ref ("error_refs": false or set_error_refs drops them,
as in 2009). Keys for `inject_error`: see ERRORS below.

Control actions (POST /_control/rapidshare/<action>):
    set_countdown {"seconds": n}
    set_account {"type"?, "validuntil"?, "validuntil_in_seconds"?, "premkbleft"?, "locked"?}
    set_ip_wait {"seconds": n}            free downloads refused for n seconds
    set_rapidpro_required {"value": bool}
    set_file {"fileid": id, "url"?: str, "status"?: str}
    set_routine_names {"value": "plain" | "v1" | "both"}
    set_error_refs {"value": bool}
    set_download_md5 {"value": "hex" | "not found"}
    set_line_endings {"value": "lf" | "crlf" | "none"}   see "line_endings"
    inject_error {"error": key, "count": 1, "seconds"?: n,
                  "sub"?: "download"|"getaccountdetails"|"checkfiles"|"fileserver"|"any"}
    advance_time {"seconds": n}           moves this service's clock (countdowns, expiry)
    reset {}
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import re
import secrets
import time
import zlib
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from .dataserver import DataApp
from .hosters import DataDelegate, HosterLink, find_hoster_link, hoster_links
from .state import EmulatorState

NAME = "rapidshare"
API_PATH = "/cgi-bin/rsapi.cgi"

# key -> (sentence, documented ref or None)
ERRORS: dict[str, tuple[str, str | None]] = {
    "login_failed": ("Login failed. Password incorrect or account not found.", "221a75e5"),
    "account_locked": ("Login failed. Account locked. Please contact us if you have questions.", "b45c2518"),
    "login_invalid": ("Login failed. Login data invalid.", "0320f9f0"),
    "rapidpro_expired": ("RapidPro expired.", "34fa3175"),
    "rapidpro_required": ("You need RapidPro to download more files from your IP address.", "8d5611a9"),
    "no_traffic": ("No traffic left.", None),
    "ip_wait": (
        "You need to wait {seconds} seconds until you can download another file without having RapidPro.",
        None,
    ),
    "file_not_found": ("File not found.", None),
    "file_deleted": ("File deleted.", None),
    "fileid_invalid": ("File ID invalid.", None),
    "illegal": ("This file is marked as illegal.", None),
    "filename_invalid": ("Filename invalid.", None),
    "folder_not_found": ("Folder not found.", None),
    "slots_full": ("All free download slots are full. Please try again later.", None),
    "flooding": ("Please stop flooding our download servers.", None),
    "permission_denied": ("Download permission denied by uploader.", None),
    "maintenance": ("This server's filesystem is in maintenance. Please try again later.", None),
    "invalid_routine": ("Invalid routine called.", None),
    "dlauth_invalid": ("Download auth invalid.", None),
    "dlauth_wait": ("Download auth not yet valid. Please wait {seconds} seconds.", None),
    "server_error": ("Server error. Please try again later.", None),
}
CHECK_STATUS = {"ok": 1, "deleted": 0, "not_found": 0, "server_down": 3, "illegal": 4, "locked": 5}
STATUS_ERROR = {
    "deleted": "file_deleted",
    "not_found": "file_not_found",
    "server_down": "maintenance",
    "illegal": "illegal",
    "locked": "permission_denied",
}


class RsError(Exception):
    def __init__(self, key: str, **fmt: Any) -> None:
        super().__init__(key)
        self.key = key
        self.fmt = fmt


class RapidShareService:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.data_app = DataApp(state)
        self.offset = 0.0
        self.reset()

    def now(self) -> float:
        return time.time() + self.offset

    def reset(self) -> None:
        s = copy.deepcopy(self.state.library.get(NAME, {}))
        self.login = str(s.get("login", ""))
        self.password = str(s.get("password", ""))
        acc = s.get("account", {})
        self.account = {
            "type": acc.get("type", "premium"),
            "accountid": acc.get("accountid", 4711),
            "email": acc.get("email", f"{self.login or 'demo'}@example.org"),
            "premkbleft": int(acc.get("premkbleft", 24_000_000)),
            "bodkb": int(acc.get("bodkb", 0)),
            "locked": bool(acc.get("locked", False)),
            "curfiles": acc.get("curfiles", 0),
            "curspace": acc.get("curspace", 0),
            "addtime": acc.get("addtime", 1_200_000_000),
        }
        if "validuntil" in acc:
            self.account["validuntil"] = int(acc["validuntil"])
        else:
            self.account["validuntil"] = int(self.now() + acc.get("validuntil_in_seconds", 30 * 86400))
        self.countdown = int(s.get("free_countdown", 30))
        self.free_wait = int(s.get("free_wait_between_seconds", 0))
        self.rapidpro_required = bool(s.get("rapidpro_required", False))
        self.dlauth_ttl = float(s.get("dlauth_ttl", 600))
        server = s.get("server", {})
        self.serverid = int(server.get("serverid", 370))
        self.shorthost = str(server.get("shorthost", "tl3"))
        self.files: dict[str, dict[str, Any]] = {str(k): dict(v) for k, v in s.get("files", {}).items()}
        self.error_refs = bool(s.get("error_refs", True))
        self.routine_names = self._naming(s.get("routine_names", "plain"))
        self.download_md5 = self._md5_mode(s.get("download_md5", "hex"))
        self.line_endings = _line_endings(s.get("line_endings", "lf"))
        self.link_ttl = s.get("link_ttl")
        self.ip_wait_until = 0.0
        self.tickets: dict[str, dict[str, Any]] = {}
        self.injected: list[dict[str, Any]] = []
        self.minted: dict[str, str] = {}  # fileid -> data token

    @property
    def cookie(self) -> str:
        return hashlib.md5(f"{self.login}:{self.password}".encode()).hexdigest().upper()

    # ---- control -------------------------------------------------------
    def control_view(self) -> dict[str, Any]:
        return {
            "login": self.login,
            "account": self.account,
            "countdown": self.countdown,
            "ip_wait_left": max(0, int(self.ip_wait_until - self.now())),
            "rapidpro_required": self.rapidpro_required,
            "files": self.files,
            "tickets": {
                k: {"fileid": v["fileid"], "wait_left": max(0, int(v["ready_at"] - self.now()))}
                for k, v in self.tickets.items()
            },
            "clock_offset": self.offset,
            "injected": self.injected,
        }

    def control_action(self, action: str, args: dict[str, Any]) -> dict[str, Any]:
        if action == "reset":
            self.offset = 0.0
            self.reset()
        elif action == "set_countdown":
            self.countdown = int(args["seconds"])
        elif action == "set_account":
            for key, value in args.items():
                if key == "validuntil_in_seconds":
                    self.account["validuntil"] = int(self.now() + value)
                elif key in self.account:
                    self.account[key] = value
                else:
                    raise KeyError(f"unknown account key {key!r}")
        elif action == "set_ip_wait":
            self.ip_wait_until = self.now() + float(args["seconds"])
        elif action == "set_rapidpro_required":
            self.rapidpro_required = bool(args.get("value", True))
        elif action == "set_file":
            entry = self.files.setdefault(str(args["fileid"]), {})
            entry.update({k: v for k, v in args.items() if k != "fileid"})
        elif action == "inject_error":
            if args["error"] not in ERRORS:
                raise KeyError(f"unknown error {args['error']!r}")
            self.injected.append(
                {
                    "error": args["error"],
                    "count": int(args.get("count", 1)),
                    "sub": args.get("sub", "any"),
                    "seconds": int(args.get("seconds", 60)),
                }
            )
        elif action == "set_line_endings":
            self.line_endings = _line_endings(args["value"])
        elif action == "set_download_md5":
            self.download_md5 = self._md5_mode(args["value"])
        elif action == "set_error_refs":
            self.error_refs = bool(args["value"])
        elif action == "set_routine_names":
            self.routine_names = self._naming(args["value"])
        elif action == "advance_time":
            self.offset += float(args["seconds"])
        else:
            raise KeyError(f"unknown action {action!r}")
        return {"ok": True}

    # ---- helpers -------------------------------------------------------
    @staticmethod
    def _naming(value: str) -> str:
        if value not in ("plain", "v1", "both"):
            raise ValueError("routine_names must be plain, v1 or both")
        return value

    @staticmethod
    def _md5_mode(value: str) -> str:
        if value not in ("hex", "not found"):
            raise ValueError("download_md5 must be hex or not found")
        return value

    def takes(self, sub: str) -> bool:
        """Whether this server knows the routine name `sub` (its base name being known)."""
        v1 = sub.endswith("_v1")
        return self.routine_names == "both" or v1 == (self.routine_names == "v1")

    def render(self, err: RsError) -> str:
        sentence, ref = ERRORS[err.key]
        text = sentence.format(**err.fmt) if err.fmt else sentence
        if self.error_refs:
            ref = ref or f"{zlib.crc32(sentence.encode()):08x}"
            return f"ERROR: {text} ({ref})"
        return f"ERROR: {text}"

    def take_injected(self, sub: str) -> RsError | None:
        for item in self.injected:
            if item["count"] > 0 and item["sub"] in ("any", sub):
                item["count"] -= 1
                self.injected = [i for i in self.injected if i["count"] > 0]
                return RsError(item["error"], seconds=item["seconds"])
        return None

    def authenticate(self, params: dict[str, str], cookie: str | None) -> bool:
        """Returns True when a login was given (and is valid); False for anonymous."""
        login, password = params.get("login"), params.get("password")
        cookie = params.get("cookie") or cookie
        if login is None and password is None:
            if not cookie:
                return False
            if cookie.upper() != self.cookie or not self.login:
                raise RsError("login_invalid")
        elif not login or not password:
            raise RsError("login_invalid")
        elif login != self.login or password != self.password:
            raise RsError("login_failed")
        if self.account["locked"]:
            raise RsError("account_locked")
        return True

    def is_premium(self) -> bool:
        return self.account["type"] == "premium"

    def resolve(self, fileid: str, filename: str) -> tuple[HosterLink | None, str]:
        """(hoster link, status) where status is a key of CHECK_STATUS."""
        entry = self.files.get(fileid, {})
        link: HosterLink | None = None
        if entry.get("url"):
            link = find_hoster_link(self.state, entry["url"])
        if link is None:
            link = find_hoster_link(self.state, f"https://rapidshare.com/files/{fileid}/{filename}")
        if link is None:
            for candidate in hoster_links(self.state).values():
                parts = urlsplit(candidate.url)
                if "rapidshare" in (parts.hostname or "") and parts.path.startswith(f"/files/{fileid}/"):
                    link = candidate
                    break
        if link is None:
            return None, "not_found"
        if link.offline:
            return link, "deleted"
        return link, entry.get("status", "ok")

    def file_for(self, params: dict[str, str]) -> tuple[str, str, HosterLink]:
        fileid, filename = params.get("fileid", ""), params.get("filename", "")
        if not re.fullmatch(r"\d+", fileid):
            raise RsError("fileid_invalid")
        if not filename:
            raise RsError("filename_invalid")
        link, status = self.resolve(fileid, filename)
        if status != "ok" or link is None:
            raise RsError(STATUS_ERROR.get(status, "file_not_found"))
        return fileid, filename, link

    def premium_ok(self, link: HosterLink, charge: bool) -> None:
        if self.account["validuntil"] <= self.now():
            raise RsError("rapidpro_expired")
        need_kb = -(-link.content.size // 1000)
        if self.account["premkbleft"] < need_kb:
            raise RsError("no_traffic")
        if charge:
            self.account["premkbleft"] -= need_kb

    # ---- subs ----------------------------------------------------------
    def download(self, params: dict[str, str], cookie: str | None, hostname: str) -> str:
        logged_in = self.authenticate(params, cookie)
        fileid, _, link = self.file_for(params)
        md5 = link.md5().upper() if self.download_md5 == "hex" else "not found"
        if logged_in and self.is_premium():
            self.premium_ok(link, charge=params.get("try") != "1")
            return f"DL:{hostname},0,0,{md5}"
        if self.rapidpro_required:
            raise RsError("rapidpro_required")
        wait = int(self.ip_wait_until - self.now() + 0.999)
        if wait > 0:
            raise RsError("ip_wait", seconds=wait)
        dlauth = secrets.token_hex(20).upper()
        now = self.now()
        self.tickets[dlauth] = {
            "fileid": fileid,
            "ready_at": now + self.countdown,
            "expires_at": now + self.countdown + self.dlauth_ttl,
            "used": False,
        }
        return f"DL:{hostname},{dlauth},{self.countdown},{md5}"

    def getaccountdetails(self, params: dict[str, str], cookie: str | None) -> str:
        if params.get("login") is None and params.get("password") is None:
            raise RsError("login_invalid")
        self.authenticate(params, None)
        acc = self.account
        premium = self.is_premium()
        lines = {
            "accountid": acc["accountid"],
            "type": "prem" if premium else "free",
            "servertime": int(self.now()),
            "addtime": acc["addtime"],
            "validuntil": acc["validuntil"] if premium else 0,
            "billeduntil": acc["validuntil"] if premium else 0,
            "username": self.login,
            "directstart": 1,
            "protectfiles": 0,
            "rsantihack": 0,
            "plustrafficmode": 0,
            "mirrors": "",
            "jsconfig": 1000,
            "email": acc["email"],
            "lots": 0,
            "fpoints": 0,
            "ppoints": 0,
            "curfiles": acc["curfiles"],
            "curspace": acc["curspace"],
            "bodkb": acc["bodkb"],
            "premkbleft": acc["premkbleft"] if premium else 0,
            "ppointrate": 0,
        }
        if params.get("withrefstring") == "1":
            lines["refstring"] = hashlib.md5(self.login.encode()).hexdigest()[:16]
        if params.get("withcookie") == "1":
            lines["cookie"] = self.cookie
        return "\n".join(f"{k}={v}" for k, v in lines.items())

    def checkfiles(self, params: dict[str, str]) -> str:
        ids = [x for x in params.get("files", "").split(",") if x != ""]
        names = [x for x in params.get("filenames", "").split(",") if x != ""]
        if not ids:
            raise RsError("fileid_invalid")
        if len(ids) != len(names):
            raise RsError("filename_invalid")
        with_md5 = params.get("incmd5") == "1"
        out = []
        for fileid, filename in zip(ids, names, strict=False):
            link, status = (
                (None, "not_found") if not re.fullmatch(r"\d+", fileid) else self.resolve(fileid, filename)
            )
            code = CHECK_STATUS.get(status, 0)
            if link is None or code == 0:
                row = [fileid, filename, "0", "0", "0", "0"] + (["0"] if with_md5 else [])
            else:
                row = [
                    fileid,
                    filename,
                    str(link.content.size),
                    str(self.serverid),
                    str(code),
                    self.shorthost,
                ] + ([link.md5().upper()] if with_md5 else [])
            out.append(",".join(row))
        return "\n".join(out)

    def fileserver(self, params: dict[str, str], cookie: str | None) -> HosterLink | str:
        """Returns the link to serve, or raises."""
        fileid, _, link = self.file_for(params)
        dlauth = params.get("dlauth")
        if dlauth and dlauth != "0":
            ticket = self.tickets.get(dlauth)
            now = self.now()
            if ticket is None or ticket["fileid"] != fileid or now > ticket["expires_at"]:
                raise RsError("dlauth_invalid")
            if now < ticket["ready_at"]:
                raise RsError("dlauth_wait", seconds=int(ticket["ready_at"] - now + 0.999))
            if not ticket["used"]:
                ticket["used"] = True
                if self.free_wait > 0:
                    self.ip_wait_until = now + self.free_wait
            return link
        if self.authenticate(params, cookie) and self.is_premium():
            self.premium_ok(link, charge=False)
            return link
        raise RsError("dlauth_invalid")


async def _params(request: Request) -> dict[str, str]:
    if request.method == "POST":
        return {k: str(v) for k, v in (await request.form()).items()}
    return dict(request.query_params.items())


def build(state: EmulatorState) -> Starlette:
    service = RapidShareService(state)
    state.services[NAME] = service

    def text(body: str, status: int = 200) -> PlainTextResponse:
        lines = body.rstrip("\n").split("\n")
        ending = service.line_endings
        body = (
            "\r\n".join(lines) + "\r\n"
            if ending == "crlf"
            else "\n".join(lines) + ("\n" if ending == "lf" else "")
        )
        return PlainTextResponse(body, status_code=status)

    async def pre(endpoint: str) -> Response | None:
        state.stats.count(NAME, endpoint)
        fault = state.faults.api_for(NAME)
        if fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)
        burst = state.faults.take_api_burst(NAME)
        if burst is not None:
            headers = {"Retry-After": str(burst.retry_after)} if burst.retry_after else None
            resp = text(service.render(RsError("server_error")), burst.status_burst)
            if headers:
                resp.headers.update(headers)
            return resp
        return None

    def cookie_of(request: Request) -> str | None:
        return request.cookies.get("enc")

    async def api(request: Request) -> Response:
        params = await _params(request)
        sub = params.get("sub", "")
        base = sub.removesuffix("_v1")
        known = base in ("download", "getaccountdetails", "checkfiles")
        early = await pre(sub if known else "unknown")
        if early is not None:
            return early
        try:
            if not known or not service.takes(sub):
                raise RsError("invalid_routine")
            err = service.take_injected(base)
            if err:
                raise err
            if base == "download":
                root = request.scope.get("root_path", "")
                hostname = f"{request.url.netloc}{root}/rs{service.serverid}{service.shorthost}"
                return text(service.download(params, cookie_of(request), hostname))
            if base == "getaccountdetails":
                return text(service.getaccountdetails(params, cookie_of(request)))
            return text(service.checkfiles(params))
        except RsError as exc:
            return text(service.render(exc))

    async def fileserver(request: Request) -> Response:
        params = await _params(request)
        early = await pre("fileserver")
        if early is not None:
            return early
        try:
            sub = params.get("sub", "")
            if sub.removesuffix("_v1") != "download" or not service.takes(sub):
                raise RsError("invalid_routine")
            err = service.take_injected("fileserver")
            if err:
                raise err
            link = service.fileserver(params, cookie_of(request))
        except RsError as exc:
            return text(service.render(exc))
        token = service.minted.get(params["fileid"])
        current = state.links.links.get(token) if token else None
        if current is None or current.expired():
            url = state.links.mint(link.content, link.name, NAME, ttl=service.link_ttl)
            token = url.rstrip("/").split("/")[-2]
            service.minted[params["fileid"]] = token
        start = params.get("start")
        rng = f"bytes={int(start)}-" if start and start.isdigit() and "range" not in request.headers else None
        return DataDelegate(service.data_app, f"/data/{token}/file", rng)

    return Starlette(
        routes=[
            Route(API_PATH, api, methods=["GET", "POST"]),
            Route("/{server:str}" + API_PATH, fileserver, methods=["GET", "HEAD", "POST"]),
        ]
    )


def sample_section() -> dict[str, Any]:
    return {
        "login": "demo",
        "password": "rs-secret",
        "account": {
            "type": "premium",
            "accountid": 4711,
            "email": "demo@example.org",
            "validuntil_in_seconds": 30 * 86400,
            "premkbleft": 24_000_000,
        },
        "free_countdown": 30,
        "server": {"serverid": 370, "shorthost": "tl3"},
        "files": {
            "100001": {
                "url": "https://rapidgator.net/file/0123456789abcdef0123456789abcdef/sample.one.mkv.html"
            },
            "100002": {"url": "https://rg.to/file/fedcba9876543210fedcba9876543210/sample.two.mp4.html"},
            "100003": {"url": "https://rapidgator.net/file/00000000000000000000000000000000/gone.avi.html"},
        },
    }


def _line_endings(value: str) -> str:
    if value not in ("lf", "crlf", "none"):
        raise ValueError("line_endings must be lf, crlf or none")
    return value
