"""Real-Debrid names through a real mount (issue 10): every selected file is
visible under a unique, stable name whatever collides (same path twice,
NFC/NFD, `/` replaced, truncation at 255 bytes); `.status` and the on_change
hook use the names the mount shows; the hook gets a minimal environment
without secrets; archived torrents show the archive, never a member's name."""

from __future__ import annotations

import json
import os
import sys
import unicodedata

from tests.emulators.content import SyntheticContent, sha256_of
from tests.emulators.harness import run_emulator
from tests.fixtures.collisions import DUPS, DUPS_SHORT_NAMES, NFC, SAME_NAMES, file, one_file_torrent, sha
from tests.mounting import mounted, sha256_through, wait_until

TOKEN = "rd-good-token"
KiB = 1 << 10

HOOK = (
    "import json, os, sys\n"
    "with open(sys.argv[1], 'a') as f:\n"
    "    f.write(json.dumps({'argv': sys.argv[2:], 'env': dict(os.environ)}) + '\\n')\n"
)

LIBRARY = {
    "realdebrid": {
        "token": TOKEN,
        "torrents": [
            DUPS,
            *SAME_NAMES,
            {
                "id": "TPACK",
                "filename": "Packed Movie",
                "status": "downloaded",
                "archive": {"name": "Packed.Movie.rar", "content": {"size": 20 * KiB + 5, "seed": 99}},
                "files": [file("/Packed.Movie.mkv", 21, 16 * KiB), file("/Packed.Movie.nfo", 22)],
            },
        ],
    }
}


def test_every_file_has_a_unique_stable_name(tmp_path):
    hook = tmp_path / "hook.py"
    hook.write_text(HOOK)
    hook_log = tmp_path / "hook.log"
    with run_emulator(LIBRARY) as emu:
        # the token comes from the environment, where on_change must not see it
        config = (
            f'[realdebrid]\napi_url = "{emu.urls["realdebrid"]}"\nrefresh_interval = 0.3\n'
            "allow_delete = true\n"
            f"on_change = {json.dumps([sys.executable, str(hook), str(hook_log)])}\n"
        )
        with mounted(
            tmp_path,
            config,
            env={"DEBRIDFS_REALDEBRID_TOKEN": TOKEN, "LANG": "C.UTF-8", "SOME_SECRET": "s3cr3t"},
        ) as mount:
            torrents = mount.path / "realdebrid/torrents"
            dups = torrents / "Dups"
            cafe = unicodedata.normalize("NFC", NFC)
            long_a = sorted(n for n in os.listdir(dups) if n.startswith("LLL"))
            assert len(long_a) == 2 and all(len(n.encode()) <= 255 for n in long_a)
            assert sorted(os.listdir(dups)) == sorted(DUPS_SHORT_NAMES + long_a)
            # the lower file id keeps the plain name; bytes follow the name
            assert sha256_through(dups / "a.mkv") == sha(1)
            assert sha256_through(dups / "a (2).mkv") == sha(2)
            assert sha256_through(dups / f"{cafe}.mkv") == sha(3)
            assert sha256_through(dups / f"{cafe} (2).mkv") == sha(4)
            assert {
                sha256_through(dups / cafe / "x.mkv"),
                sha256_through(dups / f"{cafe} (2)" / "x.mkv"),
            } == {sha(5), sha(6)}
            assert sorted(sha256_through(dups / n) for n in long_a) == sorted([sha(7), sha(8)])

            top = set(os.listdir(torrents))
            long_names = sorted(n for n in top if n.startswith("LLL"))
            assert len(long_names) == 2 and all(len(n.encode()) <= 255 for n in long_names)
            assert {"Same", "Same (2)", "A\u2215B", "A\u2215B (2)"} <= top
            # the older torrent keeps the plain name
            assert sha256_through(torrents / "Same/f.mkv") == sha(11)
            assert sha256_through(torrents / "Same (2)/f.mkv") == sha(12)
            assert sha256_through(torrents / "A\u2215B/f.mkv") == sha(13)
            assert sha256_through(torrents / "A\u2215B (2)/f.mkv") == sha(14)

            # archived: one link for two selected files -> the archive, under its own name
            assert os.listdir(torrents / "Packed Movie") == ["Packed.Movie.rar"]
            assert os.stat(torrents / "Packed Movie/Packed.Movie.rar").st_size == 20 * KiB + 5
            assert sha256_through(torrents / "Packed Movie/Packed.Movie.rar") == sha256_of(
                SyntheticContent(20 * KiB + 5, 99)
            )

            status = (torrents / ".status").read_text()
            assert "Same (2) (TSAME0)" in status and "A\u2215B (2) (TDIVSL)" in status

            # a third "Same", newest: existing names do not move
            emu.action(
                "realdebrid",
                "add_torrent",
                one_file_torrent("TSAME2", "Same", 17, "2026-02-01T00:00:00.000Z"),
            )
            wait_until(lambda: (torrents / "Same (3)").exists(), 20, "the new torrent")
            assert sha256_through(torrents / "Same/f.mkv") == sha(11)
            assert sha256_through(torrents / "Same (2)/f.mkv") == sha(12)
            assert sha256_through(torrents / "Same (3)/f.mkv") == sha(17)
            wait_until(lambda: hook_log.exists(), 20, "the on_change hook")
            call = json.loads(hook_log.read_text().splitlines()[0])
            assert call["argv"] == [str(torrents / "Same (3)")]
            env = call["env"]
            assert env["DEBRIDFS_ADDED"] == str(torrents / "Same (3)")
            assert env["DEBRIDFS_REMOVED"] == "" and env["DEBRIDFS_MOUNTPOINT"] == str(mount.path)
            assert env["LANG"] == "C.UTF-8" and env["PATH"]
            assert not any(TOKEN in v or "s3cr3t" in v for v in env.values()), "a secret reached on_change"
            assert set(env) <= {
                "PATH",
                "HOME",
                "LANG",
                "DEBRIDFS_SOURCE",
                "DEBRIDFS_MOUNTPOINT",
                "DEBRIDFS_ADDED",
                "DEBRIDFS_REMOVED",
                "DEBRIDFS_CHANGED",
                "DEBRIDFS_TRUNCATED",
                "PWD",
                "LC_CTYPE",
                "_",
            }

            # (a) Removing the oldest moves no other name: a name sticks to its
            # torrent while it exists. The hook hears of the removal only.
            emu.action("realdebrid", "remove_torrent", {"id": "TSAME1"})
            wait_until(lambda: len(hook_log.read_text().splitlines()) >= 2, 20, "the second hook call")
            call = json.loads(hook_log.read_text().splitlines()[1])
            assert call["env"]["DEBRIDFS_REMOVED"] == str(torrents / "Same")
            assert call["env"]["DEBRIDFS_ADDED"] == ""
            wait_until(lambda: not (torrents / "Same").exists(), 10, "the kernel to forget Same")
            assert sha256_through(torrents / "Same (2)/f.mkv") == sha(12)
            assert sha256_through(torrents / "Same (3)/f.mkv") == sha(17)

            # (b) A newcomer literally named "Same (2)" does not take the name an
            # existing torrent holds: it is numbered instead.
            emu.action(
                "realdebrid",
                "add_torrent",
                one_file_torrent("TSAME3", "Same (2)", 18, "2026-03-01T00:00:00.000Z"),
            )
            wait_until(lambda: (torrents / "Same (2) (2)").exists(), 20, "the newcomer")
            assert sha256_through(torrents / "Same (2)/f.mkv") == sha(12)
            assert sha256_through(torrents / "Same (2) (2)/f.mkv") == sha(18)
            assert sha256_through(torrents / "Same (3)/f.mkv") == sha(17)
            wait_until(lambda: len(hook_log.read_text().splitlines()) >= 3, 20, "the third hook call")
            call = json.loads(hook_log.read_text().splitlines()[2])
            assert call["env"]["DEBRIDFS_ADDED"] == str(torrents / "Same (2) (2)")
            assert call["env"]["DEBRIDFS_REMOVED"] == ""
            status = (torrents / ".status").read_text()
            assert "Same (2) (TSAME0)" in status and "Same (2) (2) (TSAME3)" in status

            # The same inside a torrent: a file removed by rm leaves the others' names.
            os.unlink(dups / "a.mkv")
            assert "a (2).mkv" in os.listdir(dups) and "a.mkv" not in os.listdir(dups)
            assert sha256_through(dups / "a (2).mkv") == sha(2)


