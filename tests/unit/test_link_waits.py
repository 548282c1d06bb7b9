"""When a link service's waiting link is asked again (vfs/sources/links.py on
the policy of clients/retry.py): never before the service's time, a floor
that doubles, a slower schedule when no time was named, failed after a day."""

from __future__ import annotations

import time

import pytest

from vfs.sources.links import FAILED, GIVE_UP_AFTER, MAX_RETRY, WAITING, LinkSource

URL = "https://host.example/file/1"


class Service(LinkSource):
    name = "service"


async def wait_after(tmp_path, attempts: int, retry_after: float | None) -> float:
    """Records one refusal of a link on its `attempts`-th try; seconds until it is asked again."""
    source = Service(tmp_path)
    source.store.add(source.name, [URL])
    row = source.store.get(source.name, URL)
    assert row is not None
    before = time.time()
    await source._wait_or_fail(row, attempts, "busy", retry_after)
    row = source.store.get(source.name, URL)
    assert row is not None and row.state == WAITING and row.retry_at is not None
    assert row.data["attempts"] == attempts
    return row.retry_at - before


async def test_the_service_time_is_kept_and_a_short_one_gets_a_doubling_floor(tmp_path):
    assert await wait_after(tmp_path / "a", 1, 90) == pytest.approx(90, abs=1)
    # "retry in 1 s" for the twelfth time: the floor has doubled to half an hour or so
    assert 1024 - 1 <= await wait_after(tmp_path / "b", 12, 1) <= 2048 + 1
    assert await wait_after(tmp_path / "c", 30, 7200) == pytest.approx(7200, abs=1)  # longer than the cap


@pytest.mark.parametrize("named", [None, 0])
async def test_no_time_named_waits_minutes_doubling_to_an_hour(tmp_path, named):
    for attempts, ceiling in [(1, 300), (2, 600), (3, 1200), (9, MAX_RETRY)]:
        wait = await wait_after(tmp_path / str(attempts), attempts, named)
        assert ceiling / 2 - 1 <= wait <= ceiling + 1, (attempts, wait)


async def test_a_link_that_waited_a_day_fails_with_its_last_reason(tmp_path):
    source = Service(tmp_path)
    source.store.add(source.name, [URL])
    row = source.store.get(source.name, URL)
    assert row is not None
    row.state, row.data = WAITING, {"waiting_since": time.time() - GIVE_UP_AFTER, "attempts": 40}
    await source._wait_or_fail(row, 41, "host in maintenance", 60)
    row = source.store.get(source.name, URL)
    assert row is not None and row.state == FAILED and row.retry_at is None
    assert row.reason == "host in maintenance (gave up after 41 attempts)"
