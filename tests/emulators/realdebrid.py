"""Real-Debrid REST 1.0 emulator (plus the OAuth2 device flow for open-source apps).

Follows the REST 1.0 document as docs/providers.md ("Real-Debrid") restates
it, with what real clients met. Mounted at `/realdebrid`: the API base is
`<base>/realdebrid/rest/1.0`, OAuth is `<base>/realdebrid/oauth/v2/...`.

Library section (key "realdebrid")
----------------------------------
    {"token": "rd-good-token",            # a valid private API token
     "tokens": ["rd-other-token"],        # more valid private tokens (optional)
     "locked_tokens": ["rd-locked"],      # -> 403 {"error": "account_locked", "error_code": 14}
     "user": {...},                       # overrides of /user fields ("type": "free" refuses downloads)
     "rate_limit_per_minute": 250,        # sliding 60 s window per token (per client IP when no
                                          # token); 0 disables; refused requests count too
                                          # -> 429 {"error": "too_many_requests", "error_code": 34}
     "link_ttl": null,                    # seconds a generated download link lives (null: until
                                          # /_control/expire_links)
     "default_limit": 50, "max_limit": 5000,   # paging of /downloads and /torrents
     "active_limit": 50,                  # /torrents/activeCount "limit"; adding beyond -> 509/21
     "status_polls": {"magnet_conversion": 1, "queued": 0, "downloading": 1},
                                          # /torrents/info polls each automatic status lasts for
                                          # torrents added through the API (0: skipped at once)
     "known_magnets": [{"hash": "40 hex", "filename": "...", "files": [file...],
                        "infringing": false}],   # what an added magnet/torrent resolves to
     "oauth_approve_after_polls": 2,      # device/credentials answers 403 this many times, then
                                          # approves (null: only the control action approves)
     "oauth_interval": 5,                 # "interval" of device/code
     "access_token_ttl": 3600,            # lifetime of OAuth access tokens (s)
     "downloads": [{"id", "filename", "content": {content spec}, "host": "real-debrid.com",
                    "chunks": 8, "generated": "2026-01-02T03:04:05.000Z", "link": "https://...",
                    "filesize": 0}],      # optional: the filesize listed (0 is "unknown" in the
                                          # doc), whatever the content's size
     "torrents": [{"id", "filename", "original_filename", "hash": "40 hex", "status": "downloaded",
                   "added", "ended", "progress", "speed", "seeders",
                   "polls": null,         # int: auto-advance like an API-added torrent
                   "undocumented_status": false,   # true: "status" may be one no document
                                          # lists (a status the service added later)
                   "files": [{"path": "/dir/name.mkv", "content": {content spec},
                              "selected": 1,
                              "unavailable": false,   # unrestrict -> 503 unavailable_file/24
                              "broken": false,        # unrestrict -> 503 hoster_unavailable/19
                              "infringing": false}],  # unrestrict -> 451 infringing_file/35
                   "archive": null}],     # {"name": "x.rar", "content": {spec}?, "format"?}: RD
                                          # packed the selected files into one archive
                                          # (providers.md, Torrents): one link, which
                                          # unrestricts to this name and content;
                                          # "format": "rar" builds a real RAR of the
                                          # selected files, stored; "rar-compressed" marks them
                                          # compressed (opaque packed bytes)
     "generate": {"torrents": 5000, "files_per_torrent": 10, "file_size": 1048576},
     "readd_fixes": true,                 # adding a torrent's hash again gives its files, broken
                                          # ones mended (false: they stay broken)
     "names": "raw",                      # "raw": names and paths as given (NFD stays NFD);
                                          # "nfc": normalized to NFC
     "listing": {                         # shape of /torrents and /downloads replies (providers.md, Lists)
        "total_header": true,             # false: no X-Total-Count on any page (nor on 304s)
        "empty": null,                    # "204", "[]" or "{}": every page is empty (an RD bug seen)
        "page_error_from": null,          # int: pages at this offset or later fail with
        "page_error_status": 503,         # this status (and its error JSON, as faults have)
        "short_pages_from": null},        # int: pages at this offset or later leave out their
                                          # first item (the list changed while being read)
     "shapes": {"numbers": "json", "flags": "json", "dates": "iso", "content_type": "json"},
                                          # how values are written (tests/emulators/shapes.py;
                                          # the document's by default); the 0/1 flags are
                                          # `selected`, `crc`, `streamable`
     "nulls": false}                      # true: optional fields that do not apply are sent
                                          # as null instead of left out (`ended`, `speed`,
                                          # `seeders`, `mimeType`, `host_icon`, `links` when
                                          # there are none)

Everything except the content specs may be omitted: ids (13 chars of A-Z2-7), hashes
and dates are then derived deterministically from the position and the name.
Library torrents keep their `filename` verbatim and do not move by polling
(unless "polls" is set); selectFiles on such a frozen `waiting_files_selection`
torrent completes it at once (as cached content does). API-added torrents follow
the real service: `filename` becomes the file's name when exactly one file is
selected. Synthesized magnets (no "known_magnets" entry) get two files,
"/<dn>.mkv" (3-4 MiB) and "/<dn>.nfo", sized and seeded from the hash; a .torrent
file gets its real paths and lengths (synthetic content, seeded from the info hash).

Behaviour chosen where the docs are silent
------------------------------------------
- Lists are newest first: library order, then the generated library; added
  torrents and new unrestricts go to the front. An empty page (past the end, or
  an empty list) is 204 with no body; `X-Total-Count` is sent unless the
  "listing" switches say otherwise. `page` is
  1-based and wins over `offset`; `limit` 0 or absent means `default_limit`,
  larger than `max_limit` is clamped; negative/non-numeric -> 400 bad_parameter/2.
  `filter=active` lists active torrents first (as the doc says), the rest after.
- Every 200 GET carries an `ETag` (hash of body and total); `If-None-Match`
  with it -> 304, empty body.
- Unknown endpoint -> 404 unknown_method/3; wrong verb -> 405 method_not_allowed/4.
  `X-HTTP-Verb` overrides the verb. Forms must be urlencoded (multipart bodies
  are ignored: python-multipart is not installed); query params are accepted
  as a fallback. A trailing slash on a path is ignored.
- Rate limiting happens after injected faults and before auth, so refused and
  unauthenticated requests use up the window too (keyed by token, else IP).
- Each /torrents/info/{id} poll of an auto-flow torrent either shows the current
  status (using up one of its polls) or moves it on: with the default
  status_polls an added magnet shows magnet_conversion once, then
  waiting_files_selection; after selectFiles, downloading once, then downloaded.
- Unknown torrent/download id -> 404 unknown_ressource/7.
- /unrestrict/link: links `https://real-debrid.com/d/<ID>` of torrents (only
  while the torrent is `downloaded` and the file selected; 26-char ids are cut
  to 13), original links of /downloads entries, and top-level `hoster_links`.
  Unknown link or offline hoster file -> 503 unavailable_file/24; a host that is
  none of these -> 503 unsupported_hoster/16; free account -> 403
  hoster_not_free/20. Each unrestrict mints a fresh direct link and puts the
  entry at the front of /downloads, replacing an older entry for the same link.
- selectFiles: missing `files` -> 400 parameter_missing/1; bad file id -> 404
  bad_parameter/2; still converting -> 503 service_unavailable/25; already
  selected -> 202 action_already_done/31 (body present).
- addMagnet without btih -> 400 bad_parameter/2; bad .torrent -> 400
  torrent_file_invalid/30; infringing known magnet -> 451/35.
- /torrents/instantAvailability/* -> 403 disabled_endpoint/37 (dead since 2024).
- /disable_access_token only disables OAuth access tokens (private tokens stay).
- OAuth: any non-empty client_id is accepted by device/code. device/credentials:
  pending -> 403 authorization_pending/9, unknown code -> 400 bad_parameter/2.
  token: bad grant_type -> 400 bad_parameter/2; unknown client_id/secret ->
  403 invalid_client/9; unknown/not approved code -> 403 invalid_grant/9. A
  refresh returns a new access token and the same refresh token.
  Expired access token -> 401 bad_token/8.
- Injected API faults (`/_control/faults` "api": {"realdebrid": ...}) answer in
  RD's error JSON: 429 too_many_requests/34, 503 service_unavailable/25,
  500 internal_error/-1, 401 bad_token/8, 403 permission_denied/9,
  404 unknown_ressource/7, 451 infringing_file/35, 509 too_many_active_downloads/21.

Control actions (POST /_control/realdebrid/<action>, JSON args)
---------------------------------------------------------------
advance {"id"?, "to"?, "steps"?}   move a torrent (default: every auto-flow torrent)
                                   one step along magnet_conversion ->
                                   waiting_files_selection (-> selects all) -> queued ->
                                   downloading -> downloaded; "to" sets any status.
add_torrent {torrent entry}        -> {"id"}; remove_torrent {"id"}; rename_torrent {"id", "filename"}
add_download {download entry}      -> {"id"}; remove_download {"id"}
set_file {"id", "file": file id, "unavailable"?, "broken"?, "infringing"?, "selected"?}
set_token_ttl {"seconds", "existing"?: bool}   new (and optionally live) OAuth tokens
expire_tokens {}                   every OAuth access token expires now
add_token {"token", "locked"?}; remove_token {"token"}
rate_limit {"per_minute"}          also clears the windows
approve_device {"device_code" | "user_code"}
set_status_polls {"magnet_conversion"?, "queued"?, "downloading"?}
set_readd_fixes {"value": bool}     see "readd_fixes"
inject_error {"route": "POST /unrestrict/link", "status", "error", "code", "times"?: 1}
                                   the next matching calls (after auth) answer this error JSON
set_listing {"total_header"?, "empty"?, "page_error_from"?, "page_error_status"?,
             "short_pages_from"?}   see "listing"; "empty" also takes "{}"
set_shapes {"numbers"?, "flags"?, "dates"?, "content_type"?, "nulls"?}   see "shapes", "nulls"
maintenance {"count": n, "status": 200}   the next n API calls answer the HTML page
                                   "Temporarily Down For Maintenance" with this status
                                   (seen at the API's edge; JDownloader waits 5 min)
"""

