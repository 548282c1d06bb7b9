"""Running a mount: check credentials, mount, serve until unmounted or signalled.

Credentials are checked before anything is mounted, so a wrong token leaves
no mount behind. SIGINT and SIGTERM end the FUSE loop; `fusermount3 -u`
ends it from outside; both unmount and return cleanly.
"""

from __future__ import annotations

import fcntl
import gc
import logging
import os
import re
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyfuse3
import trio

from clients.http import make_http_client
from clients.ranged import RangeClient

from . import blocking
from .cache import MemoryCache
from .config import Config, MountConfig
from .diskcache import DiskCache
from .fs import Operations
from .media import MediaServices
from .preflight import check_sources
from .reader import CHUNK, ReadEngine
from .sources import build_sources
from .sources.base import Source
from .sources.internal import InternalSource
from .statusfile import StatusFile
from .tree import Tree

log = logging.getLogger(__name__)

SWITCH_INTERVAL = 0.001  # seconds a thread may hold the GIL while another waits for it (Python: 0.005)


class MountError(Exception):
    """The mount could not be set up (the message is for the user)."""


def fuse_options(mount: MountConfig) -> set[str]:
    # default_permissions: the kernel enforces the modes we report (read-only
    # files get EACCES on open for writing without a round trip).
    options = set(pyfuse3.default_options) | {"fsname=debridfs", "subtype=debridfs", "default_permissions"}
    if mount.allow_other:
        options.add("allow_other")
    if mount.read_only:
        options.add("ro")
    return options


def mount_device(mountpoint: Path) -> str | None:
    """'major:minor' of the mount, from mountinfo: stat() on the mount point
    would be a FUSE request to ourselves before the loop runs."""
    device = None
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        # mountinfo escapes space, tab, newline and backslash as octal (\040).
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        if point == str(mountpoint):
            device = fields[2]  # the last match is the topmost mount
    return device


def raise_kernel_read_ahead(mountpoint: Path, read_ahead_kb: int | None) -> None:
    """Bigger kernel read requests make sequential reads cheaper per byte."""
    if read_ahead_kb is None or os.geteuid() != 0:
        return
    device = mount_device(mountpoint)
    if device is None:
        log.info("could not find the mount of %s in mountinfo", mountpoint)
        return
    bdi = Path(f"/sys/class/bdi/{device}/read_ahead_kb")
    try:
        bdi.write_text(str(read_ahead_kb))
    except OSError as exc:
        log.info("could not set %s: %s", bdi, exc)


def after_init(mountpoint: Path, read_ahead_kb: int | None) -> None:
    """Runs in a worker thread once the kernel's INIT arrived."""
    raise_kernel_read_ahead(mountpoint, read_ahead_kb)
    # pyfuse3 starts the thread behind invalidate_entry_async at its first call
    # and waits until that thread runs: on the trio thread this wait stalled
    # every request (80 ms on a loaded machine). A name in no cache is a no-op.
    pyfuse3.invalidate_entry_async(pyfuse3.ROOT_INODE, b".debridfs-start", ignore_enoent=True)


