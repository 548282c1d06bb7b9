"""Rapidgator API v2 emulator (docs/providers.md, "Rapidgator").

Mounted at `/rapidgator`: the API is `<base>/rapidgator/api/v2/<group>/<method>`
and the upload host `<base>/rapidgator/upload/?r=upload/api&uuid=<upload_id>&sid=<token>`.
Every method takes GET or POST, parameters from the query string and/or an
`application/x-www-form-urlencoded` body (the body wins), and answers the
envelope `{"response": ..., "status": 200, "details": null}`; errors carry
`response: null`, a `details` text and the same number as HTTP status.

Library section `rapidgator` (every key optional):

    {"login": "demo@example.org", "password": "secret",
     "twofa_code": null,          # if set, user/login needs code=<it>
     "token_ttl": 14400,          # seconds a token lives
     "user": {...},               # overrides of User fields (dicts merged one level deep),
                                  # e.g. {"traffic": {"left": 0}, "storage": {"total": "1000000"},
                                  #       "is_premium": false, "upload": {"max_file_size": 1000}}
                                  # "storage": {"left": N} sets storage left explicitly; otherwise
                                  # left = int(storage.total) - bytes of the library's files.
     "root": {"name": "root", "created": 1556230000, "mode": 0,
              "folders": [{"name": "Movies", "folders": [...], "files": [...]}],
              "files": [{"name": "notes.txt", "content": {content spec},
                         "created": 1556237732, "mode": 0,
                         "md5": "..." (optional: skips hashing huge synthetic contents),
                         "nb_downloads": 0}]},
     "known_md5": [{"hash": "...", "size": N,
                    "content": {content spec}}],  # known to the service elsewhere: file/upload
                                                  # of that md5+size is instant. Without
                                                  # "content" the new file's bytes are a
                                                  # synthetic pattern that does NOT hash to it.
     "download_delay": 0,         # `delay` returned by file/download
     "link_ttl": null,            # seconds a download_url lives (null: until expire_links)
     "processing_delay": 0.2,     # seconds an upload stays Processing after its POST
     "upload_rate": 0,            # bytes/s the upload host reads a POST body at (0: no cap)
     "per_page_max": 500,         # folder/content clamps per_page to this
     "rejected_names": [],        # names refused as invalid (see the reject_names action)
     "upload_info_url": false,    # file/upload_info carries the session's `url` while state 0/1
     "error_wording": "usual",    # "other": the errors nobody documented are worded
                                  # differently (see ERROR_REWORDING); clients must not care
     "user_reply": "full",        # "nulls": the `user` of user/login and user/info (in no
                                  # document) answers email, traffic, storage and upload as
                                  # null; the account's limits still apply inside
     "upload_post_reply": "envelope",   # the reply of the upload POST (lost from every copy of
                                  # the document): "envelope" (the upload object directly in
                                  # `response`), "wrapped" (`response.upload`, as
                                  # file/upload_info), "empty" (200, no body), "text" (200 "OK")
     "http_status": "mirror",     # "200": errors say their status in the envelope only
                                  # (HTTP 200), as a client must read them too
     "envelope_keys": "v2",       # "v1": `response_status` / `response_details` instead of
                                  # `status` / `details` (the v1 spelling JDownloader reads)
     "shapes": {}}                # how values are written (tests/emulators/shapes.py):
                                  # numbers as strings, `is_premium`... as 0/1 or strings,
                                  # the envelope served as text/html

Ids are deterministic per run: folder ids are decimal strings counting up from
5034678 (root first, depth first), file ids 32 hex, tokens 26 `[a-z0-9]`,
upload ids 32 `[A-Za-z0-9]`, all derived from counters.

Behaviour chosen where the docs are silent (the open questions of providers.md):
- `folder/content` pages files only; every page carries all subfolders in
  `folder.folders` (dedupe by folder_id or read them from `folder/info`).
  `pager.total` is the number of pages (>= 1). Folders sort by name (or
  created), files by `sort_column`.
- Names may repeat inside a folder (files and folders), like the real site.
- `folder/delete`/`file/delete` move things to the trash (not listed, not
  counting towards storage); deleting a non-empty folder is allowed; the root
  cannot be deleted (fail entry). Moving/copying a folder into itself or its
  subtree fails for that id. Batch replies are always HTTP 200; `errors` is a
  list of strings.
- Storage: `file/upload` with `size` > storage left -> 403 "Error: Not enough
  storage space" (map to ENOSPC); `size` > user.upload.max_file_size -> 400
  "Error: File is too big" (EFBIG). Invalid name (empty, contains "/" or NUL,
  over 255 UTF-8 bytes) -> 400 "Error: Invalid file name" (folders: "Error:
  Invalid folder name"). Missing parameter -> 400 "Parameter <x> is missing".
  Storage left shrinks when a file appears (upload, instant upload, copy) and
  grows again on delete.
- `file/download`: 423 "Error: Exceeded traffic" when traffic.left is not null
  and smaller than the file size (so 0 always blocks non-empty files); each
  successful call subtracts the file size from traffic.left.
- Tokens: unknown, missing or expired -> 401 "Error. Session doesn't exist".
  `throttle_logins` makes user/login answer 429 "Error: Please wait ..." (the
  status is a guess; clients should look for "Please wait").
- The upload POST (multipart/form-data, the first part named `file`; other
  parts ignored; chunked bodies fine): parsed by a streaming parser and written
  to an unlinked temporary file (in $TMPDIR, freed with the process), never
  held in memory. A lowest-priority thread MD5s the file as it grows, so
  hashing never slows the receiving; the rest is finished while Processing.
  Reply 200 with the upload object (directly in `response`) at state 1
  Processing. Once `processing_delay` has passed AND the hash is complete,
  the session becomes Done (2, file created; its bytes download back) or
  Fail (3) if received size/md5 differ from what file/upload announced, the
  folder vanished, storage ran out, or `fail_next_upload` was armed. State changes are applied
  lazily at the next API/control call. POST to an unknown uuid or wrong sid ->
  404 "Error: Upload session not found"; to a session not in state 0 -> 400
  "Error: Upload session is already finished"; while another POST to it is
  still streaming -> 400 "Error: Upload already in progress"; no `file` part
  -> 400 "Error: No file uploaded"; malformed multipart -> 400 "Error: Bad
  upload request (...)". A client that disconnects mid-body leaves the
  session at state 0, so the POST can be retried.
- `url` of an upload session: the docs say "string or null" and nothing about
  `file/upload_info`; clients saw it only in the `file/upload` reply (and the
  POST reply). By default `upload_info` answers `url: null` (a client must keep
  the URL `file/upload` gave); `upload_info_url: true` includes it at state 0/1.
- Error texts nobody documented (storage, size, names, upload-host
  refusals) are this emulator's own wording; `error_wording: "other"` words
  them differently, so that a client that matches sentences shows it.
- API faults (`state.faults.api["rapidgator"]`) apply to API methods, not to
  the upload host; use the `upload_post_error` action for that.

Stats keys: "rapidgator <group>/<method>" per API call, "rapidgator upload POST".

Control (`/_control/state/rapidgator`, `/_control/rapidgator/<action>`):
    view: {"root_folder_id", "tree" (folders with subfolders and files incl.
           md5/size), "paths" ({"/Movies/a.mkv": file}), "uploads" (sessions with
           state, announced and received md5/size, file_id, fail_reason),
           "trash", "user", "tokens_valid", "settings"}
    actions: fail_next_upload {"count": 1}
             set_processing_delay {"seconds": 0.2}
             expire_tokens {}                       -> {"expired": n}
             set_token_ttl {"seconds": N}
             set_traffic_left {"bytes": N | null}
             set_storage_left {"bytes": N}
             set_download_delay {"seconds": N}
             throttle_logins {"count": N}
             upload_post_error {"status": 500, "count": 1}   (answered after draining the body)
             reject_names {"names": [...]}             (a fault switch: these exact names get
                                                       "Invalid file/folder name" from create,
                                                       rename and file/upload; [] clears it)
             set_upload_rate {"bytes_per_second": N}   (0: unlimited) caps how fast the upload
                                                       host reads each POST body (a slow uplink)
             set_upload_info_url {"enabled": bool}     (file/upload_info with or without `url`)
             set_error_wording {"style": "usual" | "other"}
             set_upload_post_reply {"value": "envelope" | "wrapped" | "empty" | "text"}
             set_reply_style {"http_status"?: "mirror" | "200", "envelope_keys"?: "v2" | "v1",
                              "numbers"?, "flags"?, "content_type"?}   (see the library keys)
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

import anyio
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from . import shapes
from .content import Content, SyntheticContent, content_from_spec, md5_of
from .state import EmulatorState

API_PATH = "/api/v2"
SERVICE = "rapidgator"

MODE_LABELS = {0: "Public", 1: "Premium Only", 2: "Private", 3: "Hotlink"}
STATE_LABELS = {0: "Uploading", 1: "Processing", 2: "Done", 3: "Fail"}
FIRST_FOLDER_ID = 5034678
BASE_CREATED = 1556230000
SESSION_ERROR = "Error. Session doesn't exist"

DEFAULT_USER: dict[str, Any] = {
    "email": "demo@example.org",
    "is_premium": True,
    "premium_end_time": 1798761600,
    "state": 1,
    "state_label": "Activated",
    "traffic": {"total": 1099511627776, "left": 734003200000},
    "storage": {"total": "4398046511104"},
    "upload": {"max_file_size": 53687091200, "nb_pipes": 10},
    "remote_upload": {"max_nb_jobs": 100, "refresh_time": 300},
}


# The `error_wording: "other"` switch: texts no document gives, worded as another
# version of the site might word them (statuses unchanged).
ERROR_REWORDING = {
    "Error: Not enough storage space": "Error: Your storage is full",
    "Error: File is too big": "Error: Maximum file size exceeded",
    "Error: Invalid file name": "Error: Filename contains forbidden characters",
    "Error: Invalid folder name": "Error: Folder name is not allowed",
    "Error: Upload session is already finished": "Error: Upload is closed",
    "Error: Upload already in progress": "Error: Busy",
}


class ApiError(Exception):
    def __init__(self, status: int, details: str) -> None:
        super().__init__(details)
        self.status = status
        self.details = details


# ---------------------------------------------------------------- model


@dataclass
class RGFile:
    file_id: str
    name: str
    folder_id: str
    content: Content
    created: int
    mode: int = 0
    nb_downloads: int = 0
    md5_hex: str | None = None

    @property
    def size(self) -> int:
        return self.content.size

    def md5(self) -> str:
        if self.md5_hex is None:
            self.md5_hex = md5_of(self.content)
        return self.md5_hex

    def to_api(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "mode": self.mode,
            "mode_label": MODE_LABELS.get(self.mode, ""),
            "folder_id": self.folder_id,
            "name": self.name,
            "hash": self.md5(),
            "size": self.size,
            "created": self.created,
            "url": f"https://rapidgator.net/file/{self.file_id}/{quote(self.name, safe='')}.html",
            "nb_downloads": self.nb_downloads,
        }


@dataclass
class RGFolder:
    folder_id: str
    name: str
    parent_id: str | None
    created: int
    mode: int = 0


@dataclass
class UploadSession:
    upload_id: str
    token: str
    folder_id: str
    name: str
    hash: str
    size: int
    state: int = 0
    file_id: str | None = None
    ready_at: float = 0.0
    forced_fail: bool = False
    received_size: int | None = None
    received_md5: str | None = None
    content: Content | None = None
    fail_reason: str | None = None
    hasher: Any = None  # Hasher while the received bytes are being hashed
    receiving: bool = False


class UploadedContent:
    """Bytes of an upload: an unlinked temporary file read with pread (freed with the process)."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = size

    def read(self, offset: int, length: int) -> bytes:
        length = min(length, self.size - offset)
        if length <= 0:
            return b""
        return os.pread(self.fd, length, offset)


