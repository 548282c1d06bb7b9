"""The HTTP side of the qBittorrent API: the WebAPI v2 subset Sonarr and Radarr use.

    POST auth/login (username, password -> "Ok." and a SID cookie; "Fails.")  auth/logout
    GET  app/version  app/webapiVersion  app/preferences  app/defaultSavePath
    GET  torrents/info [category, hashes=a|b, filter]   torrents/properties?hash=
         torrents/files?hash=   torrents/categories
    POST torrents/add (urls: magnets / .torrent URLs, one a line; torrents: files; category)
         torrents/delete (hashes=a|b|all, deleteFiles)   torrents/createCategory
         torrents/editCategory   torrents/removeCategories   torrents/setCategory
         torrents/pause|resume|stop|start|setShareLimits|topPrio|bottomPrio|setForceStart
         (accepted, nothing changes: the files are on Real-Debrid)

Every endpoint but login needs the SID cookie (403 "Forbidden" otherwise), as
qBittorrent does. Replies follow qBittorrent 4.6 (WebAPI 2.9): plain "Ok." /
"Fails." texts, 404 for an unknown hash, 409 for a bad category, 415 for a
file that is not a torrent.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .torrentfile import BadTorrent

log = logging.getLogger(__name__)

VERSION = "v4.6.7"
WEBAPI_VERSION = "2.9.3"
SESSION_SECONDS = 3600.0
NO_OPS = (
    "pause",
    "resume",
    "stop",
    "start",
    "setShareLimits",
    "topPrio",
    "bottomPrio",
    "increasePrio",
    "decreasePrio",
    "setForceStart",
    "setSuperSeeding",
    "reannounce",
    "recheck",
    "addTags",
    "removeTags",
)

Handler = Callable[[Request], Awaitable[Response]]


def text(body: str, status: int = 200) -> Response:
    return PlainTextResponse(body, status_code=status)


def split_hashes(value: str | None) -> list[str]:
    return [h.strip().lower() for h in (value or "").split("|") if h.strip()]


def build_app(service: Any) -> Starlette:
    sessions: dict[str, float] = {}

    async def params(request: Request) -> dict[str, Any]:
        values: dict[str, Any] = dict(request.query_params)
        if request.method == "POST":
            form = await request.form()
            for key in form:
                items = form.getlist(key)
                values[key] = items if key == "torrents" else items[-1]
        return values

    def guarded(handler: Handler) -> Handler:
        async def wrapper(request: Request) -> Response:
            sid = request.cookies.get("SID", "")
            expires = sessions.get(sid)
            if expires is None or expires < time.monotonic():
                return text("Forbidden", 403)
            sessions[sid] = time.monotonic() + SESSION_SECONDS
            return await handler(request)

        return wrapper

    async def login(request: Request) -> Response:
        values = await params(request)
        good = hmac.compare_digest(
            str(values.get("username", "")).encode(), service.qb.username.encode()
        ) & hmac.compare_digest(str(values.get("password", "")).encode(), service.qb.password.encode())
        if not good:
            peer = request.client.host if request.client else "?"
            log.info("qBittorrent API: refused a login from %s", peer)
            return text("Fails.")
        sid = secrets.token_urlsafe(24)
        sessions[sid] = time.monotonic() + SESSION_SECONDS
        response = text("Ok.")
        response.set_cookie("SID", sid, httponly=True, samesite="strict", path="/")
        return response

    async def logout(request: Request) -> Response:
        sessions.pop(request.cookies.get("SID", ""), None)
        return text("")

    async def version(request: Request) -> Response:
        return text(VERSION)

    async def webapi_version(request: Request) -> Response:
        return text(WEBAPI_VERSION)

    async def preferences(request: Request) -> Response:
        return JSONResponse(
            {
                "save_path": str(service.download_dir) + "/",
                "temp_path_enabled": False,
                "max_ratio_enabled": False,
                "max_ratio": -1,
                "max_seeding_time_enabled": False,
                "max_seeding_time": -1,
                "max_inactive_seeding_time_enabled": False,
                "max_inactive_seeding_time": -1,
                "max_ratio_act": 0,
                "queueing_enabled": False,
                "dht": True,
                "auto_tmm_enabled": False,
                "create_subfolder_enabled": True,
                "torrent_content_layout": "Original",
                "start_paused_enabled": False,
                "web_ui_port": service.qb.port,
            }
        )

    async def default_save_path(request: Request) -> Response:
        return text(str(service.download_dir))

    def record_of(values: dict[str, Any]) -> Any:
        return service.records.get(str(values.get("hash", "")).lower())

    async def info(request: Request) -> Response:
        values = await params(request)
        records = list(service.records.values())
        if "category" in values:
            records = [r for r in records if r.category == values["category"]]
        if values.get("hashes"):
            wanted = set(split_hashes(values["hashes"]))
            records = [r for r in records if r.hash in wanted]
        items = [service.info(r) for r in records]
        state_filter = values.get("filter", "all")
        if state_filter == "completed":
            items = [i for i in items if i["progress"] >= 1]
        elif state_filter in ("downloading", "active"):
            items = [i for i in items if i["progress"] < 1 and i["state"] != "error"]
        elif state_filter == "errored":
            items = [i for i in items if i["state"] == "error"]
        return JSONResponse(items)

    async def properties(request: Request) -> Response:
        record = record_of(await params(request))
        if record is None:
            return text("Not Found", 404)
        item = service.info(record)
        return JSONResponse(
            {
                "save_path": item["save_path"],
                "creation_date": item["added_on"],
                "piece_size": 0,
                "comment": record.error or "",
                "total_size": item["size"],
                "total_downloaded": item["downloaded"],
                "total_uploaded": 0,
                "addition_date": item["added_on"],
                "completion_date": item["completion_on"],
                "dl_speed": item["dlspeed"],
                "up_speed": 0,
                "eta": item["eta"],
                "seeding_time": 0,
                "share_ratio": 0,
                "nb_connections": 0,
                "seeds": item["num_seeds"],
                "peers": 0,
                "pieces_have": 0,
                "pieces_num": 0,
                "is_private": False,
                "hash": record.hash,
                "name": record.name,
            }
        )

    async def files(request: Request) -> Response:
        record = record_of(await params(request))
        if record is None:
            return text("Not Found", 404)
        return JSONResponse(service.files(record))

    async def categories(request: Request) -> Response:
        return JSONResponse(
            {name: {"name": name, "savePath": str(path)} for name, path in service.categories().items()}
        )

    async def create_category(request: Request) -> Response:
        values = await params(request)
        try:
            await service.create_category(str(values.get("category", "")), str(values.get("savePath", "")))
        except (ValueError, FileExistsError) as exc:
            return text(str(exc), 409)
        return text("")

    async def edit_category(request: Request) -> Response:
        values = await params(request)
        name = str(values.get("category", ""))
        if name not in service.created_categories:
            return text(
                "Category does not exist"
                if name not in service.categories()
                else "Category is configured in the config file",
                409,
            )
        await service.remove_categories([name])
        await service.create_category(name, str(values.get("savePath", "")))
        return text("")

    async def remove_categories(request: Request) -> Response:
        values = await params(request)
        await service.remove_categories(str(values.get("categories", "")).split("\n"))
        return text("")

    async def set_category(request: Request) -> Response:
        values = await params(request)
        try:
            await service.set_category(split_hashes(values.get("hashes")), str(values.get("category", "")))
        except KeyError:
            return text("Category does not exist", 409)
        return text("")

    async def add(request: Request) -> Response:
        values = await params(request)
        category = str(values.get("category", ""))
        if category and category not in service.categories():
            # qBittorrent makes an unknown category on add
            await service.create_category(category, "")
        urls = [u.strip() for u in str(values.get("urls", "")).splitlines() if u.strip()]
        uploads = [f for f in values.get("torrents", []) if isinstance(f, UploadFile)]
        added = 0
        for url in urls:
            try:
                await service.add_url(url, category)
                added += 1
            except BadTorrent as exc:
                log.info("qBittorrent API: could not add a URL: %s", exc)
        for upload in uploads:
            try:
                await service.add_torrent_file(await upload.read(), category)
                added += 1
            except BadTorrent:
                return text("Torrent file is not valid.", 415)
        return text("Ok." if added else "Fails.")

    async def delete(request: Request) -> Response:
        values = await params(request)
        hashes = split_hashes(values.get("hashes"))
        if hashes == ["all"]:
            hashes = list(service.records)
        await service.delete(hashes, str(values.get("deleteFiles", "false")).lower() == "true")
        return text("")

    async def no_op(request: Request) -> Response:
        return text("")

    def api(path: str, handler: Handler, methods: tuple[str, ...] = ("GET", "POST")) -> Route:
        return Route(f"/api/v2/{path}", guarded(handler), methods=list(methods))

    post = ("POST",)
    routes = [
        Route("/api/v2/auth/login", login, methods=["POST"]),
        api("auth/logout", logout, post),
        api("app/version", version),
        api("app/webapiVersion", webapi_version),
        api("app/preferences", preferences),
        api("app/defaultSavePath", default_save_path),
        api("torrents/info", info),
        api("torrents/properties", properties),
        api("torrents/files", files),
        api("torrents/categories", categories),
        api("torrents/add", add, post),
        api("torrents/delete", delete, post),
        api("torrents/createCategory", create_category, post),
        api("torrents/editCategory", edit_category, post),
        api("torrents/removeCategories", remove_categories, post),
        api("torrents/setCategory", set_category, post),
        *[api(f"torrents/{name}", no_op, post) for name in NO_OPS],
    ]
    return Starlette(routes=routes)