from __future__ import annotations

import asyncio
import base64
import collections
import datetime as dt
import hashlib
import json
import mimetypes
import re
import secrets
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import Response

from . import hosters, shapes
from .content import Content, SyntheticContent, content_from_spec
from .rar import rar_archive
from .state import EmulatorState

API_PATH = "/rest/1.0"
SERVICE = "realdebrid"
OPENSOURCE_CLIENT_ID = "X245A4XAIBGVM"
DEVICE_GRANT = "http://oauth.net/grant_type/device/1.0"
RD_HOST = "real-debrid.com"
HOST_ICON = "https://fcdn.real-debrid.com/0822/images/hosters/realdebrid.png"
BASE_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
MIB = 1 << 20

CHAIN = ["magnet_conversion", "waiting_files_selection", "queued", "downloading", "downloaded"]
AUTO_STATUSES = {"magnet_conversion", "queued", "downloading"}
ACTIVE_STATUSES = {
    "magnet_conversion",
    "waiting_files_selection",
    "queued",
    "downloading",
    "compressing",
    "uploading",
}
SPEED_STATUSES = {"downloading", "compressing", "uploading"}
SEEDER_STATUSES = {"downloading", "magnet_conversion"}
# How list replies (/torrents, /downloads) are shaped; see "listing" in the docstring.
LISTING_DEFAULTS: dict[str, Any] = {
    "total_header": True,
    "empty": None,
    "page_error_from": None,
    "page_error_status": 503,
    "short_pages_from": None,
}
MAINTENANCE_PAGE = (
    b"<!DOCTYPE html><html><head><title>Temporarily Down For Maintenance</title></head>"
    b"<body><h1>Temporarily Down For Maintenance</h1></body></html>"
)
FLAG_KEYS = frozenset({"selected", "crc", "streamable"})  # 0/1 in the document
ALL_STATUSES = set(CHAIN) | {"magnet_error", "error", "virus", "compressing", "uploading", "dead"}

FAULT_ERRORS = {
    429: ("too_many_requests", 34),
    503: ("service_unavailable", 25),
    500: ("internal_error", -1),
    502: ("service_unavailable", 25),
    504: ("service_unavailable", 25),
    401: ("bad_token", 8),
    403: ("permission_denied", 9),
    404: ("unknown_ressource", 7),
    451: ("infringing_file", 35),
    509: ("too_many_active_downloads", 21),
    400: ("bad_parameter", 2),
}

MIME = {
    ".mkv": "video/x-matroska",
    ".mp4": "video/mp4",
    ".avi": "video/x-msvideo",
    ".srt": "application/x-subrip",
    ".flac": "audio/flac",
    ".mp3": "audio/mpeg",
    ".txt": "text/plain",
    ".nfo": "text/plain",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".iso": "application/x-iso9660-image",
    ".zip": "application/zip",
    ".rar": "application/x-rar-compressed",
    ".bin": "application/octet-stream",
}


# ----------------------------------------------------------------------------- helpers


def rd_id(*parts: Any) -> str:
    """13 characters of the base32 alphabet (A-Z, 2-7), derived from `parts`."""
    digest = hashlib.sha1("|".join(map(str, parts)).encode()).digest()
    return base64.b32encode(digest).decode()[:13]


