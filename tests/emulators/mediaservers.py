"""Shared parts of the media-server emulators (plex.py, jellyfin.py, emby.py):
a call recorder that tests read through `/_control/state/<server>`, token
checks, and the API faults of `/_control/faults` ("api": {"plex": {...}}).

Every call that passed the injected faults is recorded, answered or refused:
{"method", "path", "query": {name: value}, "body": JSON or null, "status"}.
Control actions: `reset` (forget the calls), `set` (the library section's
switches, e.g. {"json": false} for Plex).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .state import EmulatorState


class MediaServer:
    def __init__(self, state: EmulatorState, name: str, defaults: dict[str, Any]) -> None:
        self.state = state
        self.name = name
        self.section = {**defaults, **state.library.get(name, {})}
        self.calls: list[dict[str, Any]] = []
        state.services[name] = self

    def tokens(self) -> set[str]:
        return {self.section["token"], *self.section.get("tokens", [])}

    async def begin(self, request: Request, endpoint: str) -> tuple[dict[str, Any], Response | None]:
        """Counts the call, applies faults and records it; returns (record, early reply)."""
        self.state.stats.count(self.name, endpoint)
        fault = self.state.faults.api_for(self.name)
        if fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)
        burst = self.state.faults.take_api_burst(self.name)
        if burst is not None:
            headers = {"Retry-After": str(burst.retry_after)} if burst.retry_after else None
            return {}, Response(b"", status_code=burst.status_burst, headers=headers)
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = {"unparsable": raw.decode(errors="replace")}
        record = {
            "method": request.method,
            "path": request.url.path.removeprefix(f"/{self.name}"),
            "query": dict(request.query_params),
            "body": body,
            "status": 0,
        }
        self.calls.append(record)
        return record, None

    @staticmethod
    def reply(record: dict[str, Any], response: Response) -> Response:
        record["status"] = response.status_code
        return response

    def control_view(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "section": {k: v for k, v in self.section.items() if k not in ("token", "tokens")},
        }

    def control_action(self, action: str, args: dict[str, Any]) -> dict[str, Any]:
        if action == "reset":
            self.calls.clear()
            return {"ok": True}
        if action == "set":
            unknown = set(args) - set(self.section)
            if unknown:
                raise KeyError(f"unknown switch(es) {sorted(unknown)}")
            self.section.update(args)
            return {"ok": True}
        raise KeyError(f"unknown action {action!r}")