def _alnum(seed: str, n: int, alphabet: str) -> str:
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    out = []
    for _ in range(n):
        number, rem = divmod(number, len(alphabet))
        out.append(alphabet[rem])
    return "".join(out)


LOWER36 = "0123456789abcdefghijklmnopqrstuvwxyz"
ALNUM62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def valid_name(name: str | None) -> bool:
    return bool(name) and "/" not in name and "\0" not in name and len(name.encode()) <= 255


class RapidgatorService:
    def __init__(self, state: EmulatorState, section: dict[str, Any]) -> None:
        self.state = state
        self.login = section.get("login", "demo@example.org")
        self.password = section.get("password", "secret")
        self.twofa_code = section.get("twofa_code")
        self.token_ttl = float(section.get("token_ttl", 14400))
        self.download_delay = int(section.get("download_delay", 0))
        self.link_ttl = section.get("link_ttl")
        self.processing_delay = float(section.get("processing_delay", 0.2))
        # A fault switch (reject_names): the docs name no rule beyond the kernel's, but
        # the real site may refuse names it dislikes with the same "Invalid ... name".
        self.rejected_names: set[str] = set(section.get("rejected_names", ()))
        self.per_page_max = int(section.get("per_page_max", 500))
        self.upload_info_url = bool(section.get("upload_info_url", False))
        self.error_wording = str(section.get("error_wording", "usual"))

        self.folders: dict[str, RGFolder] = {}
        self.files: dict[str, RGFile] = {}
        self.trash_files: dict[str, RGFile] = {}
        self.trash_folders: dict[str, RGFolder] = {}
        self.tokens: dict[str, float] = {}
        self.uploads: dict[str, UploadSession] = {}
        self.known: list[tuple[str, int, Content]] = []
        self.fail_next_uploads = 0
        self.throttled_logins = 0
        self.upload_post_errors: list[int] = []
        self.upload_rate = float(section.get("upload_rate", 0))  # bytes/s per POST; 0 = no cap
        self._folder_seq = FIRST_FOLDER_ID
        self._file_seq = 0
        self._token_seq = 0
        self._upload_seq = 0
        self._created_seq = 0

        self.user_reply = str(section.get("user_reply", "full"))
        self.upload_post_reply = _post_reply(section.get("upload_post_reply", "envelope"))
        self.http_status = "mirror"
        self.envelope_keys = "v2"
        self.shapes = dict(shapes.DEFAULTS)
        self.set_reply_style(
            {
                "http_status": section.get("http_status", "mirror"),
                "envelope_keys": section.get("envelope_keys", "v2"),
                **section.get("shapes", {}),
            }
        )
        self.user = copy.deepcopy(DEFAULT_USER)
        self.user["email"] = self.login
        for key, value in (section.get("user") or {}).items():
            if isinstance(value, dict) and isinstance(self.user.get(key), dict):
                self.user[key].update(value)
            else:
                self.user[key] = value

        root_spec = section.get("root") or {"name": "root"}
        self.root_id = self._load_folder(root_spec, None)
        self.user["folder_id"] = self.root_id

        for entry in section.get("known_md5", []):
            size = int(entry["size"])
            spec = entry.get("content")
            content = content_from_spec(spec) if spec else SyntheticContent(size, int(entry["hash"][:8], 16))
            self.known.append((entry["hash"].lower(), size, content))

        storage = self.user["storage"]
        if storage.get("left") is None:
            used = sum(f.size for f in self.files.values())
            storage["left"] = max(0, int(storage["total"]) - used)
        storage["total"] = str(storage["total"])

    # ------------------------------------------------------------ ids

    def _next_created(self) -> int:
        self._created_seq += 1
        return BASE_CREATED + self._created_seq * 60

    def _new_folder_id(self) -> str:
        folder_id = str(self._folder_seq)
        self._folder_seq += 1
        return folder_id

    def _new_file_id(self) -> str:
        self._file_seq += 1
        return hashlib.md5(f"rapidgator-file-{self._file_seq}".encode()).hexdigest()

    def _new_token(self) -> str:
        self._token_seq += 1
        return _alnum(f"rapidgator-token-{self._token_seq}", 26, LOWER36)

    def _new_upload_id(self) -> str:
        self._upload_seq += 1
        return _alnum(f"rapidgator-upload-{self._upload_seq}", 32, ALNUM62)

    # ------------------------------------------------------------ library

    def _load_folder(self, spec: dict[str, Any], parent_id: str | None) -> str:
        folder = RGFolder(
            self._new_folder_id(),
            spec.get("name", "root" if parent_id is None else "folder"),
            parent_id,
            int(spec.get("created", self._next_created())),
            int(spec.get("mode", 0)),
        )
        self.folders[folder.folder_id] = folder
        for sub in spec.get("folders", []):
            self._load_folder(sub, folder.folder_id)
        for entry in spec.get("files", []):
            rgfile = RGFile(
                self._new_file_id(),
                entry["name"],
                folder.folder_id,
                content_from_spec(entry["content"]),
                int(entry.get("created", self._next_created())),
                int(entry.get("mode", 0)),
                int(entry.get("nb_downloads", 0)),
                entry.get("md5"),
            )
            self.files[rgfile.file_id] = rgfile
        return folder.folder_id

    # ------------------------------------------------------------ helpers

    def name_ok(self, name: str | None) -> bool:
        return valid_name(name) and name not in self.rejected_names

    def now(self) -> int:
        return int(time.time())

    def check_token(self, params: dict[str, str]) -> str:
        token = params.get("token", "")
        expires = self.tokens.get(token)
        if expires is None or time.monotonic() >= expires:
            raise ApiError(401, SESSION_ERROR)
        return token

    def folder(self, folder_id: str | None) -> RGFolder:
        if not folder_id:
            return self.folders[self.root_id]
        folder = self.folders.get(folder_id)
        if folder is None:
            raise ApiError(404, "Error: Folder not found")
        return folder

    def file(self, file_id: str | None) -> RGFile:
        rgfile = self.files.get((file_id or "").strip().lower())
        if rgfile is None:
            raise ApiError(404, "Error: File not found")
        return rgfile

    def subfolders(self, folder_id: str) -> list[RGFolder]:
        return [f for f in self.folders.values() if f.parent_id == folder_id]

    def folder_files(self, folder_id: str) -> list[RGFile]:
        return [f for f in self.files.values() if f.folder_id == folder_id]

    def is_within(self, folder_id: str, ancestor_id: str) -> bool:
        current: str | None = folder_id
        while current is not None:
            if current == ancestor_id:
                return True
            current = self.folders[current].parent_id
        return False

    def folder_api(self, folder: RGFolder, with_subfolders: bool = True) -> dict[str, Any]:
        subs = self.subfolders(folder.folder_id)
        files = self.folder_files(folder.folder_id)
        out = {
            "folder_id": folder.folder_id,
            "mode": folder.mode,
            "mode_label": MODE_LABELS.get(folder.mode, ""),
            "parent_folder_id": folder.parent_id,
            "name": folder.name,
            "url": f"https://rapidgator.net/folder/{folder.folder_id}/{quote(folder.name, safe='')}.html",
            "nb_folders": len(subs),
            "nb_files": len(files),
            "size_files": sum(f.size for f in files),
            "created": folder.created,
        }
        out["folders"] = (
            [
                self.folder_api(s, with_subfolders=False)
                for s in sorted(subs, key=lambda s: (s.name, s.folder_id))
            ]
            if with_subfolders
            else []
        )
        return out

    def user_api(self) -> dict[str, Any]:
        user = copy.deepcopy(self.user)
        if self.user_reply == "nulls":
            user.update(email=None, traffic=None, storage=None, upload=None)
        return user

    def add_file(self, name: str, folder_id: str, content: Content, md5_hex: str | None) -> RGFile:
        rgfile = RGFile(self._new_file_id(), name, folder_id, content, self.now(), md5_hex=md5_hex)
        self.files[rgfile.file_id] = rgfile
        self.user["storage"]["left"] = self.user["storage"]["left"] - rgfile.size
        return rgfile

    def find_known(self, md5_hex: str, size: int) -> tuple[Content, str] | None:
        for rgfile in list(self.files.values()) + list(self.trash_files.values()):
            if rgfile.size == size and rgfile.md5() == md5_hex:
                return rgfile.content, md5_hex
        for known_md5, known_size, content in self.known:
            if known_md5 == md5_hex and known_size == size:
                return content, md5_hex
        return None

    # ------------------------------------------------------------ uploads

    def set_reply_style(self, args: dict[str, Any]) -> dict[str, Any]:
        patch = dict(args)
        for key, choices in (("http_status", ("mirror", "200")), ("envelope_keys", ("v2", "v1"))):
            if key in patch:
                value = str(patch.pop(key))
                if value not in choices:
                    raise ValueError(f"{key} must be one of {choices}")
                setattr(self, key, value)
        self.shapes = shapes.checked(self.shapes, patch)
        return {"http_status": self.http_status, "envelope_keys": self.envelope_keys, **self.shapes}

    def envelope(
        self,
        response: Any,
        status: int = 200,
        details: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """`{"response", "status", "details"}` with the same status on the HTTP line, or
        in the switched reply style."""
        status_key, details_key = ("status", "details") if self.envelope_keys == "v2" else V1_KEYS
        body = {"response": response, status_key: status, details_key: details}
        text = json.dumps(shapes.reshape(body, self.shapes), ensure_ascii=False, separators=(",", ":"))
        http = status if self.http_status == "mirror" else 200
        return Response(text, status_code=http, headers=headers, media_type=shapes.media_type(self.shapes))

    def words(self, details: str) -> str:
        return ERROR_REWORDING.get(details, details) if self.error_wording == "other" else details

    def upload_api(self, session: UploadSession, with_url: bool = True) -> dict[str, Any]:
        url = None
        if with_url and session.state in (0, 1):  # as in the POST reply clients saw; gone once finished
            url = (
                f"{self.state.links.base_url}/{SERVICE}/upload/?r=upload/api"
                f"&uuid={session.upload_id}&sid={session.token}"
            )
        rgfile = self.files.get(session.file_id or "") if session.state == 2 else None
        return {
            "upload_id": session.upload_id,
            "url": url,
            "file": rgfile.to_api() if rgfile else None,
            "state": session.state,
            "state_label": STATE_LABELS[session.state],
        }

    def settle(self) -> None:
        """Moves Processing sessions whose delay has passed to Done or Fail."""
        now = time.monotonic()
        for session in self.uploads.values():
            if session.state == 1 and now >= session.ready_at:
                if session.hasher is not None:
                    if not session.hasher.done.is_set():
                        continue  # still hashing: Processing lasts a little longer
                    session.received_md5 = session.hasher.hexdigest
                    session.hasher = None
                self._finish(session)

    def _finish(self, session: UploadSession) -> None:
        reason = None
        if session.forced_fail:
            reason = "fail_next_upload"
        elif session.received_size != session.size:
            reason = f"size mismatch: announced {session.size}, received {session.received_size}"
        elif session.received_md5 != session.hash:
            reason = f"md5 mismatch: announced {session.hash}, received {session.received_md5}"
        elif session.folder_id not in self.folders:
            reason = "destination folder gone"
        elif session.size > self.user["storage"]["left"]:
            reason = "not enough storage"
        if reason is not None:
            session.state, session.fail_reason = 3, reason
            if isinstance(session.content, UploadedContent):
                os.close(session.content.fd)
            session.content = None
            return
        assert session.content is not None
        rgfile = self.add_file(session.name, session.folder_id, session.content, session.received_md5)
        session.state, session.file_id = 2, rgfile.file_id

    # ------------------------------------------------------------ control

    def control_view(self) -> dict[str, Any]:
        self.settle()
        paths: dict[str, Any] = {}

        def file_view(f: RGFile) -> dict[str, Any]:
            return {
                "file_id": f.file_id,
                "name": f.name,
                "folder_id": f.folder_id,
                "size": f.size,
                "md5": f.md5(),
                "mode": f.mode,
                "created": f.created,
                "nb_downloads": f.nb_downloads,
            }

        def tree(folder: RGFolder, path: str) -> dict[str, Any]:
            files = sorted(self.folder_files(folder.folder_id), key=lambda f: (f.name, f.file_id))
            for f in files:
                paths[f"{path}/{f.name}"] = file_view(f)
            return {
                "folder_id": folder.folder_id,
                "name": folder.name,
                "mode": folder.mode,
                "parent_folder_id": folder.parent_id,
                "path": path or "/",
                "folders": [
                    tree(s, f"{path}/{s.name}")
                    for s in sorted(self.subfolders(folder.folder_id), key=lambda s: (s.name, s.folder_id))
                ],
                "files": [file_view(f) for f in files],
            }

        now = time.monotonic()
        return {
            "root_folder_id": self.root_id,
            "tree": tree(self.folders[self.root_id], ""),
            "paths": paths,
            "uploads": [
                {
                    "upload_id": s.upload_id,
                    "state": s.state,
                    "state_label": STATE_LABELS[s.state],
                    "name": s.name,
                    "folder_id": s.folder_id,
                    "hash": s.hash,
                    "size": s.size,
                    "received_size": s.received_size,
                    "received_md5": s.received_md5,
                    "file_id": s.file_id,
                    "fail_reason": s.fail_reason,
                }
                for s in self.uploads.values()
            ],
            "trash": {
                "files": [file_view(f) for f in self.trash_files.values()],
                "folders": [{"folder_id": f.folder_id, "name": f.name} for f in self.trash_folders.values()],
            },
            "user": self.user_api(),
            "tokens_valid": sum(1 for exp in self.tokens.values() if exp > now),
            "settings": {
                "processing_delay": self.processing_delay,
                "download_delay": self.download_delay,
                "token_ttl": self.token_ttl,
                "fail_next_uploads": self.fail_next_uploads,
                "per_page_max": self.per_page_max,
                "upload_rate": self.upload_rate,
            },
        }

    def control_action(self, action: str, args: dict[str, Any]) -> dict[str, Any]:
        if action == "fail_next_upload":
            self.fail_next_uploads += int(args.get("count", 1))
            return {"fail_next_uploads": self.fail_next_uploads}
        if action == "set_processing_delay":
            self.processing_delay = float(args["seconds"])
            return {"processing_delay": self.processing_delay}
        if action == "expire_tokens":
            expired = sum(1 for exp in self.tokens.values() if exp > time.monotonic())
            self.tokens = {token: 0.0 for token in self.tokens}
            return {"expired": expired}
        if action == "set_token_ttl":
            self.token_ttl = float(args["seconds"])
            return {"token_ttl": self.token_ttl}
        if action == "set_traffic_left":
            left = args.get("bytes")
            self.user["traffic"]["left"] = None if left is None else int(left)
            return {"traffic": self.user["traffic"]}
        if action == "set_storage_left":
            self.user["storage"]["left"] = int(args["bytes"])
            return {"storage": self.user["storage"]}
        if action == "set_download_delay":
            self.download_delay = int(args["seconds"])
            return {"download_delay": self.download_delay}
        if action == "throttle_logins":
            self.throttled_logins = int(args.get("count", 1))
            return {"throttled_logins": self.throttled_logins}
        if action == "reject_names":
            self.rejected_names = set(args.get("names", ()))
            return {"rejected_names": sorted(self.rejected_names)}
        if action == "set_upload_rate":
            self.upload_rate = float(args.get("bytes_per_second", 0))
            return {"upload_rate": self.upload_rate}
        if action == "set_upload_info_url":
            self.upload_info_url = bool(args.get("enabled", True))
            return {"upload_info_url": self.upload_info_url}
        if action == "set_error_wording":
            self.error_wording = str(args.get("style", "usual"))
            return {"error_wording": self.error_wording}
        if action == "set_upload_post_reply":
            self.upload_post_reply = _post_reply(args["value"])
            return {"upload_post_reply": self.upload_post_reply}
        if action == "set_reply_style":
            return self.set_reply_style(args)
        if action == "upload_post_error":
            self.upload_post_errors += [int(args.get("status", 500))] * int(args.get("count", 1))
            return {"upload_post_errors": len(self.upload_post_errors)}
        raise KeyError(f"unknown rapidgator action {action!r}")


# ---------------------------------------------------------------- API methods


def _require(params: dict[str, str], *names: str) -> None:
    for name in names:
        if params.get(name) in (None, ""):
            raise ApiError(400, f"Parameter {name} is missing")


def _int(params: dict[str, str], name: str, default: int | None = None) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        if default is None:
            raise ApiError(400, f"Parameter {name} is missing")
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"Parameter {name} is invalid") from None


