"""Configuration: the one home of every setting.

The file is TOML (default `~/.config/debridfs/config.toml`, following XDG).
Its schema is a set of pydantic models, one per section: values are typed
and checked when the file is loaded (strict booleans, sizes, durations,
URLs), unknown sections and keys are refused with a "did you mean" hint, and
every problem becomes one line naming the file, section, key, value and what
was expected. Secrets may also come from the environment
(`DEBRIDFS_REALDEBRID_TOKEN`...) and are kept out of `repr()` and error
messages. docs/config.md is generated from these models (vfs/configdoc.py).
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import os
import re
import shlex
import stat
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import platformdirs
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
)
from pydantic_core import ErrorDetails, PydanticCustomError

log = logging.getLogger(__name__)

APP_NAME = "debridfs"
REALDEBRID_API_URL = "https://api.real-debrid.com/rest/1.0"
RAPIDGATOR_API_URL = "https://rapidgator.net/api/v2"
RAPIDGATOR_CREDENTIALS = "rapidgator-credentials.json"  # written by `debridfs login rapidgator`
REALDEBRID_CREDENTIALS = "realdebrid-credentials.json"  # written by `debridfs login realdebrid`
PREMIUMIZE_API_URL = "https://api.premiumize.me/pm-api/v1.php"
RAPIDSHARE_API_URL = "https://api.rapidshare.com/cgi-bin/rsapi.cgi"

# Environment variables that supply a secret (they win over the file).
SECRET_ENV = {
    ("realdebrid", "token"): "DEBRIDFS_REALDEBRID_TOKEN",
    ("rapidgator", "token"): "DEBRIDFS_RAPIDGATOR_TOKEN",
    ("rapidgator", "password"): "DEBRIDFS_RAPIDGATOR_PASSWORD",
    ("portal", "api_key"): "DEBRIDFS_PORTAL_API_KEY",
    ("premiumize", "password"): "DEBRIDFS_PREMIUMIZE_PASSWORD",
    ("rapidshare", "password"): "DEBRIDFS_RAPIDSHARE_PASSWORD",
    ("qbittorrent", "password"): "DEBRIDFS_QBITTORRENT_PASSWORD",
}
SECRET_KEYS = {"token", "password", "api_key"}  # masked in error lines wherever they are


class ConfigError(Exception):
    """The configuration is missing, malformed or incomplete."""


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


# --- value types -------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """What a value looks like, for docs/config.md (kept in the field's metadata)."""

    text: str


SIZE_UNITS = {
    "": 1,
    "B": 1,
    "K": 1 << 10,
    "KIB": 1 << 10,
    "M": 1 << 20,
    "MIB": 1 << 20,
    "G": 1 << 30,
    "GIB": 1 << 30,
    "T": 1 << 40,
    "TIB": 1 << 40,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
}
DURATION_UNITS = {
    "": 1,
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "ms": 0.001,
    "m": 60,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
}
SIZE_EXPECTED = 'expected a size: a whole number of bytes or a number with a unit ("4MiB", "1GB")'
DURATION_EXPECTED = 'expected a duration: seconds as a number, or with a unit ("90s", "5min", "1h")'


def parse_size(value: int | float | str) -> int:
    """'4MiB' -> 4194304, '1GB' -> 10**9, 1024 -> 1024; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", str(value))
    if not match or match.group(2).upper() not in SIZE_UNITS:
        raise ValueError(value)
    if isinstance(value, float) and not value.is_integer():  # 1.5 bytes
        raise ValueError(value)
    return int(float(match.group(1)) * SIZE_UNITS[match.group(2).upper()])


def parse_duration(value: float | str) -> float:
    """90 -> 90.0, '5min' -> 300.0, '1.5h' -> 5400.0; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        if not math.isfinite(value):  # TOML's inf and nan: a read must never wait forever
            raise ValueError(value)
        return float(value)
    match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", str(value))
    if not match or match.group(2).lower() not in DURATION_UNITS:
        raise ValueError(value)
    return float(match.group(1)) * DURATION_UNITS[match.group(2).lower()]


def _checked(parse: Callable[[Any], Any], expected: str) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        try:
            return parse(value)
        except (ValueError, TypeError):
            raise PydanticCustomError("debridfs", expected) from None

    return validate


def _at_least(minimum: int, strict: bool, what: str) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        if value < minimum or (strict and value == minimum):
            relation = "greater than" if strict else "of at least"
            raise PydanticCustomError("debridfs", f"expected {what} {relation} {minimum}")
        return value

    return validate


def _url(value: str) -> str:
    """http(s)://host[...], without a trailing slash."""
    from urllib.parse import urlsplit

    if value == "":
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError("debridfs", "expected an http:// or https:// URL")
    return value.rstrip("/")


def _command(value: Any) -> list[str] | None:
    if isinstance(value, str):
        try:
            value = shlex.split(value)
        except ValueError as exc:
            raise PydanticCustomError("debridfs", f"cannot split the command ({exc})") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PydanticCustomError("debridfs", "expected a command: a string or a list of strings")
    return value or None


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise PydanticCustomError("debridfs", f"bad regular expression: {exc}") from None
    return value


def _block_size(value: int) -> int:
    if value < 64 * 1024 or value & (value - 1):
        raise PydanticCustomError("debridfs", "expected a power of two of at least 64KiB")
    return value


def _read_ahead_kb(value: Any) -> int | None:
    if value is False or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PydanticCustomError("debridfs", "expected a positive whole number of KiB, or false")
    return value


Size = Annotated[
    int,
    BeforeValidator(_checked(parse_size, SIZE_EXPECTED)),
    AfterValidator(_at_least(0, False, "a size")),
    Kind("size"),
]
Seconds = Annotated[
    float,
    BeforeValidator(_checked(parse_duration, DURATION_EXPECTED)),
    AfterValidator(_at_least(0, True, "a duration")),
    Kind("duration > 0"),
]
SecondsOrZero = Annotated[
    float,
    BeforeValidator(_checked(parse_duration, DURATION_EXPECTED)),
    AfterValidator(_at_least(0, False, "a duration")),
    Kind("duration"),
]
Count = Annotated[StrictInt, AfterValidator(_at_least(1, False, "a whole number")), Kind("integer >= 1")]
Bool = Annotated[StrictBool, Kind("boolean")]
Url = Annotated[str, AfterValidator(_url), Kind("URL")]
Text = Annotated[str, Kind("string")]


def clean_secret(value: str) -> str:
    """A token pasted with its line end or a space around it is the same token;
    one with a control character or a space inside cannot go into an HTTP
    header (and would fail later as if the service could not be reached)."""
    value = value.strip()
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError("it holds a space or a control character (pasted with something else?)")
    return value


def _secret(value: str) -> str:
    try:
        return clean_secret(value)
    except ValueError as exc:
        raise PydanticCustomError("debridfs", str(exc)) from None


Secret = Annotated[str, Kind("string, secret")]
# Sent in a header or a URL (tokens, API keys); passwords may hold spaces.
Token = Annotated[str, AfterValidator(_secret), Kind("string, secret")]
FilePath = Annotated[Path, AfterValidator(lambda p: p.expanduser()), Kind("path")]
Command = Annotated[list[str] | None, BeforeValidator(_command), Kind("command")]
Extensions = Annotated[
    list[str] | None,
    AfterValidator(lambda v: None if v is None else [e.lower().lstrip(".") for e in v]),
    Kind("list of strings"),
]
Groups = Annotated[dict[str, Annotated[str, AfterValidator(_regex)]], Kind("table of name = regex")]


def _absolute_path(value: Any) -> Path:
    if not isinstance(value, (str, Path)) or not os.path.isabs(os.path.expanduser(str(value))):
        raise PydanticCustomError("debridfs", "expected an absolute path")
    return Path(value).expanduser()


def _path_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k.startswith("/") and v.startswith("/")
        for k, v in value.items()
    ):
        raise PydanticCustomError("debridfs", 'expected a table of absolute paths: { "/mnt" = "/data" }')
    return {k.rstrip("/") or "/": v.rstrip("/") or "/" for k, v in value.items()}


