"""Pure pieces of the Rapidgator write path: the upload journal (atomic,
private, replayable) and the mapping of service errors to errno."""

from __future__ import annotations

import errno
import os

from clients.errors import RateLimited, Refused, TemporaryError
from clients.rapidgator import TwoFactorRequired, map_error
from vfs.errnos import errno_of
from vfs.uploads import DONE, Journal, UploadRecord, format_status


def record(tmp_path, **kw) -> UploadRecord:
    base = dict(
        id="a" * 32,
        folder="5034678",
        name="x.bin",
        spool=str(tmp_path / "x.spool"),
        size=10,
        md5="0" * 32,
        key="spool/x.spool",
    )
    return UploadRecord(**{**base, **kw})


async def test_journal_round_trip_is_private_and_atomic(tmp_path):
    journal = Journal(tmp_path / "uploads" / "rapidgator")
    rec = record(tmp_path, session={"upload_id": "U1"})
    rec.sent = 5  # memory only: not journaled
    await journal.save(rec)
    files = os.listdir(journal.directory)
    assert files == [f"{rec.id}.json"]  # no temporary file left behind
    assert os.stat(journal.directory / files[0]).st_mode & 0o777 == 0o600
    assert os.stat(journal.directory).st_mode & 0o777 == 0o700
    rec.state, rec.result = DONE, {"file_id": "f" * 32}
    await journal.save(rec)
    (loaded,) = journal.load()
    assert loaded == rec and loaded.sent == 0 and loaded.session == {"upload_id": "U1"}
    await journal.remove(rec.id)
    assert journal.load() == []


def test_unreadable_journal_entries_are_skipped(tmp_path, caplog, log_guard):
    log_guard.expect("ignoring unreadable broken.json")
    directory = tmp_path / "j"
    directory.mkdir()
    (directory / "broken.json").write_text("{not json")
    assert Journal(directory).load() == []
    assert "ignoring unreadable broken.json" in caplog.text


def test_service_errors_map_by_documented_status_not_wording():
    assert errno_of(map_error("file/download", 423, "Error: Exceeded traffic")) == errno.EDQUOT
    assert errno_of(map_error("file/download", 423, "Locked")) == errno.EDQUOT
    assert errno_of(map_error("file/info", 404, "Error: File not found")) == errno.ENOENT
    assert errno_of(map_error("user/info", 401, "Error. Session doesn't exist")) == errno.EACCES
    assert errno_of(map_error("user/info", 401, "Session expired, sorry")) == errno.EACCES
    assert isinstance(map_error("user/login", 401, "Error: 2FA code is required"), TwoFactorRequired)
    assert isinstance(map_error("user/login", 400, "Error: Please wait 5 minutes"), RateLimited)
    assert isinstance(map_error("file/upload", 502, "Bad gateway"), TemporaryError)
    # An upload session that is gone is not a lost login.
    assert errno_of(map_error("file/upload_info", 404, "Error: Upload session not found")) == errno.ENOENT
    # What the docs do not explain is a refusal that quotes the service; no guessing from words.
    for details in ("Error: Not enough storage space", "Error: Invalid file name", "Error: quota"):
        error = map_error("file/upload", 403, details)
        assert type(error) is Refused and details in str(error)


def test_status_text():
    assert format_status([]) == "no uploads pending\n"
    text = format_status(
        [
            {
                "source": "rapidgator",
                "name": "a.bin",
                "state": "sending",
                "size": 200,
                "sent": 50,
                "attempts": 1,
                "error": None,
            }
        ]
    )
    assert "rapidgator\tsending\t 25.0%\t50/200\ta.bin" in text