def _ids(params: dict[str, str], name: str) -> list[str]:
    _require(params, name)
    return [part.strip() for part in params[name].split(",") if part.strip()]


def _batch(success: list[str], fail: list[str], errors: list[str]) -> dict[str, Any]:
    return {
        "result": {
            "success": len(success),
            "success_ids": success,
            "fail": len(fail),
            "fail_ids": fail,
            "errors": errors,
        }
    }


def user_login(svc: RapidgatorService, p: dict[str, str]) -> Any:
    if svc.throttled_logins > 0:
        svc.throttled_logins -= 1
        raise ApiError(429, "Error: Please wait 5 minutes before the next login")
    if not p.get("login") or not p.get("password"):
        raise ApiError(401, "Parameter login or password is missing")
    if p["login"].lower() != svc.login.lower() or p["password"] != svc.password:
        raise ApiError(401, "Error: Wrong e-mail or password.")
    if svc.twofa_code is not None:
        code = p.get("code")
        if not code:
            raise ApiError(401, "Error: 2FA code is required")
        if code != str(svc.twofa_code):
            raise ApiError(401, "Error: Invalid auth code")
    token = svc._new_token()
    svc.tokens[token] = time.monotonic() + svc.token_ttl
    return {"token": token, "user": svc.user_api()}


