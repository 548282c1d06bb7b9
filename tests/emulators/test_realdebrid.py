"""Tests of the Real-Debrid emulator (tests/emulators/realdebrid.py), over real HTTP."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.emulators.content import SyntheticContent
from tests.emulators.harness import EmulatorHandle, run_emulator
from tests.emulators.realdebrid import RealDebrid, bdecode_torrent, build, sample_section
from tests.emulators.state import EmulatorState

MIB = 1 << 20
TOKEN = "tok-good"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HOSTER_URL = "https://rapidgator.net/file/0123456789abcdef0123456789abcdef/hoster.file.mkv.html"
OFFLINE_URL = "https://rapidgator.net/file/00000000000000000000000000000000/gone.avi.html"
INFRINGING_HASH = "ab" * 20


def syn(size: int, seed: int) -> dict[str, int]:
    return {"size": size, "seed": seed}


LIBRARY: dict[str, Any] = {
    "realdebrid": {
        "token": TOKEN,
        "tokens": ["tok-rate"],
        "locked_tokens": ["tok-locked"],
        "rate_limit_per_minute": 0,
        "oauth_approve_after_polls": 2,
        "known_magnets": [{"hash": INFRINGING_HASH, "infringing": True}],
        "downloads": [
            {"id": "DLONE", "filename": "one.mkv", "content": syn(MIB, 1)},
            {"filename": "two.txt", "content": {"text": "hello"}},
        ],
        "torrents": [
            {
                "id": "TMOVIE",
                "filename": "Movie (2020)",
                "files": [{"path": "/Movie.2020.mkv", "content": syn(3 * MIB + 17, 11)}],
            },
            {
                "id": "TSHOW",
                "filename": "Shöw S01",
                "files": [
                    {"path": "/Season 1/E01.mkv", "content": syn(2 * MIB, 12)},
                    {"path": "/Season 1/E02.mkv", "content": syn(2 * MIB + 1, 13), "selected": 0},
                    {"path": "/Season 1/E03.mkv", "content": syn(2 * MIB + 2, 14)},
                ],
            },
            {
                "id": "TBAD",
                "filename": "Bad files",
                "files": [
                    {"path": "/gone.mkv", "content": syn(1000, 15), "unavailable": True},
                    {"path": "/dmca.mkv", "content": syn(1000, 16), "infringing": True},
                    {"path": "/broken.mkv", "content": syn(1000, 17), "broken": True},
                ],
            },
            {
                "id": "TDL",
                "filename": "Still downloading",
                "status": "downloading",
                "files": [{"path": "/x.bin", "content": syn(1000, 18)}],
            },
            *[
                {"filename": f"Filler {i}", "files": [{"path": f"/f{i}.bin", "content": syn(100, 100 + i)}]}
                for i in range(6)
            ],
        ],
    },
    "hoster_links": [
        {"url": HOSTER_URL, "name": "hoster.file.mkv", "content": syn(MIB + 5, 21)},
        {"url": OFFLINE_URL, "name": "gone.avi", "content": syn(10, 22), "offline": True},
    ],
}
N_TORRENTS = len(LIBRARY["realdebrid"]["torrents"])


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    with run_emulator(LIBRARY) as handle:
        yield handle


@pytest.fixture
def rd(emu: EmulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.url("realdebrid"), headers=AUTH, timeout=10) as client:
        yield client
    emu.reset_faults()
    emu.action("realdebrid", "rate_limit", {"per_minute": 0})


def error_of(response: httpx.Response) -> tuple[int, str, int]:
    body = response.json()
    return response.status_code, body["error"], body["error_code"]


# ----------------------------------------------------------------------------- lists


def test_pagination_total_count_and_204(rd: httpx.Client) -> None:
    first = rd.get("/torrents", params={"limit": 4})
    assert first.status_code == 200
    assert first.headers["X-Total-Count"] == str(N_TORRENTS)
    assert [t["id"] for t in first.json()[:2]] == ["TMOVIE", "TSHOW"]
    second = rd.get("/torrents", params={"limit": 4, "page": 2})
    by_offset = rd.get("/torrents", params={"limit": 4, "offset": 4})
    assert second.json() == by_offset.json()
    assert {t["id"] for t in first.json()}.isdisjoint(t["id"] for t in second.json())
    # page wins over offset
    assert rd.get("/torrents", params={"limit": 4, "page": 1, "offset": 8}).json() == first.json()
    last = rd.get("/torrents", params={"limit": 4, "page": 3}).json()
    assert len(last) == N_TORRENTS - 8
    past = rd.get("/torrents", params={"limit": 4, "page": 4})
    assert past.status_code == 204 and past.content == b""
    assert past.headers["X-Total-Count"] == str(N_TORRENTS)
    assert len(rd.get("/torrents").json()) == N_TORRENTS  # default limit 50
    assert error_of(rd.get("/torrents", params={"limit": "x"}))[0:3:2] == (400, 2)
    downloads = rd.get("/downloads", params={"limit": 1})
    assert downloads.status_code == 200 and len(downloads.json()) == 1
    assert int(downloads.headers["X-Total-Count"]) >= 2


def test_torrent_list_fields(rd: httpx.Client) -> None:
    items = {t["id"]: t for t in rd.get("/torrents").json()}
    show = items["TSHOW"]
    assert show["bytes"] == 2 * MIB + 2 * MIB + 2  # selected files only
    assert len(show["links"]) == 2 and all(
        link.startswith("https://real-debrid.com/d/") for link in show["links"]
    )
    assert len(show["hash"]) == 40 and show["status"] == "downloaded" and "ended" in show
    assert "files" not in show and "speed" not in show and "seeders" not in show
    dl = items["TDL"]
    assert dl["status"] == "downloading" and dl["links"] == [] and "ended" not in dl
    assert "speed" in dl and "seeders" in dl
    info = rd.get("/torrents/info/TSHOW").json()
    assert info["original_bytes"] == 6 * MIB + 3
    assert [f["selected"] for f in info["files"]] == [1, 0, 1]
    assert [f["path"] for f in info["files"]][0] == "/Season 1/E01.mkv"
    assert info["filename"] == "Shöw S01"
    assert error_of(rd.get("/torrents/info/NOPE")) == (404, "unknown_ressource", 7)


def test_filter_active_lists_active_first(rd: httpx.Client) -> None:
    items = rd.get("/torrents", params={"filter": "active"}).json()
    assert items[0]["id"] == "TDL"
    assert len(items) == N_TORRENTS


def test_etag_and_304(emu: EmulatorHandle, rd: httpx.Client) -> None:
    first = rd.get("/torrents", params={"limit": 2})
    etag = first.headers["ETag"]
    again = rd.get("/torrents", params={"limit": 2}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    # a change outside the page leaves it unchanged
    emu.action("realdebrid", "rename_torrent", {"id": "TBAD", "filename": "Bad files renamed"})
    assert rd.get("/torrents", params={"limit": 2}, headers={"If-None-Match": etag}).status_code == 304
    # a change inside the page changes the ETag
    emu.action("realdebrid", "rename_torrent", {"id": "TMOVIE", "filename": "Movie (2020) renamed"})
    try:
        changed = rd.get("/torrents", params={"limit": 2}, headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["ETag"] != etag
        assert changed.json()[0]["filename"] == "Movie (2020) renamed"
    finally:
        emu.action("realdebrid", "rename_torrent", {"id": "TMOVIE", "filename": "Movie (2020)"})
        emu.action("realdebrid", "rename_torrent", {"id": "TBAD", "filename": "Bad files"})
    assert rd.get("/torrents", params={"limit": 2}, headers={"If-None-Match": etag}).status_code == 304


# ----------------------------------------------------------------------------- auth


def test_bad_and_locked_tokens(emu: EmulatorHandle) -> None:
    api = emu.url("realdebrid")
    assert error_of(httpx.get(f"{api}/user")) == (401, "bad_token", 8)
    assert error_of(httpx.get(f"{api}/user", headers={"Authorization": "Bearer nope"})) == (
        401,
        "bad_token",
        8,
    )
    assert error_of(httpx.get(f"{api}/user", headers={"Authorization": "Bearer tok-locked"})) == (
        403,
        "account_locked",
        14,
    )
    user = httpx.get(f"{api}/user", params={"auth_token": TOKEN})
    assert user.status_code == 200 and user.json()["type"] == "premium"
    assert httpx.get(f"{api}/time").status_code == 200  # no auth needed
    assert error_of(httpx.get(f"{api}/no/such/thing", headers=AUTH)) == (404, "unknown_method", 3)


def test_calls_are_counted(emu: EmulatorHandle, rd: httpx.Client) -> None:
    emu.reset_stats()
    rd.get("/torrents/info/TMOVIE")
    rd.get("/torrents/info/TSHOW")
    httpx.get(f"{emu.url('realdebrid')}/user")  # refused: still counted
    calls = emu.stats()["calls"]
    assert calls["realdebrid GET /torrents/info/{id}"] == 2
    assert calls["realdebrid GET /user"] == 1


def test_rate_limit_429(emu: EmulatorHandle, rd: httpx.Client) -> None:
    emu.action("realdebrid", "rate_limit", {"per_minute": 5})
    emu.reset_stats()
    headers = {"Authorization": "Bearer tok-rate"}
    statuses = [rd.get("/user", headers=headers).status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    assert error_of(rd.get("/user", headers=headers)) == (429, "too_many_requests", 34)
    assert emu.calls("realdebrid", "GET /user") == 8
    assert rd.get("/user").status_code == 200  # buckets are per token


def test_injected_faults(emu: EmulatorHandle, rd: httpx.Client) -> None:
    emu.faults({"api": {"realdebrid": {"status_burst": 429, "status_burst_count": 1, "retry_after": 7}}})
    refused = rd.get("/user")
    assert error_of(refused) == (429, "too_many_requests", 34)
    assert refused.headers["Retry-After"] == "7"
    assert rd.get("/user").status_code == 200
    emu.faults({"api": {"realdebrid": {"status_burst": 503, "status_burst_count": 2, "retry_after": None}}})
    assert error_of(rd.get("/torrents")) == (503, "service_unavailable", 25)
    assert "Retry-After" not in rd.get("/torrents").headers
    assert rd.get("/torrents").status_code == 200


# ----------------------------------------------------------------------------- unrestrict + data


def test_unrestrict_serves_bytes_with_ranges(emu: EmulatorHandle, rd: httpx.Client) -> None:
    info = rd.get("/torrents/info/TSHOW").json()
    link = info["links"][1]  # second selected file = E03 (file id 3)
    result = rd.post("/unrestrict/link", data={"link": link})
    assert result.status_code == 200
    body = result.json()
    size = 2 * MIB + 2
    assert body["filename"] == "E03.mkv" and body["filesize"] == size
    assert body["link"] == link and body["host"] == "real-debrid.com"
    assert body["chunks"] == 8 and body["crc"] == 1 and body["streamable"] == 1
    assert body["mimeType"] == "video/x-matroska"
    expected = SyntheticContent(size, 14)
    url = body["download"]
    with httpx.Client(timeout=10) as data:
        part = data.get(url, headers={"Range": "bytes=1048570-1048600"})
        assert part.status_code == 206
        assert part.headers["Content-Range"] == f"bytes 1048570-1048600/{size}"
        assert part.content == expected.read(1048570, 31)
        tail = data.get(url, headers={"Range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == expected.read(size - 10, 10)
        assert data.get(url, headers={"Range": f"bytes={size}-"}).status_code == 416
        full = data.get(url)
        assert full.status_code == 200
        assert hashlib.sha256(full.content).digest() == hashlib.sha256(expected.read(0, size)).digest()
    # the unrestricted link shows up at the front of /downloads
    first = rd.get("/downloads", params={"limit": 1}).json()[0]
    assert first["id"] == body["id"] and first["download"] == url and "generated" in first
    # expired links: the data host refuses, a new unrestrict gives a working link
    emu.expire_links()
    assert httpx.get(url).status_code == 404
    fresh = rd.post("/unrestrict/link", data={"link": link}).json()["download"]
    assert fresh != url
    assert httpx.get(fresh, headers={"Range": "bytes=0-3"}).content == expected.read(0, 4)


def test_unrestrict_hoster_links_and_errors(emu: EmulatorHandle, rd: httpx.Client) -> None:
    hoster = rd.post("/unrestrict/link", data={"link": HOSTER_URL})
    assert hoster.status_code == 200
    assert hoster.json()["host"] == "rapidgator.net" and hoster.json()["filesize"] == MIB + 5
    got = httpx.get(hoster.json()["download"], headers={"Range": "bytes=100-199"})
    assert got.content == SyntheticContent(MIB + 5, 21).read(100, 100)
    assert error_of(rd.post("/unrestrict/link", data={"link": OFFLINE_URL})) == (503, "unavailable_file", 24)
    links = rd.get("/torrents/info/TBAD").json()["links"]
    assert error_of(rd.post("/unrestrict/link", data={"link": links[0]})) == (503, "unavailable_file", 24)
    assert error_of(rd.post("/unrestrict/link", data={"link": links[1]})) == (451, "infringing_file", 35)
    assert error_of(rd.post("/unrestrict/link", data={"link": links[2]})) == (503, "hoster_unavailable", 19)
    assert error_of(
        rd.post("/unrestrict/link", data={"link": "https://real-debrid.com/d/AAAAAAAAAAAAA"})
    ) == (503, "unavailable_file", 24)
    assert error_of(rd.post("/unrestrict/link", data={"link": "https://example.com/x"}))[2] == 16
    assert error_of(rd.post("/unrestrict/link", data={}))[2] == 1
    check = httpx.post(f"{emu.url('realdebrid')}/unrestrict/check", data={"link": HOSTER_URL})
    assert check.status_code == 200 and check.json()["supported"] == 1
    # a library download's original link can be unrestricted again
    dl = next(d for d in rd.get("/downloads", params={"limit": 100}).json() if d["id"] == "DLONE")
    again = rd.post("/unrestrict/link", data={"link": dl["link"]}).json()
    assert again["filesize"] == MIB


def test_delete_download(emu: EmulatorHandle, rd: httpx.Client) -> None:
    emu.action("realdebrid", "add_download", {"id": "DLTEMP", "filename": "t.bin", "content": syn(10, 5)})
    assert rd.get("/downloads", params={"limit": 1}).json()[0]["id"] == "DLTEMP"
    assert rd.delete("/downloads/delete/DLTEMP").status_code == 204
    assert error_of(rd.delete("/downloads/delete/DLTEMP")) == (404, "unknown_ressource", 7)


# ----------------------------------------------------------------------------- adding torrents


def poll_until(rd: httpx.Client, tid: str, status: str, polls: int = 10) -> dict[str, Any]:
    for _ in range(polls):
        info = rd.get(f"/torrents/info/{tid}").json()
        if info["status"] == status:
            return info
    raise AssertionError(f"{tid} never reached {status}: {info}")


def test_add_magnet_select_download(emu: EmulatorHandle, rd: httpx.Client) -> None:
    magnet = "magnet:?xt=urn:btih:" + "c" * 40 + "&dn=My+Show+S01&tr=udp%3A%2F%2Ftracker"
    added = rd.post("/torrents/addMagnet", data={"magnet": magnet})
    assert added.status_code == 201
    tid = added.json()["id"]
    assert added.json()["uri"].endswith(f"/realdebrid/rest/1.0/torrents/info/{tid}")
    first = rd.get(f"/torrents/info/{tid}").json()
    assert first["status"] == "magnet_conversion" and first["files"] == [] and "seeders" in first
    assert error_of(rd.post(f"/torrents/selectFiles/{tid}", data={"files": "all"})) == (
        503,
        "service_unavailable",
        25,
    )
    waiting = poll_until(rd, tid, "waiting_files_selection")
    assert waiting["hash"] == "c" * 40 and waiting["filename"] == "My Show S01"
    assert len(waiting["files"]) == 2 and all(f["selected"] == 0 for f in waiting["files"])
    assert waiting["bytes"] == waiting["original_bytes"] and waiting["links"] == []
    assert rd.get("/torrents", params={"limit": 1}).json()[0]["id"] == tid  # newest first
    assert rd.get("/torrents/activeCount").json()["nb"] >= 2
    assert error_of(rd.post(f"/torrents/selectFiles/{tid}", data={}))[::2] == (400, 1)
    assert error_of(rd.post(f"/torrents/selectFiles/{tid}", data={"files": "9"}))[::2] == (404, 2)
    assert rd.post(f"/torrents/selectFiles/{tid}", data={"files": "1"}).status_code == 204
    assert error_of(rd.post(f"/torrents/selectFiles/{tid}", data={"files": "1"})) == (
        202,
        "action_already_done",
        31,
    )
    assert rd.get(f"/torrents/info/{tid}").json()["status"] == "downloading"
    done = poll_until(rd, tid, "downloaded")
    mkv = done["files"][0]
    assert done["filename"] == "My Show S01.mkv"  # one selected file: its name
    assert done["bytes"] == mkv["bytes"] and done["progress"] == 100 and "ended" in done
    assert len(done["links"]) == 1
    unrestricted = rd.post("/unrestrict/link", data={"link": done["links"][0]}).json()
    assert unrestricted["filesize"] == mkv["bytes"]
    assert rd.delete(f"/torrents/delete/{tid}").status_code == 204
    assert rd.get(f"/torrents/info/{tid}").status_code == 404
    assert error_of(rd.post("/unrestrict/link", data={"link": done["links"][0]}))[2] == 24


def test_add_magnet_refusals(rd: httpx.Client) -> None:
    assert error_of(
        rd.post("/torrents/addMagnet", data={"magnet": f"magnet:?xt=urn:btih:{INFRINGING_HASH}"})
    ) == (451, "infringing_file", 35)
    assert error_of(rd.post("/torrents/addMagnet", data={"magnet": "magnet:?dn=x"}))[::2] == (400, 2)
    assert error_of(rd.post("/torrents/addMagnet", data={}))[::2] == (400, 1)


def bencode(value: Any) -> bytes:
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(map(bencode, value)) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(v) for k, v in sorted(value.items())) + b"e"


def test_add_torrent_file(emu: EmulatorHandle, rd: httpx.Client) -> None:
    info = {
        "name": "Pack",
        "piece length": 262144,
        "pieces": b"\0" * 20,
        "files": [{"length": 5000, "path": ["a", "one.mkv"]}, {"length": 70, "path": ["two.nfo"]}],
    }
    data = bencode({"announce": "udp://x", "info": info})
    assert bdecode_torrent(data)[1] == bencode(info)
    added = rd.put("/torrents/addTorrent", content=data)
    assert added.status_code == 201
    tid = added.json()["id"]
    emu.action("realdebrid", "advance", {"id": tid})
    got = rd.get(f"/torrents/info/{tid}").json()
    assert got["status"] == "waiting_files_selection"
    assert got["hash"] == hashlib.sha1(bencode(info)).hexdigest()
    assert [(f["path"], f["bytes"]) for f in got["files"]] == [("/a/one.mkv", 5000), ("/two.nfo", 70)]
    emu.action("realdebrid", "advance", {"id": tid, "to": "downloaded"})
    done = rd.get(f"/torrents/info/{tid}").json()
    assert done["status"] == "downloaded" and len(done["links"]) == 2 and done["filename"] == "Pack"
    rd.delete(f"/torrents/delete/{tid}")
    assert error_of(rd.put("/torrents/addTorrent", content=b"garbage")) == (400, "torrent_file_invalid", 30)


def test_control_add_remove_advance(emu: EmulatorHandle, rd: httpx.Client) -> None:
    new = emu.action(
        "realdebrid",
        "add_torrent",
        {"filename": "Late arrival", "files": [{"path": "/late.mkv", "content": syn(1234, 77)}]},
    )
    listed = rd.get("/torrents", params={"limit": 1}).json()[0]
    assert listed["id"] == new["id"] and listed["status"] == "downloaded"
    emu.action("realdebrid", "remove_torrent", {"id": new["id"]})
    assert rd.get(f"/torrents/info/{new['id']}").status_code == 404
    view = emu.view("realdebrid")
    assert {t["id"]: t["status"] for t in view["torrents"]}["TDL"] == "downloading"
    emu.action("realdebrid", "advance", {"id": "TDL"})
    assert rd.get("/torrents/info/TDL").json()["status"] == "downloaded"
    emu.action("realdebrid", "advance", {"id": "TDL", "to": "downloading"})
    assert rd.get("/torrents/info/TDL").json()["status"] == "downloading"


# ----------------------------------------------------------------------------- OAuth


def test_device_flow_refresh_and_expiry(emu: EmulatorHandle) -> None:
    oauth = emu.base_url + "/realdebrid/oauth/v2"
    api = emu.url("realdebrid")
    code = httpx.get(
        f"{oauth}/device/code", params={"client_id": "X245A4XAIBGVM", "new_credentials": "yes"}
    ).json()
    assert {"device_code", "user_code", "interval", "expires_in", "verification_url"} <= code.keys()
    params = {"client_id": "X245A4XAIBGVM", "code": code["device_code"]}
    assert [httpx.get(f"{oauth}/device/credentials", params=params).status_code for _ in range(2)] == [
        403,
        403,
    ]
    creds = httpx.get(f"{oauth}/device/credentials", params=params)
    assert creds.status_code == 200
    client_id, secret = creds.json()["client_id"], creds.json()["client_secret"]
    grant = "http://oauth.net/grant_type/device/1.0"
    form = {"client_id": client_id, "client_secret": secret, "code": code["device_code"], "grant_type": grant}
    assert httpx.post(f"{oauth}/token", data={**form, "client_secret": "wrong"}).status_code == 403
    tokens = httpx.post(f"{oauth}/token", data=form).json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert httpx.get(f"{api}/user", headers=bearer).status_code == 200
    emu.action("realdebrid", "expire_tokens")
    assert error_of(httpx.get(f"{api}/user", headers=bearer)) == (401, "bad_token", 8)
    renewed = httpx.post(f"{oauth}/token", data={**form, "code": tokens["refresh_token"]}).json()
    assert renewed["access_token"] != tokens["access_token"]
    assert renewed["refresh_token"] == tokens["refresh_token"]
    bearer = {"Authorization": f"Bearer {renewed['access_token']}"}
    assert httpx.get(f"{api}/user", headers=bearer).status_code == 200
    # a short lifetime really runs out
    emu.action("realdebrid", "set_token_ttl", {"seconds": 0.3, "existing": True})
    try:
        assert httpx.get(f"{api}/user", headers=bearer).status_code == 200
        time.sleep(0.4)
        assert error_of(httpx.get(f"{api}/user", headers=bearer)) == (401, "bad_token", 8)
    finally:
        emu.action("realdebrid", "set_token_ttl", {"seconds": 3600})
    assert emu.calls("realdebrid", "GET /oauth/v2/device/credentials") == 3


# ----------------------------------------------------------------------------- in-process


def test_sample_section_and_generated_library() -> None:
    state = EmulatorState(library={"realdebrid": sample_section()})
    build(state)
    view = state.services["realdebrid"].control_view()
    statuses = [t["status"] for t in view["torrents"]]
    assert statuses.count("downloaded") >= 4 and "downloading" in statuses and "magnet_error" in statuses
    assert len(view["downloads"]) == 3
    section = {"token": "t", "generate": {"torrents": 3000, "files_per_torrent": 10, "file_size": MIB}}
    began = time.monotonic()
    one = RealDebrid(EmulatorState(library={"realdebrid": section}))
    assert time.monotonic() - began < 5
    two = RealDebrid(EmulatorState(library={"realdebrid": section}))
    assert len(one.torrents) == 3000
    assert [t.id for t in one.torrents[:50]] == [t.id for t in two.torrents[:50]]
    assert one.torrent_item(one.torrents[7], info=True) == two.torrent_item(two.torrents[7], info=True)
