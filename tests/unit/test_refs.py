"""Source refs: hashable, equal by value, and never equal across kinds."""

from __future__ import annotations

from vfs.sources.library import SeasonDir, TitleDir
from vfs.sources.links import LinkRef
from vfs.sources.rapidgator import FileRef, FolderRef, UploadRef
from vfs.sources.realdebrid_refs import (
    ArchiveMember,
    DownloadsDir,
    TorrentDir,
    TorrentFile,
    TorrentLink,
    TorrentsDir,
)


def test_refs_compare_by_value_and_kind():
    assert TorrentDir("T1", "a/", "") == TorrentDir("T1", "a/", "")
    assert hash(TorrentDir("T1", "a/", "")) == hash(TorrentDir("T1", "a/", ""))
    assert TorrentDir("T1", "a/", "") != TorrentDir("T1", "a/", "group")
    assert TorrentFile("T1", 0) != TorrentLink("T1", 0)  # same fields, another kind
    assert FileRef("x") != UploadRef("x") != FolderRef("x")
    assert DownloadsDir() == DownloadsDir() != TorrentsDir()
    assert TitleDir("k") != SeasonDir("k", 1)
    assert ArchiveMember("T1", 2, 0) == ArchiveMember("T1", 2, 0)
    assert LinkRef("https://h/1") == LinkRef("https://h/1")
    # usable as keys: the tree and the library index directories by ref
    index = {TorrentDir("T1", "", ""): 1, SeasonDir("k", 1): 2, LinkRef("u"): 3}
    assert index[TorrentDir("T1", "", "")] == 1 and index[SeasonDir("k", 1)] == 2 and index[LinkRef("u")] == 3