def user_info(svc: RapidgatorService, p: dict[str, str]) -> Any:
    return {"user": svc.user_api()}


def folder_info(svc: RapidgatorService, p: dict[str, str]) -> Any:
    return {"folder": svc.folder_api(svc.folder(p.get("folder_id")))}


def folder_content(svc: RapidgatorService, p: dict[str, str]) -> Any:
    folder = svc.folder(p.get("folder_id"))
    page = max(1, _int(p, "page", 1))
    per_page = min(max(1, _int(p, "per_page", 500)), svc.per_page_max)
    column = p.get("sort_column") or "name"
    if column not in ("name", "created", "size", "nb_downloads"):
        raise ApiError(400, "Error: Invalid sort column")
    direction = (p.get("sort_direction") or "ASC").upper()
    if direction not in ("ASC", "DESC"):
        raise ApiError(400, "Error: Invalid sort direction")
    reverse = direction == "DESC"
    files = sorted(
        svc.folder_files(folder.folder_id),
        key=lambda f: (getattr(f, column), f.name, f.file_id),
        reverse=reverse,
    )
    folder_key = (lambda s: (s.created, s.name)) if column == "created" else (lambda s: (s.name, s.folder_id))
    subs = sorted(svc.subfolders(folder.folder_id), key=folder_key, reverse=reverse)
    out = svc.folder_api(folder, with_subfolders=False)
    out["folders"] = [svc.folder_api(s, with_subfolders=False) for s in subs]
    out["files"] = [f.to_api() for f in files[(page - 1) * per_page : page * per_page]]
    total = max(1, math.ceil(len(files) / per_page))
    return {"folder": out, "pager": {"current": page, "total": total}}


