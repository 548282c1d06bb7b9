"""Real-Debrid emulator libraries the read tests share: one finished torrent
whose selected files are given contents, without a rate limit (the tests
count requests, not wait for a limiter)."""

from __future__ import annotations

from typing import Any

from tests.emulators.content import SyntheticContent


def one_torrent_library(
    token: str, tid: str, name: str, files: dict[str, SyntheticContent]
) -> dict[str, Any]:
    """A library whose only torrent, `name`, holds `files` (name -> content) at its top."""
    return {
        "realdebrid": {
            "token": token,
            "rate_limit_per_minute": 0,
            "torrents": [
                {
                    "id": tid,
                    "filename": name,
                    "status": "downloaded",
                    "files": [
                        {"path": f"/{path}", "content": {"size": c.size, "seed": c.seed}, "selected": 1}
                        for path, c in files.items()
                    ],
                }
            ],
        }
    }
