"""Lenient reading of reply fields the documents leave open.

A number may arrive as a number, a numeric string, null or not at all; a
boolean, NaN or an infinity is not a number. These return None for anything
they cannot read, so a typed reply never crashes on a null.
"""

from __future__ import annotations

import math
from typing import Any


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