def valid_category(name: str) -> bool:
    """A qBittorrent category name that is safe as one directory name."""
    return (
        bool(name)
        and name not in (".", "..")
        and "/" not in name
        and "\0" not in name
        and len(name.encode()) <= 255
    )


def _categories(value: dict[str, Path]) -> dict[str, Path]:
    for name in value:
        if not valid_category(name):
            raise PydanticCustomError("debridfs", f"{name!r} is not a valid category name")
    return value


def parse_listen(value: Any) -> tuple[str, int]:
    """'127.0.0.1:8282' or '[::1]:8282' -> (host, port); ValueError otherwise."""
    import ipaddress

    host, _, port_text = str(value).rpartition(":")
    host = host.strip("[]")
    port = int(port_text)
    if host != "localhost":
        ipaddress.ip_address(host)
    if not 0 <= port <= 65535:
        raise ValueError(value)
    return host, port


def _listen(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("debridfs", 'expected "ADDRESS:PORT", e.g. "127.0.0.1:8282"')
    _checked(parse_listen, 'expected "ADDRESS:PORT" with a numeric address, e.g. "127.0.0.1:8282"')(value)
    return value


AbsolutePath = Annotated[Path, BeforeValidator(_absolute_path), Kind("absolute path")]
PathMap = Annotated[dict[str, str], BeforeValidator(_path_map), Kind("table of path = path")]
Categories = Annotated[
    dict[str, AbsolutePath], AfterValidator(_categories), Kind("table of name = absolute path")
]
Listen = Annotated[str, BeforeValidator(_listen), Kind('"address:port"')]


def secret_field(description: str, env: str | None = None) -> Any:
    if env:
        description += f" Also from the environment: `{env}` (wins over the file)."
    return Field(None, repr=False, description=description, json_schema_extra={"secret": True})


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=False)


