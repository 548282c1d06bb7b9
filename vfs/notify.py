"""systemd readiness (Type=notify): a datagram to $NOTIFY_SOCKET.

The protocol is one datagram of newline-separated KEY=VALUE pairs; no
library is needed. Nothing happens outside systemd (no NOTIFY_SOCKET)."""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def sd_notify(message: str) -> bool:
    """Sends `message` ("READY=1", "STOPPING=1", "STATUS=..."); True when sent."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        log.info("could not notify systemd: %s", exc)
        return False
    return True