def lock_state_dir(state_dir: Path) -> int:
    """One mount per state dir: two would drive the same journal records. The
    lock is held by the open file descriptor and ends with the process, so a
    crashed mount never leaves a stale lock."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state_dir / "mount.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise MountError(
            f"another debridfs mount (pid {holder}) uses the state dir {state_dir}; unmount it first"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


async def serve(config: Config, mountpoint: Path, on_ready: Callable[[], None]) -> None:
    lock = lock_state_dir(config.state_dir)
    try:
        await _serve(config, mountpoint, on_ready)
    finally:
        os.close(lock)


@dataclass
class Parts:
    """What a mount is made of, short of the kernel: the real mount and the
    tests that drive `Operations` without a kernel (tests/fs/) build it alike."""

    sources: list[Source]
    tree: Tree
    ranged: RangeClient
    disk: DiskCache | None
    engine: ReadEngine
    operations: Operations


def assemble(config: Config, sources: list[Source]) -> Parts:
    """The tree, the read engine and `Operations` over checked sources."""
    tree = Tree(sources, listing_ttl=config.mount.listing_ttl)
    ranged = RangeClient(stall_timeout=config.read.stall_timeout)
    disk = None
    if config.cache.cache_dir is not None:
        disk = DiskCache(config.cache.cache_dir, config.cache.cache_max_size, CHUNK)
    engine = ReadEngine(
        ranged, MemoryCache(config.cache.memory_size), config.read, config.cache.block_size, disk
    )
    for source in sources:
        source.engine = engine
        if isinstance(source, InternalSource):
            source.read_stats = engine.stats
    operations = Operations(tree, engine, config.mount, config.state_dir / "spool")
    operations.writes.clean_orphans([s.uploads for s in sources if s.uploads is not None])
    return Parts(sources, tree, ranged, disk, engine, operations)


async def start_parts(parts: Parts, nursery: trio.Nursery) -> None:
    """Starts the background tasks of the parts (cache, sources, tree) in `nursery`."""
    parts.engine.nursery = nursery
    if parts.disk is not None:
        await nursery.start(parts.disk.run)
    for source in parts.sources:
        await nursery.start(source.run)
    await nursery.start(parts.tree.run)


async def _serve(config: Config, mountpoint: Path, on_ready: Callable[[], None]) -> None:
    async with make_http_client(config.read.max_connections + 16) as http:
        sources = build_sources(config, http)
        if not sources:
            raise MountError(
                "nothing to mount: the config enables no service (add a "
                "[realdebrid], [rapidgator], [portal], [premiumize] or [rapidshare] "
                "section; see README.md)"
            )
        await check_sources(sources, config, http)
        parts = assemble(config, sources)
        tree, engine, operations = parts.tree, parts.engine, parts.operations
        pyfuse3.init(operations, str(mountpoint), fuse_options(config.mount))
        for source in sources:
            source.mountpoint = mountpoint
        media = MediaServices(config, http, sources, mountpoint, tree)
        # Names that vanished from a listing: the kernel drops its cached entry.
        # invalidate_entry_async queues the call to a thread pyfuse3 owns, so it
        # never blocks the trio thread (the blocking invalidate_entry would
        # deadlock against a lookup in progress on the same directory).
        tree.forget_entry = lambda parent, name: pyfuse3.invalidate_entry_async(
            parent, os.fsencode(name), ignore_enoent=True
        )
        try:
            # Outermost: after the kernel session ends, the work that last
            # releases started (commits, discards) still runs to its end.
            async with trio.open_nursery() as closers:
                operations.writes.closers = closers
                async with trio.open_nursery() as nursery:
                    # The kernel sets the mount's read-ahead from our INIT reply, which
                    # libfuse sends after init() returns: adjust it in a task after that.
                    operations.on_init = lambda: nursery.start_soon(
                        trio.to_thread.run_sync,
                        after_init,
                        mountpoint,
                        config.mount.read_ahead_kb,
                    )
                    await start_parts(parts, nursery)
                    await nursery.start(media.run)
                    await nursery.start(
                        StatusFile(
                            config.state_dir,
                            mountpoint,
                            sources,
                            engine,
                            parts.disk,
                            config.cache.cache_max_size,
                        ).run
                    )
                    # Started (not only scheduled) before the ready line: a SIGTERM
                    # sent as soon as a caller sees it must unmount, not kill us.
                    await nursery.start(_terminate_on_signals)
                    # What start-up made (imports, the sources' state, the first sync)
                    # lives as long as the mount: frozen, the collector's full passes
                    # stop scanning it again and again (one pass over a large account's
                    # state held the trio thread 70-90 ms). Nothing is served yet.
                    gc.collect()
                    gc.freeze()
                    # Worker threads run Python too (naming a big listing, the store's
                    # rows). Each time the trio thread releases the GIL for a system
                    # call, such a thread may take it and keep it for a whole switch
                    # interval: at Python's 5 ms, a step with ten system calls can wait
                    # 50 ms. At 1 ms the trio thread gets it back five times sooner.
                    sys.setswitchinterval(SWITCH_INTERVAL)
                    # A debug mode the tests turn on; from here on a blocked loop stalls requests.
                    blocking.install_from_env()
                    log.info("mounted at %s", mountpoint)
                    on_ready()
                    await pyfuse3.main()
                    tree.forget_entry = None  # the kernel caches nothing any more
                    nursery.cancel_scope.cancel()
        finally:
            tree.forget_entry = None
            pyfuse3.close(unmount=True)
            with trio.CancelScope(shield=True):
                await parts.ranged.aclose()
            log.info("unmounted %s", mountpoint)


async def _terminate_on_signals(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for signum in signals:
            log.info("got %s; unmounting", signal.Signals(signum).name)
            pyfuse3.terminate()
            return
