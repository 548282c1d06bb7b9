"""`debridfs verify` shows progress while it reads (on a terminal) and ends
with one result line."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from vfs.verify import verify_file


def test_progress_then_result(tmp_path, capsys):
    path = tmp_path / "film.bin"
    data = os.urandom(20 << 20)
    path.write_bytes(data)
    try:
        os.setxattr(path, "user.md5", hashlib.md5(data).hexdigest().encode())
    except OSError:
        pytest.skip("no user xattrs on this file system")
    progress = io.StringIO()
    assert verify_file(path, progress, every=0) == 0
    text = progress.getvalue()
    assert "\rverifying film.bin: 40% 8 MiB of 20 MiB" in text and "left" in text
    assert text.endswith("\r\033[K")  # the progress line is cleared before the result
    assert capsys.readouterr().out == f"OK  {path}\n"
    path.write_bytes(data[:-1] + b"x")
    assert verify_file(path, io.StringIO(), every=0) == 1
    assert capsys.readouterr().out.startswith(f"MISMATCH  {path}: expected md5")
