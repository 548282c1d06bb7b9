"""The `debridfs` command line.

    debridfs mount MOUNTPOINT [--config FILE] [--daemon]

Foreground by default: Ctrl-C, SIGTERM or `fusermount3 -u` unmount and exit
0. `--daemon` returns once the mount is ready (or with the error that stopped
it). Problems the user must fix (bad token, missing config) end with one
clear line on stderr and a non-zero exit status, before anything is mounted.
"""

from __future__ import annotations

import argparse
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
    return parser


# service -> "module:function"; the function takes (args, config) and returns an exit status.
LOGINS: dict[str, str] = {}


def cmd_login(args: argparse.Namespace, config: Config) -> int:
    import importlib

    module_name, function_name = LOGINS[args.service].split(":")
    return getattr(importlib.import_module(module_name), function_name)(args, config)


def fail(message: str, status: int = EXIT_FAILED) -> int:
    print(f"debridfs: {message}", file=sys.stderr, flush=True)
    return status


def cmd_mount(args: argparse.Namespace, config: Config) -> int:
    from .mount import MountError, serve

    mountpoint: Path = args.mountpoint.resolve()
    if not mountpoint.is_dir():
        return fail(f"mount point {mountpoint} is not a directory", EXIT_USAGE)
    if os.path.ismount(mountpoint):
        return fail(f"{mountpoint} is already a mount point", EXIT_USAGE)
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
        return fail(f"config: {exc}", EXIT_USAGE)
    return args.handler(args, config)


if __name__ == "__main__":
    sys.exit(main())
