"""The qBittorrent API driven the way Sonarr drives it, through a real mount,
against the Real-Debrid emulator: log in, add a magnet with a category, poll
`torrents/info` until it is complete, read `content_path` (symlinks into the
mount, absolute, readable), import by moving a symlink, delete. Plex and
Jellyfin emulators hear exactly one partial scan of the torrent's category
directory on completion, and of its parent on deletion. Real-Debrid's
refusals become the `error` state with a reason."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import httpx
import pytest

from tests.emulators.content import SyntheticContent, sha256_of
from tests.emulators.harness import run_emulator
from tests.mount.test_realdebrid_write import bencode
from tests.mounting import mounted, wait_until
from vfs.config import ConfigError, effective, load_config

TOKEN = "rd-good-token"
USER, PASSWORD = "sonarr", "qb-secret-password"
SHOW = "Some.Show.S01E02.1080p.WEB.h264-GRP"
SHOW_HASH = "5d" * 20
BAD_HASH = "be" * 20
DEAD_HASH = "de" * 20
SERVER_ARR = "/data/arr"
FINISHED = ("pausedUP", "stoppedUP", "uploading", "stalledUP", "queuedUP", "forcedUP")


def library() -> dict:
    return {
        "realdebrid": {
            "token": TOKEN,
            "status_polls": {"magnet_conversion": 1, "queued": 0, "downloading": 3},
            "known_magnets": [
                {
                    "hash": SHOW_HASH,
                    "filename": SHOW,
                    "files": [
                        {"path": f"/{SHOW}/{SHOW}.mkv", "content": {"size": 300_000, "seed": 7}},
                        {"path": f"/{SHOW}/Subs/{SHOW}.en.srt", "content": {"size": 2_000, "seed": 8}},
                    ],
                },
                {"hash": BAD_HASH, "filename": "Blocked", "infringing": True},
            ],
            "torrents": [
                {
                    "id": "OLD",
                    "filename": "Unrelated",
                    "files": [{"path": "/u.mkv", "content": {"size": 100, "seed": 1}}],
                }
            ],
        },
        "plex": {
            "token": "plex-token",
            "sections": [{"key": "2", "title": "TV", "type": "show", "locations": [f"{SERVER_ARR}/sonarr"]}],
        },
        "jellyfin": {"token": "jf-key"},
    }


def config(emu, tmp_path: Path) -> str:
    arr = tmp_path / "arr"
    return (
        f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\n'
        "refresh_interval = 0.5\nallow_delete = true\n"
        f'[qbittorrent]\nlisten = "127.0.0.1:0"\nusername = "{USER}"\npassword = "{PASSWORD}"\n'
        f'categories = {{ tv-sonarr = "{arr}/sonarr", radarr = "{arr}/radarr" }}\n'
        f'download_dir = "{arr}/other"\n'
        + "".join(
            f'[[notify]]\nkind = "{kind}"\nurl = "{emu.base_url}/{kind}"\ntoken = "{token}"\n'
            f'path_map = {{ "{arr}" = "{SERVER_ARR}" }}\nbatch_seconds = 0.5\nmin_interval = 0\n'
            for kind, token in (("plex", "plex-token"), ("jellyfin", "jf-key"))
        )
    )


class Sonarr:
    """Speaks the WebAPI v2 the way Sonarr's QBittorrentProxyV2 does."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)

    def login(self, password: str = PASSWORD) -> str:
        response = self.http.post("/api/v2/auth/login", data={"username": USER, "password": password})
        assert response.status_code == 200
        return response.text

    def get(self, path: str, **params) -> httpx.Response:
        return self.http.get(f"/api/v2/{path}", params=params)

    def post(self, path: str, data: dict, files=None) -> httpx.Response:
        return self.http.post(f"/api/v2/{path}", data=data, files=files)

    def add_magnet(self, magnet: str, category: str) -> str:
        # Sonarr posts multipart/form-data
        response = self.http.post(
            "/api/v2/torrents/add", files={"urls": (None, magnet), "category": (None, category)}
        )
        assert response.status_code == 200
        return response.text

    def torrents(self, category: str) -> list[dict]:
        response = self.get("torrents/info", category=category)
        assert response.status_code == 200
        return response.json()

    def one(self, category: str, hash_: str) -> dict:
        [item] = [t for t in self.torrents(category) if t["hash"].upper() == hash_.upper()]
        return item


