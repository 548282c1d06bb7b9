"""What the link-service tests share: the hoster URLs and credentials their
emulator libraries use, the library blocks of the three services (accounts
that work, with per-module changes as keyword arguments), the config sections
that point a mount or a source at them, and the per-test reset of the three
services (the `emu` and `fresh_link_services` fixtures are in tests/conftest.py).

    LIBRARY = library([hoster_link(RG_ONE, "one.bin", ONE)], rapidshare=rapidshare_account(free_countdown=1))
    text = service_config(emu, "portal")       # [portal] ... + MOUNT_OPTIONS

and what a test reads or writes in a service's directory of a mount
(`status_of`, `listed`, `write_links`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.emulators.content import SyntheticContent

RG_ONE = "https://rapidgator.net/file/0123456789abcdef0123456789abcdef/one.bin.html"
RG_TWO = "https://rg.to/file/fedcba9876543210fedcba9876543210/two.bin.html"
RG_GONE = "https://rapidgator.net/file/00000000000000000000000000000000/gone.bin.html"
NITRO = "https://nitroflare.com/view/ABC/x.bin"
RS_OWN = "https://rapidshare.com/files/555/own.bin"
PORTAL_KEY = "obb_test_key_123"
PM_LOGIN, PM_PIN = "123456789", "4242"
RS_LOGIN, RS_PASS = "rsuser", "rspass"
SERVICES = ("portal", "premiumize", "rapidshare")
# Short listing and kernel cache times: a mount test sees a change at once.
MOUNT_OPTIONS = "[mount]\nlisting_ttl = 0.2\nentry_timeout = 0.1\nattr_timeout = 0.1\n"


def hoster_link(url: str, name: str, content: SyntheticContent, **extra: Any) -> dict[str, Any]:
    """A hoster link the emulated services know, serving `content` as `name`."""
    return {"url": url, "name": name, "content": {"size": content.size, "seed": content.seed}, **extra}


def portal_account(**extra: Any) -> dict[str, Any]:
    """The portal: links ready at once, key PORTAL_KEY."""
    return {"api_key": PORTAL_KEY, "ready_after_polls": 0, "poll_after_seconds": 1, **extra}


def premiumize_account(**extra: Any) -> dict[str, Any]:
    """A premium Premiumize account with half its fair use left."""
    return {
        "customer_id": PM_LOGIN,
        "pin": PM_PIN,
        "type": "premium",
        "expires_in_seconds": 86400,
        "fairuse_left": 0.5,
        **extra,
    }


def rapidshare_account(premkbleft: int | None = None, **extra: Any) -> dict[str, Any]:
    """A premium RapidShare account (RS_LOGIN/RS_PASS) valid for a day, with
    `premkbleft` KB of traffic when given."""
    account: dict[str, Any] = {"type": "premium", "validuntil_in_seconds": 86400}
    if premkbleft is not None:
        account["premkbleft"] = premkbleft
    return {"login": RS_LOGIN, "password": RS_PASS, "account": account, **extra}


def library(
    hoster_links: list[dict[str, Any]],
    *,
    portal: dict[str, Any] | None = None,
    premiumize: dict[str, Any] | None = None,
    rapidshare: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An emulator library with the three link services (their defaults above
    where a block is not given) over `hoster_links`."""
    return {
        "hoster_links": hoster_links,
        "portal": portal or portal_account(),
        "premiumize": premiumize or premiumize_account(),
        "rapidshare": rapidshare or rapidshare_account(),
    }


def service_config(
    emu: Any, service: str, extra: str = MOUNT_OPTIONS, *, login: bool = True, max_wait: float = 3
) -> str:
    """The config section of `service` against the emulator, then `extra`.
    `login=False`: RapidShare without an account (free downloads)."""
    url = emu.urls[service]
    if service == "portal":
        section = f'[portal]\napi_key = "{PORTAL_KEY}"\napi_url = "{url}"\nmax_wait = {max_wait}\n'
    elif service == "premiumize":
        section = f'[premiumize]\nlogin = "{PM_LOGIN}"\npassword = "{PM_PIN}"\napi_url = "{url}"\n'
    else:
        creds = f'login = "{RS_LOGIN}"\npassword = "{RS_PASS}"\n' if login else ""
        section = f'[rapidshare]\n{creds}api_url = "{url}"\nmax_wait = {max_wait}\n'
    return section + extra


def reset_link_services(emu: Any) -> None:
    """Faults, call counters and every link service back to the library's state."""
    emu.reset_faults()
    emu.reset_stats()
    for service in SERVICES:
        emu.action(service, "reset", {})


def status_of(directory: Path) -> str:
    """The service's `.status` file."""
    return (directory / ".status").read_text()


def listed(directory: Path) -> list[str]:
    """The files of the service's directory, without its dot files."""
    return sorted(n for n in os.listdir(directory) if not n.startswith("."))


def write_links(directory: Path, *urls: str) -> None:
    """Adds `urls` as a user does: a `.links` file written into the directory."""
    with open(directory / "new.links", "w") as f:
        f.write("\n".join(urls) + "\n")
