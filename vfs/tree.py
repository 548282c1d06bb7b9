"""The tree: inodes, names and attributes of everything the mount shows.

Directories are filled lazily from their source's `list_dir` and trusted for
`listing_ttl` seconds. A failed refresh keeps what was shown before (a media
server that sees files vanish deletes its library). Inode numbers are derived
from (source, stable key), so they survive remounts.

Lookup counts: every entry returned by `lookup` or by a readdirplus reply that
the kernel accepted counts one lookup; `forget` gives them back. A node that
vanished from its directory stays in `nodes` until its count reaches zero.
See docs/invariants.md.
"""

from __future__ import annotations

import hashlib
import logging
import stat
import time
from typing import Any, Iterable

import trio

from clients.errors import NotFound
from .names import unique_names
from .sources.base import Entry, Source

log = logging.getLogger(__name__)

ROOT_INODE = 1
DIR_MODE = stat.S_IFDIR | 0o555
FILE_MODE = stat.S_IFREG | 0o444


class Node:
    __slots__ = ("inode", "name", "parent", "is_dir", "size", "mtime", "source", "ref", "key",
                 "children", "loaded_at", "lookups", "xattrs", "virtual", "local", "writable",
                 "lock", "attached")

    def __init__(self, inode: int, name: str, parent: int, is_dir: bool, source: Source | None,
                 key: str, ref: Any = None) -> None:
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
        self.loaded_at: float | None = None      # None: never listed
        self.lookups = 0
        self.xattrs: dict[str, bytes] = {}
        self.virtual = None
        self.local = None
        self.writable = False
        self.lock: trio.Lock | None = None
        self.attached = True

    @property
    def mode(self) -> int:
        if self.is_dir:
            return stat.S_IFDIR | (0o755 if self.writable else 0o555)
        return stat.S_IFREG | (0o644 if self.writable else 0o444)

    def __repr__(self) -> str:
        return f"Node({self.inode}, {self.name!r})"


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
        for source in sources:
            node = self._new_node(self.root, source.name, True, source, key="", ref=None)
            node.mtime = self.root.mtime
            node.writable = source.writable
            self.root.children[node.name] = node
            source.listing_changed(lambda ref, source=source: self.mark_stale(source, ref))

    def get(self, inode: int) -> Node:
        try:
            return self.nodes[inode]
        except KeyError:
            raise NotFound(f"inode {inode} is gone") from None

    def _new_node(self, parent: Node, name: str, is_dir: bool, source: Source | None,
                  key: str, ref: Any) -> Node:
        source_name = source.name if source else ""
        salt = 0
        inode = stable_inode(source_name, key, salt)
        while inode in self.nodes:   # a 63-bit collision: practically never, but never wrong
            salt += 1
            inode = stable_inode(source_name, key, salt)
        node = Node(inode, name, parent.inode, is_dir, source, key, ref)
        self.nodes[inode] = node
        return node

    async def children(self, node: Node) -> dict[str, Node]:
        """The directory's children, listing it first when the listing is stale."""
        if not node.is_dir:
            raise NotFound(f"{node.name} is not a directory")
        if node.loaded_at is not None and time.monotonic() - node.loaded_at < self.listing_ttl:
            return node.children
        if node.lock is None:
            node.lock = trio.Lock()
        async with node.lock:  # one listing at a time per directory
            if node.loaded_at is not None and time.monotonic() - node.loaded_at < self.listing_ttl:
                return node.children
            try:
                entries = await node.source.list_dir(node.ref)
            except Exception as exc:
                if node.loaded_at is None:
                    raise
                log.info("listing %s failed (%s); keeping what was shown", node.name, exc)
                node.loaded_at = time.monotonic()
                return node.children
            self.apply_listing(node, entries)
        return node.children

    def apply_listing(self, node: Node, entries: list[Entry]) -> None:
        """Replaces a directory's children, keeping the nodes of unchanged keys."""
        by_key = {child.key: child for child in node.children.values()}
        names = unique_names([(e.key, e.name) for e in entries])
        fresh: dict[str, Node] = {}
        for entry in entries:
            name = names[entry.key]
            child = by_key.pop(entry.key, None)
            if child is None or child.is_dir != entry.is_dir:
                if child is not None:
                    self._detach(child)
                child = self._new_node(node, name, entry.is_dir, node.source, entry.key, entry.ref)
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
            self._detach(gone)
        node.children = fresh
        node.loaded_at = time.monotonic()

    def add_child(self, parent: Node, entry: Entry) -> Node:
        """Adds one entry (after mkdir/create/rename) without relisting."""
        existing = parent.children.get(entry.name)
        if existing is not None:
            self._detach(existing)
            del parent.children[entry.name]
        child = self._new_node(parent, entry.name, entry.is_dir, parent.source, entry.key, entry.ref)
        child.size, child.mtime, child.xattrs = entry.size, entry.mtime, entry.xattrs
        child.writable, child.virtual, child.local = entry.writable, entry.virtual, entry.local
        if child.is_dir:
            child.loaded_at = None
        parent.children[entry.name] = child
        return child

    def update_node(self, node: Node, entry: Entry) -> None:
        """Gives an existing node a source's new view of it (same inode): a
        written file handed to its source keeps the inode the kernel knows."""
        node.key, node.ref = entry.key, entry.ref
        node.size, node.mtime, node.xattrs = entry.size, entry.mtime, entry.xattrs
        node.writable, node.virtual, node.local = entry.writable, entry.virtual, entry.local

    def remove_child(self, parent: Node, name: str) -> None:
        child = parent.children.pop(name, None)
        if child is not None:
            self._detach(child)

    def _detach(self, node: Node) -> None:
        node.attached = False
        if node.is_dir:
            for child in node.children.values():
                self._detach(child)
        if node.lookups <= 0:
            self.nodes.pop(node.inode, None)

    def mark_stale(self, source: Source, ref: Any) -> None:
        """Called by a source when the directory `ref` changed remotely."""
        for node in self.nodes.values():
            if node.source is source and node.is_dir and node.ref == ref:
                node.loaded_at = None

    def remember(self, node: Node) -> None:
        node.lookups += 1

    def forget(self, inode: int, count: int) -> None:
        node = self.nodes.get(inode)
        if node is None or inode == ROOT_INODE:
            return
        node.lookups -= count
        if node.lookups <= 0 and not node.attached:
            del self.nodes[inode]
