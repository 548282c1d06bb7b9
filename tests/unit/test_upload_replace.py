"""A newer version of a file replaces the older one also when the service has
just confirmed the older upload and no listing shows its remote file yet
(vim saving twice in a row): the older file is deleted, never left as a
duplicate, unless the service gave both versions the same file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vfs.uploads import DONE, Journal, Session, UploadManager, UploadRecord


class Provider:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.deleted: list[str] = []

    async def start(self, name: str, md5: str, size: int, folder: Any) -> Session:
        return self.session

    async def info(self, upload_id: str) -> Session:
        return self.session

    async def send(self, url: str, path: Path, name: str, size: int, progress: Any) -> Session | None:
        return None

    async def place(self, file: dict[str, Any], folder: Any, name: str) -> dict[str, Any]:
        return file

    async def delete(self, file_id: str) -> None:
        self.deleted.append(file_id)


def record(tmp_path: Path, record_id: str, **fields: Any) -> UploadRecord:
    spool = tmp_path / f"{record_id}.spool"
    spool.write_bytes(b"abc")
    return UploadRecord(
        id=record_id,
        folder="f1",
        name="doc.txt",
        spool=str(spool),
        size=3,
        md5="0" * 32,
        key=f"spool/{record_id}.spool",
        **fields,
    )


def remote(file_id: str) -> dict[str, Any]:
    return {
        "file_id": file_id,
        "name": "doc.txt",
        "folder_id": "f1",
        "size": 3,
        "hash": "0" * 32,
        "created": 1,
    }


async def manager_with_a_confirmed_upload(tmp_path: Path, provider: Provider) -> UploadManager:
    # Confirmed, not yet released: what a listing has not shown yet.
    await Journal(tmp_path / "j").save(record(tmp_path, "a" * 32, state=DONE, result=remote("OLD")))
    return UploadManager(tmp_path / "j", provider)


async def test_a_newer_version_deletes_a_just_confirmed_older_one(tmp_path):
    provider = Provider(Session("u2", 0, "http://upload.invalid/u2"))
    manager = await manager_with_a_confirmed_upload(tmp_path, provider)
    await manager.submit(record(tmp_path, "b" * 32))
    assert provider.deleted == ["OLD"]
    assert manager.get("a" * 32) is None
    assert not (tmp_path / ("a" * 32 + ".spool")).exists()


async def test_the_same_file_twice_is_kept(tmp_path):
    provider = Provider(Session("u2", 2, None, remote("OLD")))  # instant, and the service's file is the same
    manager = await manager_with_a_confirmed_upload(tmp_path, provider)
    done = await manager.submit(record(tmp_path, "b" * 32))
    assert done.state == DONE and done.result is not None and done.result["file_id"] == "OLD"
    assert provider.deleted == []