def api_url(mount) -> str:
    found = wait_until(
        lambda: re.search(r"qBittorrent API listening on (http://\S+)", mount.log_text()),
        15,
        "the API to listen",
    )
    return found.group(1)


def refreshes(emu) -> list[str]:
    return [c["query"].get("path") for c in emu.view("plex")["calls"] if c["path"].endswith("/refresh")]


def jellyfin_updates(emu) -> list[list[dict]]:
    return [c["body"]["Updates"] for c in emu.view("jellyfin")["calls"]]


def test_sonarr_adds_imports_and_deletes_through_the_mount(tmp_path):
    with run_emulator(library()) as emu, mounted(tmp_path, config(emu, tmp_path)) as mount:
        sonarr = Sonarr(api_url(mount))
        assert sonarr.get("app/webapiVersion").status_code == 403  # no session yet
        assert sonarr.login("wrong") == "Fails."
        assert sonarr.login() == "Ok." and sonarr.http.cookies.get("SID")
        assert sonarr.get("app/webapiVersion").text == "2.9.3"
        assert sonarr.get("app/version").text.startswith("v4.")
        assert sonarr.get("app/preferences").json()["queueing_enabled"] is False
        categories = sonarr.get("torrents/categories").json()
        assert categories["tv-sonarr"]["savePath"] == str(tmp_path / "arr/sonarr")

        magnet = f"magnet:?xt=urn:btih:{SHOW_HASH.upper()}&dn={SHOW}&tr=udp%3A%2F%2Ftracker.invalid%3A80"
        assert sonarr.add_magnet(magnet, "tv-sonarr") == "Ok."
        # Sonarr waits until the torrent is known (properties answers 200)
        assert sonarr.get("torrents/properties", hash=SHOW_HASH).status_code == 200
        seen: list[str] = []

        def finished():
            item = sonarr.one("tv-sonarr", SHOW_HASH)
            if not seen or seen[-1] != item["state"]:
                seen.append(item["state"])
            return item if item["state"] in FINISHED else None

        item = wait_until(finished, 60, "the torrent to finish", interval=0.2)
        assert "downloading" in seen and seen[-1] == "pausedUP", seen
        assert item["progress"] == 1 and item["amount_left"] == 0 and item["completion_on"] > 0
        assert item["category"] == "tv-sonarr" and item["name"] == SHOW
        content = Path(item["content_path"])
        assert content == tmp_path / "arr/sonarr" / SHOW
        assert item["save_path"].rstrip("/") == str(tmp_path / "arr/sonarr")
        video = content / f"{SHOW}/{SHOW}.mkv"
        # one file selected: Real-Debrid names the torrent after it; the app keeps the release name
        in_mount = mount.path / "realdebrid/torrents" / f"{SHOW}.mkv" / SHOW / f"{SHOW}.mkv"
        assert video.is_symlink() and os.readlink(video) == str(in_mount)
        # the video files were selected on Real-Debrid: the subtitles are not there
        assert sorted(str(p.relative_to(content)) for p in content.rglob("*")) == [SHOW, f"{SHOW}/{SHOW}.mkv"]
        assert not [p for p in content.rglob("*") if "debridfs-tmp" in p.name]
        assert hashlib.sha256(video.read_bytes()).hexdigest() == sha256_of(SyntheticContent(300_000, 7))
        files = sonarr.get("torrents/files", hash=SHOW_HASH).json()
        assert [f["name"] for f in files] == [f"{SHOW}/{SHOW}.mkv"]

        # exactly one partial scan of that directory, as the servers see it
        here = f"{SERVER_ARR}/sonarr/{SHOW}"
        wait_until(lambda: here in refreshes(emu), 15, "the plex scan")
        wait_until(
            lambda: any({"Path": here, "UpdateType": "Created"} in u for u in jellyfin_updates(emu)),
            15,
            "the jellyfin update",
        )

        # Sonarr imports by moving the symlink into the library: no byte copied
        library_dir = tmp_path / "tv/Some Show/Season 01"
        library_dir.mkdir(parents=True)
        os.rename(video, library_dir / f"{SHOW}.mkv")
        assert (library_dir / f"{SHOW}.mkv").stat().st_size == 300_000

        # ...then removes the download with its files
        assert sonarr.post("torrents/delete", {"hashes": SHOW_HASH, "deleteFiles": "true"}).status_code == 200
        assert sonarr.torrents("tv-sonarr") == []
        assert not content.exists()
        assert (tmp_path / "arr/sonarr").is_dir()
        # allow_delete = true: gone from Real-Debrid and from the mount
        assert SHOW_HASH not in [t["hash"] for t in emu.view("realdebrid")["torrents"]]
        wait_until(
            lambda: f"{SHOW}.mkv" not in os.listdir(mount.path / "realdebrid/torrents"), 15, "the mount"
        )
        wait_until(lambda: f"{SERVER_ARR}/sonarr" in refreshes(emu), 15, "the plex scan of the parent")
        wait_until(
            lambda: any({"Path": here, "UpdateType": "Deleted"} in u for u in jellyfin_updates(emu)),
            15,
            "the jellyfin deletion",
        )
        assert refreshes(emu).count(here) == 1
        assert sum(u.count({"Path": here, "UpdateType": "Created"}) for u in jellyfin_updates(emu)) == 1
        assert "sonarr" not in (mount.path / ".debridfs/qbittorrent").read_text()


