"""errno is decided in one table at the FUSE edge, not by clients or the tree."""

from __future__ import annotations

import errno
import inspect

import pytest

from clients import errors
from vfs import tree
from vfs.errnos import ERRNO, errno_of


@pytest.mark.parametrize(
    "exc, expected",
    [
        (errors.NotFound("x"), errno.ENOENT),
        (errors.AuthError("x"), errno.EACCES),
        (errors.AccountLocked("x"), errno.EACCES),  # no row of its own: its parent's
        (errors.PermissionDenied("x"), errno.EACCES),
        (errors.RateLimited("x"), errno.EAGAIN),
        (errors.NotReady("x"), errno.EAGAIN),
        (errors.QuotaExceeded("x"), errno.EDQUOT),
        (errors.NoSpace("x"), errno.ENOSPC),
        (errors.InvalidName("x"), errno.EINVAL),
        (errors.TooBig("x"), errno.EFBIG),
        (errors.NotEmpty("x"), errno.ENOTEMPTY),
        (errors.ReadOnly("x"), errno.EROFS),
        (errors.TemporaryError("x"), errno.EIO),
        (errors.LinkExpired("x"), errno.EIO),
        (errors.FileUnavailable("x"), errno.EIO),
        (tree.NoSuchInode("x"), errno.ENOENT),
        (tree.NotADirectory("x"), errno.ENOTDIR),
        (ValueError("a bug"), errno.EIO),
    ],
)
def test_each_error_has_its_errno(exc, expected):
    assert errno_of(exc) == expected


def test_a_new_remote_error_gets_eio_until_it_has_a_row():
    class Strange(errors.RemoteError):
        pass

    assert errno_of(Strange("x")) == errno.EIO


def test_clients_and_the_tree_know_no_errno():
    for module in (errors, tree):
        assert "import errno" not in inspect.getsource(module)
    for cls in ERRNO:
        assert not hasattr(cls, "errno"), cls


async def test_the_tree_raises_its_own_errors():
    t = tree.Tree([])
    with pytest.raises(tree.NoSuchInode):
        t.get(12345)
    file_node = tree.Node(7, "f", tree.ROOT_INODE, False, None, "f")
    with pytest.raises(tree.NotADirectory):
        await t.children(file_node)
