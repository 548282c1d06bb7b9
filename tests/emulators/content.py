"""Deterministic file contents for the emulators, recomputable by tests.

A synthetic file of any size (several GiB included) is never stored: its bytes
are a random pattern of prime length, repeated. A prime period means a block
served at the wrong offset (block sizes are powers of two) yields different
bytes, so hash comparisons catch misplaced data.
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

PATTERN_PERIOD = 1_048_573  # prime, just under 1 MiB
CHUNK = 1 << 20


@functools.lru_cache(maxsize=64)
def _pattern(seed: int) -> bytes:
    pattern = random.Random(seed).randbytes(PATTERN_PERIOD)
    # Doubled with a tail so any slice of up to PATTERN_PERIOD bytes is contiguous.
    return pattern + pattern


class Content(Protocol):
    size: int

    def read(self, offset: int, length: int) -> bytes: ...


@dataclass(frozen=True)
class SyntheticContent:
    size: int
    seed: int

    def read(self, offset: int, length: int) -> bytes:
        end = min(self.size, offset + length)
        if offset >= end:
            return b""
        pattern = _pattern(self.seed)
        parts = []
        pos = offset
        while pos < end:
            start = pos % PATTERN_PERIOD
            n = min(end - pos, PATTERN_PERIOD)
            parts.append(pattern[start : start + n])
            pos += n
        return parts[0] if len(parts) == 1 else b"".join(parts)


@dataclass(frozen=True)
class BytesContent:
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def read(self, offset: int, length: int) -> bytes:
        return self.data[offset : offset + length]


@dataclass(frozen=True)
class FileContent:
    path: Path

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def read(self, offset: int, length: int) -> bytes:
        with open(self.path, "rb") as f:
            f.seek(offset)
            return f.read(length)


def iter_chunks(content: Content, start: int, end: int, chunk: int = CHUNK) -> Iterator[bytes]:
    """Yields content[start:end] in pieces of at most `chunk` bytes."""
    pos = start
    while pos < end:
        n = min(chunk, end - pos)
        yield content.read(pos, n)
        pos += n


def sha256_of(content: Content) -> str:
    digest = hashlib.sha256()
    for piece in iter_chunks(content, 0, content.size, 8 * CHUNK):
        digest.update(piece)
    return digest.hexdigest()


def md5_of(content: Content) -> str:
    digest = hashlib.md5()
    for piece in iter_chunks(content, 0, content.size, 8 * CHUNK):
        digest.update(piece)
    return digest.hexdigest()


def content_from_spec(spec: dict) -> Content:
    """Builds content from a library entry: {"size", "seed"} | {"path"} | {"text"}."""
    if "path" in spec:
        return FileContent(Path(spec["path"]))
    if "text" in spec:
        return BytesContent(spec["text"].encode())
    return SyntheticContent(int(spec["size"]), int(spec.get("seed", 0)))