# --- the sections ------------------------------------------------------------


class RealDebridConfig(Section):
    """[realdebrid]: your Real-Debrid account (torrents and downloads)."""

    token: Token | None = secret_field(
        "Private API token; without it, the credentials stored by `debridfs login realdebrid` are used.",
        SECRET_ENV[("realdebrid", "token")],
    )
    api_url: Url = Field(default=REALDEBRID_API_URL, description="REST API base URL.")
    oauth_url: Url | None = Field(
        default=None,
        description="OAuth base URL for the device login (default: `/oauth/v2` next to api_url).",
    )
    credentials_file: FilePath | None = Field(
        default=None,
        description="Where `debridfs login realdebrid` "
        f"stores its credentials (default: `{REALDEBRID_CREDENTIALS}` "
        "next to the config file).",
    )
    refresh_interval: Seconds = Field(
        default=60.0, description="Seconds between background syncs of the torrents."
    )
    downloads_refresh_interval: Seconds = Field(
        default=300.0, description="Seconds between syncs of the downloads list."
    )
    rate_limit_per_minute: Count = Field(
        default=250, description="API calls a minute, shared by every call of the account."
    )
    allow_delete: Bool = Field(
        default=False, description="`rm` of a torrent directory or a download deletes it on Real-Debrid."
    )
    on_change: Command = Field(
        default=None,
        description="Command (a string split like a shell would, or a "
        "list) run with the changed paths after a sync.",
    )
    groups: Groups = Field(
        default_factory=dict,
        description="Extra directories: name = regular expression on torrent names (`[realdebrid.groups]`).",
    )
    extensions: Extensions = Field(
        default=None, description="Only files with these extensions appear (default: all)."
    )
    repair: Bool = Field(
        default=True,
        description="Re-add (same hash, same files) torrents whose links "
        "answer hoster_unavailable (code 19); false only reports them broken in "
        "torrents/.status.",
    )
    repair_interval: SecondsOrZero = Field(
        default=86400.0, description="Seconds between two repairs of one torrent."
    )
    repair_max_attempts: Count = Field(
        default=2, description="Repairs tried per torrent before it is reported broken."
    )


class RapidgatorConfig(Section):
    """[rapidgator]: a token, or login + password (to log in and renew the token).
    `debridfs login rapidgator` stores its token (and, if the user agrees, the
    login and password) in `credentials_file` (0600) next to the config file."""

    login: Text | None = Field(default=None, description="Account e-mail.")
    password: Secret | None = secret_field("Account password.", SECRET_ENV[("rapidgator", "password")])
    token: Token | None = secret_field("API token.", SECRET_ENV[("rapidgator", "token")])
    api_url: Url = Field(default=RAPIDGATOR_API_URL, description="API v2 base URL.")
    credentials_file: FilePath | None = Field(
        default=None,
        description="Where `debridfs login rapidgator` "
        f"stores its token (default: `{RAPIDGATOR_CREDENTIALS}` "
        "next to the config file).",
    )


