"""The `debridfs` command line.

    debridfs mount MOUNTPOINT [--config FILE] [--daemon]

Foreground by default: Ctrl-C, SIGTERM or `fusermount3 -u` unmount and exit
0. `--daemon` returns once the mount is ready (or with the error that stopped
it). Problems the user must fix (bad token, missing config) end with one
clear line on stderr and a non-zero exit status, before anything is mounted.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import subprocess
import sys
from pathlib import Path

import trio

from clients.errors import AuthError, RemoteError
from .config import Config, ConfigError, default_config_path, load_config

log = logging.getLogger("debridfs")

EXIT_USAGE = 2
EXIT_FAILED = 1


def configure_logging(level: str, log_file: Path | None) -> None:
    handler: logging.Handler
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file)
        os.chmod(log_file, 0o600)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    # httpx logs every request URL at INFO; URLs can carry credentials.
    for noisy in ("httpx", "httpcore", "pyfuse3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="debridfs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=None,
                        help=f"config file (default: {default_config_path()})")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--log-file", type=Path, default=None)
    commands = parser.add_subparsers(dest="command", required=True)

    mount = commands.add_parser("mount", help="mount the configured services")
    mount.add_argument("mountpoint", type=Path)
    mount.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    mount.add_argument("--daemon", action="store_true", help="detach once the mount is ready")
    mount.add_argument("--ready-fd", type=int, default=None, help=argparse.SUPPRESS)
    mount.set_defaults(handler=cmd_mount)

    login = commands.add_parser("login", help="log in to a service and store the credentials")
    login.add_argument("service", choices=sorted(LOGINS))
    login.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    login.set_defaults(handler=cmd_login)

    add = commands.add_parser("add", help="add hoster links to a link service")
    add.add_argument("service", choices=sorted(add_services()))
    add.add_argument("urls", nargs="*", metavar="URL")
    add.add_argument("--file", type=Path, default=None, help="a text file of links, one per line")
    add.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    add.set_defaults(handler=cmd_add)

    verify = commands.add_parser("verify", help="check a file against the md5 its service gave")
    verify.add_argument("path", type=Path)
    verify.set_defaults(handler=cmd_verify)

    status = commands.add_parser("status", help="show pending uploads")
    status.add_argument("mountpoint", type=Path, nargs="?", default=None,
                        help="a running mount (shows live progress); default: read the journal")
    status.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    status.set_defaults(handler=cmd_status)
    config = commands.add_parser("config", help="check or show the config file")
    config.add_argument("action", choices=["check", "show"])
    config.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    config.set_defaults(handler=cmd_config)
    return parser


def cmd_config(args: argparse.Namespace, config: Config) -> int:
    """`config check`: the file is valid (load_config got this far); `config show`: the effective values."""
    import tomli_w

    from .config import effective

    if args.action == "show":
        sys.stdout.write(tomli_w.dumps(effective(config)))
        return 0
    if not config.file_exists:
        return fail(f"config file {config.path} does not exist", EXIT_USAGE)
    services = ", ".join(config.services()) or "none (add a service section)"
    print(f"{config.path}: OK; services: {services}")
    return 0


# service -> "module:function"; the function takes (args, config) and returns an exit status.
LOGINS: dict[str, str] = {}
LOGINS["rapidgator"] = "vfs.sources.rapidgator:login_command"
LOGINS["realdebrid"] = "vfs.sources.realdebrid_login:login"


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    """Uploads not yet confirmed: live from a mount, else from the journals on disk."""
    from .uploads import Journal, format_status

    if args.mountpoint is not None:
        try:
            sys.stdout.write((args.mountpoint / ".debridfs" / "uploads").read_text())
        except OSError as exc:
            return fail(f"cannot read the status of {args.mountpoint}: {exc.strerror}")
        return 0
    rows = []
    root = config.state_dir / "uploads"
    for directory in sorted(root.iterdir()) if root.is_dir() else []:
        for record in Journal(directory).load():
            rows.append({"source": directory.name, "name": record.name, "state": record.state,
                         "size": record.size, "sent": 0, "error": record.error})
    sys.stdout.write(format_status(rows))
    return 0


def cmd_login(args: argparse.Namespace, config: Config) -> int:
    import importlib

    module_name, function_name = LOGINS[args.service].split(":")
    return getattr(importlib.import_module(module_name), function_name)(args, config)


# `debridfs add SERVICE`: service -> "module:Class" of a Source built as
# Class(config, http) that has `async add_links(urls) -> list[row]`, each row
# with .url, .state ("ok" | "failed" | "waiting" | "new"), .name, .size, .reason
# (vfs/sources/links.py LinkSource does this). The link services come from
# vfs.sources.LINK_SOURCES; another service plugs in with one line here, e.g.
# ADD_SERVICES["realdebrid"] = "vfs.sources.realdebrid:RealDebridSource".
ADD_SERVICES: dict[str, str] = {"realdebrid": "vfs.sources.realdebrid:RealDebridSource"}


def add_services() -> dict[str, str]:
    from .sources import LINK_SOURCES

    return {**LINK_SOURCES, **ADD_SERVICES}


def cmd_add(args: argparse.Namespace, config: Config) -> int:
    import importlib

    from clients.http import make_http_client
    from .sources.links import parse_links

    urls = list(args.urls)
    if args.file is not None:
        try:
            urls += parse_links(args.file.read_text(errors="replace"))
        except OSError as exc:
            return fail(f"cannot read {args.file}: {exc.strerror}", EXIT_USAGE)
    if not urls:
        return fail("no links given (URL arguments or --file FILE)", EXIT_USAGE)
    if getattr(config, args.service, None) is None:
        return fail(f"{args.service} is not configured: add a [{args.service}] section to "
                    f"{config.path or default_config_path()}", EXIT_USAGE)
    module_name, class_name = add_services()[args.service].split(":")
    source_class = getattr(importlib.import_module(module_name), class_name)

    async def add() -> list:
        async with make_http_client(8) as http:
            return await source_class(config, http).add_links(urls)

    try:
        rows = trio.run(add)
    except ConfigError as exc:
        return fail(f"config: {exc}", EXIT_USAGE)
    except AuthError as exc:
        return fail(str(exc))
    failed = 0
    for row in rows:
        if row.state == "ok":
            print(f"ok       {row.name} ({row.size} bytes)  {row.url}")
        else:
            failed += row.state == "failed"
            reason = f": {row.reason}" if row.reason else ""
            print(f"{row.state:<8} {row.url}{reason}")
    return EXIT_FAILED if failed else 0


def cmd_verify(args: argparse.Namespace, config: Config) -> int:
    import errno
    import hashlib

    path: Path = args.path
    try:
        expected = os.getxattr(path, "user.md5").decode().strip().lower()
    except OSError as exc:
        if exc.errno in (errno.ENODATA, getattr(errno, "ENOATTR", errno.ENODATA), errno.ENOTSUP):
            return fail(f"{path}: no md5 known for this file (no user.md5 attribute)")
        return fail(f"{path}: {exc.strerror}")
    digest = hashlib.md5()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(8 << 20):
                digest.update(chunk)
    except OSError as exc:
        return fail(f"{path}: read failed: {exc.strerror}")
    actual = digest.hexdigest()
    if actual == expected:
        print(f"OK  {path}")
        return 0
    print(f"MISMATCH  {path}: expected md5 {expected}, got {actual}")
    return EXIT_FAILED


def fail(message: str, status: int = EXIT_FAILED) -> int:
    print(f"debridfs: {message}", file=sys.stderr, flush=True)
    return status


def cmd_mount(args: argparse.Namespace, config: Config) -> int:
    from .mount import MountError, serve

    mountpoint: Path = args.mountpoint.absolute()
    try:
        os.stat(mountpoint)
    except OSError as exc:
        if exc.errno == errno.ENOTCONN:
            return fail(f"{mountpoint} is left over from a mount whose process died: "
                        f"run `fusermount3 -uz {mountpoint}` first", EXIT_USAGE)
    if not mountpoint.is_dir():
        return fail(f"mount point {mountpoint} is not a directory", EXIT_USAGE)
    if os.path.ismount(mountpoint):
        return fail(f"{mountpoint} is already a mount point", EXIT_USAGE)
    if not config.services() and not config.file_exists:
        return fail(f"config file {config.path} does not exist: create it with a service section "
                    "(see docs/config.md), or run `debridfs login realdebrid`", EXIT_USAGE)
    if args.daemon:
        return spawn_daemon(args, config)

    def on_ready() -> None:
        if args.ready_fd is not None:
            os.write(args.ready_fd, b"ready\n")
            os.close(args.ready_fd)
        else:
            print(f"debridfs: mounted at {mountpoint}", flush=True)

    try:
        trio.run(serve, config, mountpoint, on_ready)
    except (AuthError, MountError, ConfigError) as exc:
        return report_startup_error(args, str(exc))
    except RemoteError as exc:
        return report_startup_error(args, f"cannot reach the service: {exc}")
    except RuntimeError as exc:  # pyfuse3.init failing: no /dev/fuse, busy mount point...
        return report_startup_error(args, f"cannot mount {mountpoint}: {exc}")
    return 0


def report_startup_error(args: argparse.Namespace, message: str) -> int:
    log.error("%s", message)
    if args.ready_fd is not None:
        os.write(args.ready_fd, f"error: {message}\n".encode())
        os.close(args.ready_fd)
    return fail(message)


def spawn_daemon(args: argparse.Namespace, config: Config) -> int:
    """Starts the mount in a detached child and waits until it is ready."""
    read_end, write_end = os.pipe()
    log_file = args.log_file or (config.state_dir / "debridfs.log")
    command = [sys.executable, "-m", "vfs.cli", "--log-level", args.log_level,
               "--log-file", str(log_file)]
    if config.path is not None:
        command += ["--config", str(config.path)]
    command += ["mount", str(args.mountpoint.resolve()), "--ready-fd", str(write_end)]
    subprocess.Popen(command, pass_fds=(write_end,), start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.readline().decode().strip()
    if answer == "ready":
        print(f"debridfs: mounted at {args.mountpoint.resolve()} (log: {log_file})", flush=True)
        return 0
    return fail(answer.removeprefix("error: ") or f"the mount process exited; see {log_file}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level, args.log_file)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return fail(str(exc), EXIT_USAGE)
    return args.handler(args, config)


if __name__ == "__main__":
    sys.exit(main())
