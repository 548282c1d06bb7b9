"""The tree: inodes, names and attributes of everything the mount shows.

Directories are filled lazily from their source's `list_dir` and trusted for
`listing_ttl` seconds. A failed refresh keeps what was shown before (a media
server that sees files vanish deletes its library). Inode numbers are derived
from (source, stable key), so they survive remounts.

Lookup counts: every entry returned by `lookup` or by a readdirplus reply that
the kernel accepted counts one lookup; `forget` gives them back. A node that
vanished from its directory stays in `nodes` until its count reaches zero.
See docs/invariants.md.

Kernel caches: the kernel keeps names (dentries) for `entry_timeout`
seconds. When a listing drops or renames a child the kernel may know (its
lookup count is positive), or changes its attributes, `forget_entry` (a hook
the mount sets to pyfuse3's queued `invalidate_entry_async`) tells the
kernel to drop that name, so `stat` of a deleted torrent fails at once.
A file open for writing (`writers` > 0) is the writer's until its last
release is handled: a relisting neither drops it (a new file is not on the
service yet) nor gives it the service's size; its name stays taken.
Directories a source reports as changed are relisted right away by `run`
when the source's listings come from memory (`Source.listings_in_memory`),
so that this happens without waiting for someone to list them.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import stat
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import trio

from . import heap
from .names import unique_names
from .sources.base import Entry, Ref, Source

log = logging.getLogger(__name__)

ROOT_INODE = 1
DIR_MODE = stat.S_IFDIR | 0o555
FILE_MODE = stat.S_IFREG | 0o444
BIG_DIRECTORY = 256  # entries from which a directory remembers its naming


class Node:
    __slots__ = (
        "inode",
        "name",
        "parent",
        "is_dir",
        "size",
        "mtime",
        "source",
        "ref",
        "key",
        "children",
        "loaded_at",
        "lookups",
        "xattrs",
        "virtual",
        "local",
        "writable",
        "lock",
        "attached",
        "writers",
        "names_memo",
    )

    def __init__(
        self,
        inode: int,
        name: str,
        parent: int,
        is_dir: bool,
        source: Source | None,
        key: str,
        ref: Ref | None = None,
    ) -> None:
        self.inode = inode
        self.name = name
        self.parent = parent
        self.is_dir = is_dir
        self.size = 0
        self.mtime = 0.0
        self.source = source
        self.ref = ref
        self.key = key
        self.children: dict[str, Node] | None = {} if is_dir else None
        self.loaded_at: float | None = None  # None: never listed
        self.lookups = 0
        self.xattrs: dict[str, bytes] = {}
        self.virtual: Callable[[], bytes | Awaitable[bytes]] | None = None
        self.local: Path | None = None
        self.writable = False
        self.lock: trio.Lock | None = None
        self.attached = True
        self.writers = 0  # write handles (vfs/writes.py) that own this node's content
        # A big directory's last naming: its inputs (see Tree._naming) and the names
        self.names_memo: tuple[Naming, dict[str, str]] | None = None

    @property
    def mode(self) -> int:
        if self.is_dir:
            return stat.S_IFDIR | (0o755 if self.writable else 0o555)
        return stat.S_IFREG | (0o644 if self.writable else 0o444)

    def __repr__(self) -> str:
        return f"Node({self.inode}, {self.name!r})"


# What names a listing: the names held by writers, (key, raw name, rank) of
# each entry, and the names shown before (key -> name).
Naming = tuple[set[str], list[tuple[str, str, Any]], dict[str, str]]


class NoSuchInode(LookupError):
    """The kernel named an inode the tree no longer knows."""


class NotADirectory(Exception):
    """A directory operation on a file."""


def kids(node: Node) -> dict[str, Node]:
    """A directory's children as the tree holds them now (no listing)."""
    if node.children is None:
        raise NotADirectory(f"{node.name} is not a directory")
    return node.children


def stable_inode(source_name: str, key: str, salt: int = 0) -> int:
    digest = hashlib.blake2b(f"{source_name}\0{key}\0{salt}".encode(), digest_size=8).digest()
    # Stay below 2**63 (some tools treat st_ino as signed) and clear of the root.
    return (int.from_bytes(digest, "big") >> 1) | 2


