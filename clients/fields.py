"""Lenient reading of reply fields the documents leave open.

A number may arrive as a number, a numeric string, null or not at all; a
boolean, NaN or an infinity is not a number, and a size is never negative
(-1 is an unknown size). A flag may be a JSON boolean, 0/1 or a string ("0",
"1", "true", "false"). A date may be an ISO string (with or without
milliseconds, `Z`, an offset or nothing: UTC then), the same with a space for
the `T`, or unix seconds (a number or a digit string). These return None for
anything they cannot read, so a typed reply never crashes on a null.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})
# Unix seconds beyond this are milliseconds (year 5138 in seconds).
MILLISECONDS_FROM = 1e11


def optional_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def optional_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        number = optional_float(value)  # "12.0", "12.5"
        return int(number) if number is not None else None


def optional_size(value: Any) -> int | None:
    """A byte count: a whole number, not negative (-1 is how some APIs say "unknown")."""
    number = optional_int(value)
    return number if number is not None and number >= 0 else None


def optional_bool(value: Any) -> bool | None:
    """true/false, 1/0 or their strings; None for null or anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0 if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        number = optional_float(text)
        return number != 0 if number is not None else None
    return None


def optional_timestamp(value: Any) -> float | None:
    """A date -> unix seconds: ISO text (naive means UTC) or unix seconds."""
    if isinstance(value, str):
        text = value.strip()
        if text.replace(".", "", 1).isdigit():  # unix seconds as text
            return _seconds(float(text))
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    number = optional_float(value)
    return _seconds(number) if number is not None else None


def _seconds(number: float) -> float | None:
    if not math.isfinite(number):
        return None
    return number / 1000 if abs(number) >= MILLISECONDS_FROM else number
