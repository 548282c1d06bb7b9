"""What the data path accepts from a download host before a byte reaches the
cache (clients/ranged.py `RangeClient._check_response`), without a network:
every branch of the validation, with the error kind the read engine acts on."""

from __future__ import annotations

import pytest

from clients.errors import BadResponse, ErrorPage, LinkExpired, RateLimited, RemoteError, TemporaryError
from clients.ranged import RangeClient

SIZE = 10_000
WHERE = "http://host:80/file"


def check(
    status: int, headers: dict[str, str], start: int = 1000, end: int = 3000, html: bool = False
) -> int:
    return RangeClient._check_response(status, headers, WHERE, start, end, SIZE, html)


def partial(first: int, last: int, total: int | str = SIZE, **extra: str) -> dict[str, str]:
    return {
        "content-range": f"bytes {first}-{last}/{total}",
        "content-length": str(last + 1 - first),
        **extra,
    }


def test_the_range_asked_or_a_shorter_one_is_accepted():
    assert check(206, partial(1000, 2999)) == 2000
    assert check(206, partial(1000, 1499)) == 500  # RFC 9110: a server may send less
    assert check(206, partial(1000, 2999, "*")) == 2000  # total unknown to the server
    assert check(206, {"content-range": "bytes 1000-2999/10000"}) == 2000  # chunked, no length
    assert check(200, {"content-length": str(SIZE)}, start=0, end=SIZE) == SIZE  # whole file asked


@pytest.mark.parametrize(
    "headers",
    [
        partial(0, 1999),  # another start
        partial(1000, 3999),  # more than asked
        {"content-range": "bytes 1000-2999/10000", "content-length": "1999"},  # length disagrees
        {"content-range": "bytes */10000", "content-length": "2000"},  # unreadable
        {"content-length": "2000"},  # no Content-Range
    ],
)
def test_a_response_for_other_bytes_is_refused(headers):
    with pytest.raises(BadResponse):
        check(206, headers)


@pytest.mark.parametrize("content_type", ["text/html", "text/html; charset=UTF-8", "application/xhtml+xml"])
@pytest.mark.parametrize("status", [200, 206])
def test_an_html_page_is_an_error_unless_the_file_is_html(status, content_type):
    headers = {**partial(1000, 2999), "content-type": content_type}
    with pytest.raises(ErrorPage):
        check(status, headers)
    assert check(206, headers, html=True) == 2000


def test_replies_that_expired_links_give():
    for status in (403, 404, 410, 503):
        with pytest.raises(LinkExpired):
            check(status, {"content-length": "9"})
    with pytest.raises(LinkExpired, match="ignored the range"):
        check(200, {"content-length": str(SIZE)})
    with pytest.raises(LinkExpired, match="not the file"):  # RapidShare's `ERROR: ...` with 200
        check(200, {"content-length": "70"}, start=0, end=SIZE)
    with pytest.raises(LinkExpired, match="size changed"):
        check(206, partial(1000, 2999, SIZE + 1))


def test_rate_limits_and_server_errors_carry_retry_after():
    with pytest.raises(RateLimited) as limited:
        check(429, {"retry-after": "7"})
    assert limited.value.retry_after == 7
    with pytest.raises(TemporaryError) as busy:
        check(502, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert busy.value.retry_after == 0  # a date in the past: no wait
    with pytest.raises(RemoteError) as other:
        check(400, {})
    assert type(other.value) is RemoteError
