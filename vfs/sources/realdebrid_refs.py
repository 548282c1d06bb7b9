"""Real-Debrid source, the refs: what the tree hands back to find a directory or file.

Each is a frozen dataclass (vfs/sources/base.py `Ref`): hashable and equal
by value, so the tree can match a changed directory to its nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Ref


@dataclass(frozen=True, slots=True)
class DownloadsDir(Ref):
    """`downloads/`."""


@dataclass(frozen=True, slots=True)
class TorrentsDir(Ref):
    """`torrents/`."""


@dataclass(frozen=True, slots=True)
class GroupDir(Ref):
    """A group's directory (`[realdebrid] groups`): torrents whose name matches."""

    name: str


@dataclass(frozen=True, slots=True)
class TorrentDir(Ref):
    """A torrent's directory, or one of its subdirectories."""

    tid: str
    prefix: str  # the path inside the torrent: "" or "a/b/"
    view: str  # "" in torrents/, else the group's name


@dataclass(frozen=True, slots=True)
class StatusFile(Ref):
    """`downloads/.status` or `torrents/.status`."""

    where: str


@dataclass(frozen=True, slots=True)
class DownloadFile(Ref):
    """An entry of the account's downloads list."""

    download_id: str


@dataclass(frozen=True, slots=True)
class TorrentFile(Ref):
    """A torrent's selected file, when its links match the selected files one to one."""

    tid: str
    position: int  # among the selected files (the n-th link goes with it)


@dataclass(frozen=True, slots=True)
class TorrentLink(Ref):
    """A torrent's link shown as itself (Real-Debrid packed the files into an archive)."""

    tid: str
    index: int  # in the torrent's links


@dataclass(frozen=True, slots=True)
class ArchiveMember(Ref):
    """A file stored inside a RAR link: a byte range of that link."""

    tid: str
    index: int  # the archive's link
    member: int  # among its stored members


TorrentItem = TorrentFile | TorrentLink | ArchiveMember