def folder_create(svc: RapidgatorService, p: dict[str, str]) -> Any:
    name = p.get("name")
    if not svc.name_ok(name):
        raise ApiError(400, "Error: Invalid folder name")
    parent_id = p.get("folder_id")
    if parent_id and parent_id not in svc.folders:
        raise ApiError(404, "Error: Parent folder not found")
    folder = RGFolder(svc._new_folder_id(), name, parent_id or svc.root_id, svc.now())
    svc.folders[folder.folder_id] = folder
    return {"folder": svc.folder_api(folder)}


def folder_rename(svc: RapidgatorService, p: dict[str, str]) -> Any:
    _require(p, "folder_id")
    folder = svc.folder(p["folder_id"])
    if not svc.name_ok(p.get("name")):
        raise ApiError(400, "Error: Invalid folder name")
    folder.name = p["name"]
    return {"folder": svc.folder_api(folder)}


def folder_change_mode(svc: RapidgatorService, p: dict[str, str]) -> Any:
    _require(p, "folder_id")
    folder = svc.folder(p["folder_id"])
    mode = _int(p, "mode")
    if mode not in MODE_LABELS:
        raise ApiError(400, "Error: Invalid mode")
    folder.mode = mode
    return {"folder": svc.folder_api(folder)}


def _dest(svc: RapidgatorService, p: dict[str, str]) -> RGFolder:
    _require(p, "folder_id_dest")
    dest = svc.folders.get(p["folder_id_dest"])
    if dest is None:
        raise ApiError(404, "Error: Folder not found")
    return dest


def _copy_tree(svc: RapidgatorService, folder: RGFolder, parent_id: str) -> None:
    clone = RGFolder(svc._new_folder_id(), folder.name, parent_id, svc.now(), folder.mode)
    svc.folders[clone.folder_id] = clone
    for sub in svc.subfolders(folder.folder_id):
        if sub.folder_id != clone.folder_id:
            _copy_tree(svc, sub, clone.folder_id)
    for rgfile in svc.folder_files(folder.folder_id):
        svc.add_file(rgfile.name, clone.folder_id, rgfile.content, rgfile.md5_hex).mode = rgfile.mode


