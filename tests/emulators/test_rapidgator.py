"""Tests of the Rapidgator API v2 emulator (tests/emulators/rapidgator.py), run
as the real `python -m tests.emulators` subprocess and driven over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.emulators.content import SyntheticContent, md5_of
from tests.emulators.harness import EmulatorHandle, run_emulator
from tests.emulators.rapidgator import MultipartFileReader, Spool

MIB = 1024 * 1024
TWOFA = "424242"
KNOWN = SyntheticContent(1000, 77)


def _library() -> dict[str, Any]:
    return {
        "rapidgator": {
            "login": "tester@example.org",
            "password": "pw",
            "twofa_code": TWOFA,
            "token_ttl": 3600,
            "user": {"traffic": {"left": 10 * 1024 * MIB}},
            "processing_delay": 0.2,
            "known_md5": [{"hash": md5_of(KNOWN), "size": KNOWN.size, "content": {"size": 1000, "seed": 77}}],
            "root": {
                "name": "root",
                "folders": [
                    {
                        "name": "Movies",
                        "folders": [
                            {
                                "name": "Classics",
                                "files": [{"name": "old.mkv", "content": {"size": 3 * MIB + 7, "seed": 11}}],
                            }
                        ],
                        "files": [{"name": "film.mkv", "content": {"size": 2 * MIB, "seed": 12}}],
                    },
                    {
                        "name": "Paged",
                        "files": [
                            {
                                "name": f"f{i}.bin",
                                "content": {"size": 100 + i, "seed": 100 + i},
                                "created": 1600000000 - i,
                            }
                            for i in range(7)
                        ],
                    },
                ],
                "files": [
                    {"name": "notes.txt", "content": {"text": "hello rapidgator\n"}, "created": 1556237732}
                ],
            },
        }
    }


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    with run_emulator(_library()) as handle:
        yield handle


class RG:
    """A tiny Rapidgator client for the tests: returns (http status, envelope)."""

    def __init__(self, emu: EmulatorHandle) -> None:
        self.emu = emu
        self.api = emu.urls["rapidgator"]
        self.http = emu.http
        self.token: str | None = None

    def call(self, method: str, post: bool = False, **params: Any) -> tuple[int, dict[str, Any]]:
        if self.token and method != "user/login":
            params.setdefault("token", self.token)
        params = {k: str(v) for k, v in params.items() if v is not None}
        url = f"{self.api}/{method}"
        r = self.http.post(url, data=params) if post else self.http.get(url, params=params)
        body = r.json()
        assert body["status"] == r.status_code
        return r.status_code, body

    def ok(self, method: str, post: bool = False, **params: Any) -> Any:
        status, body = self.call(method, post, **params)
        assert status == 200, body
        assert body["details"] is None
        return body["response"]

    def login(self) -> RG:
        self.token = self.ok("user/login", login="tester@example.org", password="pw", code=TWOFA)["token"]
        return self


@pytest.fixture
def rg(emu: EmulatorHandle) -> RG:
    return RG(emu).login()


def _root(rg: RG) -> dict[str, Any]:
    return rg.ok("folder/info")["folder"]


def _sub(rg: RG, parent: str | None, name: str) -> dict[str, Any]:
    folder = rg.ok("folder/info", folder_id=parent)["folder"]
    return next(f for f in folder["folders"] if f["name"] == name)


def _new_folder(rg: RG, name: str, parent: str | None = None) -> str:
    return rg.ok("folder/create", name=name, folder_id=parent)["folder"]["folder_id"]


def _wait_upload(rg: RG, upload_id: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        upload = rg.ok("file/upload_info", upload_id=upload_id)["upload"]
        if upload["state"] in (2, 3) or time.monotonic() > deadline:
            return upload
        time.sleep(0.05)


def _post_file(http: httpx.Client, url: str, name: str, data: bytes) -> httpx.Response:
    return http.post(url, files={"file": (name, data, "application/octet-stream")})


# --------------------------------------------------------------------- login


def test_login_and_2fa(emu: EmulatorHandle) -> None:
    rg = RG(emu)
    status, body = rg.call("user/login", login="tester@example.org", password="nope", code=TWOFA)
    assert (status, body["response"], body["details"]) == (401, None, "Error: Wrong e-mail or password.")
    status, body = rg.call("user/login", login="tester@example.org", password="pw")
    assert status == 401 and "code is required" in body["details"]
    status, body = rg.call("user/login", post=True, login="tester@example.org", password="pw", code="000000")
    assert status == 401 and body["details"] == "Error: Invalid auth code"

    response = rg.ok("user/login", post=True, login="tester@example.org", password="pw", code=TWOFA)
    token = response["token"]
    assert len(token) == 26 and token.isalnum() and token == token.lower()
    user = response["user"]
    assert user["email"] == "tester@example.org"
    assert isinstance(user["storage"]["total"], str) and isinstance(user["storage"]["left"], int)
    rg.token = token
    assert rg.ok("user/info")["user"]["folder_id"] == _root(rg)["folder_id"]

    status, body = RG(emu).call("user/info", token="x" * 26)
    assert (status, body["details"]) == (401, "Error. Session doesn't exist")


def test_token_expiry(emu: EmulatorHandle) -> None:
    rg = RG(emu).login()
    assert rg.ok("user/info")
    assert emu.action("rapidgator", "expire_tokens")["expired"] >= 1
    status, body = rg.call("folder/content")
    assert (status, body["response"], body["details"]) == (401, None, "Error. Session doesn't exist")
    rg.login()
    assert rg.ok("user/info")


# --------------------------------------------------------------------- folders


def test_folder_content_pagination_and_sort(rg: RG) -> None:
    paged = _sub(rg, None, "Paged")
    assert paged["nb_files"] == 7 and paged["parent_folder_id"] == _root(rg)["folder_id"]
    names, pages = [], 0
    page = 1
    while True:
        response = rg.ok("folder/content", folder_id=paged["folder_id"], page=page, per_page=3)
        assert response["pager"] == {"current": page, "total": 3}
        names += [f["name"] for f in response["folder"]["files"]]
        pages += 1
        if response["pager"]["current"] >= response["pager"]["total"]:
            break
        page += 1
    assert names == [f"f{i}.bin" for i in range(7)] and pages == 3

    desc = rg.ok(
        "folder/content", post=True, folder_id=paged["folder_id"], sort_column="size", sort_direction="DESC"
    )
    assert [f["size"] for f in desc["folder"]["files"]] == [106, 105, 104, 103, 102, 101, 100]
    assert desc["pager"] == {"current": 1, "total": 1}
    by_created = rg.ok("folder/content", folder_id=paged["folder_id"], sort_column="created")
    assert by_created["folder"]["files"][0]["name"] == "f6.bin"

    root = rg.ok("folder/content")
    folder = root["folder"]
    assert folder["parent_folder_id"] is None and folder["name"] == "root"
    assert {"Movies", "Paged"} <= {f["name"] for f in folder["folders"]}
    notes = next(f for f in folder["files"] if f["name"] == "notes.txt")
    assert notes["hash"] == hashlib.md5(b"hello rapidgator\n").hexdigest() and notes["size"] == 17
    assert len(notes["file_id"]) == 32 and int(notes["file_id"], 16) >= 0
    assert notes["created"] == 1556237732 and notes["mode_label"] == "Public"

    status, body = rg.call("folder/content", folder_id="999999999")
    assert (status, body["details"]) == (404, "Error: Folder not found")


def test_folder_create_rename_move_copy_delete(rg: RG, emu: EmulatorHandle) -> None:
    work = _new_folder(rg, "work-folders")
    a = _new_folder(rg, "a", work)
    b = _new_folder(rg, "b", work)
    rg.ok("file/copy", file_id=_sub_file(rg, "notes.txt"), folder_id_dest=a)

    renamed = rg.ok("folder/rename", post=True, folder_id=a, name="a2")["folder"]
    assert renamed["name"] == "a2" and renamed["nb_files"] == 1
    status, body = rg.call("folder/rename", folder_id=a, name="bad/name")
    assert status == 400

    result = rg.ok("folder/move", folder_id=f"{a},123456789", folder_id_dest=b)["result"]
    assert result["success"] == 1 and result["success_ids"] == [a]
    assert result["fail"] == 1 and result["fail_ids"] == ["123456789"] and len(result["errors"]) == 1
    # a folder cannot go below itself
    result = rg.ok("folder/move", folder_id=b, folder_id_dest=a)["result"]
    assert (result["success"], result["fail"]) == (0, 1)

    result = rg.ok("folder/copy", folder_id=b, folder_id_dest=work)["result"]
    assert result["success"] == 1
    work_info = rg.ok("folder/info", folder_id=work)["folder"]
    assert sorted(f["name"] for f in work_info["folders"]) == ["b", "b"]

    view = emu.view("rapidgator")
    assert "/work-folders/b/a2/notes.txt" in view["paths"]

    result = rg.ok("folder/delete", folder_id=f"{work},987654321")["result"]
    assert result["success_ids"] == [work] and result["fail_ids"] == ["987654321"]
    status, body = rg.call("folder/info", folder_id=a)
    assert status == 404
    view = emu.view("rapidgator")
    assert not any(p.startswith("/work-folders") for p in view["paths"])
    assert any(f["name"] == "notes.txt" for f in view["trash"]["files"])

    root_id = _root(rg)["folder_id"]
    result = rg.ok("folder/delete", folder_id=root_id)["result"]
    assert (result["success"], result["fail"]) == (0, 1)


def _sub_file(rg: RG, name: str, folder_id: str | None = None) -> str:
    files = rg.ok("folder/content", folder_id=folder_id)["folder"]["files"]
    return next(f["file_id"] for f in files if f["name"] == name)


def test_file_info_rename_move_copy_delete(rg: RG, emu: EmulatorHandle) -> None:
    work = _new_folder(rg, "work-files")
    movies = _sub(rg, None, "Movies")["folder_id"]
    film = _sub_file(rg, "film.mkv", movies)
    copied = rg.ok("file/copy", file_id=film, folder_id_dest=work)["result"]
    assert copied["success_ids"] == [film]
    new_id = _sub_file(rg, "film.mkv", work)
    assert new_id != film

    info = rg.ok("file/info", file_id=new_id)["file"]
    assert info["folder_id"] == work and info["size"] == 2 * MIB
    assert info["hash"] == md5_of(SyntheticContent(2 * MIB, 12))

    assert rg.ok("file/rename", file_id=new_id, name="renamed.mkv")["file"]["name"] == "renamed.mkv"
    status, body = rg.call("file/rename", file_id=new_id, name="")
    assert status == 400
    assert rg.ok("file/change_mode", file_id=new_id, mode=2)["file"]["mode_label"] == "Private"

    result = rg.ok("file/move", post=True, file_id=f"{new_id},{'0' * 32}", folder_id_dest=movies)["result"]
    assert result["success_ids"] == [new_id] and result["fail_ids"] == ["0" * 32]
    assert emu.view("rapidgator")["paths"]["/Movies/renamed.mkv"]["file_id"] == new_id

    left_before = rg.ok("user/info")["user"]["storage"]["left"]
    status, body = rg.call("file/delete", file_id=f"{new_id},{'f' * 32}")
    assert status == 200
    result = body["response"]["result"]
    assert result == {
        "success": 1,
        "success_ids": [new_id],
        "fail": 1,
        "fail_ids": ["f" * 32],
        "errors": result["errors"],
    }
    assert len(result["errors"]) == 1
    assert rg.ok("user/info")["user"]["storage"]["left"] == left_before + 2 * MIB
    status, body = rg.call("file/info", file_id=new_id)
    assert (status, body["details"]) == (404, "Error: File not found")


# --------------------------------------------------------------------- download


def test_download_with_range_and_traffic(rg: RG, emu: EmulatorHandle) -> None:
    classics = _sub(rg, _sub(rg, None, "Movies")["folder_id"], "Classics")["folder_id"]
    file_id = _sub_file(rg, "old.mkv", classics)
    content = SyntheticContent(3 * MIB + 7, 11)
    traffic_before = rg.ok("user/info")["user"]["traffic"]["left"]
    response = rg.ok("file/download", file_id=file_id)
    assert response["delay"] == 0
    assert rg.ok("user/info")["user"]["traffic"]["left"] == traffic_before - content.size
    url = response["download_url"]
    whole = emu.http.get(url)
    assert whole.status_code == 200 and whole.content == content.read(0, content.size)
    part = emu.http.get(url, headers={"Range": "bytes=1048570-2097160"})
    assert part.status_code == 206 and part.content == content.read(1048570, 2097160 - 1048570 + 1)

    status, body = rg.call("file/download", file_id="1" * 32)
    assert (status, body["details"]) == (404, "Error: File not found")
    emu.action("rapidgator", "set_traffic_left", {"bytes": 0})
    try:
        status, body = rg.call("file/download", file_id=file_id)
        assert (status, body["response"], body["details"]) == (423, None, "Error: Exceeded traffic")
    finally:
        emu.action("rapidgator", "set_traffic_left", {"bytes": 10 * 1024 * MIB})


# --------------------------------------------------------------------- upload


def test_upload_flow(rg: RG, emu: EmulatorHandle) -> None:
    work = _new_folder(rg, "work-upload")
    data = os.urandom(5 * MIB + 3)
    md5 = hashlib.md5(data).hexdigest()
    upload = rg.ok("file/upload", post=True, name="up.bin", hash=md5, size=len(data), folder_id=work)[
        "upload"
    ]
    assert upload["state"] == 0 and upload["file"] is None and upload["state_label"] == "Uploading"
    assert len(upload["upload_id"]) == 32 and upload["upload_id"].isalnum()
    assert upload["url"] == (
        f"{emu.base_url}/rapidgator/upload/?r=upload/api&uuid={upload['upload_id']}&sid={rg.token}"
    )

    reply = _post_file(emu.http, upload["url"], "up.bin", data)
    assert reply.status_code == 200
    assert reply.json()["response"]["state"] == 1
    assert reply.json()["response"]["state_label"] == "Processing"
    # Processing lasts a moment
    assert rg.ok("file/upload_info", upload_id=upload["upload_id"])["upload"]["state"] == 1

    done = _wait_upload(rg, upload["upload_id"])
    assert done["state"] == 2 and done["state_label"] == "Done"
    assert done["file"]["hash"] == md5 and done["file"]["size"] == len(data)
    assert done["file"]["folder_id"] == work and done["file"]["name"] == "up.bin"

    view = emu.view("rapidgator")
    assert view["paths"]["/work-upload/up.bin"]["md5"] == md5
    session = next(s for s in view["uploads"] if s["upload_id"] == upload["upload_id"])
    assert (session["state"], session["received_md5"], session["received_size"]) == (2, md5, len(data))

    url = rg.ok("file/download", file_id=done["file"]["file_id"])["download_url"]
    assert emu.http.get(url).content == data
    tail = emu.http.get(url, headers={"Range": f"bytes={len(data) - 1000}-"})
    assert tail.status_code == 206 and tail.content == data[-1000:]

    # posting again to a finished session is refused
    assert _post_file(emu.http, upload["url"], "up.bin", data).status_code == 400

    # the same md5+size is now known: instant upload
    again = rg.ok("file/upload", name="copy.bin", hash=md5, size=len(data), folder_id=work)["upload"]
    assert again["state"] == 2 and again["url"] is None and again["file"]["name"] == "copy.bin"
    assert again["file"]["hash"] == md5
    stats = emu.stats()["calls"]
    assert stats["rapidgator upload POST"] >= 2 and stats["rapidgator file/upload"] >= 2


def test_instant_upload_known_md5(rg: RG, emu: EmulatorHandle) -> None:
    upload = rg.ok("file/upload", name="known.bin", hash=md5_of(KNOWN).upper(), size=KNOWN.size)["upload"]
    assert upload["state"] == 2 and upload["url"] is None
    assert upload["file"]["folder_id"] == _root(rg)["folder_id"]
    info = rg.ok("file/upload_info", upload_id=upload["upload_id"])["upload"]
    assert info["file"]["file_id"] == upload["file"]["file_id"]
    url = rg.ok("file/download", file_id=upload["file"]["file_id"])["download_url"]
    assert emu.http.get(url).content == KNOWN.read(0, KNOWN.size)


def test_upload_fails_on_md5_mismatch_and_forced_fail(rg: RG, emu: EmulatorHandle) -> None:
    data = os.urandom(300_000)
    wrong = hashlib.md5(b"something else").hexdigest()
    upload = rg.ok("file/upload", name="bad.bin", hash=wrong, size=len(data))["upload"]
    assert _post_file(emu.http, upload["url"], "bad.bin", data).json()["response"]["state"] == 1
    failed = _wait_upload(rg, upload["upload_id"])
    assert failed["state"] == 3 and failed["state_label"] == "Fail" and failed["file"] is None

    good = hashlib.md5(data).hexdigest()
    emu.action("rapidgator", "fail_next_upload", {"count": 1})
    upload = rg.ok("file/upload", name="bad2.bin", hash=good, size=len(data))["upload"]
    _post_file(emu.http, upload["url"], "bad2.bin", data)
    assert _wait_upload(rg, upload["upload_id"])["state"] == 3

    view = emu.view("rapidgator")
    reasons = {s["name"]: s["fail_reason"] for s in view["uploads"]}
    assert "md5 mismatch" in reasons["bad.bin"] and reasons["bad2.bin"] == "fail_next_upload"
    assert "/bad.bin" not in view["paths"] and "/bad2.bin" not in view["paths"]

    # an injected upload-host error, then a retry of the same session succeeds
    emu.action("rapidgator", "upload_post_error", {"status": 500})
    upload = rg.ok("file/upload", name="retry.bin", hash=good, size=len(data))["upload"]
    assert _post_file(emu.http, upload["url"], "retry.bin", data).status_code == 500
    assert _post_file(emu.http, upload["url"], "retry.bin", data).status_code == 200
    assert _wait_upload(rg, upload["upload_id"])["state"] == 2


def test_upload_errors(rg: RG, emu: EmulatorHandle) -> None:
    md5 = hashlib.md5(b"x").hexdigest()
    for name in ("", "a/b", "x" * 256):
        status, body = rg.call("file/upload", name=name, hash=md5, size=1)
        assert status == 400 and body["response"] is None, name
    status, body = rg.call("file/upload", name="x.bin", hash=md5, size=1, folder_id="424242424")
    assert (status, body["details"]) == (404, "Error: Folder not found")
    left = rg.ok("user/info")["user"]["storage"]["left"]
    emu.action("rapidgator", "set_storage_left", {"bytes": 10})
    try:
        status, body = rg.call("file/upload", name="x.bin", hash=md5, size=11)
        assert (status, body["details"]) == (403, "Error: Not enough storage space")
    finally:
        emu.action("rapidgator", "set_storage_left", {"bytes": left})
    status, body = rg.call("file/upload", name="x.bin", hash=md5, size=10**15)
    assert (status, body["details"]) == (400, "Error: File is too big")


def test_api_faults_use_envelope(rg: RG, emu: EmulatorHandle) -> None:
    emu.faults({"api": {"rapidgator": {"status_burst": 503, "status_burst_count": 1, "retry_after": 7}}})
    r = emu.http.get(f"{rg.api}/user/info", params={"token": rg.token})
    assert r.status_code == 503 and r.headers["retry-after"] == "7"
    assert r.json()["status"] == 503 and r.json()["response"] is None
    assert rg.ok("user/info")
    assert emu.stats()["calls"]["rapidgator user/info"] >= 2


def test_upload_chunked_body_and_interrupted_post(rg: RG, emu: EmulatorHandle) -> None:
    data = SyntheticContent(4 * MIB + 5, 31).read(0, 4 * MIB + 5)
    md5 = hashlib.md5(data).hexdigest()
    upload = rg.ok("file/upload", name="chunked.bin", hash=md5, size=len(data))["upload"]

    # a client that dies mid-body leaves the session retryable
    parts = urlsplit(upload["url"])
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.bin"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(
            f"POST {parts.path}?{parts.query} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(head) + len(data) + 100}\r\n\r\n".encode()
            + head
            + data[:MIB]
        )
    time.sleep(0.2)
    assert rg.ok("file/upload_info", upload_id=upload["upload_id"])["upload"]["state"] == 0

    def body() -> Iterator[bytes]:  # chunked transfer encoding, odd piece sizes
        yield b"preamble to ignore\r\n"
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="other"\r\n\r\nvalue'.encode()
        payload = f"\r\n--{boundary}\r\n".encode() + head.split(b"\r\n", 1)[1] + data
        for i in range(0, len(payload), 77_777):
            yield payload[i : i + 77_777]
        yield f"\r\n--{boundary}--\r\n".encode()

    reply = emu.http.post(
        upload["url"], content=body(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert reply.status_code == 200, reply.text
    done = _wait_upload(rg, upload["upload_id"])
    assert done["state"] == 2 and done["file"]["hash"] == md5


def _multipart(boundary: bytes, payload: bytes) -> bytes:
    return (
        b"junk\r\n--"
        + boundary
        + b'\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--'
        + boundary
        + b'\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'
        + payload
        + b"\r\n--"
        + boundary
        + b'\r\nContent-Disposition: form-data; name="file"; filename="second"\r\n\r\nnot me\r\n--'
        + boundary
        + b"--\r\n"
    )


def test_multipart_parser_any_chunking() -> None:
    boundary = b"----bnd42"
    rng = random.Random(5)
    near = b"\r\n--" + boundary[:-1]
    payloads = [
        b"",
        b"\r\n",
        near,
        b"\r\n--" + boundary[:-1] + b"X" + os.urandom(5000) + near,
        os.urandom(300_000) + near + b"\r\n",
        (b"\r\n-" * 5000) + os.urandom(100),
    ]

    async def parse(body: bytes, sizes: list[int]) -> tuple[bool, bytes]:
        spool = Spool()
        reader = MultipartFileReader(boundary, spool)
        pos = 0
        for size in sizes:
            await reader.feed(body[pos : pos + size])
            pos += size
        await reader.feed(body[pos:])
        total = await spool.finish()
        assert reader.done
        spool.hasher.done.wait(5)
        got = os.pread(spool.fd, total + 1, 0)
        assert spool.hasher.hexdigest == hashlib.md5(got).hexdigest()
        os.close(spool.fd)
        return reader.found, got

    for payload in payloads:
        body = _multipart(boundary, payload)
        for _ in range(12):
            limit = rng.choice([1, 3, 17, 200, 70_000])
            sizes, total = [], 0
            while total < len(body):
                sizes.append(rng.randint(1, limit))
                total += sizes[-1]
            found, got = asyncio.run(parse(body, sizes))
            assert found and got == payload, (len(payload), limit)
