"""One adapter per provider: listings become tree entries, files resolve to
direct links, and (for writable providers) namespace and upload operations.
`build_sources` picks the ones the configuration enables."""

from __future__ import annotations

import httpx

from ..config import Config
from .base import Source


def build_sources(config: Config, http: httpx.AsyncClient) -> list[Source]:
    sources: list[Source] = []
    if config.realdebrid is not None:
        from .realdebrid import RealDebridSource

        sources.append(RealDebridSource(config, http))
    return sources
