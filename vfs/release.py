"""Where a release belongs in the library view: parsed release names.

The parser is parsett (PTT), the one riven uses: plain regular expressions
tuned on scene, P2P and anime release names, about a millisecond a name with
no start-up cost (guessit is as good on these names but several times slower
per name and slow to import; rank-torrent-name wraps parsett with ranking we
do not need). Results are cached per name: a relisting parses nothing twice.

A file is placed when it is a video, not a sample or an extra, and either
- its torrent's or its own name has a season or an episode: a show episode,
  `shows/Title (Year)/Season NN/<file>` (no season: Season 01, as absolute
  anime numbering usually means), or
- otherwise the torrent's name has a title and a year: a movie,
  `movies/Title (Year)/<file>`.
Anything else stays only in `torrents/`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from PTT import parse_title

VIDEO_EXTENSIONS = {
    "mkv",
    "mp4",
    "m4v",
    "avi",
    "mov",
    "wmv",
    "ts",
    "m2ts",
    "mpg",
    "mpeg",
    "webm",
    "flv",
    "ogm",
    "divx",
}
# Samples and extras: folders named for them (Plex's local-extras folders and what
# release groups use), and files named "sample..." or "...-sample"/"...-trailer"
# (Plex's suffixes). Titles themselves are never matched ("The Interview").
EXTRA_FOLDER = re.compile(
    r"(?i)samples?|extras?|featurettes?|trailers?|behind[\W_]the[\W_]scenes|"
    r"deleted[\W_]scenes|interviews?|scenes|shorts|other|bonus|specials?|"
    r"special[\W_]features|making[\W_]of"
)
EXTRA_FILE = re.compile(
    r"(?i)^sample\b|[\W_]sample$|[\W_]sample[\W_]|"
    r"-(trailer|featurette|behindthescenes|deleted|interview|scene|short|other|extra)$"
)
PARSER_EXTRAS = {"Sample", "Trailer", "Featurette"}


@dataclass(frozen=True)
class Place:
    kind: str  # "movies" or "shows"
    title: str
    year: int | None
    season: int | None  # shows only

    @property
    def folder(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title

    @property
    def key(self) -> str:
        """Identity of the title's folder: case and punctuation do not split a show."""
        return f"{self.kind}/{re.sub(r'[^0-9a-z]+', '', self.title.casefold())}/{self.year or ''}"


@functools.lru_cache(maxsize=100_000)
def parse(name: str) -> dict[str, Any]:
    result: dict[str, Any] = parse_title(name)
    return result


# words a parser may leave at the end of a title from "Show Season 1-3", "Show Complete Series"
TITLE_TAIL = re.compile(r"(?i)(\s+(the\s+)?(complete|season|seasons|series|collection|pack))+$")


def clean_title(title: str) -> str:
    title = re.sub(r"\s+", " ", title.replace("_", " ")).strip(" -.")
    return TITLE_TAIL.sub("", title).strip(" -.") or title


def is_video(path: str) -> bool:
    return "." in path and path.rsplit(".", 1)[-1].lower() in VIDEO_EXTENSIONS


def is_extra(path: str) -> bool:
    parts = [p for p in path.split("/") if p]
    if not parts:
        return True
    stem = parts[-1].rsplit(".", 1)[0]
    return bool(EXTRA_FILE.search(stem)) or any(EXTRA_FOLDER.fullmatch(p.strip()) for p in parts[:-1])


def place(torrent_name: str, file_path: str) -> Place | None:
    """Where the file `file_path` (from its torrent's root) of `torrent_name` goes, or None."""
    if not is_video(file_path) or is_extra(file_path):
        return None
    release = parse(torrent_name)
    own = parse(file_path.rsplit("/", 1)[-1])
    if PARSER_EXTRAS & set(own.get("extras") or []):
        return None
    title = clean_title(release.get("title") or "")
    year = release.get("year")
    seasons = own.get("seasons") or []
    episodes = own.get("episodes") or []
    if not seasons:
        # a season pack names its seasons in folders: "Season 2/..." or "S02/..."
        for folder in reversed(file_path.strip("/").split("/")[:-1]):
            seasons = parse(folder).get("seasons") or []
            if seasons:
                break
    if seasons or episodes or release.get("seasons") or release.get("episodes"):
        if not title:
            title, year = clean_title(own.get("title") or ""), year or own.get("year")
        if not title:
            return None
        # the release's season counts when the file has none of its own and the
        # release names exactly one (a pack of several says nothing per file)
        release_seasons = release.get("seasons") or []
        if not episodes or len(release_seasons) == 1:
            seasons = seasons or release_seasons
        return Place("shows", title, year, (seasons or [1])[0])
    if title and year:
        return Place("movies", title, year, None)
    return None
