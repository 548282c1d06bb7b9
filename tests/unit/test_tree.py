"""The tree: stable inodes, lazy listings trusted for a while, failures that
keep what was shown, lookup counts and the kernel's cached names (vfs/tree.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest
import trio
import trio.testing

from clients.errors import TemporaryError
from vfs.names import unique_names
from vfs.sources.base import Entry, Ref, Source
from vfs.tree import BIG_DIRECTORY, ROOT_INODE, NoSuchInode, Tree, stable_inode


@dataclass(frozen=True)
class Dir(Ref):
    name: str


class FakeSource(Source):
    """Listings from a dict (ref -> entries); counts calls; can be told to fail."""

    def __init__(self, name: str = "fake", in_memory: bool = False) -> None:
        self.name = name
        self.listings_in_memory = in_memory
        self.listings: dict[Ref | None, list[Entry]] = {None: []}
        self.calls = 0
        self.failing = False

    async def list_dir(self, ref: Ref | None) -> list[Entry]:
        self.calls += 1
        if self.failing:
            raise TemporaryError("the service is down")
        return list(self.listings[ref])

    def changed(self, ref: Ref | None) -> None:
        self._on_change(ref)


def files(*names: str) -> list[Entry]:
    return [Entry(name, key=f"key-{name}", is_dir=False, size=len(name)) for name in names]


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


def top(tree: Tree) -> Any:
    return tree.root.children["fake"]


async def test_inodes_are_stable_across_trees_and_follow_keys_not_names(source):
    source.listings[None] = files("a.mkv", "b.mkv")
    earlier = Tree([source])
    first = await earlier.children(top(earlier))
    tree = Tree([source])
    second = await tree.children(top(tree))
    assert {n: c.inode for n, c in first.items()} == {n: c.inode for n, c in second.items()}
    inode = second["a.mkv"].inode
    source.listings[None] = [Entry("renamed.mkv", key="key-a.mkv", is_dir=False)]
    tree.listing_ttl = 0
    assert (await tree.children(top(tree)))["renamed.mkv"].inode == inode
    assert all(ROOT_INODE < i < 2**63 for i in tree.nodes if i != ROOT_INODE)


async def test_a_listing_is_trusted_for_listing_ttl(source):
    tree = Tree([source], listing_ttl=3600)
    source.listings[None] = files("a")
    await tree.children(top(tree))
    await tree.children(top(tree))
    assert source.calls == 1
    tree.listing_ttl = 0
    await tree.children(top(tree))
    assert source.calls == 2


async def test_concurrent_listings_of_one_directory_make_one_call(source):
    tree = Tree([source])
    source.listings[None] = files("a")
    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(tree.children, top(tree))
    assert source.calls == 1


async def test_a_failed_first_listing_fails_and_a_failed_relisting_keeps_what_was_shown(source):
    tree = Tree([source], listing_ttl=0)
    source.failing = True
    with pytest.raises(TemporaryError):
        await tree.children(top(tree))
    source.failing = False
    source.listings[None] = files("a", "b")
    assert sorted(await tree.children(top(tree))) == ["a", "b"]
    source.failing = True
    assert sorted(await tree.children(top(tree))) == ["a", "b"]


async def test_clashing_and_unsafe_names_are_made_unique(source):
    tree = Tree([source])
    source.listings[None] = [
        Entry("x/y", "1", False),
        Entry("same", "2", False),
        Entry("same", "3", False),
        Entry("..", "4", True, ref=Dir("d")),
    ]
    names = sorted(await tree.children(top(tree)))
    assert names == ["_..", "same", "same (2)", "x\u2215y"]


async def test_a_vanished_node_the_kernel_knows_stays_until_forgotten(source):
    tree = Tree([source], listing_ttl=0)
    forgotten: list[tuple[int, str]] = []
    tree.forget_entry = lambda parent, name: forgotten.append((parent, name))
    source.listings[None] = files("kept", "known", "unknown")
    children = await tree.children(top(tree))
    known, unknown = children["known"], children["unknown"]
    tree.remember(known)  # the kernel looked it up once
    source.listings[None] = files("kept")
    assert sorted(await tree.children(top(tree))) == ["kept"]
    assert tree.get(known.inode) is known  # the kernel may still ask about it
    with pytest.raises(NoSuchInode):
        tree.get(unknown.inode)
    assert forgotten == [(top(tree).inode, "known")]  # only names the kernel holds
    tree.forget(known.inode, 1)
    with pytest.raises(NoSuchInode):
        tree.get(known.inode)


async def test_renamed_or_changed_files_the_kernel_knows_are_invalidated(source):
    tree = Tree([source], listing_ttl=0)
    forgotten: list[str] = []
    tree.forget_entry = lambda parent, name: forgotten.append(name)
    source.listings[None] = [
        Entry("a", "ka", False, size=1),
        Entry("b", "kb", False, size=1),
        Entry("c", "kc", False, size=1),
    ]
    for node in (await tree.children(top(tree))).values():
        tree.remember(node)
    source.listings[None] = [
        Entry("a2", "ka", False, size=1),
        Entry("b", "kb", False, size=2),
        Entry("c", "kc", False, size=1),
    ]
    await tree.children(top(tree))
    assert sorted(forgotten) == ["a", "b"]  # renamed, resized; c is unchanged


async def test_a_node_that_changes_kind_gets_a_new_node(source):
    tree = Tree([source], listing_ttl=0)
    source.listings[None] = [Entry("x", "k", False)]
    old = (await tree.children(top(tree)))["x"]
    source.listings[None] = [Entry("x", "k", True, ref=Dir("dir"))]
    source.listings[Dir("dir")] = files("inner")
    new = (await tree.children(top(tree)))["x"]
    assert new is not old and new.is_dir
    assert sorted(await tree.children(new)) == ["inner"]


async def test_stale_directories_are_relisted_at_once_for_in_memory_sources():
    source = FakeSource(in_memory=True)
    tree = Tree([source], listing_ttl=3600)
    source.listings[None] = [Entry("d", "kd", True, ref=Dir("d"))]
    source.listings[Dir("d")] = files("one")
    d = (await tree.children(top(tree)))["d"]
    await tree.children(d)
    async with trio.open_nursery() as nursery:
        await nursery.start(tree.run)
        source.listings[Dir("d")] = files("one", "two")
        source.changed(Dir("d"))
        assert d.loaded_at == -math.inf  # a failed relisting would keep what was shown
        await trio.testing.wait_all_tasks_blocked()
        assert sorted(d.children) == ["one", "two"]  # relisted without anyone asking
        nursery.cancel_scope.cancel()


async def test_stale_directories_of_other_sources_are_relisted_when_next_looked_at(source):
    tree = Tree([source], listing_ttl=3600)
    source.listings[None] = files("one")
    await tree.children(top(tree))
    source.listings[None] = files("one", "two")
    source.changed(None)
    assert source.calls == 1
    assert sorted(await tree.children(top(tree))) == ["one", "two"]


async def test_move_keeps_the_inode_and_replaces_the_target(source):
    tree = Tree([source])
    source.listings[None] = [
        Entry("d", "kd", True, ref=Dir("d")),
        Entry("f", "kf", False),
        Entry("g", "kg", False),
    ]
    children = await tree.children(top(tree))
    d, f, g = children["d"], children["f"], children["g"]
    source.listings[Dir("d")] = []
    await tree.children(d)
    tree.move(f, d, "g")  # into d
    assert d.children["g"] is f and "f" not in top(tree).children and f.parent == d.inode
    tree.move(f, top(tree), "g")  # back, replacing g
    assert top(tree).children["g"] is f
    with pytest.raises(NoSuchInode):
        tree.get(g.inode)


async def test_added_and_removed_children(source):
    tree = Tree([source])
    await tree.children(top(tree))
    node = tree.add_child(top(tree), Entry("new", "kn", False, size=5))
    assert tree.get(node.inode) is node and top(tree).children["new"] is node
    tree.remove_child(top(tree), "new")
    assert "new" not in top(tree).children
    with pytest.raises(NoSuchInode):
        tree.get(node.inode)


async def test_a_big_listing_is_named_and_numbered_like_a_small_one(source):
    # A big directory is named and its new inodes hashed in a worker thread,
    # and its naming is kept while names and ranks stay: same result as inline.
    count = BIG_DIRECTORY * 2
    big = [Entry(f"x{n % 300}.mkv", key=f"k{n:04d}", is_dir=False, rank=(n,)) for n in range(count)]
    source.listings[None] = big
    tree = Tree([source], listing_ttl=0)
    shown = await tree.children(top(tree))
    expected = unique_names([(e.key, e.name, e.rank) for e in big])
    assert {name: child.key for name, child in shown.items()} == {v: k for k, v in expected.items()}
    assert all(child.inode == stable_inode("fake", child.key) for child in shown.values())
    before = {child.key: (name, child.inode) for name, child in shown.items()}
    relisted = await tree.children(top(tree))
    assert {child.key: (name, child.inode) for name, child in relisted.items()} == before
    # a name that changes changes the naming (a kept naming is not reused);
    # the others keep the names they are shown under
    source.listings[None] = [Entry("x1.mkv", key="k0000", is_dir=False, rank=(0,)), *big[1:]]
    again = await tree.children(top(tree))
    assert again["x1.mkv"].key == "k0001" and again["x1 (2).mkv"].key == "k0301"
    assert again["x1 (3).mkv"].key == "k0000" and again["x1 (3).mkv"].inode == before["k0000"][1]
