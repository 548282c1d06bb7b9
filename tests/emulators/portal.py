"""Emulator of the JDownloader-style "portal external API v1" (docs/providers.md, "Portal").

Mounted at `/portal`; `API_PATH` is `/api/external/v1`, so a client's
`api_url` is `<base>/portal/api/external/v1` and the doc's paths hang below it:

    GET  /account          GET /hosts          GET /hosts/grouped
    POST /unrestrict       {"url": ..., "password": ...}  -> linkId, download_ready, ...
    GET  /link/{linkId}    poll until download_ready

Auth: `Authorization: Bearer <key>` or `X-Api-Key: <key>`. Errors:
`{"success": false, "status": N, "msg": "...", "retry_in_seconds": S}` with the
doc's HTTP code (`retry_in_seconds` only where a retry makes sense: 54, 55, 56,
105, 107 and throttling).

Library section "portal" (every key optional except api_key(s)):

    {
      "api_key": "obb_...",                 # or "api_keys": ["obb_...", ...]
      "account": {
        "trafficleft": int, "trafficmax": int,   # bytes; accountType = premium if trafficmax > 0
        "trafficmax_daily": int,                 # per-host 24h cap (bytes) -> status 54
        "expires_in_seconds": int | null,        # timeleft (seconds); <= 0 -> status 2
        "usable": true,                          # false -> status 2 on every call but /account
        "login_check_interval": 1800000
      },
      "hosts": [{"platform": "RapidGator", "domains": ["rapidgator.net", "rg.to"],
                 "maxChunks": 16, "maxDownloads": 3, "resumable": true,
                 "currently_working": true,     # false -> unrestrict answers 105
                 "trafficleft": int,            # platform pool; < file size -> 107
                 "trafficmax_daily": int}],
      "ready_after_polls": 1,      # GET /link polls answering download_ready=false first (0 = ready at once)
      "poll_after_seconds": 2, "error_poll_after_seconds": 60,
      "link_ttl": null,            # seconds a minted direct link lives (null = forever)
      "max_active_per_platform": null,   # not-ready links per platform before 55
      "filesize_format": "string", # "string" (the doc: digits), "number", or
                                   # "unknown_until_ready" (null until download_ready)
      "unrestrict_shape": "current",     # "legacy": the v1.0 reply of the changelog: the link
                                   # at once, no linkId/download_ready/remote_status, no /link
      "grouped_hosts": true,       # false: no /hosts/grouped (404), as before it was added
      "error_http": "table",       # "200": errors come with HTTP 200 (`success: false` and the
                                   # status in the body only)
      "numbers": "json", "flags": "json", "content_type": "json",
                                   # how values are written (tests/emulators/shapes.py): numbers
                                   # and booleans (download_ready, success...) as strings...
      "rate_limit": {"requests": 0, "window_seconds": 60},   # 0 = off; else 429 (status 106)
      "links": {"<hoster url>": {
          "ready_after_polls": int,                      # override for this URL
          "error": 102, "retry_in_seconds": 30, "http": 502,   # unrestrict fails with this status
          "remote_error_after_polls": int                # remote_status "error" after n polls
      }}
    }

Hoster URLs resolve through `hosters.find_hoster_link` (library "hoster_links").
Unsupported host -> 101, unknown/offline file -> 104, account traffic short -> 52,
platform pool short -> 107, per-host daily cap -> 54. Any status can also be
forced with the control action `inject_error`.

Control actions (POST /_control/portal/<action>):
    set_ready_after_polls {"value": n, "url"?: str, "link_id"?: str}
        default for new links, or for one URL's existing link and override
    set_host_working {"host": domain-or-platform, "working": bool}
    set_link {"url": str, ...override}       replaces the per-URL override
    fail_link {"link_id" | "url"}            remote_status -> "error"
    inject_error {"status": n, "count": 1, "endpoint": "unrestrict"|"link"|"account"|"hosts"|"any",
                  "retry_in_seconds"?: s, "http"?: code}
    set_account {...account keys}            e.g. {"trafficleft": 0}
    set_platform_traffic {"platform": str, "trafficleft": int}
    set_max_active {"value": n | null}      not-ready links per platform before 55
    set_rate_limit {"requests": n, "window_seconds": s}
    set_variant {"filesize_format"?, "unrestrict_shape"?, "grouped_hosts"?, "error_http"?,
                 "numbers"?, "flags"?, "content_type"?}
    reset {}                                 back to the library's state
Control view (GET /_control/state/portal): account, hosts, links (by id), usage.
Stats keys: "portal GET /account", "portal GET /hosts", "portal GET /hosts/grouped",
"portal POST /unrestrict", "portal GET /link/{linkId}".

Choices where the doc is silent: unknown linkId -> HTTP 404 with status 104;
request throttling -> HTTP 429, status 106, `retry_in_seconds` and Retry-After;
a non-working host -> 105 (retry 300); `timeleft` is seconds; an unrestrict of a
URL whose previous link ended in `error` creates (and charges) a new link; an
existing link whose direct URL expired is re-minted under the same linkId
(`reusedExisting: true`, no charge). API fault bursts (`/_control/faults`) map
HTTP 401->1, 402->52, 403->2, 404->104, 400->900, 429->106, 500->999,
503->105, other->106.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import json
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import shapes
from .hosters import find_hoster_link
from .state import EmulatorState

NAME = "portal"
API_PATH = "/api/external/v1"

STATUS_HTTP = {
    1: 401,
    2: 403,
    52: 402,
    54: 429,
    55: 429,
    56: 429,
    101: 400,
    102: 403,
    103: 400,
    104: 404,
    105: 503,
    106: 502,
    107: 429,
    900: 400,
    999: 500,
}
STATUS_MSG = {
    1: "Missing or invalid API key",
    2: "Account not usable",
    52: "Insufficient traffic for this file",
    54: "Per-host 24h usage limit exceeded",
    55: "Too many concurrent downloads on this platform",
    56: "Solo / low-speed slot limit reached",
    101: "Unsupported URL or host",
    102: "Source / file banned",
    103: "Private file / payment to uploader required",
    104: "File offline or not found",
    105: "Service maintenance / upstream unavailable",
    106: "Upstream / generic external error",
    107: "Server-side traffic / account pool insufficient",
    900: "Validation / bad request",
    999: "Internal error",
}
DEFAULT_RETRY = {54: 3600, 55: 60, 56: 60, 105: 300, 107: 120}
HTTP_TO_STATUS = {401: 1, 402: 52, 403: 2, 404: 104, 400: 900, 429: 106, 500: 999, 503: 105}

DEFAULT_HOSTS = [
    {
        "platform": "RapidGator",
        "domains": ["rapidgator.net", "rg.to"],
        "maxChunks": 16,
        "maxDownloads": 3,
        "resumable": True,
        "currently_working": True,
        "trafficleft": 50_000_000_000,
        "trafficmax_daily": 200_000_000_000,
    }
]
DEFAULT_ACCOUNT = {
    "trafficleft": 466_894_644_646,
    "trafficmax": 1_099_511_627_776,
    "trafficmax_daily": 64_424_509_440,
    "expires_in_seconds": None,
    "usable": True,
    "login_check_interval": 1_800_000,
}


class PortalError(Exception):
    def __init__(
        self, status: int, msg: str | None = None, retry: int | None = None, http: int | None = None
    ) -> None:
        super().__init__(status)
        self.status = status
        self.msg = msg or STATUS_MSG.get(status, "Error")
        self.retry = retry if retry is not None else DEFAULT_RETRY.get(status)
        self.http = http or STATUS_HTTP.get(status, 502)


def error_response(err: PortalError) -> JSONResponse:
    body: dict[str, Any] = {"success": False, "status": err.status, "msg": err.msg}
    headers = {}
    if err.retry is not None:
        body["retry_in_seconds"] = err.retry
        if err.http in (429, 503):
            headers["Retry-After"] = str(err.retry)
    return JSONResponse(body, status_code=err.http, headers=headers)


def ok(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"success": True, "data": data})


class PortalService:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.reset()

    # ---- state ---------------------------------------------------------
    def reset(self) -> None:
        section = copy.deepcopy(self.state.library.get(NAME, {}))
        self.section = section
        keys = section.get("api_keys") or ([section["api_key"]] if "api_key" in section else [])
        self.api_keys: set[str] = set(keys)
        self.account = {**DEFAULT_ACCOUNT, **section.get("account", {})}
        exp = self.account.get("expires_in_seconds")
        self.expires_at = time.time() + exp if exp is not None else None
        self.hosts: list[dict[str, Any]] = copy.deepcopy(section.get("hosts", DEFAULT_HOSTS))
        self.ready_after_polls = int(section.get("ready_after_polls", 1))
        self.poll_after = int(section.get("poll_after_seconds", 2))
        self.error_poll_after = int(section.get("error_poll_after_seconds", 60))
        self.link_ttl = section.get("link_ttl")
        self.max_active = section.get("max_active_per_platform")
        self.variant: dict[str, Any] = {}
        self.shapes = dict(shapes.DEFAULTS)
        self.set_variant(
            {
                "filesize_format": section.get("filesize_format", "string"),
                "unrestrict_shape": section.get("unrestrict_shape", "current"),
                "grouped_hosts": section.get("grouped_hosts", True),
                "error_http": section.get("error_http", "table"),
                **{key: section[key] for key in shapes.CHOICES if key in section},
            }
        )
        rl = section.get("rate_limit", {})
        self.rate_requests = int(rl.get("requests", 0))
        self.rate_window = float(rl.get("window_seconds", 60))
        self.recent: collections.deque[float] = collections.deque()
        self.overrides: dict[str, dict[str, Any]] = {
            _norm(u): dict(o) for u, o in section.get("links", {}).items()
        }
        self.links: dict[str, dict[str, Any]] = {}  # linkId -> record
        self.by_url: dict[str, str] = {}  # normalised url -> linkId
        self.daily_usage: collections.Counter[str] = collections.Counter()  # platform -> bytes
        self.injected: list[dict[str, Any]] = []

    def set_variant(self, args: dict[str, Any]) -> None:
        choices = {
            "filesize_format": ("string", "number", "unknown_until_ready"),
            "unrestrict_shape": ("current", "legacy"),
            "grouped_hosts": (True, False),
            "error_http": ("table", "200"),
        }
        args = dict(args)
        self.shapes = shapes.checked(self.shapes, {k: args.pop(k) for k in list(args) if k in shapes.CHOICES})
        for key, value in args.items():
            if value not in choices[key]:
                raise ValueError(f"{key} must be one of {choices[key]}")
            self.variant[key] = value

    def shaped(self, response: Response) -> Response:
        """A reply in the switched variant: portal errors on HTTP 200, values reshaped.
        (A 404 of an endpoint that does not exist stays a 404.)"""
        status = response.status_code
        if status >= 400 and self.variant["error_http"] == "200" and b'"success":false' in response.body:
            status = 200
        if shapes.is_default(self.shapes) and status == response.status_code:
            return response
        headers = {k: v for k, v in response.headers.items() if k not in ("content-length", "content-type")}
        body = shapes.render(bytes(response.body), self.shapes)
        return Response(body, status, headers, media_type=shapes.media_type(self.shapes))

    @property
    def legacy(self) -> bool:
        return self.variant["unrestrict_shape"] == "legacy"

    def platform_of(self, domain: str) -> dict[str, Any] | None:
        for host in self.hosts:
            if domain in host["domains"]:
                return host
        return None

    # ---- control -------------------------------------------------------
    def control_view(self) -> dict[str, Any]:
        return {
            "account": self.account_data(),
            "hosts": self.hosts,
            "links": {
                lid: {k: v for k, v in rec.items() if k != "hoster"} for lid, rec in self.links.items()
            },
            "daily_usage": dict(self.daily_usage),
            "ready_after_polls": self.ready_after_polls,
            "injected": self.injected,
        }

    def control_action(self, action: str, args: dict[str, Any]) -> dict[str, Any]:
        if action == "reset":
            self.reset()
        elif action == "set_ready_after_polls":
            value = int(args["value"])
            if "link_id" in args or "url" in args:
                lid = args.get("link_id") or self.by_url.get(_norm(args["url"]))
                if "url" in args:
                    self.overrides.setdefault(_norm(args["url"]), {})["ready_after_polls"] = value
                if lid and lid in self.links and not self.links[lid]["ready"]:
                    self.links[lid]["polls_left"] = value
                    if value <= 0:
                        self._make_ready(self.links[lid])
            else:
                self.ready_after_polls = value
        elif action == "set_host_working":
            target = args["host"]
            hits = [h for h in self.hosts if target == h["platform"] or target in h["domains"]]
            if not hits:
                raise KeyError(f"unknown host {target!r}")
            for host in hits:
                host["currently_working"] = bool(args.get("working", True))
        elif action == "set_link":
            self.overrides[_norm(args["url"])] = {k: v for k, v in args.items() if k != "url"}
        elif action == "fail_link":
            lid = args.get("link_id") or self.by_url.get(_norm(args.get("url", "")))
            if lid not in self.links:
                raise KeyError("unknown link")
            self._fail(self.links[lid])
        elif action == "inject_error":
            status = int(args["status"])
            self.injected.append(
                {
                    "status": status,
                    "count": int(args.get("count", 1)),
                    "endpoint": args.get("endpoint", "any"),
                    "retry_in_seconds": args.get("retry_in_seconds"),
                    "http": args.get("http"),
                    "msg": args.get("msg"),
                }
            )
        elif action == "set_account":
            for key, value in args.items():
                if key == "expires_in_seconds":
                    self.expires_at = time.time() + value if value is not None else None
                self.account[key] = value
        elif action == "set_platform_traffic":
            host = next(h for h in self.hosts if h["platform"] == args["platform"])
            host["trafficleft"] = int(args["trafficleft"])
        elif action == "set_max_active":
            self.max_active = args.get("value")
        elif action == "set_variant":
            self.set_variant(args)
        elif action == "set_rate_limit":
            self.rate_requests = int(args.get("requests", 0))
            self.rate_window = float(args.get("window_seconds", 60))
            self.recent.clear()
        else:
            raise KeyError(f"unknown action {action!r}")
        return {"ok": True}

    # ---- helpers -------------------------------------------------------
    def account_data(self) -> dict[str, Any]:
        acc = self.account
        timeleft = None if self.expires_at is None else max(0, int(self.expires_at - time.time()))
        return {
            "accountType": "premium" if acc["trafficmax"] > 0 else "free",
            "trafficleft": acc["trafficleft"],
            "trafficmax": acc["trafficmax"],
            "trafficmax_daily": acc["trafficmax_daily"],
            "timeleft": timeleft,
            "login_check_interval": acc["login_check_interval"],
        }

    def take_injected(self, endpoint: str) -> PortalError | None:
        for item in self.injected:
            if item["count"] > 0 and item["endpoint"] in ("any", endpoint):
                item["count"] -= 1
                self.injected = [i for i in self.injected if i["count"] > 0]
                return PortalError(
                    item["status"], item.get("msg"), item.get("retry_in_seconds"), item.get("http")
                )
        return None

    def throttle(self) -> PortalError | None:
        if self.rate_requests <= 0:
            return None
        now = time.monotonic()
        while self.recent and now - self.recent[0] > self.rate_window:
            self.recent.popleft()
        self.recent.append(now)  # refused requests count too
        if len(self.recent) > self.rate_requests:
            wait = max(1, int(self.rate_window - (now - self.recent[0])) + 1)
            return PortalError(106, "Too many requests", wait, 429)
        return None

    def check_auth(self, request: Request, allow_unusable: bool = False) -> None:
        header = request.headers.get("authorization", "")
        key = header[7:].strip() if header.lower().startswith("bearer ") else None
        key = key or request.headers.get("x-api-key")
        if not key or key not in self.api_keys:
            raise PortalError(1)
        if allow_unusable:
            return
        expired = self.expires_at is not None and time.time() >= self.expires_at
        if not self.account.get("usable", True) or expired:
            raise PortalError(2, "Account expired" if expired else None)

    def link_data(self, rec: dict[str, Any], unrestrict: bool, reused: bool = False) -> dict[str, Any]:
        if rec["ready"]:
            link = self.state.links.links.get(rec["token"])
            if link is None or link.expired():
                self._mint(rec)
        error = rec["remote_status"] == "error"
        size_format = self.variant["filesize_format"]
        if size_format == "number":
            size: Any = rec["filesize"]
        elif size_format == "unknown_until_ready" and not rec["ready"]:
            size = None
        else:
            size = str(rec["filesize"])
        if self.legacy:
            return {
                "link": rec["link"],
                "filename": rec["filename"],
                "filesize": size,
                "hostDomain": rec["hostDomain"],
                "maxchunks": rec["maxchunks"],
                "resumable": rec["resumable"],
            }
        data: dict[str, Any] = {
            "linkId": rec["linkId"],
            "download_ready": rec["ready"],
            "remote_status": rec["remote_status"],
            "link": rec["link"] if rec["ready"] else None,
            "filename": rec["filename"],
            "filesize": size,
        }
        if unrestrict:
            data["hostDomain"] = rec["hostDomain"]
        data.update(
            {
                "maxchunks": rec["maxchunks"],
                "resumable": rec["resumable"],
                "poll_after_seconds": self.error_poll_after if error else self.poll_after,
            }
        )
        if unrestrict:
            data["reusedExisting"] = reused
        return data

    def _mint(self, rec: dict[str, Any]) -> None:
        hoster = rec["hoster"]
        url = self.state.links.mint(hoster.content, hoster.name, NAME, ttl=self.link_ttl)
        rec["link"] = url
        rec["token"] = url.rstrip("/").split("/")[-2]

    def _make_ready(self, rec: dict[str, Any]) -> None:
        rec["ready"] = True
        rec["remote_status"] = "done"
        rec["polls_left"] = 0
        self._mint(rec)

    def _fail(self, rec: dict[str, Any]) -> None:
        rec["ready"] = False
        rec["remote_status"] = "error"
        rec["link"] = None

    # ---- endpoints -----------------------------------------------------
    def unrestrict(self, body: Any) -> JSONResponse:
        if not isinstance(body, dict) or not isinstance(body.get("url"), str) or not body["url"].strip():
            raise PortalError(900, "Field 'url' is required")
        url = body["url"].strip()
        key = _norm(url)
        override = self.overrides.get(key, {})
        if override.get("error"):
            raise PortalError(
                int(override["error"]),
                override.get("msg"),
                override.get("retry_in_seconds"),
                override.get("http"),
            )
        lid = self.by_url.get(key)
        if lid is not None and self.links[lid]["remote_status"] != "error":
            return ok(self.link_data(self.links[lid], unrestrict=True, reused=True))

        parts = urlsplit(url)
        domain = (parts.hostname or "").removeprefix("www.")
        if parts.scheme not in ("http", "https") or not domain:
            raise PortalError(101)
        host = self.platform_of(domain)
        if host is None:
            raise PortalError(101, f"Host {domain} is not supported")
        if not host.get("currently_working", True):
            raise PortalError(105, f"{host['platform']} is currently not working")
        hoster = find_hoster_link(self.state, url)
        if hoster is None or hoster.offline:
            raise PortalError(104)
        size = hoster.content.size
        if self.account["trafficleft"] < size:
            raise PortalError(52)
        platform = host["platform"]
        if self.daily_usage[platform] + size > self.account["trafficmax_daily"]:
            raise PortalError(54)
        if host.get("trafficleft", size) < size:
            raise PortalError(107)
        if self.max_active is not None:
            active = sum(
                1
                for r in self.links.values()
                if r["platform"] == platform and r["remote_status"] not in ("done", "error")
            )
            if active >= int(self.max_active):
                raise PortalError(55)

        self.account["trafficleft"] -= size
        self.daily_usage[platform] += size
        if "trafficleft" in host:
            host["trafficleft"] -= size
        lid = secrets.token_hex(6)
        polls = 0 if self.legacy else int(override.get("ready_after_polls", self.ready_after_polls))
        rec = {
            "linkId": lid,
            "url": url,
            "hoster": hoster,
            "platform": platform,
            "hostDomain": domain,
            "filename": hoster.name,
            "filesize": size,
            "maxchunks": host.get("maxChunks", 16),
            "resumable": host.get("resumable", True),
            "ready": False,
            "remote_status": "downloading",
            "link": None,
            "token": None,
            "polls_left": polls,
            "polls": 0,
            "error_after": override.get("remote_error_after_polls"),
        }
        self.links[lid] = rec
        self.by_url[key] = lid
        if polls <= 0 and rec["error_after"] is None:
            self._make_ready(rec)
        return ok(self.link_data(rec, unrestrict=True, reused=False))

    def poll(self, lid: str) -> JSONResponse:
        rec = self.links.get(lid)
        if rec is None or self.legacy:
            raise PortalError(104, "Link not found", http=404)
        if rec["remote_status"] not in ("done", "error"):
            rec["polls"] += 1
            if rec["error_after"] is not None and rec["polls"] >= int(rec["error_after"]):
                self._fail(rec)
            else:
                rec["polls_left"] -= 1
                if rec["polls_left"] <= 0:
                    self._make_ready(rec)
        return ok(self.link_data(rec, unrestrict=False))


def _norm(url: str) -> str:
    return url.strip().rstrip("/").replace("http://", "https://", 1)


def build(state: EmulatorState) -> Starlette:
    service = PortalService(state)
    state.services[NAME] = service

    def endpoint(name: str, counter: str, handler: Any, allow_unusable: bool = False) -> Any:
        async def run(request: Request) -> Response:
            return service.shaped(await answer(request))

        async def answer(request: Request) -> JSONResponse:
            state.stats.count(NAME, counter)
            api = state.faults.api_for(NAME)
            if api.latency_ms:
                await asyncio.sleep(api.latency_ms / 1000)
            try:
                err = service.throttle()
                if err:
                    raise err
                burst = state.faults.take_api_burst(NAME)
                if burst is not None:
                    status = HTTP_TO_STATUS.get(burst.status_burst, 106)
                    retry = burst.retry_after
                    if retry is None and burst.status_burst in (429, 503):
                        retry = DEFAULT_RETRY.get(status, 60)
                    raise PortalError(status, "Injected error", retry, burst.status_burst)
                service.check_auth(request, allow_unusable)
                err = service.take_injected(name)
                if err:
                    raise err
                return await handler(request)
            except PortalError as exc:
                return error_response(exc)

        return run

    async def account(request: Request) -> JSONResponse:
        return ok(service.account_data())

    async def hosts(request: Request) -> JSONResponse:
        rows = []
        for host in service.hosts:
            for domain in host["domains"]:
                rows.append(
                    {
                        "host": domain,
                        "maxChunks": host.get("maxChunks", 16),
                        "maxDownloads": host.get("maxDownloads", 3),
                        "resumable": host.get("resumable", True),
                        "currently_working": host.get("currently_working", True),
                        "trafficleft": host.get("trafficleft", 0),
                        "trafficmax_daily": host.get("trafficmax_daily", 0),
                    }
                )
        return ok({"supportedhosts": rows, "updated_at": 1710000000000})

    async def grouped(request: Request) -> JSONResponse:
        if not service.variant["grouped_hosts"]:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        rows = [
            {
                "platform": h["platform"],
                "host": h["domains"][0],
                "domains": sorted(h["domains"]),
                "maxChunks": h.get("maxChunks", 16),
                "maxDownloads": h.get("maxDownloads", 3),
                "resumable": h.get("resumable", True),
                "currently_working": h.get("currently_working", True),
                "trafficleft": h.get("trafficleft", 0),
                "trafficmax_daily": h.get("trafficmax_daily", 0),
            }
            for h in service.hosts
        ]
        return ok({"supportedhosts": rows, "updated_at": 1710000000000})

    async def unrestrict(request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                body = dict((await request.form()).items())
            else:
                raise PortalError(900, "Body is not valid JSON") from None
        return service.unrestrict(body)

    async def link(request: Request) -> JSONResponse:
        return service.poll(request.path_params["link_id"])

    p = API_PATH
    return Starlette(
        routes=[
            Route(f"{p}/account", endpoint("account", "GET /account", account, allow_unusable=True)),
            Route(f"{p}/hosts", endpoint("hosts", "GET /hosts", hosts)),
            Route(f"{p}/hosts/grouped", endpoint("hosts", "GET /hosts/grouped", grouped)),
            Route(
                f"{p}/unrestrict", endpoint("unrestrict", "POST /unrestrict", unrestrict), methods=["POST"]
            ),
            Route(f"{p}/link/{{link_id}}", endpoint("link", "GET /link/{linkId}", link)),
        ]
    )


def sample_section() -> dict[str, Any]:
    return {
        "api_key": "obb_demo_4f1c2a9e7b3d5f60",
        "account": {
            "trafficleft": 466_894_644_646,
            "trafficmax": 1_099_511_627_776,
            "trafficmax_daily": 64_424_509_440,
            "expires_in_seconds": 30 * 86400,
        },
        "hosts": DEFAULT_HOSTS
        + [
            {
                "platform": "Keep2share",
                "domains": ["k2s.cc", "keep2share.cc"],
                "maxChunks": 8,
                "maxDownloads": 2,
                "resumable": True,
                "currently_working": False,
                "trafficleft": 0,
                "trafficmax_daily": 0,
            }
        ],
        "ready_after_polls": 2,
        "poll_after_seconds": 2,
    }