def test_stored_rar_members_are_files_of_their_own(tmp_path):
    from tests.emulators.rar import rar_archive

    movie = SyntheticContent(300 * KiB + 11, 31)
    nfo = SyntheticContent(2 * KiB, 32)
    members = [
        {"path": "/Movie/movie.mkv", "content": {"size": movie.size, "seed": 31}, "selected": 1},
        {"path": "/movie.nfo", "content": {"size": nfo.size, "seed": 32}, "selected": 1},
    ]
    library = {
        "realdebrid": {
            "token": TOKEN,
            "torrents": [
                {
                    "id": "TSTORED",
                    "filename": "Stored",
                    "status": "downloaded",
                    "files": members,
                    "archive": {"name": "stored.rar", "format": "rar"},
                },
                {
                    "id": "TPACKED",
                    "filename": "Packed",
                    "status": "downloaded",
                    "files": members,
                    "archive": {"name": "packed.rar", "format": "rar-compressed"},
                },
            ],
        }
    }
    stored = rar_archive([("/Movie/movie.mkv", movie), ("/movie.nfo", nfo)])
    with run_emulator(library) as emu:
        config = f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\n'
        with mounted(tmp_path, config) as mount:
            torrents = mount.path / "realdebrid/torrents"
            assert sorted(os.listdir(torrents / "Stored")) == ["Movie", "movie.nfo", "stored.rar"]
            assert os.listdir(torrents / "Stored/Movie") == ["movie.mkv"]
            assert os.stat(torrents / "Stored/Movie/movie.mkv").st_size == movie.size
            assert sha256_through(torrents / "Stored/Movie/movie.mkv") == sha256_of(movie)
            assert sha256_through(torrents / "Stored/movie.nfo") == sha256_of(nfo)
            with open(torrents / "Stored/Movie/movie.mkv", "rb") as f:  # a seek into the middle
                assert os.pread(f.fileno(), 1000, 200 * KiB) == movie.read(200 * KiB, 1000)
            assert sha256_through(torrents / "Stored/stored.rar") == sha256_of(stored)
            # compressed members are not byte ranges of the archive: the archive only
            assert os.listdir(torrents / "Packed") == ["packed.rar"]
