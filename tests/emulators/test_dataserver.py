"""Tests of the data host's misbehaviour switches (tests/emulators/dataserver.py),
over real HTTP: what a client on the wire sees for each."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.emulators.content import SyntheticContent
from tests.emulators.harness import EmulatorHandle

TOKEN = "dataserver-token"
CONTENT = SyntheticContent(3 << 20, 77)
LIBRARY = {
    "realdebrid": {
        "token": TOKEN,
        "rate_limit_per_minute": 0,
        "torrents": [
            {
                "id": "DATA",
                "filename": "data",
                "status": "downloaded",
                "files": [
                    {
                        "path": "/file.bin",
                        "content": {"size": CONTENT.size, "seed": CONTENT.seed},
                        "selected": 1,
                    }
                ],
            }
        ],
    }
}


@pytest.fixture
def fresh_link(emu: EmulatorHandle) -> Iterator[Callable[[], str]]:
    emu.reset_faults()

    def mint() -> str:
        with httpx.Client(
            base_url=emu.url("realdebrid"), timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as rd:
            link = rd.get("/torrents/info/DATA").json()["links"][0]
            return rd.post("/unrestrict/link", data={"link": link}).json()["download"]

    yield mint
    emu.reset_faults()


def test_silence_before_the_head(emu: EmulatorHandle, fresh_link) -> None:
    url = fresh_link()
    emu.faults({"data": {"stall_count": 1, "stall_after_bytes": -1, "stall_seconds": 30}})
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(url, headers={"Range": "bytes=0-99"}, timeout=httpx.Timeout(10, read=0.5))
    # One request only: the next one is served.
    assert httpx.get(url, headers={"Range": "bytes=0-99"}).content == CONTENT.read(0, 100)


@pytest.mark.parametrize("after", [0, 100_000])
def test_silence_after_the_head_or_inside_the_body(emu: EmulatorHandle, fresh_link, after: int) -> None:
    url = fresh_link()
    emu.faults({"data": {"stall_count": 1, "stall_after_bytes": after, "stall_seconds": 30}})
    received = bytearray()
    with httpx.Client(timeout=httpx.Timeout(10, read=0.5)) as client:
        with client.stream("GET", url, headers={"Range": "bytes=0-999999"}) as response:
            assert response.status_code == 206
            assert response.headers["content-length"] == "1000000"
            with pytest.raises(httpx.ReadTimeout):
                for piece in response.iter_raw():
                    received += piece
    assert bytes(received) == CONTENT.read(0, after)


def test_an_html_page_with_status_200(emu: EmulatorHandle, fresh_link) -> None:
    url = fresh_link()
    emu.faults({"data": {"html_count": 2}})
    for _ in range(2):
        page = httpx.get(url, headers={"Range": "bytes=100-199"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert b"<html>" in page.content and "content-range" not in page.headers
    assert httpx.get(url, headers={"Range": "bytes=100-199"}).content == CONTENT.read(100, 100)


def test_a_content_range_for_another_range(emu: EmulatorHandle, fresh_link) -> None:
    url = fresh_link()
    emu.faults({"data": {"wrong_range_count": 1}})
    wrong = httpx.get(url, headers={"Range": "bytes=10000-19999"})
    assert wrong.status_code == 206
    first, last = map(int, wrong.headers["content-range"].split()[1].split("/")[0].split("-"))
    assert first != 10000
    # Header and bytes agree with each other, not with the request.
    assert wrong.content == CONTENT.read(first, last + 1 - first)
    right = httpx.get(url, headers={"Range": "bytes=10000-19999"})
    assert right.headers["content-range"] == f"bytes 10000-19999/{CONTENT.size}"


def test_a_link_on_a_host_that_refuses_connections(emu: EmulatorHandle, fresh_link) -> None:
    emu.faults({"data": {"unreachable_links": 1}})
    dead, alive = fresh_link(), fresh_link()
    parts = urlsplit(dead)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((parts.hostname, parts.port), timeout=5)
    assert urlsplit(alive).port != parts.port
    assert httpx.get(alive, headers={"Range": "bytes=0-9"}).content == CONTENT.read(0, 10)


def test_the_content_type_files_are_served_as(emu: EmulatorHandle, fresh_link) -> None:
    url = fresh_link()
    assert (
        httpx.get(url, headers={"Range": "bytes=0-9"}).headers["content-type"] == "application/force-download"
    )
    emu.faults({"data": {"content_type": "video/x-matroska"}})
    assert httpx.get(url, headers={"Range": "bytes=0-9"}).headers["content-type"] == "video/x-matroska"


def test_ranges_shorter_than_asked(emu: EmulatorHandle, fresh_link) -> None:
    url = fresh_link()
    emu.faults({"data": {"max_range_bytes": 1000}})
    short = httpx.get(url, headers={"Range": "bytes=5000-99999"})
    assert short.status_code == 206
    assert short.headers["content-range"] == f"bytes 5000-5999/{CONTENT.size}"
    assert short.content == CONTENT.read(5000, 1000)
