"""Info hashes of magnets and .torrent files (what a BitTorrent client calls a
torrent: Sonarr and Radarr find their downloads by it).

A magnet's `xt=urn:btih:` is 40 hex digits or 32 base32 characters; a
.torrent's hash is the SHA-1 of its bencoded `info` dictionary, exactly as
written in the file (so the value is located, not re-encoded).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit


class BadTorrent(ValueError):
    """Not a magnet with a BitTorrent info hash, or not a .torrent file."""


def magnet_hash(uri: str) -> str:
    """The lowercase hex info hash of a magnet URI."""
    query = parse_qs(urlsplit(uri.strip()).query)
    for xt in query.get("xt", []):
        match = re.fullmatch(r"urn:btih:([0-9A-Za-z]+)", xt)
        if not match:
            continue
        value = match.group(1)
        if len(value) == 40 and re.fullmatch(r"[0-9A-Fa-f]{40}", value):
            return value.lower()
        if len(value) == 32:
            try:
                return base64.b32decode(value.upper()).hex()
            except binascii.Error:
                break
    raise BadTorrent("not a magnet URI with a BitTorrent info hash")


def magnet_name(uri: str) -> str | None:
    names = parse_qs(urlsplit(uri.strip()).query).get("dn")
    return names[0] if names else None


def _skip(data: bytes, i: int, depth: int = 0) -> int:
    """The index just past the bencoded value starting at `i`."""
    if depth > 64 or i >= len(data):
        raise BadTorrent("not a .torrent file (truncated or too deep)")
    c = data[i : i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return end + 1
    if c in (b"l", b"d"):
        i += 1
        while data[i : i + 1] != b"e":
            if i >= len(data):
                raise BadTorrent("not a .torrent file (truncated)")
            i = _skip(data, i, depth + 1)
        return i + 1
    if c.isdigit():
        colon = data.index(b":", i)
        return colon + 1 + int(data[i:colon])
    raise BadTorrent("not a .torrent file")


def _items(data: bytes, start: int) -> Any:
    """(key, value start, value end) of the bencoded dictionary at `start`."""
    if data[start : start + 1] != b"d":
        raise BadTorrent("not a .torrent file")
    i = start + 1
    while data[i : i + 1] != b"e":
        key_end = _skip(data, i)
        key = data[data.index(b":", i) + 1 : key_end]
        value_end = _skip(data, key_end)
        yield key, key_end, value_end
        i = value_end


def torrent_hash(data: bytes) -> tuple[str, str | None]:
    """(lowercase hex info hash, name) of a .torrent file."""
    try:
        for key, start, end in _items(data, 0):
            if key != b"info":
                continue
            name = None
            for info_key, value_start, value_end in _items(data, start):
                if info_key == b"name" and data[value_start : value_start + 1].isdigit():
                    raw = data[data.index(b":", value_start) + 1 : value_end]
                    name = raw.decode("utf-8", "replace")
            return hashlib.sha1(data[start:end]).hexdigest(), name
    except (ValueError, IndexError):
        raise BadTorrent("not a .torrent file") from None
    raise BadTorrent("a .torrent file without an info dictionary")