class PortalConfig(Section):
    """[portal]: the portal external API v1 (a link service; no public default host)."""

    api_key: Token | None = secret_field("API key (obb_...).", SECRET_ENV[("portal", "api_key")])
    api_url: Url = Field(
        default="", description="API base URL, https://<your-portal-host>/api/external/v1 (required)."
    )
    max_wait: SecondsOrZero = Field(
        default=20.0, description="Seconds a read waits for a link that is not ready yet."
    )


class PremiumizeConfig(Section):
    """[premiumize]: the Premiumize.me legacy API (login = customer id, password = PIN)."""

    login: Text | None = Field(default=None, description="Customer id.")
    password: Secret | None = secret_field("PIN.", SECRET_ENV[("premiumize", "password")])
    api_url: Url = Field(default=PREMIUMIZE_API_URL, description="API URL.")
    account_check_interval: Seconds = Field(
        default=600.0, description="Seconds between account checks (fair use in `.status`)."
    )


class RapidShareConfig(Section):
    """[rapidshare]: RapidShare's rsapi.cgi; without login/password downloads are free (with countdowns)."""

    login: Text | None = Field(default=None, description="Account login (none: free downloads).")
    password: Secret | None = secret_field("Account password.", SECRET_ENV[("rapidshare", "password")])
    api_url: Url = Field(default=RAPIDSHARE_API_URL, description="rsapi.cgi URL.")
    max_wait: SecondsOrZero = Field(
        default=20.0, description="Longest free-user countdown a read sits through."
    )


class CacheConfig(Section):
    """[cache]: memory and disk caches of file contents."""

    block_size: Annotated[Size, AfterValidator(_block_size)] = Field(
        default=4 << 20, description="The largest single ranged request (a power of two, at least 64KiB)."
    )
    memory_size: Size = Field(default=256 << 20, description="Memory cache (LRU by bytes).")
    cache_dir: FilePath | None = Field(
        default=None, description="Persistent disk cache of file contents; off when unset."
    )
    cache_max_size: Size = Field(
        default=10 << 30, description="The disk cache evicts least-recently-used files beyond this."
    )


class ReadConfig(Section):
    """[read]: how reads become HTTP requests."""

    timeout: Seconds = Field(
        default=60.0, description="Seconds before a read that cannot be served fails with EIO."
    )
    stall_timeout: Seconds = Field(
        default=5.0,
        description="Seconds without a byte before a connection is given up and the range asked again.",
    )
    max_connections_per_file: Count = Field(
        default=8, description="Connections per file (also capped by the service's own limit)."
    )
    max_connections: Count = Field(default=32, description="Connections, all files together.")
    read_ahead_max: Size = Field(
        default=64 << 20, description="The most one sequential reader fetches ahead."
    )
    prefetch_budget: Size = Field(default=64 << 20, description="Read-ahead in flight, all files together.")
    keep_open_seconds: SecondsOrZero = Field(
        default=5.0, description="Read state kept after close (players close and reopen)."
    )


class MountConfig(Section):
    """[mount]: how the kernel sees the mount."""

    read_ahead_kb: Annotated[int | None, BeforeValidator(_read_ahead_kb), Kind("integer or false")] = Field(
        default=1024,
        description="Kernel read-ahead of the mount in KiB, set when running as root; false "
        "leaves the kernel default.",
    )
    entry_timeout: SecondsOrZero = Field(default=5.0, description="Seconds the kernel caches names.")
    attr_timeout: SecondsOrZero = Field(default=5.0, description="Seconds the kernel caches attributes.")
    allow_other: Bool = Field(
        default=False,
        description="Let other users (e.g. a plex user) see the mount; "
        "needs `user_allow_other` in /etc/fuse.conf unless root.",
    )
    listing_ttl: SecondsOrZero = Field(default=10.0, description="Seconds a directory listing is trusted.")
    read_only: Bool = Field(
        default=False, description="Refuse every write, add and delete (EROFS); `--read-only` or `-o ro`."
    )
    allow_non_empty: Bool = Field(
        default=False,
        description="Mount over a directory that is not empty "
        "(its files are hidden meanwhile); `--allow-non-empty`.",
    )


