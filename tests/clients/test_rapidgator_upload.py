"""The upload POST of the Rapidgator client against the emulator's upload host,
by both ways a body can go: sendfile(2) over plain HTTP (`clients/filepost.py`)
and httpx (what https URLs and proxies take; a proxy from the environment is
the way to reach it over plain HTTP). What is checked is what the service
ends with: the md5 and size of the file the session became."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from clients import filepost
from clients.errors import TemporaryError
from clients.http import make_http_client
from clients.rapidgator import RapidgatorClient, UploadSession
from tests.emulators.harness import EmulatorHandle

MiB = 1 << 20
LOGIN, PASSWORD = "uploader@example.org", "pw-Upl0ad"
LIBRARY = {
    "rapidgator": {
        "login": LOGIN,
        "password": PASSWORD,
        "processing_delay": 0.0,
        "root": {"name": "root", "folders": [{"name": "In"}]},
    }
}

pytestmark = pytest.mark.usefixtures("no_proxy_env")


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def client(emu: EmulatorHandle) -> AsyncIterator[RapidgatorClient]:
    async with make_http_client() as http:
        yield RapidgatorClient(http, emu.urls["rapidgator"], login=LOGIN, password=PASSWORD)


def write_file(path: Path, size: int, seed: bytes) -> str:
    block = hashlib.sha256(seed).digest() * (MiB // 32)
    digest = hashlib.md5()
    with open(path, "wb") as f:
        for offset in range(0, size, MiB):
            piece = block[: min(MiB, size - offset)]
            f.write(piece)
            digest.update(piece)
    return digest.hexdigest()


def folder_id(emu: EmulatorHandle) -> str:
    return next(f["folder_id"] for f in emu.view("rapidgator")["tree"]["folders"] if f["name"] == "In")


async def upload(
    client: RapidgatorClient, emu: EmulatorHandle, path: Path, name: str, md5: str
) -> UploadSession:
    """A whole upload: session, POST (with progress checked), polling until Done."""
    size = path.stat().st_size
    session = await client.upload_start(name, md5, size, folder_id(emu))
    assert session.state == 0 and session.url
    seen: list[int] = []
    await client.upload_file(session.url, path, name, size, progress=seen.append)
    assert seen == sorted(seen) and seen[-1:] == ([size] if size else [])
    with trio.fail_after(30):
        while (session := await client.upload_info(session.upload_id)).state not in (2, 3):
            await trio.sleep(0.02)
    return session


@pytest.mark.parametrize("size", [0, 1, 7 * MiB + 123, 40 * MiB])
async def test_plain_http_upload_arrives_whole(client, emu, tmp_path, size):
    path = tmp_path / "a.bin"
    md5 = write_file(path, size, f"plain{size}".encode())
    session = await client.upload_start("probe", md5, size, folder_id(emu))
    assert session.url and filepost.plain_http(session.url)
    done = await upload(client, emu, path, f"plain{size}.bin", md5)
    assert done.state == 2 and done.file is not None
    assert (done.file.md5, done.file.size) == (md5, size)


async def test_through_a_proxy_the_upload_goes_through_httpx(emu, tmp_path, monkeypatch):
    # The emulator answers absolute-form requests too: it is its own proxy here.
    monkeypatch.setenv("HTTP_PROXY", emu.base_url)
    path = tmp_path / "b.bin"
    md5 = write_file(path, 9 * MiB + 5, b"proxied")
    async with make_http_client() as http:
        client = RapidgatorClient(http, emu.urls["rapidgator"], login=LOGIN, password=PASSWORD)
        session = await client.upload_start("probe", md5, 9 * MiB + 5, folder_id(emu))
        assert session.url and not filepost.plain_http(session.url)
        done = await upload(client, emu, path, "proxied.bin", md5)
    assert done.state == 2 and done.file is not None
    assert (done.file.md5, done.file.size) == (md5, 9 * MiB + 5)


@pytest.mark.parametrize("proxied", [False, True])
async def test_a_file_shorter_than_announced_is_a_temporary_error(emu, tmp_path, monkeypatch, proxied):
    if proxied:
        monkeypatch.setenv("HTTP_PROXY", emu.base_url)
    path = tmp_path / "short.bin"
    md5 = write_file(path, 3 * MiB, b"short")
    async with make_http_client() as http:
        client = RapidgatorClient(http, emu.urls["rapidgator"], login=LOGIN, password=PASSWORD)
        session = await client.upload_start("short.bin", md5, 4 * MiB, folder_id(emu))
        assert session.url
        with pytest.raises(TemporaryError, match="shorter than announced"):
            await client.upload_file(session.url, path, "short.bin", 4 * MiB)
        # The host saw a cut body: the session is still waiting for the file.
        assert (await client.upload_info(session.upload_id)).state == 0


async def test_a_5xx_from_the_upload_host_is_temporary(client, emu, tmp_path):
    path = tmp_path / "c.bin"
    md5 = write_file(path, 2 * MiB, b"fivehundred")
    session = await client.upload_start("c.bin", md5, 2 * MiB, folder_id(emu))
    assert session.url
    emu.action("rapidgator", "upload_post_error", {"status": 503, "count": 1})
    with pytest.raises(TemporaryError) as raised:
        await client.upload_file(session.url, path, "c.bin", 2 * MiB)
    assert raised.value.status == 503
    done = await upload(client, emu, path, "c.bin", md5)  # the same session takes it again
    assert done.file is not None and done.file.md5 == md5


async def silent_host(task_status: trio.TaskStatus[int]) -> None:
    """Accepts connections and never reads: a host that stalled."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])
    held = []
    async with listeners[0]:
        while True:
            held.append(await listeners[0].accept())


async def test_a_stalled_host_times_out_and_a_cancel_is_prompt(tmp_path):
    path = tmp_path / "d.bin"
    write_file(path, 64 * MiB, b"stall")  # more than the socket buffers take
    fd = os.open(path, os.O_RDONLY)
    try:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(silent_host)
            url = f"http://127.0.0.1:{port}/upload"
            started = trio.current_time()
            with pytest.raises(TemporaryError, match="timed out"):
                await filepost.post_file(
                    url, "application/octet-stream", b"", fd, 64 * MiB, b"", filepost.Timeouts(5, 1, 5)
                )
            assert trio.current_time() - started < 4

            started = trio.current_time()
            with trio.move_on_after(0.5):
                await filepost.post_file(
                    url, "application/octet-stream", b"", fd, 64 * MiB, b"", filepost.Timeouts(5, 60, 60)
                )
            assert trio.current_time() - started < 0.5 + 2 * filepost.SLICE_SECONDS + 0.5
            nursery.cancel_scope.cancel()
    finally:
        os.close(fd)


def test_which_urls_take_sendfile(monkeypatch):
    assert filepost.plain_http("http://up.example/?r=upload/api&uuid=x")
    assert not filepost.plain_http("https://up.example/?r=upload/api&uuid=x")  # TLS: httpx
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    assert not filepost.plain_http("http://up.example/")  # the proxy is honoured, by httpx
    monkeypatch.setenv("NO_PROXY", "up.example")
    assert filepost.plain_http("http://up.example/")