class Tree:
    def __init__(self, sources: Iterable[Source], listing_ttl: float = 10.0) -> None:
        self.listing_ttl = listing_ttl
        self.nodes: dict[int, Node] = {}
        self.root = Node(ROOT_INODE, "", ROOT_INODE, True, None, "")
        self.root.mtime = time.time()
        self.root.loaded_at = float("inf")
        self.nodes[ROOT_INODE] = self.root
        # (parent inode, name) -> None: tells the kernel to drop a cached name.
        # Set by the mount while the FUSE session is up; must not block.
        self.forget_entry: Callable[[int, str], None] | None = None
        self._relist: dict[int, Node] = {}
        self._relist_wanted = trio.Event()
        for source in sources:
            node = self._new_node(self.root, source.name, True, source, key="", ref=None)
            node.mtime = self.root.mtime
            node.writable = source.writable
            kids(self.root)[node.name] = node
            source.listing_changed(functools.partial(self.mark_stale, source))

    def get(self, inode: int) -> Node:
        try:
            return self.nodes[inode]
        except KeyError:
            raise NoSuchInode(f"inode {inode} is gone") from None

    def _new_node(
        self,
        parent: Node,
        name: str,
        is_dir: bool,
        source: Source | None,
        key: str,
        ref: Ref | None,
        inode: int | None = None,
    ) -> Node:
        """`inode`: `stable_inode` of (source, key), when already known."""
        source_name = source.name if source else ""
        salt = 0
        if inode is None:
            inode = stable_inode(source_name, key, salt)
        while inode in self.nodes:  # a 63-bit collision: practically never, but never wrong
            salt += 1
            inode = stable_inode(source_name, key, salt)
        node = Node(inode, name, parent.inode, is_dir, source, key, ref)
        self.nodes[inode] = node
        heap.made()
        return node

    async def children(self, node: Node) -> dict[str, Node]:
        """The directory's children, listing it first when the listing is stale."""
        shown = kids(node)
        if node.source is None or (
            node.loaded_at is not None and time.monotonic() - node.loaded_at < self.listing_ttl
        ):
            return shown
        if node.lock is None:
            node.lock = trio.Lock()
        async with node.lock:  # one listing at a time per directory
            if node.loaded_at is not None and time.monotonic() - node.loaded_at < self.listing_ttl:
                return kids(node)
            try:
                entries = await node.source.list_dir(node.ref)
            except Exception as exc:
                if node.loaded_at is None:
                    raise
                log.info("listing %s failed (%s); keeping what was shown", node.name, exc)
                node.loaded_at = time.monotonic()
                return kids(node)
            inodes = await self._prepare(node, entries)
            self.apply_listing(node, entries, inodes)
        return kids(node)

    async def _prepare(self, node: Node, entries: list[Entry]) -> dict[str, int]:
        """For a big listing, the pure work of applying it, in a worker thread:
        the names (left in `names_memo`, where `apply_listing` finds them) and
        the inode numbers of new keys. 5,000 new entries took 25-45 ms of the
        trio thread. What changes meanwhile is checked again when applied."""
        if len(entries) < BIG_DIRECTORY or node.source is None:
            return {}
        naming = self._naming(node, entries)
        known = {child.key for child in kids(node).values()}
        new = [e.key for e in entries if e.key not in known]
        memo = node.names_memo
        if memo is not None and memo[0] == naming and len(new) < BIG_DIRECTORY:
            return {}
        source_name = node.source.name
        taken, items, previous = naming

        def work() -> tuple[dict[str, str], dict[str, int]]:
            names = unique_names(items, taken=taken, previous=previous)
            return names, {key: stable_inode(source_name, key) for key in new}

        names, inodes = await trio.to_thread.run_sync(work)
        node.names_memo = (naming, names)
        return inodes

    @staticmethod
    def _naming(node: Node, entries: list[Entry]) -> Naming:
        """What `unique_names` needs for a listing of `node`. Names shown
        now are kept (vfs/names.py): a file open for writing holds its name,
        and every other child keeps the name it has while its raw name gives it."""
        held = {name for name, child in kids(node).items() if child.writers > 0}
        shown = {child.key: name for name, child in kids(node).items() if child.writers == 0}
        return held, [(e.key, e.name, e.rank) for e in entries], shown

    def apply_listing(self, node: Node, entries: list[Entry], inodes: dict[str, int] | None = None) -> None:
        """Replaces a directory's children, keeping the nodes of unchanged keys.
        `inodes`: the inode numbers of new keys, when already known."""
        held = {name: child for name, child in kids(node).items() if child.writers > 0}
        held_keys = {child.key for child in held.values()}
        by_key = {child.key: child for child in kids(node).values() if child.writers == 0}
        if held_keys:
            entries = [e for e in entries if e.key not in held_keys]
        names = self._names(node, entries)
        fresh: dict[str, Node] = dict(held)
        for entry in entries:
            name = names[entry.key]
            child = by_key.pop(entry.key, None)
            if child is None or child.is_dir != entry.is_dir:
                if child is not None:
                    self._kernel_forget(node, child)
                    self._detach(child)
                inode = inodes.get(entry.key) if inodes else None
                child = self._new_node(node, name, entry.is_dir, node.source, entry.key, entry.ref, inode)
            elif child.name != name or (
                not child.is_dir and (child.size, child.mtime) != (entry.size, entry.mtime)
            ):
                # renamed, or a file with new attributes: what the kernel cached is stale.
                # (Not directories' mtimes: dropping a directory's name drops its subtree.)
                self._kernel_forget(node, child)
            child.name = name
            child.ref = entry.ref
            child.size = entry.size
            child.mtime = entry.mtime
            child.xattrs = entry.xattrs
            child.virtual = entry.virtual
            child.local = entry.local
            child.writable = entry.writable
            fresh[name] = child
        for gone in by_key.values():
            self._kernel_forget(node, gone)
            self._detach(gone)
        node.children = fresh
        node.loaded_at = time.monotonic()

    def _names(self, node: Node, entries: list[Entry]) -> dict[str, str]:
        """`unique_names` of a listing; a big directory listed again with the
        same inputs keeps the last result (comparing costs a tenth of naming
        5,000 entries again)."""
        naming = self._naming(node, entries)
        memo = node.names_memo
        if memo is not None and memo[0] == naming:
            return memo[1]
        taken, items, previous = naming
        names = unique_names(items, taken=taken, previous=previous)
        node.names_memo = (naming, names) if len(items) >= BIG_DIRECTORY else None
        return names

    def add_child(self, parent: Node, entry: Entry) -> Node:
        """Adds one entry (after mkdir/create/rename) without relisting."""
        siblings = kids(parent)
        existing = siblings.get(entry.name)
        if existing is not None:
            self._detach(existing)
            del siblings[entry.name]
        child = self._new_node(parent, entry.name, entry.is_dir, parent.source, entry.key, entry.ref)
        child.size, child.mtime, child.xattrs = entry.size, entry.mtime, entry.xattrs
        child.writable, child.virtual, child.local = entry.writable, entry.virtual, entry.local
        if child.is_dir:
            child.loaded_at = None
        siblings[entry.name] = child
        return child

    def update_node(self, node: Node, entry: Entry) -> None:
        """Gives an existing node a source's new view of it (same inode): a
        written file handed to its source keeps the inode the kernel knows."""
        node.key, node.ref = entry.key, entry.ref
        node.size, node.mtime, node.xattrs = entry.size, entry.mtime, entry.xattrs
        node.writable, node.virtual, node.local = entry.writable, entry.virtual, entry.local

    def move(self, node: Node, new_parent: Node, new_name: str, entry: Entry | None = None) -> None:
        """Moves an existing node (a rename): same inode, new parent and name, so
        open handles and the kernel's dentries stay valid. A node already named
        `new_name` there is replaced (POSIX rename). `entry` is the source's view
        after the move; its key may differ from the node's: the inode was fixed
        when the node was made and stays for the life of the mount, while later
        listings find the node by its new key."""
        old_parent = self.nodes.get(node.parent)
        if (
            old_parent is not None
            and old_parent.children is not None
            and old_parent.children.get(node.name) is node
        ):
            del old_parent.children[node.name]
        if entry is not None:
            self.update_node(node, entry)
        siblings = kids(new_parent)
        existing = siblings.get(new_name)
        if existing is not None and existing is not node:
            self._detach(existing)
        node.name, node.parent, node.attached = new_name, new_parent.inode, True
        siblings[new_name] = node

    def remove_child(self, parent: Node, name: str) -> None:
        child = kids(parent).pop(name, None)
        if child is not None:
            self._detach(child)

    def _detach(self, node: Node) -> None:
        node.attached = False
        for child in (node.children or {}).values():
            self._detach(child)
        if node.lookups <= 0:
            self.nodes.pop(node.inode, None)

    def _kernel_forget(self, parent: Node, child: Node) -> None:
        """Drops the kernel's cached name of `child` (only if the kernel holds it)."""
        if child.lookups > 0 and self.forget_entry is not None:
            log.debug("kernel: forgetting %s in %s", child.name, parent.name)
            self.forget_entry(parent.inode, child.name)

    def mark_stale(self, source: Source, ref: Ref | None) -> None:
        """Called by a source when the directory `ref` changed remotely."""
        relist = getattr(source, "listings_in_memory", False)
        for node in self.nodes.values():
            if node.source is source and node.is_dir and node.ref == ref and node.loaded_at is not None:
                # -inf, not None: it was listed, so a failed relisting keeps what was shown
                node.loaded_at = -math.inf
                if relist:
                    self._relist[node.inode] = node
        if self._relist:
            self._relist_wanted.set()

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Relists changed directories of in-memory sources at once (see the
        module docstring); parents first, so a vanished subtree is skipped."""
        task_status.started()
        while True:
            await self._relist_wanted.wait()
            self._relist_wanted = trio.Event()
            batch = sorted(self._relist.values(), key=self._depth)
            self._relist.clear()
            for node in batch:
                if not node.attached or node.loaded_at != -math.inf:
                    continue  # gone, or someone listed it meanwhile
                try:
                    await self.children(node)
                except Exception as exc:
                    log.debug("relisting %s failed: %s", node.name, exc)
                await trio.lowlevel.checkpoint()

    def _depth(self, node: Node) -> int:
        depth = 0
        while node.inode != ROOT_INODE and depth < 1000:
            parent = self.nodes.get(node.parent)
            if parent is None:
                break
            node, depth = parent, depth + 1
        return depth

    def remember(self, node: Node) -> None:
        node.lookups += 1

    def forget(self, inode: int, count: int) -> None:
        node = self.nodes.get(inode)
        if node is None or inode == ROOT_INODE:
            return
        node.lookups -= count
        if node.lookups <= 0 and not node.attached:
            del self.nodes[inode]
