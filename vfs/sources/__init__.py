"""One adapter per provider: listings become tree entries, files resolve to
direct links, and (for writable providers) namespace and upload operations.
`build_sources` picks the ones the configuration enables."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from ..config import Config
from .base import Source

# A source class built as Class(config, http).
SourceClass = Callable[[Config, httpx.AsyncClient], Source]


def build_sources(config: Config, http: httpx.AsyncClient) -> list[Source]:
    sources: list[Source] = []
    if config.realdebrid is not None:
        from .realdebrid import RealDebridSource

        realdebrid = RealDebridSource(config, http)
        sources.append(realdebrid)
        if config.library is not None and config.library.enabled:
            from .library import LibrarySource  # MOUNT/library: a view of the torrents

            sources.append(LibrarySource(realdebrid))
    if config.rapidgator is not None:
        from .rapidgator import RapidgatorSource

        sources.append(RapidgatorSource(config, http))
    # Link services (vfs/sources/links.py): one directory of added hoster links each.
    for service in LINK_SOURCES:
        if getattr(config, service, None) is not None:
            sources.append(link_source_class(service)(config, http))
    if sources:
        from .internal import InternalSource  # MOUNT/.debridfs/ (uploads, stats)

        sources.append(InternalSource(list(sources)))
    return sources


# Link services whose sources are LinkSource subclasses: name -> "module:Class".
LINK_SOURCES: dict[str, str] = {
    "portal": "vfs.sources.portal:PortalSource",
    "premiumize": "vfs.sources.premiumize:PremiumizeSource",
    "rapidshare": "vfs.sources.rapidshare:RapidShareSource",
}


def link_source_class(service: str) -> SourceClass:
    import importlib

    module_name, class_name = LINK_SOURCES[service].split(":")
    source_class: SourceClass = getattr(importlib.import_module(module_name), class_name)
    return source_class
