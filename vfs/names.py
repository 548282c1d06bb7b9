"""Making names that come from a service safe to show.

A service name is untrusted: it may hold `/`, NUL, be `.` or `..`, be longer
than NAME_MAX, or clash with a sibling. `safe_name` fixes one name;
`unique_names` fixes a whole directory so that every entry keeps a distinct,
stable name: a name it was shown under stays its name while it exists, and
new clashes are resolved in the order of (rank, key).
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

NAME_MAX = 255  # bytes, as on ext4 and in the kernel's FUSE layer


@functools.lru_cache(maxsize=1 << 16)
def safe_name(raw: str) -> str:
    """One name made safe (pure: remembered, since listings ask for the same
    names again and again)."""
    name = unicodedata.normalize("NFC", str(raw))
    name = name.replace("\x00", "").replace("/", "\u2215")  # U+2215 DIVISION SLASH looks like '/'
    name = "".join(ch if ch.isprintable() or ch == " " else "_" for ch in name).strip()
    if name in ("", ".", ".."):
        name = "_" + name if name else "_"
    return truncate(name)


def truncate(name: str, limit: int = NAME_MAX) -> str:
    """Shortens to at most `limit` UTF-8 bytes, keeping the extension and adding
    a short hash of the full name so that two long names stay distinct."""
    if len(name.encode()) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 16:
        stem, ext = name, ""
    tag = "~" + hashlib.sha1(name.encode()).hexdigest()[:8]
    tail = ("." + ext) if ext else ""
    room = limit - len(tag.encode()) - len(tail.encode())
    cut = stem.encode()[:room].decode(errors="ignore")
    return cut + tag + tail


def with_suffix(name: str, n: int) -> str:
    """'a.mkv', 2 -> 'a (2).mkv'."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return truncate(f"{name} ({n})")
    candidate = f"{stem} ({n}).{ext}"
    if len(candidate.encode()) > NAME_MAX:
        candidate = truncate(stem, NAME_MAX - len(f" ({n}).{ext}".encode())) + f" ({n}).{ext}"
    return candidate


def unique_names(
    items: list[tuple[str, str]] | list[tuple[str, str, Any]],
    taken: set[str] | None = None,
    previous: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Maps each (key, raw name[, rank]) to a safe name unique within the directory.

    `previous` (key -> name) is what the directory showed before: an entry
    keeps the name it was shown under while its raw name still gives that
    name (the safe name itself, or it numbered), ahead of everything else.
    A path a player or a media server holds keeps pointing at the same
    bytes: when "x.mkv" goes, "x (2).mkv" stays "x (2).mkv", and a newcomer
    never takes a name an existing entry holds.

    Otherwise a name that is unique once made safe is kept. Names that clash
    (equal raw names, or names that become equal: NFC/NFD forms, `/`
    replaced, truncation to NAME_MAX) are numbered in the order of (rank,
    key): the first keeps the name, the others get ` (2)`, ` (3)`... A rank
    that only grows for newcomers (a date added, a file id) keeps names
    stable across mounts too. Without `previous`, the result never depends
    on the order the service listed things in.
    """
    used = set(taken or ())
    safe = {item[0]: safe_name(item[1]) for item in items}
    rank = {item[0]: (item[2] if len(item) > 2 else ()) for item in items}
    result: dict[str, str] = {}
    if previous:
        for key, name in safe.items():
            shown = previous.get(key)
            if shown is not None and shown not in used and (shown == name or _numbered(shown, name)):
                result[key] = shown
                used.add(shown)
    counts: dict[str, int] = {}
    for key, name in safe.items():
        if key not in result:
            counts[name] = counts.get(name, 0) + 1
    # Names that are unique on their own keep them, whatever order things come in.
    for key, name in safe.items():
        if key not in result and counts[name] == 1 and name not in used:
            result[key] = name
            used.add(name)
    for key in sorted((k for k in safe if k not in result), key=lambda k: (rank[k], k)):
        name = safe[key]
        candidate, n = name, 1
        while candidate in used:
            n += 1
            candidate = with_suffix(name, n)
        used.add(candidate)
        result[key] = candidate
    return result


_NUMBER = re.compile(r" \((\d{1,9})\)")


def _numbered(shown: str, name: str) -> bool:
    """Whether `shown` is `name` numbered by `with_suffix`."""
    return any(with_suffix(name, int(m.group(1))) == shown for m in _NUMBER.finditer(shown))
