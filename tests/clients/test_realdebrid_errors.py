"""Every documented Real-Debrid error code has one decided meaning
(`ERROR_TABLE`), checked against the emulator: the typed error, the wait,
and whether the client asks again by itself (call counts)."""

from __future__ import annotations

import httpx
import pytest

from clients import codes
from clients.errors import AuthError, FileUnavailable, NeedsRepair, NotFound, RateLimited, TemporaryError
from clients.realdebrid import ERROR_TABLE, RETRY_WAIT_MAX, RealDebridClient, error_for
from tests.emulators.harness import run_emulator

TOKEN = "rd-good-token"
USER = "GET /user"

# the HTTP status each code comes with (docs/providers.md where it says, else a plausible one)
STATUS = {
    -1: 500,
    1: 400,
    2: 400,
    3: 404,
    4: 405,
    5: 429,
    6: 503,
    7: 404,
    8: 401,
    9: 403,
    10: 403,
    11: 403,
    12: 403,
    13: 403,
    14: 403,
    15: 403,
    16: 503,
    17: 503,
    18: 503,
    19: 503,
    20: 403,
    21: 509,
    22: 403,
    23: 403,
    24: 503,
    25: 503,
    26: 400,
    27: 503,
    28: 400,
    29: 400,
    30: 400,
    32: 400,
    33: 400,
    34: 429,
    35: 451,
    36: 503,
    37: 403,
}


def test_the_table_covers_every_documented_code():
    assert set(ERROR_TABLE) == set(range(-1, 38)) - {0}
    assert {rule.meaning for rule in ERROR_TABLE.values()} == set(codes.MEANINGS)
    assert all(rule.source for rule in ERROR_TABLE.values())
    assert ERROR_TABLE[19].kind is NeedsRepair and ERROR_TABLE[24].meaning == codes.WAIT
    assert ERROR_TABLE[35].meaning == codes.PERMANENT and ERROR_TABLE[35].kind is FileUnavailable


def test_replies_without_a_known_code_fall_back_on_the_status():
    assert isinstance(error_for("/x", 401, "", None), AuthError)
    assert isinstance(error_for("/x", 429, "", None), RateLimited)
    assert isinstance(error_for("/x", 404, "", None), NotFound)
    assert isinstance(error_for("/x", 451, "", None), FileUnavailable)
    assert isinstance(error_for("/x", 502, "<html>", None), TemporaryError)
    assert isinstance(error_for("/x", 503, "odd", 99), TemporaryError)  # unknown code


@pytest.fixture(scope="module")
def emu():
    with run_emulator({"realdebrid": {"token": TOKEN, "rate_limit_per_minute": 0}}) as handle:
        yield handle


@pytest.mark.parametrize("code", sorted(STATUS))
async def test_each_code_from_the_emulator(emu, code):
    rule = ERROR_TABLE[code]
    retried = issubclass(rule.kind, (TemporaryError, RateLimited)) and (rule.wait or 0) <= RETRY_WAIT_MAX
    emu.action(
        "realdebrid",
        "inject_error",
        {"route": USER, "status": STATUS[code], "error": f"error_{code}", "code": code, "times": 1},
    )
    before = emu.calls("realdebrid", USER)
    async with httpx.AsyncClient() as http:
        client = RealDebridClient(http, emu.urls["realdebrid"], TOKEN)
        if retried:
            # asked again by itself (after a short backoff), and the second call works
            assert (await client.user()).username
            assert emu.calls("realdebrid", USER) == before + 2
            return
        with pytest.raises(rule.kind) as caught:
            await client.user()
    assert type(caught.value) is rule.kind
    assert caught.value.code == code and caught.value.status == STATUS[code]
    assert caught.value.retry_after == rule.wait
    assert emu.calls("realdebrid", USER) == before + 1, "a call that cannot help was repeated"
    assert TOKEN not in str(caught.value)