class PathsConfig(Section):
    """[paths]: where debridfs keeps its own files."""

    state_dir: FilePath | None = Field(
        default=None,
        description="State (sqlite, upload journals, spools of "
        "files being written, the mount lock, log of --daemon); "
        "default: the XDG state dir, `~/.local/state/debridfs`. "
        "One mount per state dir.",
    )
    cache_root: FilePath | None = Field(
        default=None,
        description="Root for caches debridfs may lose "
        "(spools moved to the state dir); default: the XDG cache "
        "dir, `~/.cache/debridfs`.",
    )


class NotifyConfig(Section):
    """[[notify]]: a media server told about changed directories (one table per server)."""

    kind: Annotated[Literal["plex", "jellyfin", "emby"], Kind("plex, jellyfin or emby")] = Field(
        default=..., description="The server's kind."
    )
    url: Url = Field(default=..., description="The server's base URL (e.g. http://127.0.0.1:32400).")
    token: Token = Field(
        default=...,
        repr=False,
        json_schema_extra={"secret": True},
        description="X-Plex-Token, or the Jellyfin/Emby API key.",
    )
    path_map: PathMap = Field(
        default_factory=dict,
        description="Mount path prefix = the same place as the server sees it (the longest prefix wins).",
    )
    batch_seconds: SecondsOrZero = Field(
        default=5.0, description="Changes are collected this long, then sent together."
    )
    min_interval: SecondsOrZero = Field(default=2.0, description="Seconds between two calls to this server.")
    retries: Count = Field(
        default=5, description="Attempts of one batch (with backoff) before it is given up."
    )


class QbittorrentConfig(Section):
    """[qbittorrent]: a qBittorrent WebAPI v2 subset for Sonarr and Radarr (off unless present)."""

    listen: Listen = Field(default="127.0.0.1:8282", description="Address and port the API listens on.")
    username: Text = Field(default=..., description="What Sonarr/Radarr log in with.")
    password: Secret | None = secret_field(
        "What Sonarr/Radarr log in with (required).", SECRET_ENV[("qbittorrent", "password")]
    )
    categories: Categories = Field(
        default_factory=dict,
        description="Category = the local directory that gets the symlinks of its finished torrents.",
    )
    download_dir: AbsolutePath | None = Field(
        default=None,
        description="Where categories the apps create go (default: `qbittorrent/` in the state dir).",
    )

    @property
    def host(self) -> str:
        return parse_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return parse_listen(self.listen)[1]


class LibraryConfig(Section):
    """[library]: MOUNT/library/{movies,shows}, the torrents placed by their release names."""

    enabled: Bool = Field(default=False, description="Show the library view.")


class ConfigFile(BaseModel):
    """The whole file: a section per service, then the tuning sections."""

    model_config = ConfigDict(extra="forbid")
    realdebrid: RealDebridConfig | None = None
    rapidgator: RapidgatorConfig | None = None
    portal: PortalConfig | None = None
    premiumize: PremiumizeConfig | None = None
    rapidshare: RapidShareConfig | None = None
    cache: CacheConfig = Field(default_factory=CacheConfig)
    read: ReadConfig = Field(default_factory=ReadConfig)
    mount: MountConfig = Field(default_factory=MountConfig)
    paths: PathsConfig = Field(default_factory=PathsConfig)
    notify: list[NotifyConfig] = Field(default_factory=list)
    qbittorrent: QbittorrentConfig | None = None
    library: LibraryConfig = Field(default_factory=LibraryConfig)


SERVICES = ("realdebrid", "rapidgator", "portal", "premiumize", "rapidshare")


@dataclass
class Config:
    """What the rest of the code reads: `config.read.timeout`, `config.realdebrid.token`..."""

    path: Path | None = None
    realdebrid: RealDebridConfig | None = None
    rapidgator: RapidgatorConfig | None = None
    portal: PortalConfig | None = None
    premiumize: PremiumizeConfig | None = None
    rapidshare: RapidShareConfig | None = None
    cache: CacheConfig = field(default_factory=CacheConfig)
    read: ReadConfig = field(default_factory=ReadConfig)
    mount: MountConfig = field(default_factory=MountConfig)
    notify: list[NotifyConfig] = field(default_factory=list)
    qbittorrent: QbittorrentConfig | None = None
    library: LibraryConfig = field(default_factory=LibraryConfig)
    state_dir: Path = field(default_factory=lambda: Path(platformdirs.user_state_dir(APP_NAME)))
    cache_root: Path = field(default_factory=lambda: Path(platformdirs.user_cache_dir(APP_NAME)))
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    file_exists: bool = True

    def services(self) -> list[str]:
        return [name for name in SERVICES if getattr(self, name) is not None]


