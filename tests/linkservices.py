"""What the link-service tests share: the hoster URLs and credentials their
emulator libraries use, and the per-test reset of the three services (the
`emu` and `fresh_link_services` fixtures are in tests/conftest.py)."""

from __future__ import annotations

RG_ONE = "https://rapidgator.net/file/0123456789abcdef0123456789abcdef/one.bin.html"
RG_TWO = "https://rg.to/file/fedcba9876543210fedcba9876543210/two.bin.html"
RG_GONE = "https://rapidgator.net/file/00000000000000000000000000000000/gone.bin.html"
NITRO = "https://nitroflare.com/view/ABC/x.bin"
RS_OWN = "https://rapidshare.com/files/555/own.bin"
PORTAL_KEY = "obb_test_key_123"
PM_LOGIN, PM_PIN = "123456789", "4242"
RS_LOGIN, RS_PASS = "rsuser", "rspass"
SERVICES = ("portal", "premiumize", "rapidshare")


def reset_link_services(emu) -> None:
    """Faults, call counters and every link service back to the library's state."""
    emu.reset_faults()
    emu.reset_stats()
    for service in SERVICES:
        emu.action(service, "reset", {})
