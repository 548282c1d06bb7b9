"""Real-Debrid replies in the shapes the document leaves open, through the
client: an error code as a string keeps its meaning, an empty page written
`{}` is an empty page, and a reply without the field a call needs is one
clear error (docs/providers.md, "Replies the documents leave open")."""

from __future__ import annotations

import httpx
import pytest

from clients.errors import FileUnavailable, RemoteError
from clients.realdebrid import RealDebridClient
from tests.emulators.harness import run_emulator

TOKEN = "rd-good-token"


@pytest.fixture
def emu():
    with run_emulator({"realdebrid": {"token": TOKEN, "rate_limit_per_minute": 0}}) as handle:
        yield handle


async def test_an_error_code_sent_as_a_string_keeps_its_meaning(emu):
    emu.action("realdebrid", "set_shapes", {"numbers": "strings"})
    emu.action(
        "realdebrid",
        "inject_error",
        {"route": "GET /user", "status": 451, "error": "infringing_file", "code": 35},
    )
    async with httpx.AsyncClient() as http:
        with pytest.raises(FileUnavailable) as caught:
            await RealDebridClient(http, emu.urls["realdebrid"], TOKEN).user()
    assert caught.value.code == 35


async def test_an_empty_page_written_as_an_object_is_empty(emu):
    emu.action("realdebrid", "set_listing", {"empty": "{}"})
    async with httpx.AsyncClient() as http:
        page = await RealDebridClient(http, emu.urls["realdebrid"], TOKEN).page("/torrents", 0)
    assert page.items == []


async def test_an_added_magnet_without_an_id_is_a_clear_error(emu):
    emu.action(
        "realdebrid",
        "inject_error",
        {"route": "POST /torrents/addMagnet", "status": 201, "error": "", "code": None},
    )
    async with httpx.AsyncClient() as http:
        client = RealDebridClient(http, emu.urls["realdebrid"], TOKEN)
        with pytest.raises(RemoteError, match="addMagnet: the reply has no id"):
            await client.add_magnet("magnet:?xt=urn:btih:" + "ab" * 20)


async def test_an_unrestrict_without_a_download_link_is_a_clear_error(emu):
    emu.action(
        "realdebrid",
        "inject_error",
        {"route": "POST /unrestrict/link", "status": 200, "error": "", "code": None},
    )
    async with httpx.AsyncClient() as http:
        client = RealDebridClient(http, emu.urls["realdebrid"], TOKEN)
        with pytest.raises(RemoteError, match="unrestrict/link: the reply has no download"):
            await client.unrestrict_link("https://real-debrid.com/d/ABCDEFGHIJKLM")