def test_refusals_become_error_states_with_a_reason(tmp_path):
    with run_emulator(library()) as emu, mounted(tmp_path, config(emu, tmp_path)) as mount:
        mount.expect_log(r"qBittorrent API: Blocked could not be added: .*infringing")
        mount.expect_log(r"qBittorrent API: .*Real-Debrid status magnet_error")
        sonarr = Sonarr(api_url(mount))
        assert sonarr.login() == "Ok."
        assert sonarr.add_magnet(f"magnet:?xt=urn:btih:{BAD_HASH}&dn=Blocked", "tv-sonarr") == "Ok."
        wait_until(lambda: sonarr.one("tv-sonarr", BAD_HASH)["state"] == "error", 15, "the error state")
        assert "infringing" in sonarr.get("torrents/properties", hash=BAD_HASH).json()["comment"]

        assert sonarr.add_magnet(f"magnet:?xt=urn:btih:{DEAD_HASH}&dn=Dead.Thing", "radarr") == "Ok."
        rd_id = wait_until(
            lambda: next(
                (t["id"] for t in emu.view("realdebrid")["torrents"] if t["hash"] == DEAD_HASH), None
            ),
            15,
            "the magnet on RD",
        )
        emu.action("realdebrid", "advance", {"id": rd_id, "to": "magnet_error"})
        wait_until(lambda: sonarr.one("radarr", DEAD_HASH)["state"] == "error", 30, "the error state")
        assert "magnet_error" in sonarr.get("torrents/properties", hash=DEAD_HASH).json()["comment"]
        status = (mount.path / ".debridfs/qbittorrent").read_text()
        assert "infringing" in status and "magnet_error" in status

        # too many active downloads: retried as Real-Debrid asks, then an error the app sees
        mount.expect_log(r"qBittorrent API: Busy could not be added: .*too_many_active_downloads")
        busy = "b5" * 20
        emu.faults(
            {"api": {"realdebrid": {"status_burst": 509, "status_burst_count": 10_000, "retry_after": 1}}}
        )
        assert sonarr.add_magnet(f"magnet:?xt=urn:btih:{busy}&dn=Busy", "radarr") == "Ok."
        assert sonarr.one("radarr", busy)["state"] == "metaDL"  # the request did not wait
        wait_until(lambda: sonarr.one("radarr", busy)["state"] == "error", 60, "the busy error")
        emu.reset_faults()
        assert "too_many_active_downloads" in sonarr.get("torrents/properties", hash=busy).json()["comment"]

        # allow_delete = true but deleteFiles=false: Real-Debrid keeps it
        sonarr.post("torrents/delete", {"hashes": DEAD_HASH, "deleteFiles": "false"})
        assert [t["hash"] for t in sonarr.torrents("radarr")] == [busy]
        assert DEAD_HASH in [t["hash"] for t in emu.view("realdebrid")["torrents"]]
        assert sonarr.get("torrents/properties", hash=DEAD_HASH).status_code == 404


