"""Shared emulator state: fault switches, request counters and the link registry.

Every service emulator gets one `EmulatorState`. Tests flip faults and read
counters through the `/_control` endpoints (see `control.py`), never by
reaching into a client.
"""

from __future__ import annotations

import collections
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .content import Content


@dataclass
class DataFaults:
    """Faults of the download (data) host."""

    latency_ms: float = 0.0  # added before each response starts
    rate_bps: float = 0.0  # cap per connection (0 = none)
    drop_after_bytes: int = 0  # cut the body after this many bytes...
    drop_count: int = 0  # ...for this many responses
    status_burst: int = 0  # answer this status...
    status_burst_count: int = 0  # ...for this many requests
    ignore_range: bool = False  # answer 200 with the whole body
    expired_status: int = 404  # what an expired link answers
    stall_count: int = 0  # the next N GETs go silent...
    stall_after_bytes: int = -1  # ...before the head (-1), after the head (0) or after N body bytes,
    stall_seconds: float = 120.0  # ...for this long, the connection left open
    html_count: int = 0  # the next N GETs answer 200 text/html (a "link expired" page)
    wrong_range_count: int = 0  # the next N ranged GETs serve another range (Content-Range says so)
    unreachable_links: int = 0  # the next N links minted point at a host that refuses connections
    content_type: str = "application/force-download"  # what files are served as
    max_range_bytes: int = 0  # a 206 carries at most this many bytes (0: all asked)


@dataclass
class ApiFaults:
    """Faults of a service's API, applied before its handler runs."""

    latency_ms: float = 0.0
    status_burst: int = 0
    status_burst_count: int = 0
    retry_after: int | None = None  # sent with 429/503 bursts


@dataclass
class Faults:
    data: DataFaults = field(default_factory=DataFaults)
    api: dict[str, ApiFaults] = field(default_factory=dict)

    def api_for(self, service: str) -> ApiFaults:
        return self.api.setdefault(service, ApiFaults())

    def update(self, patch: dict[str, Any]) -> None:
        for key, value in patch.get("data", {}).items():
            if not hasattr(self.data, key):
                raise KeyError(f"unknown data fault {key!r}")
            setattr(self.data, key, value)
        for service, fields in patch.get("api", {}).items():
            target = self.api_for(service)
            for key, value in fields.items():
                if not hasattr(target, key):
                    raise KeyError(f"unknown api fault {key!r}")
                setattr(target, key, value)

    def take_api_burst(self, service: str) -> ApiFaults | None:
        """Consumes one injected error for `service`, returning the fault if one fires."""
        fault = self.api.get(service)
        if fault and fault.status_burst_count > 0:
            fault.status_burst_count -= 1
            return fault
        return None


@dataclass
class Link:
    content: Content
    name: str
    expires_at: float | None
    service: str
    revoked: bool = False

    def expired(self) -> bool:
        return self.revoked or (self.expires_at is not None and time.monotonic() > self.expires_at)


class LinkRegistry:
    """Direct download links minted by services, served by the data host.

    With the `unreachable_links` data fault, a minted link names a host that
    refuses connections (a port bound but never listening); the links minted
    after it are on the real host, as a service handing out another host.
    """

    def __init__(self, faults: Callable[[], DataFaults] = DataFaults) -> None:
        self.links: dict[str, Link] = {}
        self.base_url = ""  # set once the server socket is bound
        self.faults_of = faults
        self._dead_socket: socket.socket | None = None

    def mint(self, content: Content, name: str, service: str, ttl: float | None = None) -> str:
        token = secrets.token_hex(12)
        expires_at = time.monotonic() + ttl if ttl else None
        self.links[token] = Link(content, name, expires_at, service)
        base = self.base_url
        faults = self.faults_of()
        if faults.unreachable_links > 0:
            faults.unreachable_links -= 1
            base = self._dead_base()
        return f"{base}/data/{token}/{_url_name(name)}"

    def _dead_base(self) -> str:
        if self._dead_socket is None:
            # Bound and never listening: connecting gets a reset at once, and no
            # other process can take the port while we hold it.
            self._dead_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._dead_socket.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{self._dead_socket.getsockname()[1]}"

    def expire_all(self) -> int:
        for link in self.links.values():
            link.revoked = True
        return len(self.links)


def _url_name(name: str) -> str:
    from urllib.parse import quote

    return quote(name.rsplit("/", 1)[-1] or "file", safe="")


class Stats:
    """Counts API calls per service and endpoint, and bytes served by the data host."""

    def __init__(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self.data_requests = 0
        self.data_bytes = 0

    def count(self, service: str, endpoint: str) -> None:
        self.calls[f"{service} {endpoint}"] += 1

    def snapshot(self) -> dict[str, Any]:
        per_service: collections.Counter[str] = collections.Counter()
        for key, n in self.calls.items():
            per_service[key.split(" ", 1)[0]] += n
        return {
            "calls": dict(self.calls),
            "calls_per_service": dict(per_service),
            "data_requests": self.data_requests,
            "data_bytes": self.data_bytes,
        }

    def reset(self) -> None:
        self.__init__()


@dataclass
class EmulatorState:
    library: dict[str, Any]
    faults: Faults = field(default_factory=Faults)
    stats: Stats = field(default_factory=Stats)
    links: LinkRegistry = field(default_factory=LinkRegistry)
    services: dict[str, Any] = field(default_factory=dict)  # per-service state objects

    def __post_init__(self) -> None:
        # Faults are replaced on reset: the registry asks for the current ones.
        self.links.faults_of = lambda: self.faults.data
