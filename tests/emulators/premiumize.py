"""Emulator of the Premiumize.me legacy API (pm-api v1; docs/providers.md, "Premiumize").

Mounted at `/premiumize`; `API_PATH` is `/pm-api/v1.php`, so a client's
`api_url` is `<base>/premiumize/pm-api/v1.php` (the whole endpoint, as on
api.premiumize.me) and methods are query parameters:

    GET <api_url>?method=accountstatus&params[login]=<customer id>&params[pass]=<PIN>
    GET <api_url>?method=hosterlist&params[login]=..&params[pass]=..
    GET <api_url>?method=directdownloadlink&params[login]=..&params[pass]=..&params[link]=<url>

Brackets may be literal or percent-encoded; a POST form body works too (its
fields win over the query). Every reply is `{"result", "status",
"statusmessage"}`; on error `result` is null. By default the HTTP status is
200 and the code is in the body only ("http_status": true mirrors codes >= 400
on the HTTP line).

Library section "premiumize":

    {
      "customer_id": "123456789", "pin": "...",      # params[login] / params[pass]
      "type": "premium",                # premium | trial | prepaid | free (free -> 402)
      "expires_in_seconds": int | null, # or "expires": unix seconds; past -> 402
      "fairuse_left": 0.77,             # 0..1; <= 0 -> 509
      "fairuse_bytes": 1099511627776,   # bytes worth the whole fair-use limit; each
                                        # directdownloadlink consumes size/fairuse_bytes
      "hosters": {"rapidgator.net": {"tlds": [...], "regexes": [...]}},   # Python regexes
      "connection_settings": {"all": {...}, "<domain>": {"max_connections_per_file": 16,
                               "max_connections_per_hoster": 16, "resume": true}},
      "host_status": {"rapidgator.net": "ok" | "down" (428) | "daily_limit" (0)},
      "link_limit": null,               # directdownloadlink calls allowed; beyond -> 500
      "banned": false,                  # true -> 403 on every method
      "maintenance": false,             # true -> 503 on every method
      "http_status": false,
      "link_ttl": null,                 # seconds a minted direct link lives
      "reply_fields": "location",       # directdownloadlink result: "location" (the document's
                                        # example, the default) or "full" (+ filename, filesize,
                                        # as clients met it)
      "location_redirect": "none",      # "absolute" | "relative": the location is a URL of this
                                        # service that answers 302 to the data host ("there may
                                        # be a redirect behind it", doc), with an absolute or a
                                        # root-relative Location
      "location_head": "ok",            # "refused": the location answers HEAD with 405
                                        # (GET works), as some download servers do
      "links": {"<hoster url>": {"status": 502, "message": "...", "count": n}},  # forced reply
      "numbers": "json", "flags": "json", "content_type": "json"
                                        # how values are written (tests/emulators/shapes.py):
                                        # the status and numbers as strings, `resume` as 0/1,
                                        # served as text/html (PHP's default)...
    }

Status codes (docs/providers.md, "Premiumize"): 0 host daily limit, 2 odd server error (inject),
400 no valid link / missing params[link] / unknown method, 401 login failed,
402 free or expired account, 403 banned, 404 file gone at the hoster (offline
or unknown hoster link), 428 host down, 500 link limit reached, 502/503
(inject, 503 also maintenance), 509 fair use exhausted.

Control actions (POST /_control/premiumize/<action>):
    set_fairuse_left {"value": float}
    set_account_type {"type": "free"|"premium"|...}
    set_expires {"expires": unix | null} or {"expires_in_seconds": s}
    set_host_status {"host": domain, "status": "ok"|"down"|"daily_limit"}
    set_link {"url": str, "status": n, "message"?: str, "count"?: n}   (status null clears)
    inject_error {"status": n, "count": 1, "method"?: name|"any", "message"?: str}
    set_flags {"banned"?: bool, "maintenance"?: bool, "http_status"?: bool, "link_limit"?: n,
               "reply_fields"?: "location" | "full", "link_ttl"?: seconds | null,
               "location_head"?: "ok" | "refused", "location_redirect"?,
               "numbers"?, "flags"?, "content_type"?}
    reset {}
Fault bursts (`/_control/faults`, api.premiumize) answer the envelope with
status = the burst's status (HTTP line per "http_status").
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import time
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import shapes
from .dataserver import DataApp
from .hosters import DataDelegate, find_hoster_link
from .state import EmulatorState

NAME = "premiumize"
API_PATH = "/pm-api/v1.php"

MESSAGES = {
    0: "Daily limit reached for this host!",
    2: "file_get_contents(): failed to open stream: HTTP request failed!",
    400: "no valid link",
    401: "login failed",
    402: "payment required - the download would be possible, but the account is not premium",
    403: "forbidden",
    404: "file not found - the file has been deleted by a 3rd party provider",
    428: "hoster currently not available",
    500: "link limit reached",
    502: "unknown technical error",
    503: "temporary technical error, maintenance",
    509: "fair use limit exhausted",
}

DEFAULT_HOSTERS = {
    "rapidgator.net": {
        "tlds": ["rapidgator.net", "rg.to"],
        "regexes": [r"https?://(?:www\.)?rapidgator\.net/file/.+", r"https?://(?:www\.)?rg\.to/file/.+"],
    },
}
DEFAULT_CONNECTIONS = {
    "all": {"max_connections_per_file": 1, "max_connections_per_hoster": 6, "resume": True},
    "rapidgator.net": {"max_connections_per_file": 16, "max_connections_per_hoster": 16, "resume": True},
}


class PmError(Exception):
    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.message = message or MESSAGES.get(status, "error")


class PremiumizeService:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.data_app = DataApp(state)
        self.reset()

    def reset(self) -> None:
        s = copy.deepcopy(self.state.library.get(NAME, {}))
        self.login = str(s.get("customer_id", s.get("login", "")))
        self.pin = str(s.get("pin", s.get("pass", "")))
        self.type = s.get("type", "premium")
        if "expires" in s:
            self.expires = s["expires"]
        elif s.get("expires_in_seconds") is not None:
            self.expires = int(time.time() + s["expires_in_seconds"])
        else:
            self.expires = None
        self.fairuse_left = float(s.get("fairuse_left", 1.0))
        self.fairuse_bytes = float(s.get("fairuse_bytes", 1 << 40))
        self.hosters = s.get("hosters", copy.deepcopy(DEFAULT_HOSTERS))
        self.connection_settings = s.get("connection_settings", copy.deepcopy(DEFAULT_CONNECTIONS))
        self.host_status: dict[str, str] = dict(s.get("host_status", {}))
        self.link_limit = s.get("link_limit")
        self.links_made = 0
        self.banned = bool(s.get("banned", False))
        self.maintenance = bool(s.get("maintenance", False))
        self.http_status = bool(s.get("http_status", False))
        self.link_ttl = s.get("link_ttl")
        self.reply_fields = _reply_fields(s.get("reply_fields", "location"))
        self.location_head = _choice("location_head", s.get("location_head", "ok"), ("ok", "refused"))
        self.location_redirect = _choice("location_redirect", s.get("location_redirect", "none"), REDIRECTS)
        self.shapes = shapes.checked(shapes.DEFAULTS, {k: s[k] for k in shapes.CHOICES if k in s})
        self.overrides = {_norm(u): dict(o) for u, o in s.get("links", {}).items()}
        self.injected: list[dict[str, Any]] = []

    # ---- control -------------------------------------------------------
    def control_view(self) -> dict[str, Any]:
        return {
            "login": self.login,
            "type": self.type,
            "expires": self.expires,
            "fairuse_left": self.fairuse_left,
            "host_status": self.host_status,
            "links_made": self.links_made,
            "link_limit": self.link_limit,
            "banned": self.banned,
            "maintenance": self.maintenance,
            "http_status": self.http_status,
            "overrides": self.overrides,
            "injected": self.injected,
        }

    def control_action(self, action: str, args: dict[str, Any]) -> dict[str, Any]:
        if action == "reset":
            self.reset()
        elif action == "set_fairuse_left":
            self.fairuse_left = float(args["value"])
        elif action == "set_account_type":
            if args["type"] not in ("premium", "trial", "prepaid", "free"):
                raise ValueError("type must be premium, trial, prepaid or free")
            self.type = args["type"]
        elif action == "set_expires":
            if "expires_in_seconds" in args:
                self.expires = int(time.time() + args["expires_in_seconds"])
            else:
                self.expires = args["expires"]
        elif action == "set_host_status":
            if args["status"] not in ("ok", "down", "daily_limit"):
                raise ValueError("status must be ok, down or daily_limit")
            self.host_status[args["host"]] = args["status"]
        elif action == "set_link":
            key = _norm(args["url"])
            if args.get("status") is None:
                self.overrides.pop(key, None)
            else:
                self.overrides[key] = {k: v for k, v in args.items() if k != "url"}
        elif action == "inject_error":
            self.injected.append(
                {
                    "status": int(args["status"]),
                    "count": int(args.get("count", 1)),
                    "method": args.get("method", "any"),
                    "message": args.get("message"),
                }
            )
        elif action == "set_flags":
            for key in ("banned", "maintenance", "http_status"):
                if key in args:
                    setattr(self, key, bool(args[key]))
            if "reply_fields" in args:
                self.reply_fields = _reply_fields(args["reply_fields"])
            if "location_head" in args:
                self.location_head = _choice("location_head", args["location_head"], ("ok", "refused"))
            if "location_redirect" in args:
                self.location_redirect = _choice("location_redirect", args["location_redirect"], REDIRECTS)
            self.shapes = shapes.checked(self.shapes, {k: args[k] for k in shapes.CHOICES if k in args})
            if "link_ttl" in args:
                self.link_ttl = args["link_ttl"]
            if "link_limit" in args:
                self.link_limit = args["link_limit"]
                self.links_made = 0
        else:
            raise KeyError(f"unknown action {action!r}")
        return {"ok": True}

    # ---- helpers -------------------------------------------------------
    def reply(self, result: Any, status: int = 200, message: str = "OK") -> Response:
        envelope = {"result": result, "status": status, "statusmessage": message}
        body = json.dumps(shapes.reshape(envelope, self.shapes), separators=(",", ":"))
        body = body.replace("/", "\\/")  # PHP's json_encode escapes slashes; still valid JSON
        http = status if (self.http_status and status >= 400) else 200
        return Response(body, status_code=http, media_type=shapes.media_type(self.shapes))

    def take_injected(self, method: str) -> PmError | None:
        for item in self.injected:
            if item["count"] > 0 and item["method"] in ("any", method):
                item["count"] -= 1
                self.injected = [i for i in self.injected if i["count"] > 0]
                return PmError(item["status"], item.get("message"))
        return None

    def hoster_for(self, url: str) -> str | None:
        for domain, info in self.hosters.items():
            for rx in info.get("regexes", []):
                if re.match(rx, url):
                    return domain
        return None

    def premium(self) -> bool:
        if self.type == "free":
            return False
        return self.expires is None or self.expires > time.time()

    # ---- methods -------------------------------------------------------
    def accountstatus(self, params: dict[str, str]) -> Response:
        left = min(1.0, max(0.0, self.fairuse_left))
        traffic = int(left * self.fairuse_bytes)
        lapsed = self.expires is not None and self.expires <= time.time()
        return self.reply(
            {
                "account_name": self.login,
                "extuid": self.login,
                "type": "free" if lapsed else self.type,  # a lapsed account reads as free
                "expires": None if lapsed else self.expires,
                "fairuse_left": left,
                "trafficleft_bytes": traffic,
                "trafficleft_gigabytes": traffic / (1 << 30),
            }
        )

    def hosterlist(self, params: dict[str, str]) -> Response:
        tlds = [t for info in self.hosters.values() for t in info.get("tlds", [])]
        regexes = [r for info in self.hosters.values() for r in info.get("regexes", [])]
        return self.reply(
            {
                "hosters": self.hosters,
                "regexlist": regexes,
                "tldlist": tlds,
                "hosterlist": list(self.hosters),
                "connection_settings": self.connection_settings,
            }
        )

    def directdownloadlink(self, params: dict[str, str]) -> Response:
        url = (params.get("link") or "").strip()
        if not url:
            raise PmError(400, "no link given")
        override = self.overrides.get(_norm(url))
        if override is not None:
            if override.get("count") is None or override["count"] > 0:
                if override.get("count") is not None:
                    override["count"] -= 1
                raise PmError(int(override["status"]), override.get("message"))
        domain = self.hoster_for(url)
        if domain is None:
            raise PmError(400)
        status = self.host_status.get(domain) or self.host_status.get(
            (urlsplit(url).hostname or "").removeprefix("www."), "ok"
        )
        if status == "down":
            raise PmError(428)
        if status == "daily_limit":
            raise PmError(0)
        hoster = find_hoster_link(self.state, url)
        if hoster is None or hoster.offline:
            raise PmError(404)
        if not self.premium():
            raise PmError(402)
        if self.fairuse_left <= 0:
            raise PmError(509)
        if self.link_limit is not None and self.links_made >= int(self.link_limit):
            raise PmError(500)
        self.links_made += 1
        self.fairuse_left = max(0.0, self.fairuse_left - hoster.content.size / self.fairuse_bytes)
        location = self.state.links.mint(hoster.content, hoster.name, NAME, ttl=self.link_ttl)
        if self.location_head == "refused" or self.location_redirect != "none":
            # served (or redirected) by this service's own download route
            location = location.replace("/data/", f"/{NAME}/dl/", 1)
        if self.reply_fields == "location":
            return self.reply({"location": location})
        return self.reply({"location": location, "filename": hoster.name, "filesize": hoster.content.size})


REDIRECTS = ("none", "absolute", "relative")


def _choice(key: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{key} must be one of {', '.join(choices)}")
    return value


def _reply_fields(value: str) -> str:
    return _choice("reply_fields", value, ("location", "full"))


def _norm(url: str) -> str:
    return url.strip().rstrip("/").replace("http://", "https://", 1)


async def _params(request: Request) -> dict[str, str]:
    raw: dict[str, str] = dict(request.query_params.items())
    if request.method == "POST":
        raw.update(dict((await request.form()).items()))
    params: dict[str, str] = {}
    for key, value in raw.items():
        if key.startswith("params[") and key.endswith("]"):
            params[key[7:-1]] = value
        elif key == "method":
            params["method"] = value
    return params


def build(state: EmulatorState) -> Starlette:
    service = PremiumizeService(state)
    state.services[NAME] = service
    methods = {
        "accountstatus": service.accountstatus,
        "hosterlist": service.hosterlist,
        "directdownloadlink": service.directdownloadlink,
    }

    async def api(request: Request) -> Response:
        params = await _params(request)
        method = params.get("method", "")
        state.stats.count(NAME, method if method in methods else "unknown")
        fault = state.faults.api_for(NAME)
        if fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)
        try:
            burst = state.faults.take_api_burst(NAME)
            if burst is not None:
                raise PmError(burst.status_burst)
            if service.maintenance:
                raise PmError(503)
            if method not in methods:
                raise PmError(400, f"unknown method {method!r}")
            if params.get("login") != service.login or params.get("pass") != service.pin or not service.login:
                raise PmError(401)
            if service.banned:
                raise PmError(403)
            err = service.take_injected(method)
            if err:
                raise err
            return methods[method](params)
        except PmError as exc:
            return service.reply(None, exc.status, exc.message)

    async def download(request: Request) -> Response:
        """A location under this service: HEAD refused (the switch), a redirect to the
        data host (the switch), else GET from the data host."""
        token, name = request.path_params["token"], request.path_params["name"]
        path = f"/data/{token}/{quote(name, safe='')}"
        if request.method == "HEAD" and service.location_head == "refused":
            return Response(b"", status_code=405, headers={"Allow": "GET"})
        if service.location_redirect != "none":
            target = path if service.location_redirect == "relative" else state.links.base_url + path
            return Response(b"", status_code=302, headers={"Location": target})
        return DataDelegate(service.data_app, f"/data/{token}/{name}")

    return Starlette(
        routes=[
            Route(API_PATH, api, methods=["GET", "POST"]),
            Route("/dl/{token}/{name}", download, methods=["GET", "HEAD"]),
        ]
    )


def sample_section() -> dict[str, Any]:
    return {
        "customer_id": "123456789",
        "pin": "k7m2x9q4p1",
        "type": "premium",
        "expires_in_seconds": 180 * 86400,
        "fairuse_left": 0.77168611980213,
        "hosters": copy.deepcopy(DEFAULT_HOSTERS),
        "connection_settings": copy.deepcopy(DEFAULT_CONNECTIONS),
    }