def folder_move(svc: RapidgatorService, p: dict[str, str], copying: bool = False) -> Any:
    dest = _dest(svc, p)
    success, fail, errors = [], [], []
    for folder_id in _ids(p, "folder_id"):
        folder = svc.folders.get(folder_id)
        if folder is None:
            fail.append(folder_id)
            errors.append(f"Error: Folder not found ({folder_id})")
        elif folder.parent_id is None or svc.is_within(dest.folder_id, folder.folder_id):
            fail.append(folder_id)
            errors.append(f"Error: Failed to {'copy' if copying else 'move'} the folder ({folder_id})")
        else:
            if copying:
                _copy_tree(svc, folder, dest.folder_id)
            else:
                folder.parent_id = dest.folder_id
            success.append(folder_id)
    return _batch(success, fail, errors)


def folder_copy(svc: RapidgatorService, p: dict[str, str]) -> Any:
    return folder_move(svc, p, copying=True)


def folder_delete(svc: RapidgatorService, p: dict[str, str]) -> Any:
    success, fail, errors = [], [], []
    for folder_id in _ids(p, "folder_id"):
        folder = svc.folders.get(folder_id)
        if folder is None or folder.parent_id is None:
            fail.append(folder_id)
            reason = "Folder not found" if folder is None else "Cannot delete the root folder"
            errors.append(f"Error: {reason} ({folder_id})")
            continue
        doomed = [fid for fid in svc.folders if svc.is_within(fid, folder_id)]
        for fid in doomed:
            for rgfile in svc.folder_files(fid):
                _trash_file(svc, rgfile)
        for fid in doomed:
            svc.trash_folders[fid] = svc.folders.pop(fid)
        success.append(folder_id)
    return _batch(success, fail, errors)


def _trash_file(svc: RapidgatorService, rgfile: RGFile) -> None:
    del svc.files[rgfile.file_id]
    svc.trash_files[rgfile.file_id] = rgfile
    svc.user["storage"]["left"] += rgfile.size


def file_info(svc: RapidgatorService, p: dict[str, str]) -> Any:
    _require(p, "file_id")
    return {"file": svc.file(p["file_id"]).to_api()}


def file_rename(svc: RapidgatorService, p: dict[str, str]) -> Any:
    _require(p, "file_id")
    rgfile = svc.file(p["file_id"])
    if not svc.name_ok(p.get("name")):
        raise ApiError(400, "Error: Invalid file name")
    rgfile.name = p["name"]
    return {"file": rgfile.to_api()}


def file_change_mode(svc: RapidgatorService, p: dict[str, str]) -> Any:
    _require(p, "file_id")
    rgfile = svc.file(p["file_id"])
    mode = _int(p, "mode")
    if mode not in MODE_LABELS:
        raise ApiError(400, "Error: Invalid mode")
    rgfile.mode = mode
    return {"file": rgfile.to_api()}


def file_move(svc: RapidgatorService, p: dict[str, str], copying: bool = False) -> Any:
    dest = _dest(svc, p)
    success, fail, errors = [], [], []
    for file_id in _ids(p, "file_id"):
        rgfile = svc.files.get(file_id.lower())
        if rgfile is None:
            fail.append(file_id)
            errors.append(f"Error: Failed to {'copy' if copying else 'move'} the file ({file_id})")
            continue
        if copying:
            svc.add_file(rgfile.name, dest.folder_id, rgfile.content, rgfile.md5_hex).mode = rgfile.mode
        else:
            rgfile.folder_id = dest.folder_id
        success.append(file_id)
    return _batch(success, fail, errors)


def file_copy(svc: RapidgatorService, p: dict[str, str]) -> Any:
    return file_move(svc, p, copying=True)


def file_delete(svc: RapidgatorService, p: dict[str, str]) -> Any:
    success, fail, errors = [], [], []
    for file_id in _ids(p, "file_id"):
        rgfile = svc.files.get(file_id.lower())
        if rgfile is None:
            fail.append(file_id)
            errors.append(f"Error: Failed to delete the file ({file_id})")
            continue
        _trash_file(svc, rgfile)
        success.append(file_id)
    return _batch(success, fail, errors)


def file_download(svc: RapidgatorService, p: dict[str, str]) -> Any:
    _require(p, "file_id")
    rgfile = svc.file(p["file_id"])
    traffic = svc.user["traffic"]
    if traffic.get("left") is not None:
        if traffic["left"] < rgfile.size or traffic["left"] <= 0:
            raise ApiError(423, "Error: Exceeded traffic")
        traffic["left"] -= rgfile.size
    rgfile.nb_downloads += 1
    url = svc.state.links.mint(rgfile.content, rgfile.name, SERVICE, ttl=svc.link_ttl)
    return {"download_url": url, "delay": svc.download_delay}


def file_upload(svc: RapidgatorService, p: dict[str, str]) -> Any:
    _require(p, "name", "hash", "size")
    name = p["name"]
    if not svc.name_ok(name):
        raise ApiError(400, "Error: Invalid file name")
    md5_hex = p["hash"].strip().lower()
    if len(md5_hex) != 32 or any(c not in "0123456789abcdef" for c in md5_hex):
        raise ApiError(400, "Parameter hash is invalid")
    size = _int(p, "size")
    if size < 0:
        raise ApiError(400, "Parameter size is invalid")
    folder = svc.folder(p.get("folder_id"))
    if size > int(svc.user["upload"]["max_file_size"]):
        raise ApiError(400, "Error: File is too big")
    if size > svc.user["storage"]["left"]:
        raise ApiError(403, "Error: Not enough storage space")
    session = UploadSession(svc._new_upload_id(), p["token"], folder.folder_id, name, md5_hex, size)
    svc.uploads[session.upload_id] = session
    known = svc.find_known(md5_hex, size)
    if known is not None:
        content, _ = known
        rgfile = svc.add_file(name, folder.folder_id, content, md5_hex)
        session.state, session.file_id = 2, rgfile.file_id
        session.received_size, session.received_md5 = size, md5_hex
    return {"upload": svc.upload_api(session)}


def file_upload_info(svc: RapidgatorService, p: dict[str, str]) -> Any:
    _require(p, "upload_id")
    session = svc.uploads.get(p["upload_id"])
    if session is None:
        raise ApiError(404, "Error: Upload session not found")
    return {"upload": svc.upload_api(session, with_url=svc.upload_info_url)}


