"""Reply shapes the documents leave open, for the JSON emulators.

A document shows one shape of each value; servers and versions differ. An
emulator keeps its replies in the document's shape and, when a test switches
a shape, rewrites each JSON reply on the way out:

    numbers       "json" (as documented) | "strings": every number as a
                  decimal string ("123", "1.5")
    flags         "json" (as documented) | "ints" (0/1) | "bools" (true/false)
                  | "strings" ("true"/"false"): JSON booleans, and the keys
                  the emulator names as 0/1 flags (Real-Debrid's `selected`)
    dates         "iso" (as documented) | "epoch" (unix seconds, an int) |
                  "naive" ("2026-01-02 03:04:05", UTC without saying so):
                  applies to jsonDate strings ("2026-01-02T03:04:05.000Z")
    content_type  "json" (application/json) | "html" (text/html;
                  charset=UTF-8, PHP's default) | "text" (text/plain)

`flags` is applied before `numbers`, so "ints" with "strings" gives "0"/"1".
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

CHOICES: dict[str, tuple[str, ...]] = {
    "numbers": ("json", "strings"),
    "flags": ("json", "ints", "bools", "strings"),
    "dates": ("iso", "epoch", "naive"),
    "content_type": ("json", "html", "text"),
}
DEFAULTS = {key: values[0] for key, values in CHOICES.items()}
MEDIA_TYPES = {"json": "application/json", "html": "text/html; charset=UTF-8", "text": "text/plain"}
JSON_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")


def checked(current: dict[str, str], patch: dict[str, Any]) -> dict[str, str]:
    """`current` updated by `patch`; an unknown key or value is a ValueError."""
    shapes = dict(current)
    for key, value in patch.items():
        if key not in CHOICES:
            raise ValueError(f"unknown shape {key!r} (one of {sorted(CHOICES)})")
        if value not in CHOICES[key]:
            raise ValueError(f"shape {key} must be one of {CHOICES[key]}")
        shapes[key] = value
    return shapes


def is_default(shapes: dict[str, str]) -> bool:
    return all(shapes.get(key, value) == value for key, value in DEFAULTS.items())


def reshape(value: Any, shapes: dict[str, str], flag_keys: frozenset[str] = frozenset()) -> Any:
    """`value` (decoded JSON) in the switched shapes."""
    if isinstance(value, dict):
        return {
            k: _flag(v, shapes) if k in flag_keys else reshape(v, shapes, flag_keys) for k, v in value.items()
        }
    if isinstance(value, list):
        return [reshape(v, shapes, flag_keys) for v in value]
    if isinstance(value, bool):
        return _flag(value, shapes)
    if isinstance(value, (int, float)):
        return _number(value, shapes)
    if isinstance(value, str) and shapes.get("dates", "iso") != "iso" and JSON_DATE.fullmatch(value):
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if shapes["dates"] == "epoch":
            return _number(int(moment.timestamp()), shapes)
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return value


def _flag(value: Any, shapes: dict[str, str]) -> Any:
    style = shapes.get("flags", "json")
    if not isinstance(value, (bool, int)) or style == "json":
        return (
            _number(value, shapes)
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            else value
        )
    on = bool(value)
    if style == "ints":
        return _number(int(on), shapes)
    if style == "bools":
        return on
    return "true" if on else "false"


def _number(value: Any, shapes: dict[str, str]) -> Any:
    return str(value) if shapes.get("numbers") == "strings" else value


def render(body: bytes, shapes: dict[str, str], flag_keys: frozenset[str] = frozenset()) -> bytes:
    """A JSON body in the switched shapes (a body that is not JSON stays as it is)."""
    try:
        value = json.loads(body)
    except ValueError:
        return body
    return json.dumps(reshape(value, shapes, flag_keys), ensure_ascii=False, separators=(",", ":")).encode()


def media_type(shapes: dict[str, str]) -> str:
    return MEDIA_TYPES[shapes.get("content_type", "json")]
