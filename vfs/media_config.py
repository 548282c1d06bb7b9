"""Settings of the media-server side: `[[notify]]`, `[qbittorrent]` and `[library]`.

Kept apart from vfs/config.py so that the provider settings and these can
change independently; `load_media` fills the three fields of `Config`.
Secrets (`token`, `password`) stay out of `repr()`.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import ConfigError

NOTIFY_KINDS = ("plex", "jellyfin", "emby")


@dataclass
class NotifyConfig:
    """One `[[notify]]` entry: a media server told about changed directories."""
    kind: str
    url: str
    token: str = field(default="", repr=False)
    path_map: dict[str, str] = field(default_factory=dict)   # mount prefix -> the server's view
    batch_seconds: float = 5.0       # changes are collected this long, then sent together
    min_interval: float = 2.0        # at most one call per this many seconds (per server)
    retries: int = 5                 # attempts of one batch before it is given up (logged)


@dataclass
class QbittorrentConfig:
    """`[qbittorrent]`: a qBittorrent WebAPI v2 subset for Sonarr and Radarr."""
    host: str = "127.0.0.1"
    port: int = 8282
    username: str = ""
    password: str = field(default="", repr=False)
    categories: dict[str, Path] = field(default_factory=dict)   # name -> local directory
    download_dir: Path | None = None  # where categories made by the *arr apps go (default: state dir)


@dataclass
class LibraryConfig:
    enabled: bool = False            # MOUNT/library/{movies,shows}


NOTIFY_KEYS = {"kind", "url", "token", "path_map", "batch_seconds", "min_interval", "retries"}
QBITTORRENT_KEYS = {"listen", "username", "password", "categories", "download_dir"}


def _number(section: str, key: str, value: Any, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ConfigError(f"[{section}] {key} must be a number of at least {minimum:g}")
    return float(value)


def _notify(entry: Any, index: int) -> NotifyConfig:
    where = f"notify #{index + 1}"
    if not isinstance(entry, dict):
        raise ConfigError(f"[[notify]] entries must be tables ({where})")
    unknown = set(entry) - NOTIFY_KEYS
    if unknown:
        raise ConfigError(f"unknown key(s) in [[notify]] ({where}): {', '.join(sorted(unknown))}")
    kind = entry.get("kind")
    if kind not in NOTIFY_KINDS:
        raise ConfigError(f"[[notify]] ({where}) kind must be one of {', '.join(NOTIFY_KINDS)}")
    url = entry.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"[[notify]] ({where}) url must be an http:// or https:// URL")
    token = entry.get("token")
    if not isinstance(token, str) or not token:
        raise ConfigError(f"[[notify]] ({where}) token is missing "
                          f"({'X-Plex-Token' if kind == 'plex' else 'API key'})")
    path_map = entry.get("path_map", {})
    if not isinstance(path_map, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and k.startswith("/") and v.startswith("/")
            for k, v in path_map.items()):
        raise ConfigError(f"[[notify]] ({where}) path_map must map absolute paths to absolute paths")
    return NotifyConfig(
        kind=kind, url=url.rstrip("/"), token=token,
        path_map={k.rstrip("/") or "/": v.rstrip("/") or "/" for k, v in path_map.items()},
        batch_seconds=_number("notify", "batch_seconds", entry.get("batch_seconds", 5.0), 0),
        min_interval=_number("notify", "min_interval", entry.get("min_interval", 2.0), 0),
        retries=int(_number("notify", "retries", entry.get("retries", 5), 1)))


def parse_listen(value: Any) -> tuple[str, int]:
    """'127.0.0.1:8282' or '[::1]:8282' -> (host, port)."""
    if not isinstance(value, str) or ":" not in value:
        raise ConfigError('[qbittorrent] listen must look like "127.0.0.1:8282"')
    host, _, port_text = value.rpartition(":")
    host = host.strip("[]")
    try:
        port = int(port_text)
        if host != "localhost":
            ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError('[qbittorrent] listen must be "ADDRESS:PORT" with a numeric '
                          'address (e.g. "127.0.0.1:8282")') from None
    if not 0 <= port <= 65535:
        raise ConfigError("[qbittorrent] listen: the port must be between 0 and 65535")
    return host, port


def valid_category(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\0" not in name \
        and len(name.encode()) <= 255


def _qbittorrent(qb: dict[str, Any], env: dict[str, str], state_dir: Path) -> QbittorrentConfig:
    unknown = set(qb) - QBITTORRENT_KEYS
    if unknown:
        raise ConfigError(f"unknown key(s) in [qbittorrent]: {', '.join(sorted(unknown))}")
    host, port = parse_listen(qb.get("listen", "127.0.0.1:8282"))
    username = qb.get("username")
    password = env.get("DEBRIDFS_QBITTORRENT_PASSWORD") or qb.get("password")
    if not isinstance(username, str) or not username or not isinstance(password, str) or not password:
        raise ConfigError("[qbittorrent] needs username and password (what Sonarr/Radarr log in with)")
    categories = qb.get("categories", {})
    if not isinstance(categories, dict):
        raise ConfigError('[qbittorrent] categories must be a table of name = "/local/directory"')
    paths: dict[str, Path] = {}
    for name, directory in categories.items():
        if not valid_category(name):
            raise ConfigError(f"[qbittorrent] categories: {name!r} is not a valid category name")
        if not isinstance(directory, str) or not os.path.isabs(os.path.expanduser(directory)):
            raise ConfigError(f"[qbittorrent] categories: {name} must be an absolute directory")
        paths[name] = Path(directory).expanduser()
    download_dir = qb.get("download_dir")
    if download_dir is not None and (not isinstance(download_dir, str)
                                     or not os.path.isabs(os.path.expanduser(download_dir))):
        raise ConfigError("[qbittorrent] download_dir must be an absolute directory")
    return QbittorrentConfig(host=host, port=port, username=username, password=password,
                             categories=paths,
                             download_dir=Path(download_dir).expanduser() if download_dir
                             else state_dir / "qbittorrent")


def load_media(config: Any, raw: dict[str, Any], env: dict[str, str]) -> None:
    """Fills config.notify, config.qbittorrent and config.library from the TOML."""
    notify = raw.get("notify", [])
    if isinstance(notify, dict):
        notify = [notify]
    if not isinstance(notify, list):
        raise ConfigError("[[notify]] must be an array of tables")
    config.notify = [_notify(entry, i) for i, entry in enumerate(notify)]

    qb = raw.get("qbittorrent")
    if qb is not None:
        if not isinstance(qb, dict):
            raise ConfigError("[qbittorrent] must be a table")
        if config.realdebrid is None:
            raise ConfigError("[qbittorrent] needs a [realdebrid] section (torrents are added there)")
        config.qbittorrent = _qbittorrent(qb, env, config.state_dir)

    library = raw.get("library", {})
    if not isinstance(library, dict):
        raise ConfigError("[library] must be a table")
    unknown = set(library) - {"enabled"}
    if unknown:
        raise ConfigError(f"unknown key(s) in [library]: {', '.join(sorted(unknown))}")
    enabled = library.get("enabled", False)
    if not isinstance(enabled, bool):
        raise ConfigError("[library] enabled must be true or false")
    if enabled and config.realdebrid is None:
        raise ConfigError("[library] enabled needs a [realdebrid] section (the library shows its torrents)")
    config.library = LibraryConfig(enabled=enabled)