def json_date(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def now_date() -> str:
    return json_date(dt.datetime.now(dt.UTC))


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def mime_of(name: str) -> str:
    ext = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    return MIME.get(ext) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def torrent_link(link_id: str) -> str:
    return f"https://{RD_HOST}/d/{link_id}"


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        error: str,
        code: int | None,
        details: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status, self.error, self.code = status, error, code
        self.details, self.headers = details, headers or {}

    def response(self) -> Response:
        body: dict[str, Any] = {"error": self.error}
        if self.details:
            body["error_details"] = self.details
        if self.code is not None:
            body["error_code"] = self.code
        return json_response(body, self.status, self.headers)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def empty(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    return Response(b"", status_code=status, headers=headers)


def not_found() -> ApiError:
    return ApiError(404, "unknown_ressource", 7)


# ----------------------------------------------------------------------------- bencode


def bdecode_torrent(data: bytes) -> tuple[dict, bytes]:
    """Decodes a .torrent file; returns (top-level dict, raw bencoded `info`)."""
    info_span: list[int] = []

    def decode(i: int, depth: int) -> tuple[Any, int]:
        c = data[i : i + 1]
        if c == b"i":
            end = data.index(b"e", i)
            return int(data[i + 1 : end]), end + 1
        if c == b"l":
            i += 1
            items = []
            while data[i : i + 1] != b"e":
                value, i = decode(i, depth + 1)
                items.append(value)
            return items, i + 1
        if c == b"d":
            i += 1
            result = {}
            while data[i : i + 1] != b"e":
                key, i = decode(i, depth + 1)
                start = i
                value, i = decode(i, depth + 1)
                if depth == 0 and key == b"info":
                    info_span[:] = [start, i]
                result[key] = value
            return result, i + 1
        if c.isdigit():
            colon = data.index(b":", i)
            n = int(data[i:colon])
            if colon + 1 + n > len(data):
                raise ValueError("truncated string")
            return data[colon + 1 : colon + 1 + n], colon + 1 + n
        raise ValueError("bad bencode")

    try:
        top, _ = decode(0, 0)
    except (ValueError, IndexError, RecursionError) as exc:
        raise ValueError(str(exc)) from exc
    if not isinstance(top, dict) or not info_span or not isinstance(top.get(b"info"), dict):
        raise ValueError("no info dictionary")
    return top, data[info_span[0] : info_span[1]]


# ----------------------------------------------------------------------------- model


@dataclass
class TorrentFile:
    id: int
    path: str
    content: Content
    selected: int = 0
    unavailable: bool = False
    broken: bool = False
    infringing: bool = False
    link_id: str = ""

    @property
    def bytes(self) -> int:
        return self.content.size


@dataclass
class Torrent:
    id: str
    filename: str
    original_filename: str
    hash: str
    status: str
    added: str
    files: list[TorrentFile]
    ended: str | None = None
    progress: int | None = None
    speed: int = 4_200_000
    seeders: int = 12
    auto: bool = False  # moves along CHAIN on /torrents/info polls
    polls_left: int = 0
    rename_on_select: bool = False
    archive: TorrentFile | None = None  # RD packed the selection into this one file

    def selected(self) -> list[TorrentFile]:
        return [f for f in self.files if f.selected]


@dataclass
class Download:
    id: str
    filename: str
    content: Content
    link: str
    host: str
    chunks: int
    generated: str
    mime: str
    streamable: int
    download: str | None = None  # minted lazily (the base URL is known by then)
    from_torrent: bool = False  # unrestricted from a torrent link (dies with the torrent)
    extra: dict[str, Any] = field(default_factory=dict)


class RealDebrid:
    """Per-emulator Real-Debrid state; `state.services["realdebrid"]`."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        section: dict[str, Any] = dict(state.library.get(SERVICE) or {})
        self.section = section
        self.tokens: set[str] = set()
        if section.get("token"):
            self.tokens.add(section["token"])
        self.tokens.update(section.get("tokens", []))
        self.locked: set[str] = set(section.get("locked_tokens", []))
        self.user = {
            "id": 415000,
            "username": "demo",
            "email": "d***@example.org",
            "points": 1200,
            "locale": "en",
            "avatar": "https://fcdn.real-debrid.com/images/forum/empty.png",
            "type": "premium",
            "premium": 15_000_000,
            "expiration": "2027-01-01T10:10:00.000Z",
            **section.get("user", {}),
        }
        self.rate_limit = int(section.get("rate_limit_per_minute", 250) or 0)
        self.windows: dict[str, collections.deque[float]] = {}
        self.link_ttl = section.get("link_ttl")
        self.default_limit = int(section.get("default_limit", 50))
        self.max_limit = int(section.get("max_limit", 5000))
        self.active_limit = int(section.get("active_limit", 50))
        self.listing = {**LISTING_DEFAULTS, **section.get("listing", {})}
        self.shapes = shapes.checked(shapes.DEFAULTS, section.get("shapes", {}))
        self.nulls = bool(section.get("nulls", False))
        self.maintenance_left, self.maintenance_status = 0, 200
        self.names_nfc = section.get("names", "raw") == "nfc"
        self.readd_fixes = bool(section.get("readd_fixes", True))
        self.injected: list[dict[str, Any]] = []  # inject_error: replies to give next
        self.status_polls = {
            "magnet_conversion": 1,
            "queued": 0,
            "downloading": 1,
            **section.get("status_polls", {}),
        }
        self.known_magnets = {m["hash"].lower(): m for m in section.get("known_magnets", [])}
        self.approve_after = section.get("oauth_approve_after_polls", 2)
        self.oauth_interval = int(section.get("oauth_interval", 5))
        self.access_token_ttl = float(section.get("access_token_ttl", 3600))
        # OAuth
        self.devices: dict[str, dict[str, Any]] = {}
        self.clients: dict[str, dict[str, Any]] = {}  # client_id -> {secret, device_code}
        self.access_tokens: dict[str, float] = {}  # token -> monotonic expiry
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> client_id
        # library
        self.counter = 0
        self.torrents: list[Torrent] = []
        self.torrent_by_id: dict[str, Torrent] = {}
        self.links: dict[str, tuple[Torrent, TorrentFile]] = {}
        self.downloads: list[Download] = []
        for i, entry in enumerate(section.get("downloads", [])):
            self._append_download(self.download_from_entry(entry, f"lib{i}"))
        for i, entry in enumerate(section.get("torrents", [])):
            self._add_torrent(self.torrent_from_entry(entry, f"lib{i}", i), front=False)
        gen = section.get("generate")
        if gen:
            self._generate(gen)

    def norm(self, text: str) -> str:
        """Names as given (NFD survives, as a torrent's own bytes would), or NFC."""
        return nfc(text) if self.names_nfc else text

    # ------------------------------------------------------------------ building

    def download_from_entry(self, entry: dict[str, Any], key: str) -> Download:
        filename = self.norm(entry["filename"])
        dl_id = entry.get("id") or rd_id("download", key, filename)
        link = entry.get("link") or torrent_link(rd_id("dllink", dl_id))
        host = entry.get("host") or (urlsplit(link).hostname or RD_HOST).removeprefix("www.")
        mime = entry.get("mimeType") or mime_of(filename)
        extra = {k: entry[k] for k in ("type", "filesize") if k in entry}
        return Download(
            dl_id,
            filename,
            content_from_spec(entry["content"]),
            link,
            host,
            int(entry.get("chunks", 8)),
            entry.get("generated") or json_date(BASE_DATE - dt.timedelta(hours=len(self.downloads))),
            mime,
            int(entry.get("streamable", mime.startswith(("video/", "audio/")))),
            extra=extra,
        )

    def _append_download(self, download: Download, front: bool = False) -> None:
        if front:
            self.downloads.insert(0, download)
        else:
            self.downloads.append(download)

    def files_from_entries(self, entries: list[dict[str, Any]], default_selected: int) -> list[TorrentFile]:
        files = []
        for n, f in enumerate(entries, start=1):
            path = self.norm(f["path"])
            if not path.startswith("/"):
                path = "/" + path
            files.append(
                TorrentFile(
                    int(f.get("id", n)),
                    path,
                    content_from_spec(f["content"]),
                    int(f.get("selected", default_selected)),
                    bool(f.get("unavailable")),
                    bool(f.get("broken")),
                    bool(f.get("infringing")),
                )
            )
        return files

    def torrent_from_entry(self, entry: dict[str, Any], key: str, index: int) -> Torrent:
        filename = self.norm(entry.get("filename") or f"Torrent {index}")
        status = entry.get("status", "downloaded")
        if status not in ALL_STATUSES and not entry.get("undocumented_status"):
            raise ValueError(f"unknown torrent status {status!r}")
        tid = entry.get("id") or rd_id("torrent", key, filename)
        added_at = BASE_DATE - dt.timedelta(hours=index)
        polls = entry.get("polls")
        torrent = Torrent(
            id=tid,
            filename=filename,
            original_filename=self.norm(entry.get("original_filename") or filename),
            hash=(entry.get("hash") or hashlib.sha1(f"hash|{key}|{filename}".encode()).hexdigest()).lower(),
            status=status,
            added=entry.get("added") or json_date(added_at),
            files=self.files_from_entries(
                entry.get("files", []),
                1 if status not in ("waiting_files_selection", "magnet_conversion") else 0,
            ),
            ended=entry.get("ended")
            or (json_date(added_at + dt.timedelta(minutes=10)) if status == "downloaded" else None),
            progress=entry.get("progress"),
            speed=int(entry.get("speed", 4_200_000)),
            seeders=int(entry.get("seeders", 12)),
            auto=polls is not None,
            polls_left=int(polls or 0),
        )
        archive = entry.get("archive")
        if archive:
            chosen = [f for f in torrent.files if f.selected]
            fmt = archive.get("format")
            if fmt in ("rar", "rar-compressed"):
                content: Content = rar_archive(
                    [(f.path, f.content) for f in chosen], compressed=fmt == "rar-compressed"
                )
            else:
                content = content_from_spec(
                    archive.get("content")
                    or {"size": sum(f.bytes for f in chosen) + 4096, "seed": 7_000_000 + index}
                )
            torrent.archive = TorrentFile(
                0, "/" + self.norm(archive.get("name") or f"{filename}.rar"), content, 1
            )
        return torrent

    def _add_torrent(self, torrent: Torrent, front: bool) -> None:
        if torrent.id in self.torrent_by_id:
            raise ValueError(f"duplicate torrent id {torrent.id}")
        for f in torrent.files + ([torrent.archive] if torrent.archive else []):
            f.link_id = rd_id("link", torrent.id, f.id)
            self.links[f.link_id] = (torrent, f)
        self.torrent_by_id[torrent.id] = torrent
        if front:
            self.torrents.insert(0, torrent)
        else:
            self.torrents.append(torrent)

    def _remove_torrent(self, tid: str) -> None:
        torrent = self.torrent_by_id.pop(tid, None)
        if torrent is None:
            raise KeyError(tid)
        self.torrents.remove(torrent)
        for f in torrent.files + ([torrent.archive] if torrent.archive else []):
            self.links.pop(f.link_id, None)

    def _generate(self, gen: dict[str, Any]) -> None:
        count = int(gen.get("torrents", 0))
        per = int(gen.get("files_per_torrent", 1))
        size = int(gen.get("file_size", MIB))
        start = len(self.torrents)
        for i in range(count):
            name = f"Generated Torrent {i:05d}"
            added_at = BASE_DATE - dt.timedelta(hours=start + i)
            files = [
                TorrentFile(
                    j + 1,
                    f"/{name}/file {j + 1:03d}.bin",
                    SyntheticContent(size, 1_000_000 + i * 1000 + j),
                    1,
                )
                for j in range(per)
            ]
            tid = rd_id("gen", i)
            self._add_torrent(
                Torrent(
                    id=tid,
                    filename=name,
                    original_filename=name,
                    hash=hashlib.sha1(f"gen|{i}".encode()).hexdigest(),
                    status="downloaded",
                    added=json_date(added_at),
                    files=files,
                    ended=json_date(added_at + dt.timedelta(minutes=5)),
                ),
                front=False,
            )

    # ------------------------------------------------------------------ torrents

    def set_status(self, torrent: Torrent, status: str, skip: bool = True) -> None:
        """Enters `status`; with `skip`, automatic statuses lasting 0 polls pass at once."""
        while True:
            torrent.status = status
            if status == "downloaded":
                torrent.ended = torrent.ended or now_date()
                torrent.progress = 100
            elif status in ("queued", "waiting_files_selection", "magnet_conversion", "downloading"):
                torrent.progress = 0
            if torrent.auto and status in AUTO_STATUSES:
                torrent.polls_left = int(self.status_polls.get(status, 0))
                if skip and torrent.polls_left <= 0:
                    status = self.next_status(torrent)
                    continue
            return

    def next_status(self, torrent: Torrent, skip: bool = True) -> str:
        if torrent.status not in CHAIN or torrent.status == "downloaded":
            return torrent.status
        if torrent.status == "waiting_files_selection":
            self.select_files(torrent, "all", skip)
            return torrent.status
        return CHAIN[CHAIN.index(torrent.status) + 1]

    def poll(self, torrent: Torrent) -> None:
        if not torrent.auto or torrent.status not in AUTO_STATUSES:
            return
        if torrent.polls_left <= 0:
            self.set_status(torrent, self.next_status(torrent))
        else:
            torrent.polls_left -= 1
            if torrent.status == "downloading":
                torrent.progress = min(99, (torrent.progress or 0) + 50)

    def select_files(self, torrent: Torrent, spec: str, skip: bool = True) -> None:
        spec = spec.strip()
        if spec == "all":
            wanted = {f.id for f in torrent.files}
        else:
            try:
                wanted = {int(x) for x in spec.split(",") if x.strip()}
            except ValueError:
                raise ApiError(404, "bad_parameter", 2, "invalid file id(s)") from None
            known = {f.id for f in torrent.files}
            if not wanted or not wanted <= known:
                raise ApiError(404, "bad_parameter", 2, "invalid file id(s)")
        for f in torrent.files:
            f.selected = 1 if f.id in wanted else 0
        chosen = torrent.selected()
        if torrent.rename_on_select:
            torrent.filename = basename(chosen[0].path) if len(chosen) == 1 else torrent.original_filename
        # API-added torrents go through the flow; frozen library torrents are "cached".
        self.set_status(torrent, "queued" if torrent.auto else "downloaded", skip)

    def torrent_item(self, t: Torrent, info: bool) -> dict[str, Any]:
        selected = t.selected()
        original = sum(f.bytes for f in t.files)
        if t.status in ("waiting_files_selection", "magnet_conversion") or not selected:
            size = original
        else:
            size = sum(f.bytes for f in selected)
        progress = t.progress if t.progress is not None else (100 if t.status == "downloaded" else 0)
        item: dict[str, Any] = {"id": t.id, "filename": t.filename}
        if info:
            item["original_filename"] = t.original_filename
        item["hash"] = t.hash
        item["bytes"] = size
        if info:
            item["original_bytes"] = original
        item.update(
            {"host": RD_HOST, "split": 2000, "progress": progress, "status": t.status, "added": t.added}
        )
        if info:
            files = [] if t.status == "magnet_conversion" else t.files
            item["files"] = [
                {"id": f.id, "path": f.path, "bytes": f.bytes, "selected": f.selected} for f in files
            ]
        linked = [t.archive] if t.archive is not None else selected
        item["links"] = [torrent_link(f.link_id) for f in linked] if t.status == "downloaded" else []
        if t.status == "downloaded" and t.ended:
            item["ended"] = t.ended
        if t.status in SPEED_STATUSES:
            item["speed"] = t.speed
        if t.status in SEEDER_STATUSES:
            item["seeders"] = t.seeders
        if self.nulls:
            for key in ("ended", "speed", "seeders"):
                item.setdefault(key, None)
            item["links"] = item["links"] or None
        return item

    def new_torrent(self, hash_hex: str, name: str | None, files: list[TorrentFile] | None) -> Torrent:
        known = self.known_magnets.get(hash_hex)
        if known and known.get("infringing"):
            raise ApiError(451, "infringing_file", 35)
        if sum(1 for t in self.torrents if t.status in ACTIVE_STATUSES) >= self.active_limit:
            raise ApiError(509, "too_many_active_downloads", 21)
        if known:
            name = known.get("filename") or name
            if known.get("files"):
                files = self.files_from_entries(known["files"], 0)
        same = next((t for t in self.torrents if t.hash == hash_hex), None)
        if same is not None and not files and not known:
            # The same torrent again (a repair): same files; broken ones mended
            # unless "readd_fixes" is off.
            name = name or same.original_filename
            files = [
                TorrentFile(
                    f.id, f.path, f.content, 0, f.unavailable, f.broken and not self.readd_fixes, f.infringing
                )
                for f in same.files
            ]
        name = self.norm(name or hash_hex)
        if not files:
            seed = int(hash_hex[:8], 16)
            files = [
                TorrentFile(1, f"/{name}.mkv", SyntheticContent(3 * MIB + seed % MIB, seed)),
                TorrentFile(2, f"/{name}.nfo", SyntheticContent(500 + seed % 3000, seed + 1)),
            ]
        for f in files:
            f.selected = 0
        self.counter += 1
        torrent = Torrent(
            id=rd_id("added", self.counter, hash_hex, time.time_ns()),
            filename=name,
            original_filename=name,
            hash=hash_hex,
            status="magnet_conversion",
            added=now_date(),
            files=files,
            auto=True,
            rename_on_select=True,
        )
        self._add_torrent(torrent, front=True)
        self.set_status(torrent, "magnet_conversion")
        return torrent

    # ------------------------------------------------------------------ unrestrict

    def resolve_link(self, url: str) -> tuple[Content, str, str, bool]:
        """Returns (content, filename, host, is_torrent_link) for a restricted link, or raises ApiError."""
        url = url.strip()
        parts = urlsplit(url if "://" in url else "https://" + url)
        host = (parts.hostname or "").lower().removeprefix("www.")
        if host == RD_HOST:
            m = re.match(r"^/d/([A-Za-z0-9]+)/?$", parts.path)
            if m:
                link_id = m.group(1).upper()[:13]
                hit = self.links.get(link_id)
                if hit:
                    torrent, f = hit
                    if torrent.status != "downloaded" or not f.selected:
                        raise ApiError(503, "unavailable_file", 24)
                    if f.infringing:
                        raise ApiError(451, "infringing_file", 35)
                    if f.broken:
                        raise ApiError(503, "hoster_unavailable", 19)
                    if f.unavailable:
                        raise ApiError(503, "unavailable_file", 24)
                    return f.content, basename(f.path), RD_HOST, True
        norm = url.rstrip("/").replace("http://", "https://", 1)
        for d in self.downloads:
            if not d.from_torrent and d.link.rstrip("/").replace("http://", "https://", 1) == norm:
                return d.content, d.filename, d.host, False
        hoster = hosters.find_hoster_link(self.state, url)
        if hoster is not None:
            if hoster.offline:
                raise ApiError(503, "unavailable_file", 24)
            return hoster.content, hoster.name, hoster.host, False
        known_hosts = (
            {RD_HOST}
            | {h.host for h in hosters.hoster_links(self.state).values()}
            | {d.host for d in self.downloads}
        )
        if host not in known_hosts:
            raise ApiError(503, "unsupported_hoster", 16)
        raise ApiError(503, "unavailable_file", 24)

    def mint(self, download: Download) -> str:
        if download.download is None:
            download.download = self.state.links.mint(
                download.content, download.filename, SERVICE, ttl=self.link_ttl
            )
        return download.download

    def unrestrict(self, url: str) -> Download:
        content, filename, host, from_torrent = self.resolve_link(url)
        self.counter += 1
        mime = mime_of(filename)
        existing = next((d for d in self.downloads if d.link == url), None)
        if existing is not None:
            self.downloads.remove(existing)
        download = Download(
            rd_id("unrestrict", self.counter, url, time.time_ns()),
            filename,
            content,
            url,
            host,
            8,
            now_date(),
            mime,
            1 if mime.startswith(("video/", "audio/")) else 0,
            from_torrent=from_torrent,
        )
        self.mint(download)
        self.downloads.insert(0, download)
        return download

    def download_item(self, d: Download) -> dict[str, Any]:
        item = {
            "id": d.id,
            "filename": d.filename,
            "mimeType": d.mime,
            "filesize": d.content.size,
            "link": d.link,
            "host": d.host,
            "host_icon": HOST_ICON,
            "chunks": d.chunks,
            "download": self.mint(d),
            "streamable": d.streamable,
            "generated": d.generated,
        }
        item.update(d.extra)
        if self.nulls:
            item.update({"mimeType": None, "host_icon": None})
        return item

    # ------------------------------------------------------------------ auth and limits

    def check_rate(self, key: str) -> bool:
        if self.rate_limit <= 0:
            return True
        now = time.monotonic()
        window = self.windows.setdefault(key, collections.deque())
        while window and window[0] <= now - 60:
            window.popleft()
        allowed = len(window) < self.rate_limit
        window.append(now)  # refused requests count too
        if len(window) > 4 * self.rate_limit:
            window.popleft()
        return allowed

    def authenticate(self, token: str | None) -> str:
        if not token:
            raise ApiError(401, "bad_token", 8)
        if token in self.locked:
            raise ApiError(403, "account_locked", 14)
        if token in self.tokens:
            return token
        expiry = self.access_tokens.get(token)
        if expiry is not None and time.monotonic() < expiry:
            return token
        raise ApiError(401, "bad_token", 8)

    def issue_tokens(self, client_id: str, refresh: str | None = None) -> dict[str, Any]:
        access = secrets.token_hex(26).upper()[:52]
        self.access_tokens[access] = time.monotonic() + self.access_token_ttl
        if refresh is None:
            refresh = secrets.token_hex(26).upper()[:52]
            self.refresh_tokens[refresh] = client_id
        return {
            "access_token": access,
            "expires_in": int(self.access_token_ttl),
            "token_type": "Bearer",
            "refresh_token": refresh,
        }

    # ------------------------------------------------------------------ control

    def control_view(self) -> dict[str, Any]:
        big = len(self.torrents) > 200
        torrents = []
        for t in self.torrents:
            entry = {
                "id": t.id,
                "filename": t.filename,
                "status": t.status,
                "hash": t.hash,
                "progress": self.torrent_item(t, False)["progress"],
                "auto": t.auto,
                "polls_left": t.polls_left,
            }
            if not big:
                entry["files"] = [
                    {
                        "id": f.id,
                        "path": f.path,
                        "bytes": f.bytes,
                        "selected": f.selected,
                        "link": torrent_link(f.link_id),
                    }
                    for f in t.files
                ]
            torrents.append(entry)
        now = time.monotonic()
        return {
            "torrents": torrents,
            "torrent_count": len(self.torrents),
            "downloads": [
                {
                    "id": d.id,
                    "filename": d.filename,
                    "link": d.link,
                    "download": d.download,
                    "filesize": d.content.size,
                }
                for d in self.downloads
            ],
            "rate_limit_per_minute": self.rate_limit,
            "link_ttl": self.link_ttl,
            "access_token_ttl": self.access_token_ttl,
            "access_tokens": {
                "valid": sum(1 for e in self.access_tokens.values() if e > now),
                "expired": sum(1 for e in self.access_tokens.values() if e <= now),
            },
            "devices": [
                {
                    "device_code": code,
                    "user_code": d["user_code"],
                    "approved": d["approved"],
                    "polls": d["polls"],
                }
                for code, d in self.devices.items()
            ],
            "status_polls": dict(self.status_polls),
        }

    def control_action(self, action: str, args: dict[str, Any]) -> dict[str, Any]:
        handler: Callable[[dict[str, Any]], dict[str, Any]] | None = getattr(self, f"_act_{action}", None)
        if handler is None:
            raise KeyError(f"unknown realdebrid action {action!r}")
        return handler(args or {})

    def _torrent(self, tid: str) -> Torrent:
        try:
            return self.torrent_by_id[tid]
        except KeyError:
            raise KeyError(f"unknown torrent {tid!r}") from None

    def _act_advance(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("id"):
            targets = [self._torrent(args["id"])]
        else:
            targets = [t for t in self.torrents if t.auto and t.status in CHAIN and t.status != "downloaded"]
        for t in targets:
            if args.get("to"):
                if args["to"] not in ALL_STATUSES:
                    raise ValueError(f"unknown status {args['to']!r}")
                if (
                    args["to"] in ("queued", "downloading", "downloaded", "compressing", "uploading")
                    and not t.selected()
                ):
                    for f in t.files:
                        f.selected = 1
                self.set_status(t, args["to"], skip=False)
                continue
            for _ in range(int(args.get("steps", 1))):
                nxt = self.next_status(t, skip=False)
                if nxt != t.status:
                    self.set_status(t, nxt, skip=False)
        return {"torrents": {t.id: t.status for t in targets}}

    def _act_add_torrent(self, args: dict[str, Any]) -> dict[str, Any]:
        self.counter += 1
        torrent = self.torrent_from_entry(args, f"ctl{self.counter}", 0)
        if "added" not in args:
            torrent.added = now_date()
            if torrent.status == "downloaded" and "ended" not in args:
                torrent.ended = now_date()
        self._add_torrent(torrent, front=True)
        return {"id": torrent.id}

    def _act_remove_torrent(self, args: dict[str, Any]) -> dict[str, Any]:
        self._remove_torrent(self._torrent(args["id"]).id)
        return {"ok": True}

    def _act_rename_torrent(self, args: dict[str, Any]) -> dict[str, Any]:
        torrent = self._torrent(args["id"])
        torrent.filename = self.norm(args["filename"])
        if args.get("original", False):
            torrent.original_filename = torrent.filename
        return {"ok": True}

    def _act_add_download(self, args: dict[str, Any]) -> dict[str, Any]:
        self.counter += 1
        download = self.download_from_entry(args, f"ctl{self.counter}")
        if "generated" not in args:
            download.generated = now_date()
        self._append_download(download, front=True)
        return {"id": download.id}

    def _act_remove_download(self, args: dict[str, Any]) -> dict[str, Any]:
        before = len(self.downloads)
        self.downloads = [d for d in self.downloads if d.id != args["id"]]
        if len(self.downloads) == before:
            raise KeyError(f"unknown download {args['id']!r}")
        return {"ok": True}

    def _act_set_file(self, args: dict[str, Any]) -> dict[str, Any]:
        torrent = self._torrent(args["id"])
        f = next((f for f in torrent.files if f.id == int(args["file"])), None)
        if f is None:
            raise KeyError(f"unknown file {args['file']!r}")
        for key in ("unavailable", "broken", "infringing"):
            if key in args:
                setattr(f, key, bool(args[key]))
        if "selected" in args:
            f.selected = int(args["selected"])
        return {"ok": True}

    def _act_set_token_ttl(self, args: dict[str, Any]) -> dict[str, Any]:
        self.access_token_ttl = float(args["seconds"])
        if args.get("existing"):
            expiry = time.monotonic() + self.access_token_ttl
            for token in self.access_tokens:
                self.access_tokens[token] = expiry
        return {"ok": True}

    def _act_expire_tokens(self, args: dict[str, Any]) -> dict[str, Any]:
        now = time.monotonic()
        for token in self.access_tokens:
            self.access_tokens[token] = now
        return {"expired": len(self.access_tokens)}

    def _act_add_token(self, args: dict[str, Any]) -> dict[str, Any]:
        (self.locked if args.get("locked") else self.tokens).add(args["token"])
        return {"ok": True}

    def _act_remove_token(self, args: dict[str, Any]) -> dict[str, Any]:
        for pool in (self.tokens, self.locked):
            pool.discard(args["token"])
        self.access_tokens.pop(args["token"], None)
        return {"ok": True}

    def _act_rate_limit(self, args: dict[str, Any]) -> dict[str, Any]:
        self.rate_limit = int(args.get("per_minute", 0) or 0)
        self.windows.clear()
        return {"ok": True}

    def _act_approve_device(self, args: dict[str, Any]) -> dict[str, Any]:
        for code, device in self.devices.items():
            if code == args.get("device_code") or device["user_code"] == args.get("user_code"):
                device["approved"] = True
                return {"ok": True}
        raise KeyError("unknown device")

    def _act_set_listing(self, args: dict[str, Any]) -> dict[str, Any]:
        unknown = set(args) - set(LISTING_DEFAULTS)
        if unknown:
            raise KeyError(f"unknown listing switches {sorted(unknown)}")
        self.listing.update(args)
        return {"listing": dict(self.listing)}

    def _act_maintenance(self, args: dict[str, Any]) -> dict[str, Any]:
        self.maintenance_left = int(args.get("count", 1))
        self.maintenance_status = int(args.get("status", 200))
        return {"maintenance": self.maintenance_left}

    def _act_set_shapes(self, args: dict[str, Any]) -> dict[str, Any]:
        patch = dict(args)
        if "nulls" in patch:
            self.nulls = bool(patch.pop("nulls"))
        self.shapes = shapes.checked(self.shapes, patch)
        return {"shapes": dict(self.shapes), "nulls": self.nulls}

    def _act_inject_error(self, args: dict[str, Any]) -> dict[str, Any]:
        self.injected.append(
            {
                "route": args["route"],
                "status": int(args["status"]),
                "error": str(args.get("error", "")),
                "code": args.get("code"),
                "times": int(args.get("times", 1)),
            }
        )
        return {"ok": True}

    def take_injected(self, route_name: str) -> ApiError | None:
        for item in self.injected:
            if item["route"] == route_name and item["times"] > 0:
                item["times"] -= 1
                return ApiError(item["status"], item["error"], item["code"])
        return None

    def _act_set_readd_fixes(self, args: dict[str, Any]) -> dict[str, Any]:
        self.readd_fixes = bool(args["value"])
        return {"readd_fixes": self.readd_fixes}

    def _act_set_status_polls(self, args: dict[str, Any]) -> dict[str, Any]:
        self.status_polls.update({k: int(v) for k, v in args.items()})
        return {"status_polls": dict(self.status_polls)}


# ----------------------------------------------------------------------------- HTTP layer


@dataclass
class Ctx:
    request: Request
    rd: RealDebrid
    params: dict[str, str]
    token: str | None
    _form: dict[str, str] | None = None

    async def form(self) -> dict[str, str]:
        if self._form is None:
            body = await self.request.body()
            parsed = (
                parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
                if "multipart" not in self.request.headers.get("content-type", "")
                else {}
            )
            self._form = dict(self.request.query_params.items())
            self._form.update({k: v[-1] for k, v in parsed.items()})
        return self._form

    def query(self, name: str) -> str | None:
        return self.request.query_params.get(name)

    def api_base(self) -> str:
        url = self.request.url
        return f"{url.scheme}://{url.netloc}{self.request.scope.get('root_path', '')}{API_PATH}"


Handler = Callable[[Ctx], Any]


@dataclass
class RouteDef:
    method: str
    template: str  # as counted in stats, e.g. "/torrents/info/{id}"
    regex: re.Pattern[str]
    handler: Handler
    auth: bool


ROUTES: list[RouteDef] = []


def route(
    method: str, template: str, auth: bool = True, prefix: str = API_PATH
) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        pattern = re.sub(
            r"\{(\w+)(:path)?\}", lambda m: f"(?P<{m.group(1)}>{'.+' if m.group(2) else '[^/]+'})", template
        )
        ROUTES.append(
            RouteDef(method, template, re.compile("^" + re.escape(prefix) + pattern + "$"), fn, auth)
        )
        return fn

    return register


def int_param(ctx: Ctx, name: str) -> int | None:
    raw = ctx.query(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "bad_parameter", 2, f"{{{name}}} is not a number") from None
    if value < 0:
        raise ApiError(400, "bad_parameter", 2, f"{{{name}}} is negative")
    return value


def paged(ctx: Ctx, items: list[Any], render: Callable[[Any], dict[str, Any]]) -> Response:
    limit = int_param(ctx, "limit") or ctx.rd.default_limit
    limit = min(limit, ctx.rd.max_limit)
    page = int_param(ctx, "page")
    offset = (max(page, 1) - 1) * limit if page is not None else (int_param(ctx, "offset") or 0)
    shape = ctx.rd.listing
    total = len(items)
    headers = {"X-Total-Count": str(total)} if shape["total_header"] else {}
    if shape["page_error_from"] is not None and offset >= int(shape["page_error_from"]):
        status = int(shape["page_error_status"])
        raise ApiError(status, *FAULT_ERRORS.get(status, ("internal_error", -1)))
    if shape["empty"] == "204":  # the RD bug of providers.md, Lists: every page empty
        return empty(204, headers)
    if shape["empty"] in ("[]", "{}"):
        return json_response([] if shape["empty"] == "[]" else {}, 200, headers)
    chunk = items[offset : offset + limit]
    if shape["short_pages_from"] is not None and offset >= int(shape["short_pages_from"]):
        chunk = chunk[1:]  # an item moved while the list was read
    if not chunk:
        return empty(204, headers)
    return json_response([render(x) for x in chunk], 200, headers)


# --- REST: no auth


@route("GET", "/time", auth=False)
async def get_time(ctx: Ctx) -> Response:
    return Response(dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S"), media_type="text/plain")


@route("GET", "/time/iso", auth=False)
async def get_time_iso(ctx: Ctx) -> Response:
    return Response(dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S%z"), media_type="text/plain")


def hosts_table(rd: RealDebrid) -> dict[str, dict[str, str]]:
    domains = ["1fichier.com", "rapidgator.net", "uptobox.com", "real-debrid.com"]
    domains += [h.host for h in hosters.hoster_links(rd.state).values()]
    table = {}
    for domain in sorted(set(domains)):
        name = domain.split(".")[0].capitalize()
        table[domain] = {
            "id": domain.split(".")[0][:2],
            "name": name,
            "image": f"https://fcdn.real-debrid.com/0822/images/hosters/{domain.split('.')[0]}.png",
        }
    return table


@route("GET", "/hosts", auth=False)
async def get_hosts(ctx: Ctx) -> Response:
    return json_response(hosts_table(ctx.rd))


@route("GET", "/hosts/domains", auth=False)
async def get_host_domains(ctx: Ctx) -> Response:
    return json_response(sorted(hosts_table(ctx.rd)))


@route("POST", "/unrestrict/check", auth=False)
async def unrestrict_check(ctx: Ctx) -> Response:
    form = await ctx.form()
    link = form.get("link")
    if not link:
        raise ApiError(400, "parameter_missing", 1, "{link} is missing")
    content, filename, host, _ = ctx.rd.resolve_link(link)
    return json_response(
        {"host": host, "link": link, "filename": filename, "filesize": content.size, "supported": 1}
    )


# --- REST: authenticated


@route("GET", "/disable_access_token")
async def disable_access_token(ctx: Ctx) -> Response:
    ctx.rd.access_tokens.pop(ctx.token or "", None)
    return empty()


@route("GET", "/user")
async def get_user(ctx: Ctx) -> Response:
    return json_response(ctx.rd.user)


@route("POST", "/unrestrict/link")
async def unrestrict_link(ctx: Ctx) -> Response:
    form = await ctx.form()
    link = form.get("link")
    if not link:
        raise ApiError(400, "parameter_missing", 1, "{link} is missing")
    if ctx.rd.user.get("type") != "premium":
        raise ApiError(403, "hoster_not_free", 20)
    d = ctx.rd.unrestrict(link)
    return json_response(
        {
            "id": d.id,
            "filename": d.filename,
            "mimeType": d.mime,
            "filesize": d.content.size,
            "link": d.link,
            "host": d.host,
            "host_icon": HOST_ICON,
            "chunks": d.chunks,
            "crc": 1,
            "download": d.download,
            "streamable": d.streamable,
        }
    )


@route("GET", "/downloads")
async def list_downloads(ctx: Ctx) -> Response:
    return paged(ctx, ctx.rd.downloads, ctx.rd.download_item)


@route("DELETE", "/downloads/delete/{id}")
async def delete_download(ctx: Ctx) -> Response:
    rd = ctx.rd
    before = len(rd.downloads)
    rd.downloads = [d for d in rd.downloads if d.id != ctx.params["id"]]
    if len(rd.downloads) == before:
        raise not_found()
    return empty()


@route("GET", "/torrents")
async def list_torrents(ctx: Ctx) -> Response:
    items = ctx.rd.torrents
    if ctx.query("filter") == "active":
        items = sorted(items, key=lambda t: t.status not in ACTIVE_STATUSES)
    return paged(ctx, items, lambda t: ctx.rd.torrent_item(t, info=False))


@route("GET", "/torrents/info/{id}")
async def torrent_info(ctx: Ctx) -> Response:
    torrent = ctx.rd.torrent_by_id.get(ctx.params["id"])
    if torrent is None:
        raise not_found()
    ctx.rd.poll(torrent)
    return json_response(ctx.rd.torrent_item(torrent, info=True))


@route("GET", "/torrents/instantAvailability/{hashes:path}")
async def instant_availability(ctx: Ctx) -> Response:
    raise ApiError(403, "disabled_endpoint", 37)


@route("GET", "/torrents/activeCount")
async def active_count(ctx: Ctx) -> Response:
    nb = sum(1 for t in ctx.rd.torrents if t.status in ACTIVE_STATUSES)
    return json_response({"nb": nb, "limit": ctx.rd.active_limit})


@route("GET", "/torrents/availableHosts")
async def available_hosts(ctx: Ctx) -> Response:
    return json_response([{"host": RD_HOST, "max_file_size": 2000}])


def require_premium(rd: RealDebrid) -> None:
    if rd.user.get("type") != "premium":
        raise ApiError(403, "permission_denied", 9, "not premium")


@route("PUT", "/torrents/addTorrent")
async def add_torrent(ctx: Ctx) -> Response:
    require_premium(ctx.rd)
    data = await ctx.request.body()
    try:
        top, raw_info = bdecode_torrent(data)
        info = top[b"info"]
        name = info.get(b"name", b"").decode("utf-8", "replace") or None
        hash_hex = hashlib.sha1(raw_info).hexdigest()
        seed = int(hash_hex[:8], 16)
        files: list[TorrentFile] = []
        if b"files" in info:
            for n, entry in enumerate(info[b"files"], start=1):
                path = "/" + "/".join(p.decode("utf-8", "replace") for p in entry[b"path"])
                files.append(
                    TorrentFile(n, ctx.rd.norm(path), SyntheticContent(int(entry[b"length"]), seed + n))
                )
        elif b"length" in info:
            files.append(
                TorrentFile(
                    1, ctx.rd.norm("/" + (name or "file")), SyntheticContent(int(info[b"length"]), seed)
                )
            )
        else:
            raise ValueError("no files")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ApiError(400, "torrent_file_invalid", 30) from None
    torrent = ctx.rd.new_torrent(hash_hex, name, files)
    return json_response({"id": torrent.id, "uri": f"{ctx.api_base()}/torrents/info/{torrent.id}"}, 201)


MAGNET_HASH = re.compile(r"urn:btih:([0-9a-fA-F]{40}|[A-Za-z2-7]{32})(?:&|$)")


@route("POST", "/torrents/addMagnet")
async def add_magnet(ctx: Ctx) -> Response:
    form = await ctx.form()
    magnet = form.get("magnet")
    if not magnet:
        raise ApiError(400, "parameter_missing", 1, "{magnet} is missing")
    require_premium(ctx.rd)
    m = MAGNET_HASH.search(magnet)
    if not magnet.startswith("magnet:?") or not m:
        raise ApiError(400, "bad_parameter", 2, "invalid magnet")
    raw = m.group(1)
    hash_hex = raw.lower() if len(raw) == 40 else base64.b32decode(raw.upper()).hex()
    query = parse_qs(magnet.split("?", 1)[1])
    name = query.get("dn", [None])[0]
    torrent = ctx.rd.new_torrent(hash_hex, name, None)
    return json_response({"id": torrent.id, "uri": f"{ctx.api_base()}/torrents/info/{torrent.id}"}, 201)


@route("POST", "/torrents/selectFiles/{id}")
async def select_files(ctx: Ctx) -> Response:
    torrent = ctx.rd.torrent_by_id.get(ctx.params["id"])
    if torrent is None:
        raise not_found()
    form = await ctx.form()
    files = form.get("files")
    if not files:
        raise ApiError(400, "parameter_missing", 1, "{files} is missing")
    if torrent.status == "magnet_conversion":
        raise ApiError(503, "service_unavailable", 25)
    if torrent.status != "waiting_files_selection":
        raise ApiError(202, "action_already_done", 31)
    ctx.rd.select_files(torrent, files)
    return empty()


@route("DELETE", "/torrents/delete/{id}")
async def delete_torrent(ctx: Ctx) -> Response:
    if ctx.params["id"] not in ctx.rd.torrent_by_id:
        raise not_found()
    ctx.rd._remove_torrent(ctx.params["id"])
    return empty()


# --- OAuth2 device flow


def _code(n: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(n))


@route("GET", "/oauth/v2/device/code", auth=False, prefix="")
async def device_code(ctx: Ctx) -> Response:
    client_id = ctx.query("client_id")
    if not client_id:
        raise ApiError(400, "parameter_missing", 1, "{client_id} is missing")
    code, user_code = _code(36), _code(8)
    ctx.rd.devices[code] = {
        "user_code": user_code,
        "client_id": client_id,
        "polls": 0,
        "approved": ctx.rd.approve_after == 0,
        "credentials": None,
        "new_credentials": ctx.query("new_credentials") == "yes",
        "expires": time.monotonic() + 1800,
    }
    return json_response(
        {
            "device_code": code,
            "user_code": user_code,
            "interval": ctx.rd.oauth_interval,
            "expires_in": 1800,
            "verification_url": "https://real-debrid.com/device",
            "direct_verification_url": f"https://real-debrid.com/authorize?client_id={client_id}&device_id={code}",
        }
    )


@route("GET", "/oauth/v2/device/credentials", auth=False, prefix="")
async def device_credentials(ctx: Ctx) -> Response:
    rd = ctx.rd
    code, client_id = ctx.query("code"), ctx.query("client_id")
    if not code or not client_id:
        raise ApiError(400, "parameter_missing", 1, "{code} and {client_id} are required")
    device = rd.devices.get(code)
    if device is None or device["client_id"] != client_id or time.monotonic() > device["expires"]:
        raise ApiError(400, "bad_parameter", 2, "unknown or expired device code")
    device["polls"] += 1
    if not device["approved"] and rd.approve_after is not None and device["polls"] > rd.approve_after:
        device["approved"] = True
    if not device["approved"]:
        raise ApiError(403, "authorization_pending", 9)
    if device["credentials"] is None:
        new_id = _code(13) if device["new_credentials"] else client_id
        secret = secrets.token_hex(20)
        rd.clients[new_id] = {"secret": secret, "device_code": code}
        device["credentials"] = {"client_id": new_id, "client_secret": secret}
    return json_response(device["credentials"])


@route("POST", "/oauth/v2/token", auth=False, prefix="")
async def oauth_token(ctx: Ctx) -> Response:
    rd = ctx.rd
    form = await ctx.form()
    missing = [k for k in ("client_id", "code", "grant_type") if not form.get(k)]
    if missing:
        raise ApiError(400, "parameter_missing", 1, f"{{{missing[0]}}} is missing")
    if form["grant_type"] != DEVICE_GRANT:
        raise ApiError(400, "bad_parameter", 2, "unsupported grant_type")
    client = rd.clients.get(form["client_id"])
    if client is None or client["secret"] != form.get("client_secret"):
        raise ApiError(403, "invalid_client", 9)
    code = form["code"]
    if rd.refresh_tokens.get(code) == form["client_id"]:
        return json_response(rd.issue_tokens(form["client_id"], refresh=code))
    device = rd.devices.get(code)
    if device is None or client["device_code"] != code or not device["approved"]:
        raise ApiError(403, "invalid_grant", 9)
    return json_response(rd.issue_tokens(form["client_id"]))


# --- the ASGI app


def _route_path(scope: dict[str, Any]) -> str:
    path, root = scope["path"], scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path or "/"


def _etag(response: Response) -> str:
    digest = hashlib.sha1(response.body)
    digest.update(response.headers.get("x-total-count", "").encode())
    return '"' + digest.hexdigest() + '"'


class RealDebridApp:
    def __init__(self, state: EmulatorState, rd: RealDebrid) -> None:
        self.state, self.rd = state, rd

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    def match(self, method: str, path: str) -> tuple[RouteDef | None, dict[str, str], bool]:
        path_known = False
        for r in ROUTES:
            m = r.regex.match(path)
            if m:
                if r.method == method:
                    return r, m.groupdict(), True
                path_known = True
        return None, {}, path_known

    async def handle(self, request: Request) -> Response:
        response = await self._handle(request)
        rd = self.rd
        if shapes.is_default(rd.shapes) or response.media_type != "application/json":
            return response
        headers = {
            k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")
        }
        body = shapes.render(bytes(response.body), rd.shapes, FLAG_KEYS)
        return Response(body, response.status_code, headers, media_type=shapes.media_type(rd.shapes))

    async def _handle(self, request: Request) -> Response:
        method = request.headers.get("x-http-verb", request.method).upper()
        path = _route_path(request.scope)
        if len(path) > 1:
            path = path.rstrip("/")
        rdef, params, path_known = self.match(method, path)
        if rdef is not None:
            self.state.stats.count(SERVICE, f"{method} {rdef.template}")
        else:
            self.state.stats.count(SERVICE, f"{method} {path}")

        api_faults = self.state.faults.api_for(SERVICE)
        if api_faults.latency_ms:
            await asyncio.sleep(api_faults.latency_ms / 1000)
        fault = self.state.faults.take_api_burst(SERVICE)
        if fault is not None:
            error, code = FAULT_ERRORS.get(fault.status_burst, ("internal_error", -1))
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
            return ApiError(fault.status_burst, error, code, headers=headers).response()
        if self.rd.maintenance_left > 0:
            self.rd.maintenance_left -= 1
            return Response(MAINTENANCE_PAGE, self.rd.maintenance_status, media_type="text/html")

        token = None
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            token = auth[7:].strip()
        token = token or request.query_params.get("auth_token")
        client = request.client.host if request.client else "?"
        if not self.rd.check_rate(token or f"ip:{client}"):
            return ApiError(429, "too_many_requests", 34).response()

        try:
            if rdef is None:
                if path_known:
                    raise ApiError(405, "method_not_allowed", 4)
                raise ApiError(404, "unknown_method", 3)
            if rdef.auth:
                self.rd.authenticate(token)
            injected = self.rd.take_injected(f"{method} {rdef.template}")
            if injected is not None:
                raise injected
            response = await rdef.handler(Ctx(request, self.rd, params, token))
        except ApiError as exc:
            return exc.response()
        except Exception as exc:  # noqa: BLE001 - an emulator bug shows as RD's internal error
            return ApiError(500, "internal_error", -1, f"{type(exc).__name__}: {exc}").response()

        if method == "GET" and response.status_code == 200:
            etag = _etag(response)
            response.headers["ETag"] = etag
            wanted = [t.strip() for t in request.headers.get("if-none-match", "").split(",")]
            if etag in wanted or etag.strip('"') in wanted:
                headers = {"ETag": etag}
                if "x-total-count" in response.headers:
                    headers["X-Total-Count"] = response.headers["x-total-count"]
                return empty(304, headers)
        return response


def build(state: EmulatorState) -> RealDebridApp:
    rd = RealDebrid(state)
    state.services[SERVICE] = rd
    return RealDebridApp(state, rd)


# ----------------------------------------------------------------------------- sample


def sample_section() -> dict[str, Any]:
    def syn(mib: float, extra: int, seed: int) -> dict[str, int]:
        return {"size": int(mib * MIB) + extra, "seed": seed}

    return {
        "token": "rd-good-token",
        "locked_tokens": ["rd-locked-token"],
        "rate_limit_per_minute": 250,
        "link_ttl": None,
        "downloads": [
            {
                "filename": "Big Buck Bunny (2008) 1080p.mp4",
                "content": syn(16, 123, 101),
                "host": "real-debrid.com",
            },
            {
                "filename": "Café del Mar – Volumen Uno.flac",
                "content": syn(5, 77, 102),
                "host": "rapidgator.net",
                "link": "https://rapidgator.net/file/5d41402abc4b2a76b9719d911017c592/Cafe_del_Mar.flac.html",
            },
            {
                "filename": "release notes.txt",
                "content": {"text": "debridfs sample download\nline two: ünïcödé\n"},
            },
        ],
        "torrents": [
            {
                "filename": "Sintel (2010) [1080p]",
                "files": [{"path": "/Sintel.2010.1080p.mkv", "content": syn(64, -5, 201)}],
            },
            {
                "filename": "Open Movie Collection",
                "files": [
                    {"path": "/Elephants Dream/Elephants.Dream.2006.mkv", "content": syn(24, 11, 202)},
                    {
                        "path": "/Elephants Dream/Subs/English.srt",
                        "content": {"text": "1\n00:00:01,000 --> 00:00:02,000\nHello.\n"},
                    },
                    {"path": "/Tears of Steel/Tears.of.Steel.2012.mkv", "content": syn(32, 3, 203)},
                    {"path": "/Tears of Steel/Extras/Making Of.mp4", "content": syn(8, 999, 204)},
                ],
            },
            {
                "filename": "Kimi no Uta – 君の歌 (FLAC)",
                "files": [
                    {"path": "/01 - 君の歌.flac", "content": syn(6, 1, 205)},
                    {"path": "/02 - Ветер.flac", "content": syn(7, 2, 206)},
                    {"path": "/cover.jpg", "content": syn(0.3, 0, 207), "selected": 0},
                ],
            },
            {
                "filename": "Linux ISO collection",
                "files": [
                    {"path": "/debian 12 netinst.iso", "content": syn(40, 0, 208)},
                    {"path": "/README.txt", "content": {"text": "Checksums are in SHA256SUMS.\n"}},
                ],
            },
            {
                "filename": "Cosmos Laundromat (2015)",
                "status": "downloading",
                "progress": 37,
                "files": [{"path": "/Cosmos.Laundromat.2015.mkv", "content": syn(12, 0, 209)}],
            },
            {"filename": "broken magnet", "status": "magnet_error", "files": []},
        ],
    }