def test_torrent_files_and_categories(tmp_path):
    info = {
        "name": "Film.2020.1080p",
        "piece length": 16384,
        "pieces": b"\0" * 20,
        "files": [{"length": 5000, "path": ["Film.2020.1080p.mkv"]}],
    }
    data = bencode({"announce": "http://tracker.invalid/", "info": info})
    info_hash = hashlib.sha1(bencode(info)).hexdigest()
    with run_emulator(library()) as emu:
        with mounted(tmp_path, config(emu, tmp_path)) as mount:
            sonarr = Sonarr(api_url(mount))
            assert sonarr.login() == "Ok."
            assert (
                sonarr.post("torrents/createCategory", {"category": "anime", "savePath": ""}).status_code
                == 200
            )
            assert sonarr.post("torrents/createCategory", {"category": "anime"}).status_code == 409
            assert sonarr.post("torrents/createCategory", {"category": "../x"}).status_code == 409
            assert sonarr.get("torrents/categories").json()["anime"]["savePath"] == str(
                tmp_path / "arr/other/anime"
            )
            response = sonarr.http.post(
                "/api/v2/torrents/add",
                files={
                    "torrents": ("film.torrent", data, "application/x-bittorrent"),
                    "category": (None, "anime"),
                },
            )
            assert response.text == "Ok."
            bad = sonarr.http.post("/api/v2/torrents/add", files={"torrents": ("x.torrent", b"junk", "x")})
            assert bad.status_code == 415
            item = wait_until(
                lambda: next((t for t in sonarr.torrents("anime") if t["state"] == "pausedUP"), None),
                60,
                "the .torrent to finish",
            )
            assert item["hash"] == info_hash
            link = Path(item["content_path"]) / "Film.2020.1080p.mkv"
            assert link.is_symlink() and link.stat().st_size == 5000
            # a new category moves the links
            assert (
                sonarr.post("torrents/setCategory", {"hashes": info_hash, "category": "nope"}).status_code
                == 409
            )
            assert (
                sonarr.post("torrents/setCategory", {"hashes": info_hash, "category": "radarr"}).status_code
                == 200
            )
            moved = wait_until(
                lambda: next((t for t in sonarr.torrents("radarr") if t["state"] == "pausedUP"), None),
                30,
                "the links in the new category",
            )
            assert Path(moved["content_path"]) == tmp_path / "arr/radarr/Film.2020.1080p"
            assert not link.exists()
            for path in ("torrents/pause", "torrents/resume", "torrents/setShareLimits"):
                assert sonarr.post(path, {"hashes": info_hash}).status_code == 200
            assert sonarr.one("radarr", info_hash)["state"] == "pausedUP"
        # a remount remembers the torrent, its state and the category made through the API
        with mounted(tmp_path, config(emu, tmp_path), name="again") as mount:
            sonarr = Sonarr(api_url(mount))
            assert sonarr.login() == "Ok."
            assert sonarr.one("radarr", info_hash)["state"] == "pausedUP"
            assert "anime" in sonarr.get("torrents/categories").json()
            assert (tmp_path / "state/debridfs/qbittorrent.json").stat().st_mode & 0o077 == 0


