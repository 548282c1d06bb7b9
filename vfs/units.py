"""Human units for sizes and durations: what `.status` files, `debridfs status`
and docs show ("1.5 GiB", "3 h 20 min")."""

from __future__ import annotations


def human_size(size: int | float | None) -> str:
    """1536 -> '1.5 KiB'; exact powers stay short: 4194304 -> '4 MiB'."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            break
        value /= 1024
    if unit == "B" or value.is_integer():
        return f"{value:.0f} {unit}"
    return f"{value:.1f} {unit}"


def human_duration(seconds: float | None) -> str:
    """75 -> '1 min 15 s', 5400 -> '1 h 30 min', 200000 -> '2 d 7 h'."""
    if seconds is None:
        return "?"
    seconds = max(0, int(round(seconds)))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def bytes_text(value: object) -> str:
    """5000000123456 -> '5000000123456 bytes (4.5 TiB)': exact for scripts, readable for people."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "?"
    return f"{value:.0f} bytes ({human_size(value)})"
