"""`debridfs status`: what the running mount is doing, from outside it.

With a mount point, reads `MOUNT/.debridfs/uploads`; otherwise the upload
journals in the state dir (pending uploads survive a restart)."""

from __future__ import annotations

import sys
from pathlib import Path

from .config import Config


def show_status(config: Config, mountpoint: Path | None) -> int:
    from .uploads import Journal, format_status

    if mountpoint is not None:
        try:
            sys.stdout.write((mountpoint / ".debridfs" / "uploads").read_text())
        except OSError as exc:
            print(f"debridfs: cannot read the status of {mountpoint}: {exc.strerror}", file=sys.stderr)
            return 1
        return 0
    rows = []
    root = config.state_dir / "uploads"
    for directory in sorted(root.iterdir()) if root.is_dir() else []:
        for record in Journal(directory).load():
            rows.append({"source": directory.name, "name": record.name, "state": record.state,
                         "size": record.size, "sent": 0, "error": record.error})
    sys.stdout.write(format_status(rows))
    return 0
