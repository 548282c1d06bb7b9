"""What the Rapidgator tests share: the account of their emulator libraries
and the config section that mounts it."""

from __future__ import annotations

from typing import Any

LOGIN, PASSWORD = "tester@example.org", "pw-secret"


def rapidgator_library(root: dict[str, Any], **options: Any) -> dict[str, Any]:
    """A library with the account LOGIN/PASSWORD holding the folder tree `root`;
    `options` are the emulator's other settings (processing_delay, per_page_max...)."""
    return {"rapidgator": {"login": LOGIN, "password": PASSWORD, "root": {"name": "root", **root}, **options}}


def rapidgator_config(emu: Any, credentials: bool = True) -> str:
    """The [rapidgator] section against the emulator, with or without the account."""
    lines = ["[rapidgator]", f'api_url = "{emu.urls["rapidgator"]}"']
    if credentials:
        lines += [f'login = "{LOGIN}"', f'password = "{PASSWORD}"']
    return "\n".join(lines) + "\n"
