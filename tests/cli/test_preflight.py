"""Preflight: every way a mount cannot work is one line before anything is
mounted (or, for a stale mount, with the exact command that fixes it): the
mount point, the machine, and each service's api_url and credentials."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.mounting import is_mounted, mounted, run_cli, start_mount, unmount, write_config
from vfs.preflight import PreflightError, check_machine

TOKEN = "rd-good-token"
LIBRARY = {"realdebrid": {"token": TOKEN, "downloads": []}}  # run by `emu` (tests/conftest.py)


def rd_config(api_url: str, token: str = TOKEN) -> str:
    return f'[realdebrid]\ntoken = "{token}"\napi_url = "{api_url}"\n'


def mount_cli(
    tmp_path: Path, config_text: str, mountpoint: Path, timeout: float = 60
) -> tuple[str, int, float]:
    """`debridfs mount`; the one stderr line, the exit status and the seconds it took."""
    write_config(tmp_path, config_text)
    started = time.monotonic()
    result = run_cli(tmp_path, "mount", str(mountpoint), timeout=timeout)
    elapsed = time.monotonic() - started
    assert "Traceback" not in result.stderr
    # A foreground mount logs INFO lines to stderr; the error is one line of its own.
    lines = [line for line in result.stderr.splitlines() if " INFO " not in line]
    assert len(lines) == 1 and lines[0].startswith("debridfs: "), result.stderr
    assert not is_mounted(mountpoint)
    return lines[0], result.returncode, elapsed


def test_missing_mount_point(emu, tmp_path):
    line, status, _ = mount_cli(tmp_path, rd_config(emu.urls["realdebrid"]), tmp_path / "nowhere")
    assert status == 2 and f"mount point {tmp_path / 'nowhere'} does not exist" in line
    assert f"mkdir -p {tmp_path / 'nowhere'}" in line


def test_mount_point_is_a_file(emu, tmp_path):
    (tmp_path / "file").write_text("x")
    line, status, _ = mount_cli(tmp_path, rd_config(emu.urls["realdebrid"]), tmp_path / "file")
    assert status == 2 and "is a file, not a directory" in line


def test_already_mounted_and_stale_mount(emu, tmp_path):
    text = rd_config(emu.urls["realdebrid"])
    with mounted(tmp_path, text) as mount:
        assert mount.config_file == tmp_path / "config.toml"
        result = run_cli(tmp_path, "mount", str(mount.path))
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.strip() == (
            f"debridfs: {mount.path} is already a mount point (unmount it "
            f"first: `fusermount3 -u {mount.path}`)"
        )
    # A daemon that dies leaves a stale mount: the hint is the exact command.
    process, mountpoint, _log, _config, ready = start_mount(tmp_path, text, name="stale")
    try:
        assert "mounted at" in ready
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert is_mounted(mountpoint)
        result = run_cli(tmp_path, "mount", str(mountpoint))
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.strip() == (
            f"debridfs: {mountpoint} is left over from a mount whose process "
            f"died: run `fusermount3 -uz {mountpoint}` first"
        )
        subprocess.run(["fusermount3", "-uz", str(mountpoint)], check=True)
        assert not is_mounted(mountpoint)
    finally:
        unmount(mountpoint, process)


def test_machine_checks(tmp_path):
    conf = tmp_path / "fuse.conf"
    device = tmp_path / "fuse"
    with pytest.raises(PreflightError, match=f"{device} is missing: load the fuse module"):
        check_machine(False, device=device, fuse_conf=conf, is_root=True)
    device.touch()
    with pytest.raises(PreflightError, match="fusermount3 is missing: install fuse3"):
        check_machine(False, device=device, fuse_conf=conf, is_root=False, fusermount=None)
    check_machine(False, device=device, fuse_conf=conf, is_root=True, fusermount=None)
    conf.write_text("# user_allow_other\nmount_max = 1000\n")
    with pytest.raises(PreflightError, match=f"allow_other needs a line `user_allow_other` in {conf}"):
        check_machine(True, device=device, fuse_conf=conf, is_root=False, fusermount="/bin/fusermount3")
    check_machine(True, device=device, fuse_conf=conf, is_root=True, fusermount="/bin/fusermount3")
    conf.write_text("user_allow_other\n")
    check_machine(True, device=device, fuse_conf=conf, is_root=False, fusermount="/bin/fusermount3")


class HtmlPage(BaseHTTPRequestHandler):
    """A web page where an API should be (a wrong api_url, a captive portal)."""

    status = 200

    def answer(self) -> None:
        body = b"<!DOCTYPE html><html><body><h1>Welcome</h1></body></html>"
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = answer

    def log_message(self, *args) -> None:
        pass


@contextmanager
def html_server(status: int = 200) -> Iterator[str]:
    handler = type("Page", (HtmlPage,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


SERVICES_AT = {
    "realdebrid": lambda url: rd_config(url + "/rest/1.0"),
    "rapidgator": lambda url: f'[rapidgator]\ntoken = "rg-token"\napi_url = "{url}/api/v2"\n',
    "portal": lambda url: f'[portal]\napi_key = "obb_key_1234"\napi_url = "{url}/api/external/v1"\n',
    "premiumize": lambda url: (
        f'[premiumize]\nlogin = "1234"\npassword = "pin-1234"\napi_url = "{url}/pm-api/v1.php"\n'
    ),
    "rapidshare": lambda url: (
        f'[rapidshare]\nlogin = "me"\npassword = "pw-1234"\napi_url = "{url}/cgi-bin/rsapi.cgi"\n'
    ),
}


@pytest.mark.parametrize("service", sorted(SERVICES_AT))
@pytest.mark.parametrize("status", [200, 404])
def test_api_url_answering_html(tmp_path, service, status):
    (tmp_path / "mnt").mkdir()
    with html_server(status) as url:
        line, exit_status, _ = mount_cli(tmp_path, SERVICES_AT[service](url), tmp_path / "mnt")
    assert exit_status == 2  # the config points at a web page: the user must fix api_url
    assert f"[{service}] api_url {url}/" in line and "returned HTML, not JSON — check api_url" in line


def test_unreachable_api_url_is_named_without_secrets(tmp_path):
    (tmp_path / "mnt").mkdir()
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    line, status, elapsed = mount_cli(
        tmp_path, rd_config(f"http://127.0.0.1:{port}/rest/1.0?key=s3cr3t"), tmp_path / "mnt"
    )
    assert status == 1 and elapsed < 10
    assert line == (
        f"debridfs: [realdebrid] api_url http://127.0.0.1:{port}/rest/1.0 is unreachable "
        "(connection refused) — check api_url and the network"
    )


def test_api_url_that_never_answers_fails_within_10_s(tmp_path):
    """A listener whose backlog is full: the connection attempt hangs."""
    (tmp_path / "mnt").mkdir()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        for _ in range(8):  # fill the accept queue; later SYNs are dropped
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        try:
            line, status, elapsed = mount_cli(
                tmp_path, rd_config(f"http://127.0.0.1:{port}/rest/1.0"), tmp_path / "mnt", timeout=40
            )
        finally:
            for filler in fillers:
                filler.close()
    assert status == 1 and 9 < elapsed < 25, elapsed
    assert f"api_url http://127.0.0.1:{port}/rest/1.0 did not answer within 10 s" in line


def test_wrong_credentials(emu, tmp_path):
    (tmp_path / "mnt").mkdir()
    line, status, _ = mount_cli(
        tmp_path, rd_config(emu.urls["realdebrid"], token="wrong-token"), tmp_path / "mnt"
    )
    assert status == 2 and "[realdebrid] Real-Debrid rejected the API token" in line
    assert "wrong-token" not in line