# --- loading -----------------------------------------------------------------


def load_config(
    path: Path | None = None,
    env: dict[str, str] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> Config:
    """Reads the TOML file (if it exists), the command line's `overrides`
    ({section: {key: value}}, from mount flags and -o) and the environment.

    A missing file is an error when named explicitly; the default file may be
    missing (a `debridfs login` may be all the configuration there is)."""
    env = dict(os.environ if env is None else env)
    explicit = path is not None
    path = path or default_config_path()
    raw: dict[str, Any] = {}
    exists = path.exists()
    if exists:
        if path.is_dir():
            raise ConfigError(f"{path} is a directory, not a config file")
        warn_if_readable(path)
        try:
            # TOML is UTF-8; editors on Windows start it with a byte order mark.
            raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read it: {getattr(exc, 'strerror', None) or exc}") from None
    elif explicit:
        raise ConfigError(f"config file {path} does not exist")

    merged = {name: dict(table) if isinstance(table, dict) else table for name, table in raw.items()}
    for section, values in (overrides or {}).items():
        table = merged.setdefault(section, {})
        if isinstance(table, dict):
            table.update(values)
    try:
        parsed = ConfigFile.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(
            "\n".join(describe_error(path, error, overrides or {}) for error in exc.errors())
        ) from None

    anchor_paths(parsed, path.absolute().parent, overrides or {})
    config = Config(
        path=path, raw=raw, cache=parsed.cache, read=parsed.read, mount=parsed.mount, file_exists=exists
    )
    if parsed.paths.state_dir is not None:
        config.state_dir = parsed.paths.state_dir
    if parsed.paths.cache_root is not None:
        config.cache_root = parsed.paths.cache_root
    config_dir = path.parent

    rd = parsed.realdebrid
    if rd is None and (
        env.get(SECRET_ENV[("realdebrid", "token")]) or (config_dir / REALDEBRID_CREDENTIALS).exists()
    ):
        rd = RealDebridConfig()
    if rd is not None:
        rd.credentials_file = rd.credentials_file or config_dir / REALDEBRID_CREDENTIALS
    rg = parsed.rapidgator
    if rg is None and (config_dir / RAPIDGATOR_CREDENTIALS).exists():
        rg = RapidgatorConfig()
    if rg is not None:
        rg.credentials_file = rg.credentials_file or config_dir / RAPIDGATOR_CREDENTIALS
    config.realdebrid, config.rapidgator = rd, rg
    config.portal, config.premiumize, config.rapidshare = parsed.portal, parsed.premiumize, parsed.rapidshare

    config.notify, config.qbittorrent, config.library = parsed.notify, parsed.qbittorrent, parsed.library

    for (section, key), variable in SECRET_ENV.items():
        target = getattr(config, section)
        value = env.get(variable, "")
        if target is not None and value.strip():
            if key != "password":
                try:
                    value = clean_secret(value)
                except ValueError as exc:
                    raise ConfigError(f"environment variable {variable}: {exc}") from None
            setattr(target, key, value)
    _check_media(config, path)
    return config


def anchor_paths(parsed: ConfigFile, config_dir: Path, overrides: dict[str, dict[str, Any]]) -> None:
    """A relative path in the file is relative to the file's directory (so
    `debridfs status` run from anywhere finds the same state dir); one given
    on the command line is relative to the current directory."""
    for name in ConfigFile.model_fields:
        section = getattr(parsed, name)
        if not isinstance(section, BaseModel):
            continue
        for key in type(section).model_fields:
            value = getattr(section, key)
            if isinstance(value, Path) and not value.is_absolute():
                base = Path.cwd() if key in overrides.get(name, {}) else config_dir
                setattr(section, key, base / value)


def _check_media(config: Config, path: Path) -> None:
    """What one section's schema cannot say: [qbittorrent] and [library] need [realdebrid]."""
    qb = config.qbittorrent
    if qb is not None:
        if config.realdebrid is None:
            raise ConfigError(
                f"{path}: [qbittorrent] needs a [realdebrid] section (torrents are added there)"
            )
        if not qb.password:
            raise ConfigError(
                f"{path}: [qbittorrent] password is required (or {SECRET_ENV[('qbittorrent', 'password')]})"
            )
        qb.download_dir = qb.download_dir or config.state_dir / "qbittorrent"
    if config.library.enabled and config.realdebrid is None:
        raise ConfigError(
            f"{path}: [library] enabled needs a [realdebrid] section (the library shows its torrents)"
        )


def warn_if_readable(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("%s is readable by other users and may hold secrets: run `chmod 600 %s`", path, path)


SECTION_MODELS: dict[str, type[BaseModel]] = {
    name: info.annotation
    if isinstance(info.annotation, type)
    else next(a for a in get_args(info.annotation) if a is not type(None))  # X | None
    for name, info in ConfigFile.model_fields.items()
}


def describe_error(path: Path, error: ErrorDetails, overrides: dict[str, dict[str, Any]]) -> str:
    """One line for one pydantic error: file, [section] key = value: what was expected
    (an entry of an array of tables is named `[[notify]] #2`)."""
    line = _describe_error(path, error, overrides)
    return re.sub(r"\[(\w+)\.(\d+)\]", lambda m: f"[[{m.group(1)}]] #{int(m.group(2)) + 1}", line, count=1)


def _describe_error(path: Path, error: ErrorDetails, overrides: dict[str, dict[str, Any]]) -> str:
    loc = [str(part) for part in error["loc"]]
    kind = error["type"]
    if not loc:
        return f"{path}: {error['msg']}"
    section = loc[0]
    if section in overrides and (len(loc) == 1 or loc[1] in overrides[section]):
        path = Path("command line (-o or a mount flag)")
    if len(loc) == 1:
        if kind == "extra_forbidden":
            hint = did_you_mean(section, list(ConfigFile.model_fields))
            return f"{path}: unknown section [{section}]{hint}"
        if kind == "list_type":
            return f"{path}: [[{section}]] takes double brackets (one [[{section}]] table per entry)"
        return f"{path}: [{section}] must be a table (a [{section}] header with key = value lines)"
    key = loc[-1]
    table = ".".join(loc[:-1])
    if kind == "extra_forbidden":
        model = SECTION_MODELS.get(section)
        known = list(model.model_fields) if model is not None and len(loc) == 2 else []
        return f"{path}: [{table}] unknown key {key!r}{did_you_mean(key, known)}"
    if kind == "missing":
        return f"{path}: [{table}] {key} is required"
    secret = (section, key) in SECRET_ENV or key in SECRET_KEYS
    value = "<hidden>" if secret else toml_repr(error.get("input"))
    return f"{path}: [{table}] {key} = {value}: {expected(error)}"


def did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(choices)})" if choices else ""


