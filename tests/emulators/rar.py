"""RAR archives as Real-Debrid makes them of a torrent's files (RAR 2.9/4.x
block format, rarlab's technote): marker block, archive header, one file
header + data per member, end block. Members are *stored* (method 0x30,
data verbatim), or, with `compressed`, marked as compressed (method 0x33)
with opaque packed bytes, which a client must never serve as a member.

The archive is a `Content` made of the headers and the members' own
contents, so nothing is copied and any range reads fast.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from .content import BytesContent, Content, SyntheticContent, iter_chunks

MARKER = b"Rar!\x1a\x07\x00"
HOST_UNIX = 3
METHOD_STORE = 0x30
METHOD_NORMAL = 0x33  # "normal" compression
LONG_BLOCK = 0x8000


def _block(head_type: int, flags: int, body: bytes) -> bytes:
    """A block header: CRC16 (low half of CRC32 of what follows it), type, flags, size."""
    rest = struct.pack("<BHH", head_type, flags, 7 + len(body)) + body
    return struct.pack("<H", zlib.crc32(rest) & 0xFFFF) + rest


def _crc(content: Content) -> int:
    crc = 0
    for piece in iter_chunks(content, 0, content.size, 1 << 20):
        crc = zlib.crc32(piece, crc)
    return crc


@dataclass(frozen=True)
class ConcatContent:
    parts: tuple[Content, ...]

    @property
    def size(self) -> int:
        return sum(part.size for part in self.parts)

    def read(self, offset: int, length: int) -> bytes:
        out, pos = [], 0
        end = offset + length
        for part in self.parts:
            lo, hi = max(offset, pos), min(end, pos + part.size)
            if lo < hi:
                out.append(part.read(lo - pos, hi - lo))
            pos += part.size
            if pos >= end:
                break
        return b"".join(out)


def rar_archive(members: list[tuple[str, Content]], compressed: bool = False) -> ConcatContent:
    """`members`: (path inside the archive, with '/' separators, content)."""
    parts: list[Content] = [BytesContent(MARKER + _block(0x73, 0, b"\x00" * 6))]
    for n, (path, content) in enumerate(members):
        name = path.lstrip("/").encode()
        data: Content = content
        if compressed:
            data = SyntheticContent(max(1, content.size // 2), 900_000 + n)
        body = (
            struct.pack(
                "<IIBIIBBHI",
                data.size,
                content.size,
                HOST_UNIX,
                _crc(content),
                0x5A210000,
                29,
                METHOD_NORMAL if compressed else METHOD_STORE,
                len(name),
                0o100644,
            )
            + name
        )
        parts.append(BytesContent(_block(0x74, LONG_BLOCK, body)))
        parts.append(data)
    parts.append(BytesContent(_block(0x7B, 0x4000, b"")))
    return ConcatContent(tuple(parts))
