"""The link services' replies in the shapes their documents leave open, through
a real mount (docs/providers.md, "Replies the documents leave open").

Portal: errors on HTTP 200 (`success: false` and the status in the body only),
numbers and booleans as strings (`"status": "55"`, `"download_ready": "true"`),
served as text/html. Premiumize: the status and every number as strings, flags
as 0/1, text/html (PHP's default). RapidShare: lines ending in CR LF, or no
newline after the last line.
"""

from __future__ import annotations

import os

import pytest

from tests.emulators.content import SyntheticContent, md5_of, sha256_of
from tests.linkservices import (
    RG_GONE,
    RG_ONE,
    RG_TWO,
    RS_OWN,
    hoster_link,
    library,
    listed,
    rapidshare_account,
    service_config,
    status_of,
    write_links,
)
from tests.mounting import mounted, run_cli, sha256_through, wait_until, write_config

ONE = SyntheticContent(300_000, 41)
TWO = SyntheticContent(200_000, 42)
OWN = SyntheticContent(150_000, 43)

LIBRARY = library(
    [
        hoster_link(RG_ONE, "one.bin", ONE),
        hoster_link(RG_TWO, "two.bin", TWO),
        hoster_link(RS_OWN, "own.bin", OWN),
    ],
    rapidshare=rapidshare_account(premkbleft=10_000_000, free_countdown=0),
)

pytestmark = pytest.mark.usefixtures("fresh_link_services")


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param({"error_http": "200"}, id="errors-on-http-200"),
        pytest.param({"error_http": "200", "numbers": "strings", "flags": "strings"}, id="and-strings"),
        pytest.param(
            {"numbers": "strings", "flags": "ints", "content_type": "html"}, id="flags-as-ints-html"
        ),
    ],
)
def test_portal_waits_fails_and_reads_in_every_shape(emu, tmp_path, variant):
    emu.action("portal", "set_variant", variant)
    # the first unrestrict: too many downloads (55), a wait however the reply says it
    emu.action("portal", "inject_error", {"status": 55, "endpoint": "unrestrict", "retry_in_seconds": 3600})
    with mounted(tmp_path, service_config(emu, "portal")) as mount:
        directory = mount.path / "portal"
        write_links(directory, RG_TWO)
        wait_until(
            lambda: f"waiting  {RG_TWO}: portal status 55" in status_of(directory), what="RG_TWO waiting"
        )
        assert "1 waiting, 0 failed" in status_of(directory)

        write_links(directory, RG_ONE)
        wait_until(lambda: "one.bin" in listed(directory), what="one.bin listed")
        assert os.stat(directory / "one.bin").st_size == ONE.size
        assert sha256_through(directory / "one.bin") == sha256_of(ONE)

        write_links(directory, RG_GONE)  # offline: 104, a permanent refusal
        wait_until(
            lambda: f"failed   {RG_GONE}: portal status 104" in status_of(directory), what="RG_GONE failed"
        )
        assert listed(directory) == ["one.bin"]


def test_premiumize_statuses_and_numbers_as_strings_served_as_html(emu, tmp_path):
    emu.action(
        "premiumize",
        "set_flags",
        {"numbers": "strings", "flags": "ints", "content_type": "html", "reply_fields": "full"},
    )
    emu.action("premiumize", "set_link", {"url": RG_TWO, "status": 428, "count": 1000})
    with mounted(tmp_path, service_config(emu, "premiumize")) as mount:
        directory = mount.path / "premiumize"
        write_links(directory, RG_ONE, RG_TWO)
        wait_until(lambda: "one.bin" in listed(directory), what="one.bin listed")
        assert os.stat(directory / "one.bin").st_size == ONE.size
        assert sha256_through(directory / "one.bin") == sha256_of(ONE)
        wait_until(
            lambda: f"waiting  {RG_TWO}: Premiumize status 428" in status_of(directory), what="428 waits"
        )
        status = status_of(directory)
        assert "account: premium, expires" in status and "fairuse_left: 0.5000" in status


@pytest.mark.parametrize("endings", ["crlf", "none"])
def test_rapidshare_line_endings(emu, tmp_path, endings):
    emu.action("rapidshare", "set_line_endings", {"value": endings})
    text = service_config(emu, "rapidshare")
    write_config(tmp_path, text)
    added = run_cli(tmp_path, "add", "rapidshare", RS_OWN)
    assert "ok       own.bin" in added.stdout, added.stdout + added.stderr
    with mounted(tmp_path, text) as mount:
        directory = mount.path / "rapidshare"
        assert "premium" in status_of(directory) and "10000000 kB" in status_of(directory)
        assert os.stat(directory / "own.bin").st_size == OWN.size
        assert sha256_through(directory / "own.bin") == sha256_of(OWN)
        assert os.getxattr(directory / "own.bin", "user.md5").decode() == md5_of(OWN)


@pytest.mark.parametrize("redirect", ["absolute", "relative"])
@pytest.mark.parametrize("reply_fields", ["location", "full"])
def test_premiumize_location_behind_a_redirect(emu, tmp_path, redirect, reply_fields):
    """ "There may be a redirect behind" the location (the document): the size
    (asked of the download server when the reply has none) and the bytes come
    through a 302, with an absolute or a root-relative Location."""
    emu.action("premiumize", "set_flags", {"location_redirect": redirect, "reply_fields": reply_fields})
    with mounted(tmp_path, service_config(emu, "premiumize")) as mount:
        directory = mount.path / "premiumize"
        write_links(directory, RG_ONE)
        wait_until(lambda: "one.bin" in listed(directory), what="one.bin listed")
        assert os.stat(directory / "one.bin").st_size == ONE.size
        assert sha256_through(directory / "one.bin") == sha256_of(ONE)
    assert emu.stats()["data_requests"] >= 1
