"""`debridfs status`: what the running mount is doing, from outside it.

From the status file the mount keeps in the state dir (vfs/statusfile.py):
every service, the uploads and the cache. For a mount with another state dir,
`MOUNT/.debridfs/uploads` and `MOUNT/.debridfs/stats` (how reads went per
provider). Without a running mount, the pending uploads from the journals
(they survive a restart)."""

from __future__ import annotations

import sys
from pathlib import Path

from .config import Config
from .statusfile import read_status, render


def show_status(config: Config, mountpoint: Path | None) -> int:
    from .uploads import Journal, format_status

    data = read_status(config.state_dir)
    if data is not None and (mountpoint is None or Path(data["mountpoint"]) == mountpoint.absolute()):
        sys.stdout.write(render(data))
        if mountpoint is not None:
            # The read counts of that mount (MOUNT/.debridfs/stats) come last.
            try:
                sys.stdout.write("\n" + (mountpoint / ".debridfs" / "stats").read_text())
            except OSError:
                pass
        return 0
    if mountpoint is not None:
        # A mount with another state dir: its own uploads file still tells something.
        try:
            sys.stdout.write((mountpoint / ".debridfs" / "uploads").read_text())
            sys.stdout.write("\n" + (mountpoint / ".debridfs" / "stats").read_text())
        except OSError as exc:
            print(f"debridfs: cannot read the status of {mountpoint}: {exc.strerror}", file=sys.stderr)
            return 1
        return 0
    rows = []
    root = config.state_dir / "uploads"
    for directory in sorted(root.iterdir()) if root.is_dir() else []:
        for record in Journal(directory).load():
            rows.append(
                {
                    "source": directory.name,
                    "name": record.name,
                    "state": record.state,
                    "size": record.size,
                    "sent": 0,
                    "error": record.error,
                }
            )
    print(f"no mount running (state dir {config.state_dir})")
    sys.stdout.write(format_status(rows))
    return 0
