"""Typed replies parsed in the clients: every field a document leaves open may
be missing, null or a numeric string; a reply without a field it cannot do
without is a clear RemoteError, never a KeyError or a crash on a null."""

from __future__ import annotations

import pytest

from clients.errors import RemoteError
from clients.fields import optional_bool, optional_float, optional_int, optional_size, optional_timestamp
from clients.portal import PortalAccount, PortalLink
from clients.rapidgator import RGFile, RGFolder, RGUser, UploadSession
from clients.realdebrid import AppCredentials, DeviceCode, LinkCheck, Tokens, User, parse_date


def test_realdebrid_user_full_and_empty():
    user = User.from_json(
        {
            "id": 415000,
            "username": "demo",
            "type": "premium",
            "premium": 15000000,
            "expiration": "2027-01-01T10:10:00.000Z",
        }
    )
    assert (user.id, user.username, user.type, user.premium) == ("415000", "demo", "premium", 15000000)
    assert user.expiration == parse_date("2027-01-01T10:10:00.000Z") is not None
    nulls = User.from_json({"id": None, "username": None, "type": None, "premium": None, "expiration": None})
    assert nulls == User.from_json({}) == User(None, None, None, None, None)
    assert User.from_json({"premium": "many", "expiration": "soon"}).premium is None


def test_realdebrid_link_check_tolerates_nulls_and_strings():
    check = LinkCheck.from_json({"filename": "a.mkv", "filesize": "1234", "host": "rapidgator.net"})
    assert check == LinkCheck("a.mkv", 1234, "rapidgator.net")
    assert LinkCheck.from_json({"filename": None, "filesize": None}) == LinkCheck(None, None, None)


def test_realdebrid_device_flow_replies():
    device = DeviceCode.from_json(
        {
            "device_code": "DEV",
            "user_code": "USER",
            "verification_url": "https://real-debrid.com/device",
            "interval": 5,
            "expires_in": 1800,
        }
    )
    assert (device.device_code, device.user_code, device.interval, device.expires_in) == (
        "DEV",
        "USER",
        5.0,
        1800.0,
    )
    assert "DEV" not in repr(device)  # the device code is a credential until traded
    loose = DeviceCode.from_json(
        {"device_code": "D", "user_code": "U", "verification_url": "v", "interval": None, "expires_in": "x"}
    )
    assert (loose.interval, loose.expires_in) == (5.0, None)
    with pytest.raises(RemoteError, match="no user_code"):
        DeviceCode.from_json({"device_code": "D", "user_code": None, "verification_url": "v"})

    credentials = AppCredentials.from_json({"client_id": "ID", "client_secret": "SECRET"})
    assert (credentials.client_id, credentials.client_secret) == ("ID", "SECRET")
    assert "SECRET" not in repr(credentials)
    with pytest.raises(RemoteError, match="no client_secret"):
        AppCredentials.from_json({"client_id": "ID"})

    tokens = Tokens.from_json({"access_token": "ACCESS-1", "refresh_token": "REFRESH-1", "expires_in": 3600})
    assert (tokens.access_token, tokens.refresh_token, tokens.expires_in) == ("ACCESS-1", "REFRESH-1", 3600)
    assert "ACCESS-1" not in repr(tokens) and "REFRESH-1" not in repr(tokens)
    assert Tokens.from_json({"access_token": "A", "refresh_token": None, "expires_in": None}) == Tokens(
        "A", None, None
    )
    with pytest.raises(RemoteError, match="no access_token"):
        Tokens.from_json({"access_token": None})


def test_rapidgator_user_lenient():
    user = RGUser.from_json(
        {
            "email": "demo@example.org",
            "is_premium": True,
            "premium_end_time": 1798761600,
            "traffic": {"total": 1099511627776, "left": 734003200000},
            "storage": {"total": "4398046511104", "left": 4397988691968},
            "upload": {"max_file_size": 53687091200, "nb_pipes": 10},
            "folder_id": "root1",
        }
    )
    assert user == RGUser(
        "demo@example.org", True, 1798761600, "root1", 734003200000, 4397988691968, 53687091200
    )
    free = RGUser.from_json(
        {
            "email": None,
            "is_premium": None,
            "premium_end_time": None,
            "traffic": {"total": None, "left": None},
            "storage": None,
            "upload": {"max_file_size": "53687091200"},
        }
    )
    assert free == RGUser(None, False, None, None, None, None, 53687091200)
    assert RGUser.from_json(None) == RGUser.from_json({}) == RGUser(None, False, None, None, None, None, None)


