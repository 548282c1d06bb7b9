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
    prefetch_budget: int = 512 << 20       # all files' prefetched-but-unread bytes together
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
    cache: CacheConfig = field(default_factory=CacheConfig)
    read: ReadConfig = field(default_factory=ReadConfig)
    mount: MountConfig = field(default_factory=MountConfig)
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
    _known(rd, "realdebrid", {"token", "api_url"})
    rd_token = env.get("DEBRIDFS_REALDEBRID_TOKEN") or rd.get("token")
    if "realdebrid" in raw or rd_token:
        config.realdebrid = RealDebridConfig(token=rd_token,
                                             api_url=rd.get("api_url", REALDEBRID_API_URL).rstrip("/"))

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
    return config
