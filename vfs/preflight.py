"""Checks before mounting, each failing with one line that says what to do.

The mount point (missing, a file, not empty, a stale FUSE mount, already
mounted) and the machine (/dev/fuse, fusermount3, user_allow_other) are
checked here, before any service is asked anything; the services' own
checks (api_url answering, credentials) run in their sources' `check()`.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import trio

from clients.errors import AuthError, RemoteError
from clients.http import redact_url

from .config import Config

log = logging.getLogger(__name__)

FUSE_DEVICE = Path("/dev/fuse")
FUSE_CONF = Path("/etc/fuse.conf")


class PreflightError(Exception):
    """The mount cannot work; the message says why and what to do."""


class ServiceUnreachable(PreflightError):
    """An api_url does not answer: maybe the network, so worth trying again
    later (unlike the other preflight errors, which need the user)."""


def check_mountpoint(mountpoint: Path, allow_non_empty: bool = False) -> None:
    try:
        os.stat(mountpoint)
    except FileNotFoundError:
        raise PreflightError(
            f"mount point {mountpoint} does not exist: create it first (`mkdir -p {mountpoint}`)"
        ) from None
    except OSError as exc:
        if exc.errno == errno.ENOTCONN:
            raise PreflightError(
                f"{mountpoint} is left over from a mount whose process died: run "
                f"`fusermount3 -uz {mountpoint}` first"
            ) from None
        raise PreflightError(f"mount point {mountpoint}: {exc.strerror}") from None
    if not os.path.isdir(mountpoint):
        raise PreflightError(f"mount point {mountpoint} is a file, not a directory")
    if is_mount_point(mountpoint):
        raise PreflightError(
            f"{mountpoint} is already a mount point (unmount it first: `fusermount3 -u {mountpoint}`)"
        )
    if not allow_non_empty:
        try:
            with os.scandir(mountpoint) as entries:
                occupied = next(entries, None) is not None
        except OSError as exc:
            raise PreflightError(f"mount point {mountpoint}: {exc.strerror}") from None
        if occupied:
            raise PreflightError(
                f"mount point {mountpoint} is not empty (the mount would hide its "
                "files): use an empty directory, or --allow-non-empty"
            )


def is_mount_point(path: Path) -> bool:
    """From the mount table (os.path.ismount misses bind mounts of the same device)."""
    target = str(path)
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            point = line.split()[1].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
            if point == target:
                return True
    return os.path.ismount(path)


def check_machine(
    allow_other: bool,
    device: Path = FUSE_DEVICE,
    fuse_conf: Path = FUSE_CONF,
    is_root: bool | None = None,
    fusermount: str | None = "",
) -> None:
    """/dev/fuse, fusermount3 (needed unless root) and user_allow_other."""
    is_root = os.geteuid() == 0 if is_root is None else is_root
    if not device.exists():
        raise PreflightError(
            f"{device} is missing: load the fuse module (`modprobe fuse`), or in a "
            "container pass `--device /dev/fuse --cap-add SYS_ADMIN`"
        )
    if fusermount == "":
        fusermount = shutil.which("fusermount3")
    if not is_root and fusermount is None:
        raise PreflightError("fusermount3 is missing: install fuse3 (`apt install fuse3`)")
    if allow_other and not is_root and not user_allow_other(fuse_conf):
        raise PreflightError(
            f"allow_other needs a line `user_allow_other` in {fuse_conf} when not "
            "root (or mount without allow_other)"
        )


def user_allow_other(fuse_conf: Path) -> bool:
    try:
        lines = fuse_conf.read_text().splitlines()
    except OSError:
        return False
    return any(line.split("#", 1)[0].strip() == "user_allow_other" for line in lines)


def check_dirs(config: Config) -> None:
    """The state dir (and the disk cache) can be made private and written to:
    an unwritable XDG dir is one line here, not a failure halfway through."""
    dirs = [("[paths] state_dir", config.state_dir)]
    if config.cache.cache_dir is not None:
        dirs.append(("[cache] cache_dir", config.cache.cache_dir))
    for key, path in dirs:
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise PreflightError(
                f"{key} {path}: cannot create it ({exc.strerror}): set {key} to a writable directory"
            ) from None
        if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
            raise PreflightError(f"{key} {path} is not a writable directory: set {key} to one")


def preflight(mountpoint: Path, config: Config) -> None:
    check_mountpoint(mountpoint, config.mount.allow_non_empty)
    check_machine(config.mount.allow_other)
    check_dirs(config)


# --- the services ------------------------------------------------------------

CONNECT_TIMEOUT = 10.0


def service_url(config: Config, name: str) -> str | None:
    return getattr(getattr(config, name, None), "api_url", None) or None


async def check_sources(sources: list[Any], config: Config, http: httpx.AsyncClient) -> None:
    """Each source's `check()` (account, credentials), after making sure its
    api_url answers at all, so a wrong URL is one clear line within 10 s."""
    for source in sources:
        url = service_url(config, source.name)
        if url is not None:
            await check_reachable(source.name, url)
        try:
            await source.check()
        except AuthError as exc:
            if f"[{source.name}]" not in str(exc):  # name the section to fix
                exc.args = (f"[{source.name}] {exc}",)
            raise
        except (RemoteError, ValueError, KeyError, TypeError):
            if url is not None and await answers_html(http, url):
                raise PreflightError(
                    f"[{source.name}] api_url {redact_url(url)} returned HTML, not JSON — check api_url"
                ) from None
            raise


async def check_reachable(name: str, url: str) -> None:
    """A TCP connection to the api_url's host (no HTTP request: no API call is spent)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    with trio.move_on_after(CONNECT_TIMEOUT) as scope:
        try:
            stream = await trio.open_tcp_stream(host, port)
        except OSError as exc:
            raise ServiceUnreachable(
                f"[{name}] api_url {redact_url(url)} is unreachable "
                f"({connect_failure(exc, host)}) — check api_url and the network"
            ) from None
        await stream.aclose()
    if scope.cancelled_caught:
        raise ServiceUnreachable(
            f"[{name}] api_url {redact_url(url)} did not answer within "
            f"{CONNECT_TIMEOUT:.0f} s — check api_url and the network"
        )


def connect_failure(exc: BaseException, host: str) -> str:
    # trio reports "all attempts failed" with the attempts' errors as its cause.
    cause = exc.__cause__
    if isinstance(cause, BaseExceptionGroup) and cause.exceptions:
        cause = cause.exceptions[0]
    if isinstance(cause, OSError):
        exc = cause
    if isinstance(exc, socket.gaierror):
        return f"unknown host {host}"
    if isinstance(exc, ConnectionRefusedError) or "refused" in str(exc).lower():
        return "connection refused"
    return getattr(exc, "strerror", None) or type(exc).__name__


async def answers_html(http: httpx.AsyncClient, url: str) -> bool:
    """After a failed check: does the api_url serve a web page rather than an API?"""
    with trio.move_on_after(CONNECT_TIMEOUT):
        try:
            response = await http.get(url)
        except httpx.HTTPError:
            return False
        kind = response.headers.get("content-type", "").lower()
        return "html" in kind or response.text.lstrip()[:1] == "<"
    return False