def test_portal_account_lenient():
    account = PortalAccount.from_json(
        {
            "accountType": "premium",
            "trafficleft": 466894644646,
            "trafficmax": 1099511627776,
            "timeleft": None,
            "login_check_interval": 1800000,
        }
    )
    assert account == PortalAccount("premium", 466894644646, 1099511627776, None, 1800.0)
    odd = PortalAccount.from_json(
        {
            "accountType": None,
            "trafficleft": "1000",
            "trafficmax": True,
            "timeleft": 60,
            "login_check_interval": 0,
        }
    )
    assert odd == PortalAccount(None, 1000, None, 60.0, None)
    assert PortalAccount.from_json({}) == PortalAccount(None, None, None, None, None)


@pytest.mark.parametrize(
    ("value", "whole", "number"),
    [(12, 12, 12.0), ("12", 12, 12.0), ("12.0", 12, 12.0), (12.5, 12, 12.5), ("12.5", 12, 12.5)]
    + [
        (None, None, None),
        ("", None, None),
        ("many", None, None),
        (True, None, None),
        ({}, None, None),
        ("nan", None, None),
        (float("inf"), None, None),
    ],
)
def test_lenient_numbers(value, whole, number):
    assert optional_int(value) == whole
    assert optional_float(value) == number


@pytest.mark.parametrize(
    ("value", "flag"),
    [(True, True), (False, False), (1, True), (0, False), ("1", True), ("0", False)]
    + [("true", True), ("False", False), ("", False), (" yes ", True), ("2", True)]
    + [(None, None), ("maybe", None), ([], None), (float("nan"), None)],
)
def test_lenient_flags(value, flag):
    assert optional_bool(value) is flag


JAN2 = 1767322800.0  # 2026-01-02T03:00:00Z


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-02T03:00:00.000Z",
        "2026-01-02T03:00:00Z",
        "2026-01-02T04:00:00+01:00",
        "2026-01-02 03:00:00",  # no zone: UTC, whatever the machine's zone
        "2026-01-02T03:00:00",
        JAN2,
        int(JAN2),
        str(int(JAN2)),
        int(JAN2) * 1000,  # milliseconds
    ],
)
def test_lenient_dates(value):
    assert optional_timestamp(value) == JAN2


@pytest.mark.parametrize("value", [None, "", "soon", True, {}, "2026-13-45"])
def test_unreadable_dates_are_unknown(value):
    assert optional_timestamp(value) is None


def test_rapidgator_objects_in_other_shapes():
    user = RGUser.from_json({"is_premium": "false", "premium_end_time": "1798761600", "traffic": []})
    assert user.is_premium is False and user.premium_end_time == 1798761600 and user.traffic_left is None
    assert RGUser.from_json({"is_premium": 1}).is_premium is True
    file = RGFile.from_json(
        {"file_id": "f" * 32, "name": "a", "size": "222", "created": "2019-04-26 00:15:32"}
    )
    assert file.size == 222 and file.created == 1556237732
    folder = RGFolder.from_json({"folder_id": 5034678, "nb_files": "3", "created": "1556230000"})
    assert folder.folder_id == "5034678" and folder.nb_files == 3 and folder.created == 1556230000
    session = UploadSession.from_json({"upload_id": "u", "state": "2", "url": None, "file": []})
    assert session.state == 2 and session.file is None


def test_portal_link_with_strings_for_numbers_and_flags():
    waiting = PortalLink.from_json(
        {"linkId": "a", "download_ready": "false", "link": None, "maxchunks": "16", "poll_after_seconds": "5"}
    )
    assert not waiting.ready and waiting.maxchunks == 16 and waiting.poll_after == 5.0
    ready = PortalLink.from_json(
        {
            "linkId": "a",
            "download_ready": 1,
            "remote_status": "DONE",
            "link": "https://x/y",
            "filesize": "30833612",
        }
    )
    assert ready.ready and ready.remote_status == "done" and ready.filesize == 30833612
    odd = PortalLink.from_json(
        {"download_ready": "true", "link": "https://x/y", "poll_after_seconds": "soon"}
    )
    assert odd.ready and odd.poll_after == 2.0 and odd.maxchunks is None


def test_a_negative_size_is_unknown():
    assert optional_size(-1) is None and optional_size("-1") is None
    assert optional_size("0") == 0 and optional_size(5.0) == 5 and optional_size(None) is None
