"""Assembles one ASGI app: every service emulator under its own prefix, the
data host under /data and the control endpoints under /_control."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount

from . import control
from .dataserver import DataApp
from .state import EmulatorState

# service name -> module in this package; each module offers
# `build(state) -> ASGI app` and `API_PATH` (the API base below its prefix).
SERVICE_MODULES = (
    "realdebrid",
    "rapidgator",
    "portal",
    "premiumize",
    "rapidshare",
    "plex",
    "jellyfin",
    "emby",
)


def available_services() -> list[str]:
    return [name for name in SERVICE_MODULES if importlib.util.find_spec(f"{__package__}.{name}") is not None]


def build_app(state: EmulatorState) -> tuple[Starlette, dict[str, str]]:
    """Returns the app and, per service, its API path below the server root."""
    routes: list[Any] = [
        Mount("/data", app=DataApp(state)),
        Mount("/_control", app=control.build(state)),
    ]
    api_paths: dict[str, str] = {}
    for name in available_services():
        module = importlib.import_module(f"{__package__}.{name}")
        routes.append(Mount(f"/{name}", app=module.build(state)))
        api_paths[name] = f"/{name}{module.API_PATH}"
    return Starlette(routes=routes), api_paths
