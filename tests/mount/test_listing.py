"""Listings through a real mount: what `ls -l` asks of every file, and how
the mount answers so that it does not cost a round trip per file."""

from __future__ import annotations

import errno
import os
import subprocess

import pytest

from tests.emulators.harness import run_emulator
from tests.mounting import mounted

TOKEN = "rd-good-token"

LIBRARY = {
    "realdebrid": {
        "token": TOKEN,
        "torrents": [
            {
                "filename": f"Show {d}",
                "files": [
                    {"path": f"/episode {i}.mkv", "content": {"size": 1000 + i, "seed": i}} for i in range(5)
                ],
            }
            for d in range(3)
        ],
    }
}


@pytest.fixture(scope="module")
def mount(tmp_path_factory):
    with run_emulator(LIBRARY) as emu:
        config = f'[realdebrid]\ntoken = "{TOKEN}"\napi_url = "{emu.urls["realdebrid"]}"\n'
        with mounted(tmp_path_factory.mktemp("listing"), config) as mount:
            yield mount


@pytest.mark.parametrize(
    "name", ["security.selinux", "system.posix_acl_access", "system.posix_acl_default", "trusted.anything"]
)
def test_namespaces_the_mount_does_not_serve_are_not_supported(mount, name):
    # ls -l asks for these of every file; "not supported" makes it stop asking
    # for the rest of the mount, "no such attribute" would not.
    torrents = mount.path / "realdebrid/torrents"
    for path in (torrents / "Show 0", torrents / "Show 0/episode 1.mkv"):
        with pytest.raises(OSError) as caught:
            os.getxattr(path, name, follow_symlinks=False)
        assert caught.value.errno == errno.EOPNOTSUPP


def test_a_user_attribute_that_does_not_exist_is_missing(mount):
    path = mount.path / "realdebrid/torrents/Show 0/episode 1.mkv"
    with pytest.raises(OSError) as caught:
        os.getxattr(path, "user.md5")
    assert caught.value.errno == errno.ENODATA
    assert os.listxattr(path) == []


def test_ls_lR_shows_every_file_with_its_size_twice_the_same(mount):
    torrents = mount.path / "realdebrid/torrents"
    outputs = [
        subprocess.run(
            ["ls", "-lR", str(torrents)], capture_output=True, text=True, check=True, timeout=60
        ).stdout
        for _ in range(2)
    ]
    assert outputs[0] == outputs[1]
    lines = [line.split() for line in outputs[0].splitlines() if line.endswith(".mkv")]
    assert len(lines) == 15
    # No ACL ("+") or security context (".") marks, and the sizes the service reports.
    assert {fields[0] for fields in lines} == {"-r--r--r--"}
    assert sorted(int(fields[4]) for fields in lines) == sorted(1000 + i for i in range(5) for _ in range(3))
