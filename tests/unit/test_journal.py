"""The upload journal's format and replay (docs/uploads.md, "Journal format"):
what a crash leaves behind is replayed, in commit order, and nothing else."""

from __future__ import annotations

import json

from vfs.uploads import FAILED, QUEUED, SENDING, Journal, UploadRecord

FIELDS = {
    "id",
    "folder",
    "name",
    "spool",
    "size",
    "md5",
    "key",
    "created",
    "replaces",
    "session",
    "state",
    "attempts",
    "error",
    "result",
    "version",
}


def make(tmp_path, record_id: str, created: float, **fields) -> UploadRecord:
    return UploadRecord(
        id=record_id,
        folder="f1",
        name=f"{record_id}.bin",
        spool=str(tmp_path / f"{record_id}.spool"),
        size=3,
        md5="0" * 32,
        key=f"spool/{record_id}.spool",
        created=created,
        **fields,
    )


async def test_records_are_replayed_in_commit_order(tmp_path):
    journal = Journal(tmp_path / "j")
    for record_id, created in (("b" * 32, 30.0), ("a" * 32, 20.0), ("c" * 32, 10.0)):
        await journal.save(make(tmp_path, record_id, created))
    assert [r.id for r in journal.load()] == ["c" * 32, "a" * 32, "b" * 32]


async def test_a_saved_record_replaces_the_previous_version(tmp_path):
    journal = Journal(tmp_path / "j")
    record = make(tmp_path, "d" * 32, 1.0)
    await journal.save(record)
    record.state, record.attempts, record.error = FAILED, 3, "quota"
    record.folder, record.name = "f2", "moved.bin"  # mv while uploading
    await journal.save(record)
    (loaded,) = journal.load()
    assert (loaded.state, loaded.attempts, loaded.error, loaded.folder, loaded.name) == (
        FAILED,
        3,
        "quota",
        "f2",
        "moved.bin",
    )


async def test_the_file_holds_the_documented_fields_and_no_progress(tmp_path):
    journal = Journal(tmp_path / "j")
    record = make(tmp_path, "e" * 32, 5.0, state=SENDING, session={"upload_id": "U9"})
    record.sent = 2
    await journal.save(record)
    data = json.loads((journal.directory / f"{record.id}.json").read_text())
    assert set(data) == FIELDS
    assert data["version"] == 1 and data["session"] == {"upload_id": "U9"}


def test_leftovers_of_a_crash_and_unknown_fields_do_not_stop_a_replay(tmp_path, log_guard):
    log_guard.expect("ignoring unreadable truncated.json")
    directory = tmp_path / "j"
    directory.mkdir()
    good = make(tmp_path, "f" * 32, 1.0).to_json()
    # A newer version's extra field is ignored; a temporary file a crash left is not a record.
    (directory / f"{'f' * 32}.json").write_text(json.dumps({**good, "future": True}))
    (directory / f".{'9' * 32}.tmp").write_text(json.dumps(good))
    (directory / "truncated.json").write_text(json.dumps(good)[:40])
    (loaded,) = Journal(directory).load()
    assert loaded.id == "f" * 32 and loaded.state == QUEUED


def test_no_journal_directory_means_nothing_pending(tmp_path):
    assert Journal(tmp_path / "never-created").load() == []
