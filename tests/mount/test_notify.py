"""Media-server notifications through a real mount: a torrent added and removed
on Real-Debrid reaches Plex, Jellyfin and Emby emulators as the exact partial
scans each expects (paths mapped to the servers' view), batched and once;
failures are retried with backoff, shown in `.debridfs/notify`, and a server
that is down never blocks the mount."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from tests.emulators.harness import run_emulator
from tests.mounting import mounted, wait_until
from vfs.config import ConfigError, load_config
from vfs.notifier import map_path

TOKEN = "rd-good-token"
PLEX_TOKEN = "plex-secret-token"
JF_KEY = "jellyfin-secret-key"
EMBY_KEY = "emby-secret-key"
SERVER_ROOT = "/data/debrid"


def library(plex_json: bool = True) -> dict:
    return {
        "realdebrid": {
            "token": TOKEN,
            "torrents": [
                {
                    "id": "KEEP",
                    "filename": "Old Film (1999)",
                    "files": [{"path": "/old.mkv", "content": {"size": 1000, "seed": 1}}],
                }
            ],
        },
        "plex": {
            "token": PLEX_TOKEN,
            "json": plex_json,
            "sections": [
                {
                    "key": "3",
                    "title": "Debrid",
                    "type": "movie",
                    "locations": [f"{SERVER_ROOT}/realdebrid/torrents"],
                },
                {"key": "7", "title": "Elsewhere", "type": "show", "locations": ["/data/other"]},
            ],
        },
        "jellyfin": {"token": JF_KEY},
        "emby": {"token": EMBY_KEY},
    }


def notify_config(emu, mountpoint: Path, servers=("plex", "jellyfin", "emby"), **extra) -> str:
    tokens = {"plex": PLEX_TOKEN, "jellyfin": JF_KEY, "emby": EMBY_KEY}
    text = ""
    for kind in servers:
        url = extra.get(f"{kind}_url", f"{emu.base_url}/{kind}")
        text += (
            f'[[notify]]\nkind = "{kind}"\nurl = "{url}"\ntoken = "{tokens[kind]}"\n'
            f'path_map = {{ "{mountpoint}" = "{SERVER_ROOT}" }}\n'
            f"batch_seconds = 0.5\nmin_interval = 0\n"
        )
    return text


def rd_config(emu) -> str:
    return f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\nrefresh_interval = 0.5\n'


def add_fresh_film(emu, torrents) -> None:
    """A torrent added on the service; returns once the mount lists it."""
    emu.action(
        "realdebrid",
        "add_torrent",
        {
            "id": "NEW",
            "filename": "Fresh Film (2024)",
            "files": [{"path": "/fresh.mkv", "content": {"size": 2000, "seed": 2}}],
        },
    )
    wait_until(lambda: "Fresh Film (2024)" in os.listdir(torrents), 15, "the new torrent")


def calls(emu, server: str) -> list[dict]:
    return emu.view(server)["calls"]


def scans(emu) -> list[dict]:
    return [c for c in calls(emu, "plex") if c["path"].endswith("/refresh")]


def test_add_and_remove_reach_plex_jellyfin_and_emby(tmp_path):
    with run_emulator(library()) as emu:
        mountpoint = tmp_path / "mnt"
        # Emby's documented base path is http://host:8096/emby
        config = rd_config(emu) + notify_config(emu, mountpoint, emby_url=f"{emu.base_url}/emby/emby")
        with mounted(tmp_path, config) as mount:
            torrents = mount.path / "realdebrid/torrents"
            assert sorted(os.listdir(torrents)) == [".status", "Old Film (1999)"]
            add_fresh_film(emu, torrents)
            here = f"{SERVER_ROOT}/realdebrid/torrents/Fresh Film (2024)"
            wait_until(
                lambda: scans(emu) and calls(emu, "jellyfin") and calls(emu, "emby"),
                15,
                "the three servers to hear of it",
            )
            # Plex: the sections, then one partial scan of the section that holds the path
            assert [(c["method"], c["path"]) for c in calls(emu, "plex")] == [
                ("GET", "/library/sections"),
                ("GET", "/library/sections/3/refresh"),
            ]
            assert scans(emu)[0]["query"] == {"path": here}
            assert all(c["status"] == 200 for c in calls(emu, "plex"))
            for server, path in (
                ("jellyfin", "/Library/Media/Updated"),
                ("emby", "/emby/Library/Media/Updated"),
            ):
                [call] = calls(emu, server)
                assert (call["method"], call["path"], call["status"]) == ("POST", path, 204)
                assert call["body"] == {"Updates": [{"Path": here, "UpdateType": "Created"}]}
            assert calls(emu, "emby")[0]["query"] == {"api_key": EMBY_KEY}
            assert calls(emu, "jellyfin")[0]["query"] == {}

            for server in ("plex", "jellyfin", "emby"):
                emu.action(server, "reset")
            emu.action("realdebrid", "remove_torrent", {"id": "NEW"})
            wait_until(lambda: "Fresh Film (2024)" not in os.listdir(torrents), 15, "the removal")
            wait_until(
                lambda: scans(emu) and calls(emu, "jellyfin") and calls(emu, "emby"),
                15,
                "the three servers to hear of the removal",
            )
            # a path that is gone is scanned through its parent on Plex
            assert [c["query"] for c in scans(emu)] == [{"path": f"{SERVER_ROOT}/realdebrid/torrents"}]
            for server in ("jellyfin", "emby"):
                assert [c["body"] for c in calls(emu, server)] == [
                    {"Updates": [{"Path": here, "UpdateType": "Deleted"}]}
                ]
            status = (mount.path / ".debridfs/notify").read_text()
            assert "sent 2" in status and "failed 0" in status
            # nothing more is sent while nothing changes
            refreshes = emu.calls("realdebrid", "GET /torrents")
            wait_until(lambda: emu.calls("realdebrid", "GET /torrents") >= refreshes + 3, 15, "3 syncs")
            assert len(calls(emu, "jellyfin")) == 1 and len(scans(emu)) == 1


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_failures_are_retried_and_a_dead_server_never_blocks(tmp_path):
    with run_emulator(library(plex_json=False)) as emu:
        mountpoint = tmp_path / "mnt"
        dead = f"http://127.0.0.1:{closed_port()}"
        config = rd_config(emu) + notify_config(emu, mountpoint, ("plex", "jellyfin", "emby"), emby_url=dead)
        # Jellyfin answers 503 twice (with Retry-After), then accepts
        emu.faults({"api": {"jellyfin": {"status_burst": 503, "status_burst_count": 2, "retry_after": 1}}})
        with mounted(tmp_path, config) as mount:
            mount.expect_log(r"notify emby: .*ConnectError")
            torrents = mount.path / "realdebrid/torrents"
            add_fresh_film(emu, torrents)
            # the mount goes on serving while emby is down and jellyfin refuses
            assert (torrents / "Fresh Film (2024)/fresh.mkv").stat().st_size == 2000
            here = f"{SERVER_ROOT}/realdebrid/torrents/Fresh Film (2024)"
            wait_until(lambda: calls(emu, "jellyfin"), 20, "jellyfin to accept the batch")
            assert [c["body"] for c in calls(emu, "jellyfin")] == [
                {"Updates": [{"Path": here, "UpdateType": "Created"}]}
            ]
            assert emu.calls("jellyfin", "POST /Library/Media/Updated") == 3
            # Plex answered XML (the "json" switch off): the section was still found
            wait_until(lambda: scans(emu), 15, "the plex scan")
            assert [c["query"] for c in scans(emu)] == [{"path": here}]
            status = mount.path / ".debridfs/notify"
            wait_until(lambda: "failed 1" in status.read_text(), 60, "emby to be given up")
            text = status.read_text()
            assert "retrying" in text and "ConnectError" in text
            assert EMBY_KEY not in text and JF_KEY not in text
            assert "notify emby" in mount.log_text()


@pytest.mark.parametrize("key, status", [("wrong-key", 401), ("a-users-key", 403)])
def test_a_refused_key_is_logged_not_retried(tmp_path, key, status):
    """A wrong key (401), or the key of a user who is no administrator (403)."""
    lib = library()
    lib["jellyfin"]["user_tokens"] = ["a-users-key"]
    with run_emulator(lib) as emu:
        mountpoint = tmp_path / "mnt"
        config = rd_config(emu) + notify_config(emu, mountpoint, ("jellyfin",)).replace(JF_KEY, key)
        with mounted(tmp_path, config) as mount:
            mount.expect_log(rf"notify jellyfin: .*{status}")
            emu.action(
                "realdebrid",
                "add_torrent",
                {
                    "id": "NEW",
                    "filename": "Fresh",
                    "files": [{"path": "/fresh.mkv", "content": {"size": 2000, "seed": 2}}],
                },
            )
            wait_until(
                lambda: "failed 1" in (mount.path / ".debridfs/notify").read_text(), 20, "the refused batch"
            )
            assert [c["status"] for c in calls(emu, "jellyfin")] == [status]
            assert key not in mount.log_text()


def test_config_checks(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[[notify]]\nkind = "kodi"\nurl = "http://x"\ntoken = "t"\n')
    with pytest.raises(
        ConfigError, match=r"\[\[notify\]\] #1 kind = \"kodi\": .*'plex', 'jellyfin' or 'emby'"
    ):
        load_config(path, env={})
    path.write_text('[[notify]]\nkind = "plex"\nurl = "http://x"\n')
    with pytest.raises(ConfigError, match=r"\[\[notify\]\] #1 token is required"):
        load_config(path, env={})
    path.write_text(
        '[[notify]]\nkind = "plex"\nurl = "http://x"\ntoken = "secret-value"\npath_map = { "rel" = "/x" }\n'
    )
    with pytest.raises(ConfigError, match="path_map .*expected a table of absolute paths"):
        load_config(path, env={})
    path.write_text('[[notify]]\nkind = "plex"\nurl = "http://x"\ntoken = 123456789\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert "123456789" not in str(info.value) and "<hidden>" in str(info.value)
    path.write_text('[[notify]]\nkind = "emby"\nurl = "http://x/"\ntoken = "secret-value"\n')
    config = load_config(path, env={})
    assert config.notify[0].url == "http://x" and "secret-value" not in repr(config)


def test_map_path():
    table = {"/mnt/debrid": "/data/debrid", "/mnt/debrid/realdebrid/torrents": "/t"}
    assert map_path("/mnt/debrid/realdebrid/downloads", table) == "/data/debrid/realdebrid/downloads"
    assert map_path("/mnt/debrid/realdebrid/torrents/A", table) == "/t/A"
    assert map_path("/mnt/debridX/a", table) == "/mnt/debridX/a"
    assert map_path("/mnt/debrid", table) == "/data/debrid"


def test_links_added_through_the_mount_are_sent(tmp_path):
    from tests.linkservices import PORTAL_KEY, RG_ONE

    lib = {
        "hoster_links": [{"url": RG_ONE, "name": "one.bin", "content": {"size": 1000, "seed": 3}}],
        "portal": {"api_key": PORTAL_KEY, "ready_after_polls": 0},
        "jellyfin": {"token": JF_KEY},
    }
    with run_emulator(lib) as emu:
        mountpoint = tmp_path / "mnt"
        config = f'[portal]\napi_key = "{PORTAL_KEY}"\napi_url = "{emu.urls["portal"]}"\n' + notify_config(
            emu, mountpoint, ("jellyfin",)
        )
        with mounted(tmp_path, config) as mount:
            (mount.path / "portal/new.links").write_text(RG_ONE + "\n")
            wait_until(lambda: "one.bin" in os.listdir(mount.path / "portal"), 15, "the link")
            wait_until(lambda: calls(emu, "jellyfin"), 15, "jellyfin to hear of it")
            updates = [u for c in calls(emu, "jellyfin") for u in c["body"]["Updates"]]
            assert {"Path": f"{SERVER_ROOT}/portal", "UpdateType": "Modified"} in updates
            assert all(u["Path"] == f"{SERVER_ROOT}/portal" for u in updates)


def test_cp_of_a_magnet_and_rm_through_the_mount(tmp_path):
    """The user's own path: `cp x.magnet` into torrents/, then `rm -r`; the library
    view's new title is sent as well (Plex has no section for it: no scan)."""
    import shutil
    import subprocess

    dn = "Fresh.Film.2024.1080p.WEB-DL.x264-GRP"
    magnet = tmp_path / "fresh.magnet"
    magnet.write_text(f"magnet:?xt=urn:btih:{'ab' * 20}&dn={dn}\n")
    with run_emulator(library()) as emu:
        mountpoint = tmp_path / "mnt"
        config = (
            rd_config(emu)
            + "allow_delete = true\n[library]\nenabled = true\n"
            + notify_config(emu, mountpoint)
        )
        with mounted(tmp_path, config) as mount:
            torrents = mount.path / "realdebrid/torrents"
            # a first mount loads the details in the background: the library fills
            # then (and says so); wait for that before the test starts counting
            wait_until(
                lambda: os.listdir(mount.path / "library/movies") == ["Old Film (1999)"],
                30,
                "the first library",
            )
            wait_until(lambda: calls(emu, "jellyfin") and calls(emu, "emby"), 15, "its notification")
            for server in ("plex", "jellyfin", "emby"):
                emu.action(server, "reset")
            subprocess.run(["cp", str(magnet), str(torrents)], check=True, timeout=30)
            wait_until(lambda: dn in os.listdir(torrents), 30, "the added torrent")
            here = f"{SERVER_ROOT}/realdebrid/torrents/{dn}"
            shelf = f"{SERVER_ROOT}/library/movies/Fresh Film (2024)"
            wait_until(
                lambda: os.path.isdir(mount.path / "library/movies/Fresh Film (2024)"), 30, "the library"
            )

            def sent(server: str) -> list[dict]:
                return [u for c in calls(emu, server) for u in c["body"]["Updates"]]

            def told_all() -> bool:
                return len(sent("jellyfin")) >= 2 and len(sent("emby")) >= 2 and bool(scans(emu))

            # Each server is told on its own: wait for all three before looking.
            wait_until(told_all, 15, "both paths")
            for server in ("jellyfin", "emby"):
                assert sorted(sent(server), key=str) == sorted(
                    [{"Path": here, "UpdateType": "Created"}, {"Path": shelf, "UpdateType": "Created"}],
                    key=str,
                )
            assert [c["query"] for c in scans(emu)] == [{"path": here}]

            for server in ("plex", "jellyfin", "emby"):
                emu.action(server, "reset")
            shutil.rmtree(torrents / dn)
            assert dn not in os.listdir(torrents)
            wait_until(told_all, 15, "the removal")
            for server in ("jellyfin", "emby"):
                assert sorted(sent(server), key=str) == sorted(
                    [{"Path": here, "UpdateType": "Deleted"}, {"Path": shelf, "UpdateType": "Deleted"}],
                    key=str,
                )
            assert [c["query"] for c in scans(emu)] == [{"path": f"{SERVER_ROOT}/realdebrid/torrents"}]
            assert not os.path.exists(mount.path / "library/movies/Fresh Film (2024)")
