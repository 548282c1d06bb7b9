"""Configuration: the one home of every setting.

The file is TOML (default `~/.config/debridfs/config.toml`, following XDG).
Each provider has a section; secrets may also come from the environment
(`DEBRIDFS_REALDEBRID_TOKEN`). Secrets are kept out of `repr()` so they never
reach a log line or a traceback.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "debridfs"
REALDEBRID_API_URL = "https://api.real-debrid.com/rest/1.0"
RAPIDGATOR_API_URL = "https://rapidgator.net/api/v2"
RAPIDGATOR_CREDENTIALS = "rapidgator-credentials.json"   # written by `debridfs login rapidgator`
PREMIUMIZE_API_URL = "https://api.premiumize.me/pm-api/v1.php"
RAPIDSHARE_API_URL = "https://api.rapidshare.com/cgi-bin/rsapi.cgi"


class ConfigError(Exception):
    """The configuration is missing, malformed or incomplete."""


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def parse_size(value: int | str) -> int:
    """'4MiB' -> 4194304, '1GB' -> 10**9, 1024 -> 1024."""
    if isinstance(value, int):
        return value
    text = str(value).strip().upper().replace(" ", "")
    units = [("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30), ("TIB", 1 << 40),
             ("KB", 10**3), ("MB", 10**6), ("GB", 10**9), ("TB", 10**12),
             ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("B", 1)]
    for suffix, factor in units:
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(text)


@dataclass
class RealDebridConfig:
    token: str | None = field(default=None, repr=False)
    api_url: str = REALDEBRID_API_URL
    oauth_url: str | None = None                 # default: next to api_url (.../oauth/v2)
    credentials_file: Path | None = None         # written by `debridfs login realdebrid`
    refresh_interval: float = 60.0               # seconds between background syncs
    downloads_refresh_interval: float = 300.0    # seconds between /downloads syncs
    rate_limit_per_minute: int = 250
    allow_delete: bool = False
    on_change: list[str] | None = None           # command (argv) run with the changed paths
    groups: dict[str, str] = field(default_factory=dict)   # directory name -> regex on torrent names
    extensions: list[str] | None = None          # only files with these extensions appear


REALDEBRID_KEYS = {"token", "api_url", "oauth_url", "refresh_interval", "downloads_refresh_interval",
                   "rate_limit_per_minute", "allow_delete", "on_change", "groups", "extensions"}
REALDEBRID_CREDENTIALS = "realdebrid-credentials.json"


def _realdebrid(rd: dict[str, Any], token: str | None, config_dir: Path) -> RealDebridConfig:
    import re

    on_change = rd.get("on_change")
    if isinstance(on_change, str):
        import shlex

        on_change = shlex.split(on_change)
    groups = rd.get("groups", {})
    if not isinstance(groups, dict):
        raise ConfigError("[realdebrid.groups] must be a table of name = \"regex\"")
    for name, pattern in groups.items():
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise ConfigError(f"[realdebrid.groups] {name}: bad regular expression: {exc}") from None
    extensions = rd.get("extensions")
    if extensions is not None:
        extensions = [str(e).lower().lstrip(".") for e in extensions]
    result = RealDebridConfig(
        token=token, api_url=rd.get("api_url", REALDEBRID_API_URL).rstrip("/"),
        oauth_url=rd.get("oauth_url"), credentials_file=config_dir / REALDEBRID_CREDENTIALS,
        refresh_interval=float(rd.get("refresh_interval", 60.0)),
        downloads_refresh_interval=float(rd.get("downloads_refresh_interval", 300.0)),
        rate_limit_per_minute=int(rd.get("rate_limit_per_minute", 250)),
        allow_delete=bool(rd.get("allow_delete", False)), on_change=on_change or None,
        groups={str(k): str(v) for k, v in groups.items()}, extensions=extensions)
    if result.refresh_interval <= 0 or result.rate_limit_per_minute <= 0:
        raise ConfigError("[realdebrid] refresh_interval and rate_limit_per_minute must be positive")
    return result


@dataclass
class PortalConfig:
    """[portal]: the portal external API v1 (a link service; no public default host)."""
    api_key: str | None = field(default=None, repr=False)
    api_url: str = ""
    max_wait: float = 20.0                 # seconds a read waits for a link that is not ready yet


@dataclass
class PremiumizeConfig:
    """[premiumize]: the Premiumize.me legacy API (login = customer id, password = PIN)."""
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    api_url: str = PREMIUMIZE_API_URL
    account_check_interval: float = 600.0  # seconds between accountstatus checks (fair use in .status)


@dataclass
class RapidShareConfig:
    """[rapidshare]: rsapi.cgi; without login/password downloads are free (with countdowns)."""
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    api_url: str = RAPIDSHARE_API_URL
    max_wait: float = 20.0                 # longest free-user countdown a read sits through


@dataclass
class RapidgatorConfig:
    """[rapidgator]: a token, or login + password (to log in and renew the token).
    `debridfs login rapidgator` stores its token (and, if the user agrees, the
    login and password) in `credentials_file` (0600) next to the config file."""
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    api_url: str = RAPIDGATOR_API_URL
    credentials_file: Path | None = None


@dataclass
class CacheConfig:
    block_size: int = 4 << 20
    memory_size: int = 256 << 20
    cache_dir: Path | None = None          # persistent disk cache; off when unset
    cache_max_size: int = 10 << 30


@dataclass
class ReadConfig:
    timeout: float = 60.0                  # a read that cannot be served ends in EIO by then
    max_connections_per_file: int = 8
    max_connections: int = 32
    read_ahead_max: int = 64 << 20
    prefetch_budget: int = 64 << 20        # read-ahead in flight, all files together
    keep_open_seconds: float = 5.0         # read state kept after release (players reopen)


@dataclass
class MountConfig:
    read_ahead_kb: int | None = 1024       # raise the kernel's read-ahead when root; None: leave it
    entry_timeout: float = 5.0
    attr_timeout: float = 5.0
    allow_other: bool = False
    listing_ttl: float = 10.0              # how long a directory listing is trusted


@dataclass
class Config:
    path: Path | None = None
    realdebrid: RealDebridConfig | None = None
    rapidgator: RapidgatorConfig | None = None
    portal: PortalConfig | None = None
    premiumize: PremiumizeConfig | None = None
    rapidshare: RapidShareConfig | None = None
    cache: CacheConfig = field(default_factory=CacheConfig)
    read: ReadConfig = field(default_factory=ReadConfig)
    mount: MountConfig = field(default_factory=MountConfig)
    notify: list[Any] = field(default_factory=list)        # vfs/media_config.py NotifyConfig
    qbittorrent: Any = None                                # vfs/media_config.py QbittorrentConfig
    library: Any = None                                    # vfs/media_config.py LibraryConfig
    state_dir: Path = field(default_factory=lambda: Path(platformdirs.user_state_dir(APP_NAME)))
    cache_root: Path = field(default_factory=lambda: Path(platformdirs.user_cache_dir(APP_NAME)))
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def _section(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table")
    return value


def _known(section: dict[str, Any], name: str, keys: set[str]) -> None:
    unknown = set(section) - keys
    if unknown:
        raise ConfigError(f"unknown key(s) in [{name}]: {', '.join(sorted(unknown))}")


def load_config(path: Path | None = None, env: dict[str, str] | None = None) -> Config:
    """Reads the TOML file (if it exists) and the environment into a Config."""
    env = dict(os.environ if env is None else env)
    path = path or default_config_path()
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    elif path != default_config_path():
        raise ConfigError(f"config file {path} does not exist")

    config = Config(path=path, raw=raw)

    rd = _section(raw, "realdebrid")
    _known(rd, "realdebrid", REALDEBRID_KEYS)
    rd_token = env.get("DEBRIDFS_REALDEBRID_TOKEN") or rd.get("token")
    config_dir = path.parent
    if "realdebrid" in raw or rd_token or (config_dir / REALDEBRID_CREDENTIALS).exists():
        config.realdebrid = _realdebrid(rd, rd_token, config_dir)

    _load_link_services(config, raw, env)
    _load_rapidgator(config, raw, path)

    cache = _section(raw, "cache")
    _known(cache, "cache", {"block_size", "memory_size", "cache_dir", "cache_max_size"})
    config.cache = CacheConfig(
        block_size=parse_size(cache.get("block_size", CacheConfig.block_size)),
        memory_size=parse_size(cache.get("memory_size", CacheConfig.memory_size)),
        cache_dir=Path(cache["cache_dir"]).expanduser() if cache.get("cache_dir") else None,
        cache_max_size=parse_size(cache.get("cache_max_size", CacheConfig.cache_max_size)),
    )
    if config.cache.block_size < 64 * 1024 or config.cache.block_size & (config.cache.block_size - 1):
        raise ConfigError("[cache] block_size must be a power of two of at least 64KiB")

    read = _section(raw, "read")
    _known(read, "read", set(ReadConfig.__dataclass_fields__))
    config.read = ReadConfig(**{k: parse_size(v) if k in ("read_ahead_max", "prefetch_budget") else v
                                for k, v in read.items()})

    mount = _section(raw, "mount")
    _known(mount, "mount", set(MountConfig.__dataclass_fields__))
    config.mount = MountConfig(**mount)
    if mount.get("read_ahead_kb", 1) in (False, 0):
        config.mount.read_ahead_kb = None

    paths = _section(raw, "paths")
    _known(paths, "paths", {"state_dir", "cache_root"})
    if "state_dir" in paths:
        config.state_dir = Path(paths["state_dir"]).expanduser()
    if "cache_root" in paths:
        config.cache_root = Path(paths["cache_root"]).expanduser()

    from .media_config import load_media   # [[notify]], [qbittorrent], [library]

    load_media(config, raw, env)
    return config


def _load_link_services(config: Config, raw: dict[str, Any], env: dict[str, str]) -> None:
    """[portal], [premiumize], [rapidshare]: enabled when their section exists."""
    portal = _section(raw, "portal")
    _known(portal, "portal", {"api_key", "api_url", "max_wait"})
    if "portal" in raw:
        config.portal = PortalConfig(api_key=env.get("DEBRIDFS_PORTAL_API_KEY") or portal.get("api_key"),
                                     api_url=str(portal.get("api_url", "")).rstrip("/"),
                                     max_wait=float(portal.get("max_wait", PortalConfig.max_wait)))
    pm = _section(raw, "premiumize")
    _known(pm, "premiumize", {"login", "password", "api_url", "account_check_interval"})
    if "premiumize" in raw:
        config.premiumize = PremiumizeConfig(
            login=str(pm["login"]) if pm.get("login") is not None else None,
            password=env.get("DEBRIDFS_PREMIUMIZE_PASSWORD") or (str(pm["password"]) if pm.get("password") is not None else None),
            api_url=str(pm.get("api_url", PREMIUMIZE_API_URL)),
            account_check_interval=float(pm.get("account_check_interval",
                                                PremiumizeConfig.account_check_interval)))
    rs = _section(raw, "rapidshare")
    _known(rs, "rapidshare", {"login", "password", "api_url", "max_wait"})
    if "rapidshare" in raw:
        config.rapidshare = RapidShareConfig(
            login=str(rs["login"]) if rs.get("login") else None,
            password=env.get("DEBRIDFS_RAPIDSHARE_PASSWORD") or (str(rs["password"]) if rs.get("password") else None),
            api_url=str(rs.get("api_url", RAPIDSHARE_API_URL)),
            max_wait=float(rs.get("max_wait", RapidShareConfig.max_wait)))


def _load_rapidgator(config: Config, raw: dict[str, Any], path: Path) -> None:
    """[rapidgator]: enabled by its section or by stored login credentials."""
    rg = _section(raw, "rapidgator")
    _known(rg, "rapidgator", {"login", "token", "password", "api_url"})
    credentials_file = path.parent / RAPIDGATOR_CREDENTIALS
    if "rapidgator" not in raw and not credentials_file.exists():
        return
    config.rapidgator = RapidgatorConfig(
        login=str(rg["login"]) if rg.get("login") else None,
        password=str(rg["password"]) if rg.get("password") else None,
        token=str(rg["token"]) if rg.get("token") else None,
        api_url=str(rg.get("api_url", RAPIDGATOR_API_URL)).rstrip("/"),
        credentials_file=credentials_file)
