"""Link-service emulators: the portal (external API v1), Premiumize legacy and
RapidShare rsapi.cgi. One emulator process for the module; every test starts
from the library state (each service's `reset` control action)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.emulators.content import SyntheticContent
from tests.emulators.portal import DEFAULT_HOSTS
from tests.linkservices import (
    NITRO,
    PM_LOGIN,
    PM_PIN,
    PORTAL_KEY,
    RG_GONE,
    RG_ONE,
    RG_TWO,
    RS_LOGIN,
    RS_OWN,
    RS_PASS,
    hoster_link,
    library,
    portal_account,
    premiumize_account,
    rapidshare_account,
)

RG_UNKNOWN = "https://rapidgator.net/file/11111111111111111111111111111111/nope.bin.html"
ONE = SyntheticContent(300_000, 11)
TWO = SyntheticContent(200_000, 12)
OWN = SyntheticContent(150_000, 13)

LIBRARY = library(
    [
        hoster_link(RG_ONE, "one.bin", ONE),
        hoster_link(RG_TWO, "two.bin", TWO),
        hoster_link(RG_GONE, "gone.bin", SyntheticContent(10, 1), offline=True),
        hoster_link(RS_OWN, "own.bin", OWN),
        hoster_link(NITRO, "x.bin", SyntheticContent(10, 2)),
    ],
    portal=portal_account(
        account={
            "trafficleft": 10_000_000,
            "trafficmax": 20_000_000,
            "trafficmax_daily": 5_000_000,
            "expires_in_seconds": 86400,
        },
        hosts=[{**DEFAULT_HOSTS[0], "trafficleft": 5_000_000, "trafficmax_daily": 9_000_000}],
        ready_after_polls=2,
        poll_after_seconds=2,
    ),
    premiumize=premiumize_account(fairuse_bytes=10_000_000),
    rapidshare=rapidshare_account(
        premkbleft=100_000,
        free_countdown=30,
        files={
            "100001": {"url": RG_ONE},
            "100003": {"url": RG_GONE},
            "100004": {"url": RG_TWO, "status": "illegal"},
        },
    ),
)

# `emu` (tests/conftest.py) runs LIBRARY; every test starts from its state.
pytestmark = pytest.mark.usefixtures("fresh_link_services")


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def assert_range(
    http: httpx.Client, url: str, content: SyntheticContent, start: int = 1000, end: int = 70_000, **kw: Any
) -> None:
    r = http.get(url, headers={"Range": f"bytes={start}-{end - 1}"}, follow_redirects=True, **kw)
    assert r.status_code == 206, r.text[:200]
    assert r.headers["content-range"] == f"bytes {start}-{end - 1}/{content.size}"
    assert r.content == content.read(start, end - start)


# ---------------------------------------------------------------------------
# portal


def portal(
    emu: Any,
    http: httpx.Client,
    method: str,
    path: str,
    key: str | None = PORTAL_KEY,
    header: str = "bearer",
    **kw: Any,
) -> httpx.Response:
    headers = {}
    if key is not None:
        headers = {"Authorization": f"Bearer {key}"} if header == "bearer" else {"X-Api-Key": key}
    return http.request(method, emu.urls["portal"] + path, headers=headers, **kw)


def portal_error(r: httpx.Response, status: int, http_status: int, retry: bool = False) -> dict:
    body = r.json()
    assert r.status_code == http_status, body
    assert body["success"] is False and body["status"] == status and body["msg"]
    assert ("retry_in_seconds" in body) is retry, body
    return body


def test_portal_happy_path_not_ready_then_ready(emu, http):
    acc = portal(emu, http, "GET", "/account", header="x-api-key").json()
    assert acc["success"] and acc["data"]["accountType"] == "premium"
    assert acc["data"]["trafficleft"] == 10_000_000 and 0 < acc["data"]["timeleft"] <= 86400

    grouped = portal(emu, http, "GET", "/hosts/grouped").json()["data"]["supportedhosts"]
    assert grouped[0]["platform"] == "RapidGator" and grouped[0]["domains"] == ["rapidgator.net", "rg.to"]
    assert grouped[0]["currently_working"] is True
    rows = portal(emu, http, "GET", "/hosts").json()["data"]["supportedhosts"]
    assert [r["host"] for r in rows] == ["rapidgator.net", "rg.to"]

    first = portal(emu, http, "POST", "/unrestrict", json={"url": RG_ONE}).json()["data"]
    assert first["download_ready"] is False and first["link"] is None
    assert first["remote_status"] == "downloading" and first["reusedExisting"] is False
    assert first["filesize"] == str(ONE.size) and first["filename"] == "one.bin"
    assert first["hostDomain"] == "rapidgator.net" and first["poll_after_seconds"] == 2
    lid = first["linkId"]

    poll1 = portal(emu, http, "GET", f"/link/{lid}").json()["data"]
    assert poll1["download_ready"] is False and poll1["link"] is None
    poll2 = portal(emu, http, "GET", f"/link/{lid}").json()["data"]
    assert poll2["download_ready"] is True and poll2["remote_status"] == "done"
    assert "reusedExisting" not in poll2
    assert_range(http, poll2["link"], ONE)

    again = portal(emu, http, "POST", "/unrestrict", json={"url": RG_ONE}).json()["data"]
    assert again["linkId"] == lid and again["reusedExisting"] is True and again["download_ready"]
    left = portal(emu, http, "GET", "/account").json()["data"]["trafficleft"]
    assert left == 10_000_000 - ONE.size  # charged once
    calls = emu.stats()["calls"]
    assert calls["portal POST /unrestrict"] == 2 and calls["portal GET /link/{linkId}"] == 2


@pytest.mark.parametrize(
    "size_format, before, after",
    [
        ("string", str(ONE.size), str(ONE.size)),
        ("number", ONE.size, ONE.size),
        ("unknown_until_ready", None, str(ONE.size)),
    ],
)
def test_portal_filesize_formats(emu, http, size_format, before, after):
    emu.action("portal", "set_variant", {"filesize_format": size_format})
    first = portal(emu, http, "POST", "/unrestrict", json={"url": RG_ONE}).json()["data"]
    assert first["download_ready"] is False and first["filesize"] == before
    for _ in range(2):
        last = portal(emu, http, "GET", f"/link/{first['linkId']}").json()["data"]
    assert last["download_ready"] is True and last["filesize"] == after


def test_portal_legacy_shape_and_no_grouped_hosts(emu, http):
    emu.action("portal", "set_variant", {"unrestrict_shape": "legacy", "grouped_hosts": False})
    data = portal(emu, http, "POST", "/unrestrict", json={"url": RG_ONE}).json()["data"]
    assert set(data) == {"link", "filename", "filesize", "hostDomain", "maxchunks", "resumable"}
    assert_range(http, data["link"], ONE)
    assert portal(emu, http, "GET", "/hosts/grouped").status_code == 404
    assert portal(emu, http, "GET", "/hosts").json()["data"]["supportedhosts"]
    with pytest.raises(RuntimeError):
        emu.action("portal", "set_variant", {"filesize_format": "hex"})


def test_portal_ready_at_once_and_control_knob(emu, http):
    emu.action("portal", "set_ready_after_polls", {"value": 0})
    data = portal(emu, http, "POST", "/unrestrict", json={"url": RG_TWO}).json()["data"]
    assert data["download_ready"] is True
    assert_range(http, data["link"], TWO, 0, 1)
    # an expired direct link comes back re-minted under the same linkId, without a charge
    emu.expire_links()
    assert http.get(data["link"]).status_code == 404
    again = portal(emu, http, "POST", "/unrestrict", json={"url": RG_TWO}).json()["data"]
    assert again["linkId"] == data["linkId"] and again["reusedExisting"] is True
    assert again["link"] != data["link"]
    assert_range(http, again["link"], TWO)
    assert emu.view("portal")["account"]["trafficleft"] == 10_000_000 - TWO.size
    # per-URL knob on a link that is still downloading
    emu.action("portal", "set_ready_after_polls", {"value": 3})
    lid = portal(emu, http, "POST", "/unrestrict", json={"url": RG_ONE}).json()["data"]["linkId"]
    emu.action("portal", "set_ready_after_polls", {"value": 1, "url": RG_ONE})
    assert portal(emu, http, "GET", f"/link/{lid}").json()["data"]["download_ready"] is True


def test_portal_remote_error(emu, http):
    emu.action("portal", "set_link", {"url": RG_ONE, "remote_error_after_polls": 1})
    lid = portal(emu, http, "POST", "/unrestrict", json={"url": RG_ONE}).json()["data"]["linkId"]
    data = portal(emu, http, "GET", f"/link/{lid}").json()["data"]
    assert data["remote_status"] == "error" and data["download_ready"] is False
    assert data["poll_after_seconds"] == 60 and data["link"] is None


PORTAL_ERRORS = [
    # (status, http, retry, setup actions, url)
    (2, 403, False, [("set_account", {"usable": False})], RG_ONE),
    (52, 402, False, [("set_account", {"trafficleft": 10})], RG_ONE),
    (54, 429, True, [("set_account", {"trafficmax_daily": 10})], RG_ONE),
    (56, 429, True, [("inject_error", {"status": 56})], RG_ONE),
    (101, 400, False, [], NITRO),
    (102, 403, False, [("set_link", {"url": RG_ONE, "error": 102})], RG_ONE),
    (103, 400, False, [("set_link", {"url": RG_ONE, "error": 103})], RG_ONE),
    (104, 404, False, [], RG_GONE),
    (104, 404, False, [], RG_UNKNOWN),
    (105, 503, True, [("set_host_working", {"host": "rg.to", "working": False})], RG_ONE),
    (106, 502, False, [("set_link", {"url": RG_ONE, "error": 106})], RG_ONE),
    (107, 429, True, [("set_platform_traffic", {"platform": "RapidGator", "trafficleft": 5})], RG_ONE),
    (999, 500, False, [("inject_error", {"status": 999, "endpoint": "unrestrict"})], RG_ONE),
]


@pytest.mark.parametrize(
    "status,http_status,retry,setup,url",
    PORTAL_ERRORS,
    ids=[f"{e[0]}-{i}" for i, e in enumerate(PORTAL_ERRORS)],
)
def test_portal_error_statuses(emu, http, status, http_status, retry, setup, url):
    for action, args in setup:
        emu.action("portal", action, args)
    r = portal(emu, http, "POST", "/unrestrict", json={"url": url})
    portal_error(r, status, http_status, retry)


def test_portal_auth_validation_and_unknown_link(emu, http):
    portal_error(portal(emu, http, "GET", "/account", key=None), 1, 401)
    portal_error(portal(emu, http, "GET", "/hosts/grouped", key="obb_wrong"), 1, 401)
    portal_error(portal(emu, http, "POST", "/unrestrict", json={"password": "x"}), 900, 400)
    portal_error(portal(emu, http, "POST", "/unrestrict", content=b"{nope"), 900, 400)
    portal_error(portal(emu, http, "GET", "/link/doesnotexist"), 104, 404)


def test_portal_too_many_concurrent(emu, http):
    emu.action("portal", "set_max_active", {"value": 1})
    assert portal(emu, http, "POST", "/unrestrict", json={"url": RG_ONE}).json()["success"]
    r = portal(emu, http, "POST", "/unrestrict", json={"url": RG_TWO})
    portal_error(r, 55, 429, retry=True)


def test_portal_throttling_and_fault_burst(emu, http):
    emu.action("portal", "set_rate_limit", {"requests": 2, "window_seconds": 60})
    assert portal(emu, http, "GET", "/account").status_code == 200
    assert portal(emu, http, "GET", "/account").status_code == 200
    r = portal(emu, http, "GET", "/account")
    body = portal_error(r, 106, 429, retry=True)
    assert int(r.headers["retry-after"]) == body["retry_in_seconds"] > 0
    emu.action("portal", "set_rate_limit", {"requests": 0})

    emu.faults({"api": {"portal": {"status_burst": 503, "status_burst_count": 1, "retry_after": 7}}})
    r = portal(emu, http, "GET", "/account")
    assert portal_error(r, 105, 503, retry=True)["retry_in_seconds"] == 7
    assert portal(emu, http, "GET", "/account").status_code == 200


# ---------------------------------------------------------------------------
# premiumize


def pm(
    emu: Any,
    http: httpx.Client,
    method: str,
    link: str | None = None,
    login: str = PM_LOGIN,
    pin: str = PM_PIN,
    encoded: bool = False,
) -> dict[str, Any]:
    params = {"method": method, "params[login]": login, "params[pass]": pin}
    if link is not None:
        params["params[link]"] = link
    if encoded:  # httpx encodes the brackets (%5B %5D)
        r = http.get(emu.urls["premiumize"], params=params)
    else:
        q = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())  # literal brackets
        r = http.get(emu.urls["premiumize"] + "?" + q)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"result", "status", "statusmessage"}
    return body


def test_premiumize_happy_path(emu, http):
    acc = pm(emu, http, "accountstatus")
    assert acc["status"] == 200 and acc["statusmessage"] == "OK"
    assert acc["result"]["type"] == "premium" and acc["result"]["account_name"] == PM_LOGIN
    assert acc["result"]["fairuse_left"] == 0.5 and acc["result"]["expires"] > 0

    hl = pm(emu, http, "hosterlist", encoded=True)["result"]
    assert "rapidgator.net" in hl["hosterlist"] and "rg.to" in hl["tldlist"]
    assert hl["regexlist"] and hl["hosters"]["rapidgator.net"]["regexes"]
    assert hl["connection_settings"]["rapidgator.net"]["max_connections_per_file"] == 16

    ddl = pm(emu, http, "directdownloadlink", RG_TWO)
    assert ddl["status"] == 200
    res = ddl["result"]
    assert set(res) == {"location"}  # the document's reply: nothing but the location
    assert_range(http, res["location"], TWO)
    left = pm(emu, http, "accountstatus", encoded=True)["result"]["fairuse_left"]
    assert left == pytest.approx(0.5 - TWO.size / 10_000_000)
    assert emu.stats()["calls"]["premiumize directdownloadlink"] == 1

    emu.action("premiumize", "set_flags", {"reply_fields": "full"})  # what clients met
    res = pm(emu, http, "directdownloadlink", RG_TWO)["result"]
    assert res["filename"] == "two.bin" and res["filesize"] == TWO.size

    emu.action("premiumize", "set_flags", {"location_head": "refused"})
    location = pm(emu, http, "directdownloadlink", RG_TWO)["result"]["location"]
    assert http.head(location).status_code == 405
    assert_range(http, location, TWO)


def test_premiumize_escaped_slashes_and_post(emu, http):
    raw = http.get(
        emu.urls["premiumize"],
        params={"method": "hosterlist", "params[login]": PM_LOGIN, "params[pass]": PM_PIN},
    ).text
    assert "\\/" in raw
    r = http.post(
        emu.urls["premiumize"],
        data={
            "method": "directdownloadlink",
            "params[login]": PM_LOGIN,
            "params[pass]": PM_PIN,
            "params[link]": RG_ONE,
        },
    )
    assert r.json()["status"] == 200


PM_ERRORS = [
    # (status, setup, method, link, kwargs)
    (401, [], "accountstatus", None, {"pin": "0000"}),
    (401, [], "directdownloadlink", RG_ONE, {"login": "987654321"}),
    (400, [], "directdownloadlink", NITRO, {}),
    (400, [], "directdownloadlink", "", {}),
    (402, [("set_account_type", {"type": "free"})], "directdownloadlink", RG_ONE, {}),
    (402, [("set_expires", {"expires_in_seconds": -10})], "directdownloadlink", RG_ONE, {}),
    (403, [("set_flags", {"banned": True})], "directdownloadlink", RG_ONE, {}),
    (404, [], "directdownloadlink", RG_GONE, {}),
    (404, [], "directdownloadlink", RG_UNKNOWN, {}),
    (
        428,
        [("set_host_status", {"host": "rapidgator.net", "status": "down"})],
        "directdownloadlink",
        RG_ONE,
        {},
    ),
    (
        0,
        [("set_host_status", {"host": "rapidgator.net", "status": "daily_limit"})],
        "directdownloadlink",
        RG_ONE,
        {},
    ),
    (500, [("set_flags", {"link_limit": 0})], "directdownloadlink", RG_ONE, {}),
    (509, [("set_fairuse_left", {"value": 0})], "directdownloadlink", RG_ONE, {}),
    (2, [("inject_error", {"status": 2})], "directdownloadlink", RG_ONE, {}),
    (502, [("set_link", {"url": RG_ONE, "status": 502})], "directdownloadlink", RG_ONE, {}),
    (
        503,
        [("inject_error", {"status": 503, "method": "directdownloadlink"})],
        "directdownloadlink",
        RG_ONE,
        {},
    ),
    (503, [("set_flags", {"maintenance": True})], "accountstatus", None, {}),
]


@pytest.mark.parametrize(
    "status,setup,method,link,kw", PM_ERRORS, ids=[f"{e[0]}-{i}" for i, e in enumerate(PM_ERRORS)]
)
def test_premiumize_status_codes(emu, http, status, setup, method, link, kw):
    for action, args in setup:
        emu.action("premiumize", action, args)
    body = pm(emu, http, method, link, **kw)
    assert body["status"] == status and body["result"] is None
    assert body["statusmessage"] and body["statusmessage"] != "OK"


def test_premiumize_free_account_and_http_status_mirror(emu, http):
    emu.action("premiumize", "set_account_type", {"type": "free"})
    assert pm(emu, http, "accountstatus")["result"]["type"] == "free"
    emu.action("premiumize", "set_flags", {"http_status": True})
    r = http.get(
        emu.urls["premiumize"],
        params={
            "method": "directdownloadlink",
            "params[login]": PM_LOGIN,
            "params[pass]": PM_PIN,
            "params[link]": RG_ONE,
        },
    )
    assert r.status_code == 402 and r.json()["status"] == 402
    emu.faults({"api": {"premiumize": {"status_burst": 503, "status_burst_count": 1}}})
    r = http.get(emu.urls["premiumize"], params={"method": "accountstatus"})
    assert r.status_code == 503 and r.json()["status"] == 503


# ---------------------------------------------------------------------------
# rapidshare

ERROR_LINE = re.compile(r"^ERROR: .+ \(([0-9a-f]{8})\)$")


def rs(emu: Any, http: httpx.Client, **params: Any) -> str:
    r = http.get(emu.urls["rapidshare"], params=params)
    assert r.status_code == 200
    return r.text.strip()


def rs_error(text: str, contains: str, ref: str | None = None) -> None:
    m = ERROR_LINE.match(text)
    assert m, text
    assert contains in text, text
    if ref:
        assert m.group(1) == ref


def fileserver_url(emu: Any, dl_line: str) -> tuple[str, str, int, str]:
    host, dlauth, countdown, md5 = dl_line.removeprefix("DL:").split(",")
    scheme = emu.urls["rapidshare"].split("://", 1)[0]
    return f"{scheme}://{host}/cgi-bin/rsapi.cgi", dlauth, int(countdown), md5


def test_rapidshare_premium_happy_path(emu, http):
    details = rs(emu, http, sub="getaccountdetails", login=RS_LOGIN, password=RS_PASS, withcookie=1)
    kv = dict(line.split("=", 1) for line in details.splitlines())
    assert kv["type"] == "prem" and kv["username"] == RS_LOGIN and kv["premkbleft"] == "100000"
    assert int(kv["validuntil"]) > int(kv["servertime"]) and re.fullmatch(r"[0-9A-F]{32}", kv["cookie"])

    line = rs(
        emu, http, sub="download", fileid="100001", filename="one.bin", login=RS_LOGIN, password=RS_PASS
    )
    url, dlauth, countdown, md5 = fileserver_url(emu, line)
    assert (dlauth, countdown) == ("0", 0)
    assert md5 == hashlib.md5(ONE.read(0, ONE.size)).hexdigest().upper()
    assert re.fullmatch(r"[^/]+/rapidshare/rs370tl3", line[3:].split(",")[0])

    params = {"sub": "download", "fileid": "100001", "filename": "one.bin"}
    assert_range(http, url, ONE, params={**params, "login": RS_LOGIN, "password": RS_PASS})
    assert_range(http, url, ONE, 0, 10, params={**params, "cookie": kv["cookie"]})
    http.cookies.set("enc", kv["cookie"])
    assert_range(http, url, ONE, 5, 50, params=params)
    http.cookies.clear()
    r = http.get(url, params={**params, "login": RS_LOGIN, "password": RS_PASS, "start": 299_990})
    assert r.content == ONE.read(299_990, 10)

    after = rs(emu, http, sub="getaccountdetails", login=RS_LOGIN, password=RS_PASS)
    assert "premkbleft=99700" in after.splitlines()  # 300 kB charged once

    # POST: every parameter in the body; the rapidshare.com/files/<id>/<name> hoster link resolves
    r = http.post(
        emu.urls["rapidshare"] + "?sub=nonsense",
        data={
            "sub": "download",
            "fileid": "555",
            "filename": "own.bin",
            "login": RS_LOGIN,
            "password": RS_PASS,
            "try": "1",
        },
    )
    assert r.text.startswith("DL:") and r.text.strip().endswith(
        hashlib.md5(OWN.read(0, OWN.size)).hexdigest().upper()
    )


def test_rapidshare_free_countdown(emu, http):
    line = rs(emu, http, sub="download", fileid="100001", filename="one.bin")
    url, dlauth, countdown, _ = fileserver_url(emu, line)
    assert countdown == 30 and re.fullmatch(r"[0-9A-F]+", dlauth)
    params = {"sub": "download", "fileid": "100001", "filename": "one.bin", "dlauth": dlauth}
    early = http.get(url, params=params)
    rs_error(early.text.strip(), "Please wait 30 seconds")
    emu.action("rapidshare", "advance_time", {"seconds": 30})
    assert_range(http, url, ONE, params=params)
    rs_error(http.get(url, params={**params, "dlauth": "DEADBEEF"}).text.strip(), "Download auth invalid")
    # a free *account* gets the countdown too; the control knob changes it
    emu.action("rapidshare", "set_account", {"type": "free"})
    emu.action("rapidshare", "set_countdown", {"seconds": 5})
    line = rs(
        emu, http, sub="download", fileid="100001", filename="one.bin", login=RS_LOGIN, password=RS_PASS
    )
    assert fileserver_url(emu, line)[2] == 5


def test_rapidshare_checkfiles(emu, http):
    text = rs(
        emu,
        http,
        sub="checkfiles",
        files="100001,100003,100004,999",
        filenames="one.bin,gone.bin,two.bin,x.bin",
        incmd5=1,
    )
    lines = text.splitlines()
    md5 = hashlib.md5(ONE.read(0, ONE.size)).hexdigest().upper()
    assert lines[0] == f"100001,one.bin,{ONE.size},370,1,tl3,{md5}"
    assert lines[1].split(",")[4] == "0" and lines[3].split(",")[4] == "0"
    assert lines[2].split(",")[4] == "4"


RS_ERRORS = [
    # (setup, params, text, ref)
    ([], {"login": RS_LOGIN, "password": "bad"}, "Login failed. Password incorrect", "221a75e5"),
    (
        [("set_account", {"locked": True})],
        {"login": RS_LOGIN, "password": RS_PASS},
        "Account locked",
        "b45c2518",
    ),
    ([], {"login": RS_LOGIN}, "Login data invalid", "0320f9f0"),
    (
        [("set_account", {"validuntil_in_seconds": -5})],
        {"login": RS_LOGIN, "password": RS_PASS},
        "RapidPro expired.",
        "34fa3175",
    ),
    (
        [("set_account", {"premkbleft": 1})],
        {"login": RS_LOGIN, "password": RS_PASS},
        "No traffic left.",
        None,
    ),
    (
        [("set_rapidpro_required", {"value": True})],
        {},
        "You need RapidPro to download more files",
        "8d5611a9",
    ),
    ([("set_ip_wait", {"seconds": 123})], {}, "You need to wait 123 seconds until you can download", None),
    ([("inject_error", {"error": "slots_full"})], {}, "All free download slots are full", None),
    ([("inject_error", {"error": "flooding", "sub": "download"})], {}, "Please stop flooding", None),
    ([], {"fileid": "424242", "filename": "x.bin"}, "File not found.", None),
    ([], {"fileid": "100003", "filename": "gone.bin"}, "File deleted.", None),
    ([], {"fileid": "abc", "filename": "x.bin"}, "File ID invalid.", None),
    ([], {"fileid": "100001", "filename": ""}, "Filename invalid.", None),
    ([], {"fileid": "100004", "filename": "two.bin"}, "marked as illegal", None),
    ([], {"sub": "bogus"}, "Invalid routine called", None),
    ([], {"sub": "download_v1"}, "Invalid routine called", None),  # the later server's naming
]


@pytest.mark.parametrize("setup,params,text,ref", RS_ERRORS, ids=[f"{i}" for i in range(len(RS_ERRORS))])
def test_rapidshare_errors(emu, http, setup, params, text, ref):
    for action, args in setup:
        emu.action("rapidshare", action, args)
    query = {"sub": "download", "fileid": "100001", "filename": "one.bin", **params}
    rs_error(rs(emu, http, **query), text, ref)


def test_rapidshare_getaccountdetails_errors_and_fault(emu, http):
    rs_error(rs(emu, http, sub="getaccountdetails", login="nobody", password="x"), "Login failed", "221a75e5")
    rs_error(rs(emu, http, sub="getaccountdetails"), "Login data invalid", "0320f9f0")
    emu.faults({"api": {"rapidshare": {"status_burst": 503, "status_burst_count": 1}}})
    r = http.get(emu.urls["rapidshare"], params={"sub": "checkfiles", "files": "1", "filenames": "a"})
    assert r.status_code == 503 and r.text.startswith("ERROR: ")


@pytest.mark.parametrize(
    "naming, takes, refuses", [("plain", "", "_v1"), ("v1", "_v1", ""), ("both", "_v1", None)]
)
def test_rapidshare_routine_names(emu, http, naming, takes, refuses):
    """A server knows one naming (or both); the file server follows it."""
    emu.action("rapidshare", "set_routine_names", {"value": naming})
    login = {"login": RS_LOGIN, "password": RS_PASS}
    for routine, params in (
        ("getaccountdetails", login),
        ("checkfiles", {"files": "100001", "filenames": "one.bin"}),
        ("download", {"fileid": "100001", "filename": "one.bin", **login}),
    ):
        assert not rs(emu, http, sub=routine + takes, **params).startswith("ERROR"), routine
        if refuses is not None:
            rs_error(rs(emu, http, sub=routine + refuses, **params), "Invalid routine called")
    line = rs(emu, http, sub="download" + takes, fileid="100001", filename="one.bin", **login)
    url = fileserver_url(emu, line)[0]
    params = {"fileid": "100001", "filename": "one.bin", **login}
    assert_range(http, url, ONE, 0, 10, params={"sub": "download" + takes, **params})
    if refuses is not None:
        rs_error(
            http.get(url, params={"sub": "download" + refuses, **params}).text.strip(),
            "Invalid routine called",
        )