def test_config_checks(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[qbittorrent]\nlisten = "127.0.0.1:8282"\nusername = "u"\npassword = "secret-pw"\n')
    with pytest.raises(ConfigError, match="needs a \\[realdebrid\\]"):
        load_config(path, env={})
    rd = '[realdebrid]\ntoken = "rd-token"\n'
    path.write_text(rd + '[qbittorrent]\nlisten = "127.0.0.1:8282"\nusername = "u"\n')
    with pytest.raises(ConfigError, match="password is required"):
        load_config(path, env={})
    path.write_text(rd + '[qbittorrent]\nlisten = "somewhere"\nusername = "u"\npassword = "secret-pw"\n')
    with pytest.raises(ConfigError, match="listen"):
        load_config(path, env={})
    path.write_text(
        rd + '[qbittorrent]\nusername = "u"\npassword = "secret-pw"\ncategories = { tv = "rel/dir" }\n'
    )
    with pytest.raises(ConfigError, match="absolute"):
        load_config(path, env={})
    path.write_text(rd + '[qbittorrent]\nlisten = "[::1]:9000"\nusername = "u"\npassword = "secret-pw"\n')
    config = load_config(path, env={})
    qb = config.qbittorrent
    assert (qb.host, qb.port) == ("::1", 9000) and "secret-pw" not in repr(qb)
    assert effective(config)["qbittorrent"]["password"] == "********"
    assert (
        load_config(path, env={"DEBRIDFS_QBITTORRENT_PASSWORD": "from-env"}).qbittorrent.password
        == "from-env"
    )


def test_a_busy_port_is_logged_and_the_mount_goes_on(tmp_path):
    import socket

    with socket.socket() as taken, run_emulator(library()) as emu:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        text = config(emu, tmp_path).replace('listen = "127.0.0.1:0"', f'listen = "127.0.0.1:{port}"')
        with mounted(tmp_path, text) as mount:
            mount.expect_log(rf"qBittorrent API: cannot listen on 127.0.0.1:{port}")
            wait_until(lambda: "cannot listen" in mount.log_text(), 15, "the error line")
            assert "Unrelated" in os.listdir(mount.path / "realdebrid/torrents")
            assert "not listening" in (mount.path / ".debridfs/qbittorrent").read_text()


def test_info_hashes():
    import base64

    from vfs.torrentfile import BadTorrent, magnet_hash, magnet_name, torrent_hash

    raw = bytes(range(20))
    assert magnet_hash(f"magnet:?xt=urn:btih:{raw.hex().upper()}&dn=X") == raw.hex()
    assert magnet_hash(f"magnet:?dn=Y&xt=urn:btih:{base64.b32encode(raw).decode()}") == raw.hex()
    assert magnet_name("magnet:?xt=urn:btih:" + raw.hex() + "&dn=Some+Name") == "Some Name"
    for bad in ("magnet:?dn=nohash", "magnet:?xt=urn:btih:1234", "http://example.invalid/x"):
        with pytest.raises(BadTorrent):
            magnet_hash(bad)
    info = {
        "name": "Multi",
        "piece length": 16384,
        "pieces": b"\0" * 20,
        "files": [{"length": 1, "path": ["name"]}, {"length": 2, "path": ["d", "e"]}],
    }
    data = bencode({"announce": "http://tracker.invalid/", "comment": "x", "info": info})
    assert torrent_hash(data) == (hashlib.sha1(bencode(info)).hexdigest(), "Multi")
    for bad in (b"", b"junk", data[:-5], bencode({"announce": "x"})):
        with pytest.raises(BadTorrent):
            torrent_hash(bad)