def expected(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "debridfs":
        return error["msg"]
    if kind.startswith("bool"):
        return "expected true or false (a TOML boolean, without quotes)"
    if kind.startswith("int"):
        return "expected a whole number (without quotes)"
    if kind.startswith("string"):
        return "expected a string (in quotes)"
    if kind.startswith("list"):
        return 'expected a list (["a", "b"])'
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "expected a table"
    if kind == "path_type":
        return "expected a path (a string)"
    return "expected: " + error["msg"].lower()


def toml_repr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, list, dict)):
        text = json.dumps(value, default=str, ensure_ascii=False)
    else:
        text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- showing -----------------------------------------------------------------

MASK = "********"


def effective(config: Config) -> dict[str, Any]:
    """The effective config as TOML-able data, with secrets masked."""
    out: dict[str, Any] = {}
    for name in (*SERVICES, "cache", "read", "mount", "qbittorrent", "library"):
        section = getattr(config, name)
        if section is not None:
            out[name] = _shown(section)
    if config.notify:
        out["notify"] = [_shown(entry) for entry in config.notify]
    out["paths"] = {"state_dir": str(config.state_dir), "cache_root": str(config.cache_root)}
    return out


def _shown(section: BaseModel) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for key, info in type(section).model_fields.items():
        value = getattr(section, key)
        if value is None:
            continue
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get("secret"):
            value = MASK
        elif isinstance(value, Path):
            value = str(value)
        elif isinstance(value, dict):
            value = {k: str(v) if isinstance(v, Path) else v for k, v in value.items()}
        table[key] = value
    return table