METHODS = {
    "user/login": user_login,
    "user/info": user_info,
    "folder/info": folder_info,
    "folder/content": folder_content,
    "folder/create": folder_create,
    "folder/rename": folder_rename,
    "folder/move": folder_move,
    "folder/copy": folder_copy,
    "folder/delete": folder_delete,
    "folder/change_mode": folder_change_mode,
    "file/info": file_info,
    "file/rename": file_rename,
    "file/move": file_move,
    "file/copy": file_copy,
    "file/delete": file_delete,
    "file/change_mode": file_change_mode,
    "file/download": file_download,
    "file/upload": file_upload,
    "file/upload_info": file_upload_info,
}
NO_TOKEN = {"user/login"}
POST_REPLIES = ("envelope", "wrapped", "empty", "text")


def _post_reply(value: str) -> str:
    if value not in POST_REPLIES:
        raise ValueError(f"upload_post_reply must be one of {POST_REPLIES}")
    return value


V1_KEYS = ("response_status", "response_details")


# ---------------------------------------------------------------- HTTP layer


async def request_params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method == "POST":
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            body = (await request.body()).decode("utf-8", "replace")
            params.update(parse_qsl(body, keep_blank_values=True))
    return params


class Hasher(threading.Thread):
    """MD5s an upload's temp file as it grows, at the lowest CPU priority, so the
    hashing never slows the receiving down; what is left after the body ends
    is finished during the session's Processing state. Owns the fd until done:
    a cancelled hasher closes it."""

    READ = 4 << 20

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True, name="rapidgator-md5")
        self.fd = fd
        self.cond = threading.Condition()
        self.written = 0
        self.final: int | None = None
        self.cancelled = False
        self.hexdigest: str | None = None
        self.done = threading.Event()

    def advance(self, written: int) -> None:
        with self.cond:
            self.written = written
            self.cond.notify()

    def finish(self, size: int) -> None:
        with self.cond:
            self.written = self.final = size
            self.cond.notify()

    def cancel(self) -> None:
        with self.cond:
            self.cancelled = True
            self.cond.notify()

    def run(self) -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except (AttributeError, OSError):
            pass
        md5, pos = hashlib.md5(), 0
        while True:
            with self.cond:
                while pos >= self.written and self.final is None and not self.cancelled:
                    self.cond.wait()
                if self.cancelled:
                    os.close(self.fd)
                    return
                limit, final = self.written, self.final
            while pos < limit:
                data = os.pread(self.fd, min(self.READ, limit - pos), pos)
                if not data:
                    break
                md5.update(data)
                pos += len(data)
            if final is not None and pos >= final:
                self.hexdigest = md5.hexdigest()
                self.done.set()
                return


class Spool:
    """Streams an upload into an unlinked temp file (never into memory).

    Chunks are queued without copying and written by a worker thread, one batch
    in flight while the event loop receives the next; a `Hasher` follows the
    file as it grows."""

    BATCH = 1 << 20

    def __init__(self) -> None:
        fd, path = tempfile.mkstemp(prefix="rg-upload-")
        os.unlink(path)
        self.fd = fd
        self.size = 0
        self.written = 0
        self.pending: list[bytes] = []
        self.pending_len = 0
        self.inflight: asyncio.Future[None] | None = None
        self.hasher = Hasher(fd)
        self.hasher.start()

    def _write(self, chunks: list[bytes]) -> None:
        total = sum(len(c) for c in chunks)
        written = os.writev(self.fd, chunks) if len(chunks) <= 256 else 0
        if written < total:
            rest = memoryview(b"".join(chunks))[written:]
            while rest:
                rest = rest[os.write(self.fd, rest) :]
        self.written += total
        self.hasher.advance(self.written)

    async def feed(self, data: bytes) -> None:
        if not data:
            return
        self.pending.append(data)
        self.pending_len += len(data)
        self.size += len(data)
        if self.pending_len >= self.BATCH:
            await self._flush()

    async def _wait(self) -> None:
        if self.inflight is not None:
            future, self.inflight = self.inflight, None
            await future

    async def _flush(self) -> None:
        await self._wait()
        if self.pending:
            chunks, self.pending, self.pending_len = self.pending, [], 0
            self.inflight = asyncio.get_running_loop().run_in_executor(None, self._write, chunks)

    async def finish(self) -> int:
        """Waits for the last write; the md5 is `hasher.hexdigest` once `hasher.done`."""
        await self._flush()
        await self._wait()
        self.hasher.finish(self.size)
        return self.size

    async def abort(self) -> None:
        try:
            await self._wait()
        except Exception:
            pass
        self.hasher.cancel()  # the hasher closes the fd


class MultipartError(Exception):
    pass


def _boundary(content_type: str) -> bytes:
    kind, _, rest = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        raise MultipartError("not multipart/form-data")
    for param in rest.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary" and value:
            return value.strip().strip('"').encode("latin-1")
    raise MultipartError("no boundary")


def _part_name(header_block: bytes) -> tuple[str | None, str | None]:
    name = filename = None
    for line in header_block.decode("utf-8", "replace").split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() != "content-disposition":
            continue
        for item in value.split(";")[1:]:
            k, _, v = item.strip().partition("=")
            v = v.strip().strip('"')
            if k.lower() == "name":
                name = v
            elif k.lower() == "filename":
                filename = v
    return name, filename


class MultipartFileReader:
    """Streaming multipart/form-data parser that hands the body of the first part
    named `file` to a Spool.

    Inside a part body the common case costs one `find` per chunk and no copy:
    the previous chunk (`held`, known to hold no complete delimiter) is released
    as soon as the next chunk shows that no delimiter straddles the two."""

    def __init__(self, boundary: bytes, spool: Spool) -> None:
        self.delim = b"\r\n--" + boundary
        self.spool = spool
        self.state = "preamble"
        self.held = b"\r\n"  # lets the opening boundary match `delim` too
        self.in_file = False
        self.found = False

    @property
    def done(self) -> bool:
        return self.state == "epilogue"

    async def _emit(self, data: bytes) -> None:
        if self.in_file and data:
            await self.spool.feed(data)

    async def feed(self, chunk: bytes) -> None:
        if self.state == "epilogue" or not chunk:
            return
        n = len(self.delim)
        held = self.held
        if self.state in ("body", "preamble") and len(chunk) >= n:
            straddle = held[-(n - 1) :] + chunk[: n - 1]
            if straddle.find(self.delim) < 0 and chunk.find(self.delim) < 0:
                await self._emit(held)
                self.held = chunk
                return
        await self._process(held + chunk)

    async def _process(self, buf: bytes) -> None:
        delim, n = self.delim, len(self.delim)
        while True:
            if self.state in ("body", "preamble"):
                idx = buf.find(delim)
                if idx < 0:
                    if len(buf) >= n:  # release all but a tail that may start a delimiter
                        await self._emit(buf[: 1 - n])
                        buf = buf[1 - n :]
                    self.held = buf
                    return
                await self._emit(buf[:idx])
                self.in_file = False
                buf = buf[idx + n :]
                self.state = "after_delim"
            if self.state == "after_delim":
                if buf.startswith(b"--"):
                    self.state, self.held = "epilogue", b""
                    return
                eol = buf.find(b"\r\n")
                if len(buf) < 2 or eol < 0:
                    if len(buf) > 1024:
                        raise MultipartError("garbage after boundary")
                    self.held = buf
                    return
                buf = buf[eol + 2 :]
                self.state = "headers"
            if self.state == "headers":
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > 65536:
                        raise MultipartError("part headers too long")
                    self.held = buf
                    return
                name, _filename = _part_name(buf[:end])
                buf = buf[end + 4 :]
                self.in_file = name == "file" and not self.found
                self.found = self.found or self.in_file
                self.state = "body"


async def stream_multipart_file(request: Request, spool: Spool, rate: float = 0.0) -> bool:
    """Feeds the body of the first part named `file` into `spool`; True if one was found.
    `rate` (bytes/s, 0 = none) paces the reading, like a slow uplink."""
    reader = MultipartFileReader(_boundary(request.headers.get("content-type", "")), spool)
    receive = request.receive
    error: MultipartError | None = None
    started, received = time.monotonic(), 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        if rate > 0:
            received += len(message.get("body", b""))
            ahead = started + received / rate - time.monotonic()
            if ahead > 0:
                await anyio.sleep(ahead)
        if error is None:
            try:
                await reader.feed(message.get("body", b""))
            except MultipartError as exc:
                error = exc  # keep draining so the reply can be read
        if not message.get("more_body", False):
            break
    if error is not None:
        raise error
    if not reader.done:
        raise MultipartError("truncated multipart body")
    return reader.found


async def drain(request: Request) -> None:
    try:
        async for _ in request.stream():
            pass
    except ClientDisconnect:
        pass


def build(state: EmulatorState) -> Starlette:
    svc = RapidgatorService(state, state.library.get(SERVICE) or {})
    state.services[SERVICE] = svc

    async def api(request: Request) -> Response:
        method = f"{request.path_params['group']}/{request.path_params['method']}"
        state.stats.count(SERVICE, method)
        fault = state.faults.api_for(SERVICE)
        if fault.latency_ms:
            await anyio.sleep(fault.latency_ms / 1000)
        burst = state.faults.take_api_burst(SERVICE)
        if burst is not None:
            headers = {"Retry-After": str(burst.retry_after)} if burst.retry_after is not None else None
            return svc.envelope(
                None, burst.status_burst, f"Error: Injected error {burst.status_burst}", headers
            )
        handler = METHODS.get(method)
        if handler is None:
            return svc.envelope(None, 404, "Error: Method not found")
        params = await request_params(request)
        try:
            if method not in NO_TOKEN:
                svc.check_token(params)
            svc.settle()
            return svc.envelope(handler(svc, params))
        except ApiError as exc:
            return svc.envelope(None, exc.status, svc.words(exc.details))

    async def upload(request: Request) -> Response:
        state.stats.count(SERVICE, "upload POST")
        session = svc.uploads.get(request.query_params.get("uuid", ""))
        if svc.upload_post_errors:
            status = svc.upload_post_errors.pop(0)
            await drain(request)
            return svc.envelope(None, status, f"Error: Injected upload error {status}")
        if session is None or request.query_params.get("sid") != session.token:
            await drain(request)
            return svc.envelope(None, 404, "Error: Upload session not found")
        if session.state != 0:
            await drain(request)
            return svc.envelope(None, 400, svc.words("Error: Upload session is already finished"))
        if session.receiving:
            await drain(request)
            return svc.envelope(None, 400, svc.words("Error: Upload already in progress"))
        session.receiving = True
        spool = Spool()
        try:
            found = await stream_multipart_file(request, spool, svc.upload_rate)
            size = await spool.finish()
        except ClientDisconnect:  # the session stays at state 0: the client may retry
            await spool.abort()
            return svc.envelope(None, 400, "Error: Upload interrupted")
        except MultipartError as exc:
            await spool.abort()
            return svc.envelope(None, 400, f"Error: Bad upload request ({exc})")
        finally:
            session.receiving = False
        if not found:
            await spool.abort()
            return svc.envelope(None, 400, "Error: No file uploaded")
        session.received_size, session.hasher = size, spool.hasher
        session.content = UploadedContent(spool.fd, size)
        if svc.fail_next_uploads > 0:
            svc.fail_next_uploads -= 1
            session.forced_fail = True
        session.state = 1
        session.ready_at = time.monotonic() + svc.processing_delay
        if svc.upload_post_reply == "wrapped":
            return svc.envelope({"upload": svc.upload_api(session)})
        if svc.upload_post_reply == "empty":
            return Response(b"", status_code=200)
        if svc.upload_post_reply == "text":
            return Response(b"OK", status_code=200, media_type="text/plain")
        return svc.envelope(svc.upload_api(session))

    return Starlette(
        routes=[
            Route(API_PATH + "/{group}/{method}", api, methods=["GET", "POST"]),
            Route("/upload/", upload, methods=["POST"]),
            Route("/upload", upload, methods=["POST"]),
        ]
    )


def sample_section() -> dict[str, Any]:
    mib = 1024 * 1024
    return {
        "login": "demo@example.org",
        "password": "secret",
        "twofa_code": None,
        "token_ttl": 14400,
        "user": {},
        "root": {
            "name": "root",
            "folders": [
                {
                    "name": "Movies",
                    "folders": [
                        {
                            "name": "Classics",
                            "files": [
                                {
                                    "name": "metropolis.1927.mkv",
                                    "content": {"size": 6 * mib + 123, "seed": 4101},
                                }
                            ],
                        }
                    ],
                    "files": [
                        {"name": "big.buck.bunny.mkv", "content": {"size": 5 * mib, "seed": 4102}},
                        {"name": "sintel.mp4", "content": {"size": 3 * mib + 17, "seed": 4103}},
                    ],
                },
                {
                    "name": "Series",
                    "folders": [
                        {
                            "name": "Season 1",
                            "files": [
                                {"name": "episode.01.mkv", "content": {"size": 2 * mib, "seed": 4104}},
                                {"name": "episode.02.mkv", "content": {"size": 2 * mib + 1, "seed": 4105}},
                            ],
                        }
                    ],
                },
                {
                    "name": "Documents",
                    "files": [{"name": "readme.pdf", "content": {"size": 1 * mib, "seed": 4106}}],
                },
            ],
            "files": [
                {
                    "name": "notes.txt",
                    "content": {"text": "Rapidgator demo account.\n"},
                    "created": 1556237732,
                    "mode": 0,
                }
            ],
        },
        "known_md5": [],
        "download_delay": 0,
        "per_page_max": 500,
    }
