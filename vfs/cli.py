"""The `debridfs` command line (click).

    debridfs mount MOUNTPOINT [--config FILE] [--daemon] [-o KEY=VALUE]...
    debridfs status | verify FILE | add SERVICE URL... | login SERVICE | config check|show

Global options (`--config`, `--log-level`, `--log-file`, `-v`, `-q`) are
accepted before or after the subcommand. Foreground mounts end on Ctrl-C,
SIGTERM or `fusermount3 -u` with status 0; `--daemon` returns once the mount
is ready (or with the error that stopped it). Problems the user must fix end
with one line on stderr (`debridfs: ...`), never a traceback: status 2 for
bad usage or config, 1 for everything else.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import click
import trio

from clients.errors import AuthError, RemoteError

from .config import Config, ConfigError, default_config_path, load_config

if TYPE_CHECKING:
    import httpx

    from .sources.links import LinkRow

log = logging.getLogger("debridfs")

EXIT_USAGE = 2
EXIT_FAILED = 1
LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Failed(Exception):
    """Ends the command with one line on stderr and an exit status."""

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.status = status


def fail(message: str, status: int = EXIT_FAILED) -> int:
    # Several config problems are several lines, each one complete.
    print("\n".join(f"debridfs: {line}" for line in message.splitlines()), file=sys.stderr, flush=True)
    return status


def configure_logging(level: str, log_file: Path | None) -> None:
    handler: logging.Handler
    if log_file is not None:
        try:
            # Private from the first byte: the log names files and accounts.
            if not log_file.parent.exists():
                log_file.parent.mkdir(parents=True, mode=0o700)
            os.close(os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
            os.chmod(log_file, 0o600)
            handler = logging.FileHandler(log_file)
        except OSError as exc:
            raise Failed(f"log file {log_file}: cannot write it ({exc.strerror})", EXIT_USAGE) from None
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper()))
    # httpx logs every request URL at INFO; URLs can carry credentials.
    for noisy in ("httpx", "httpcore", "pyfuse3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# --- options accepted anywhere ------------------------------------------------
# Each is declared on the group and on every subcommand; whichever is given
# lands in the root context's `meta`, so `debridfs -v add ...` and
# `debridfs add ... -v` mean the same.


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value is None or value == 0:
        return
    meta = ctx.find_root().meta
    counted = isinstance(param, click.Option) and param.count
    meta[param.name] = meta.get(param.name, 0) + value if counted else value


GLOBAL_OPTIONS = [
    click.option(
        "--config",
        "config_file",
        type=click.Path(path_type=Path, dir_okay=False),
        expose_value=False,
        callback=_remember,
        help=f"Config file (default: {default_config_path()}).",
    ),
    click.option(
        "--log-level",
        type=click.Choice(LOG_LEVELS, case_sensitive=False),
        expose_value=False,
        callback=_remember,
        help="Log level (default: INFO for mount, WARNING otherwise).",
    ),
    click.option(
        "--log-file",
        type=click.Path(path_type=Path, dir_okay=False),
        expose_value=False,
        callback=_remember,
        help="Log to this file instead of stderr.",
    ),
    click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=_remember,
        help="More log output (-v: INFO, -vv: DEBUG).",
    ),
    click.option(
        "-q",
        "--quiet",
        count=True,
        expose_value=False,
        callback=_remember,
        help="Less log output (-q: ERROR only).",
    ),
]


F = TypeVar("F", bound=Callable[..., Any])


def global_options(function: F) -> F:
    for option in reversed(GLOBAL_OPTIONS):
        function = option(function)
    return function


def setup(default_level: str = "WARNING", need_config: bool = True) -> Config | None:
    """Logging from the options, then the config (a ConfigError ends the command)."""
    meta = click.get_current_context().find_root().meta
    level = meta.get("log_level")
    if level is None:
        steps = meta.get("verbose", 0) - meta.get("quiet", 0)
        index = LOG_LEVELS.index(default_level) - steps
        level = LOG_LEVELS[max(0, min(index, len(LOG_LEVELS) - 1))]
    configure_logging(level, meta.get("log_file"))
    if not need_config:
        return None
    try:
        return load_config(meta.get("config_file"), overrides=meta.get("overrides"))
    except ConfigError as exc:
        raise Failed(str(exc), EXIT_USAGE) from None


def option_state(name: str) -> Any:
    return click.get_current_context().find_root().meta.get(name)


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Group(click.Group):
    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if self.epilog:
            formatter.write("\n" + self.epilog)


def version() -> str:
    try:
        return metadata.version("debridfs")
    except metadata.PackageNotFoundError:
        return "unknown"


@click.group(
    cls=Group,
    context_settings=CONTEXT,
    epilog="""\
Examples:
  debridfs mount ~/debrid                 mount in the foreground (Ctrl-C unmounts)
  debridfs mount ~/debrid --daemon        return once the mount is ready
  debridfs config check                   validate the config file
  debridfs status                         every service of the running mount
  debridfs -v add portal URL              add a hoster link, with log lines

The config reference is docs/config.md; `debridfs COMMAND --help` for more.
""",
)
@click.version_option(version(), "-V", "--version", prog_name="debridfs", message="%(prog)s %(version)s")
@global_options
def cli() -> None:
    """Real-Debrid, Rapidgator and hoster links as ordinary directories (a FUSE filesystem)."""


# --- mount ------------------------------------------------------------------

# Options mount(8) and fstab pass that mean nothing to us.
IGNORED_MOUNT_OPTIONS = {
    "defaults",
    "_netdev",
    "auto",
    "noauto",
    "nofail",
    "user",
    "users",
    "nouser",
    "owner",
    "group",
    "dev",
    "nodev",
    "suid",
    "nosuid",
    "exec",
    "noexec",
    "async",
    "sync",
    "atime",
    "noatime",
    "relatime",
    "nodiratime",
    "lazytime",
}
MOUNT_OPTION_ALIASES = {
    "ro": ("mount", "read_only", True),
    "rw": ("mount", "read_only", False),
    "nonempty": ("mount", "allow_non_empty", True),
}


def parse_mount_options(options: tuple[str, ...]) -> tuple[dict[str, dict[str, Any]], Path | None]:
    """-o values ("ro,allow_other", "read.timeout=30", "config=FILE") -> config overrides."""
    import tomllib

    from .config import SECTION_MODELS, SERVICES

    overrides: dict[str, dict[str, Any]] = {}
    config_file = None
    value: Any
    for item in (part.strip() for option in options for part in option.split(",")):
        if not item or item in IGNORED_MOUNT_OPTIONS or item.startswith(("x-", "comment=")):
            continue
        if item in MOUNT_OPTION_ALIASES:
            section, key, value = MOUNT_OPTION_ALIASES[item]
            overrides.setdefault(section, {})[key] = value
            continue
        name, has_value, text = item.partition("=")
        if name == "config":
            config_file = Path(text).expanduser()
            continue
        value = True
        if has_value:
            try:
                value = tomllib.loads(f"v = {text}")["v"]
            except tomllib.TOMLDecodeError:
                value = text
        if "." in name:
            section, key = name.split(".", 1)
        else:
            owners = [
                s for s, model in SECTION_MODELS.items() if s not in SERVICES and name in model.model_fields
            ]
            if len(owners) > 1 and "mount" not in owners:
                raise Failed(f"-o {name}: ambiguous, write SECTION.{name} ({', '.join(owners)})", EXIT_USAGE)
            section = "mount" if not owners or "mount" in owners else owners[0]
            key = name
        overrides.setdefault(section, {})[key] = value
    return overrides, config_file


def toml_value(value: Any) -> str:
    import tomli_w

    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


@cli.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  debridfs mount ~/debrid
  debridfs mount ~/debrid --daemon --config ~/other.toml
  debridfs mount /mnt/debrid --allow-other --read-only --cache-dir /var/cache/debridfs
  debridfs mount ~/debrid -o read.timeout=30,entry_timeout=60 -o realdebrid.allow_delete=true

\b
Flags and -o options override the config file. -o takes KEY=VALUE items,
comma-separated: SECTION.KEY=VALUE for any config key (docs/config.md), a
bare [mount] key (allow_other, read_only, entry_timeout...), ro/rw, nonempty,
config=FILE; fstab's defaults, _netdev, noauto, nofail, x-systemd.* are ignored.
In /etc/fstab (see docs/recipes.md):
  /etc/debridfs/config.toml  /mnt/debrid  fuse.debridfs  defaults,_netdev,allow_other  0 0
""",
)
@click.argument("mountpoint", type=click.Path(path_type=Path, file_okay=True, exists=False))
@click.option("--daemon", is_flag=True, help="Detach once the mount is ready (log: state dir).")
@click.option(
    "--allow-other",
    is_flag=True,
    default=None,
    help="Let other users (e.g. plex) read the mount ([mount] allow_other).",
)
@click.option(
    "--read-only", is_flag=True, default=None, help="Refuse every write, add and delete ([mount] read_only)."
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Persistent disk cache of file contents ([cache] cache_dir).",
)
@click.option(
    "--allow-non-empty",
    is_flag=True,
    default=None,
    help="Mount over a directory that is not empty ([mount] allow_non_empty).",
)
@click.option(
    "-o",
    "options",
    multiple=True,
    metavar="KEY=VALUE[,...]",
    help="Override config keys; mount(8)-style options (see below).",
)
@click.option("--ready-fd", type=int, default=None, hidden=True)
@global_options
def mount(
    mountpoint: Path,
    daemon: bool,
    allow_other: bool | None,
    read_only: bool | None,
    cache_dir: Path | None,
    allow_non_empty: bool | None,
    options: tuple[str, ...],
    ready_fd: int | None,
) -> int:
    """Mount the configured services at MOUNTPOINT (foreground unless --daemon).

    Ctrl-C, SIGTERM or `fusermount3 -u MOUNTPOINT` unmount and exit 0. Every
    problem found before mounting (config, mount point, credentials, a service
    that does not answer) ends with one line and a non-zero status.
    """
    overrides, config_file = parse_mount_options(options)
    for section, key, value in (
        ("mount", "allow_other", allow_other),
        ("mount", "read_only", read_only),
        ("cache", "cache_dir", str(cache_dir) if cache_dir else None),
        ("mount", "allow_non_empty", allow_non_empty),
    ):
        if value is not None:
            overrides.setdefault(section, {})[key] = value
    meta = click.get_current_context().find_root().meta
    meta["overrides"] = overrides
    if config_file is not None and meta.get("config_file") is None:
        meta["config_file"] = config_file
    config = setup("INFO")
    assert config is not None
    warn_about_secrets_in_argv(overrides, ready_fd)
    return cmd_mount(mountpoint, config, daemon, ready_fd)


def warn_about_secrets_in_argv(overrides: dict[str, dict[str, Any]], ready_fd: int | None) -> None:
    from .config import SECRET_ENV, SECRET_KEYS

    if ready_fd is not None:  # the daemon's own child: its parent said so already
        return
    for section, values in overrides.items():
        for key in values:
            if key in SECRET_KEYS:
                variable = SECRET_ENV.get((section, key))
                instead = f"{variable} in the environment or " if variable else ""
                log.warning(
                    "-o %s.%s puts a secret on the command line, where every user sees it (ps): "
                    "use %sthe config file (chmod 600)",
                    section,
                    key,
                    instead,
                )


def cmd_mount(mountpoint: Path, config: Config, daemon: bool, ready_fd: int | None) -> int:
    from .mount import MountError, serve
    from .notify import sd_notify
    from .preflight import PreflightError, ServiceUnreachable, preflight

    mountpoint = mountpoint.expanduser().absolute()  # fstab and unit files pass ~ unexpanded
    try:
        preflight(mountpoint, config)
    except PreflightError as exc:
        raise Failed(str(exc), EXIT_USAGE) from None
    if not config.services() and not config.file_exists:
        raise Failed(
            f"config file {config.path} does not exist: create it with a service section "
            "(see docs/config.md), or run `debridfs login realdebrid`",
            EXIT_USAGE,
        )
    if not config.services():
        raise Failed(
            f"{config.path} enables no service: add a [realdebrid], [rapidgator], [portal], "
            "[premiumize] or [rapidshare] section (see docs/config.md)",
            EXIT_USAGE,
        )
    if daemon:
        return spawn_daemon(mountpoint, config)

    def on_ready() -> None:
        sd_notify(f"READY=1\nSTATUS=mounted at {mountpoint}\nMAINPID={os.getpid()}")
        if ready_fd is not None:
            os.write(ready_fd, b"ready\n")
            os.close(ready_fd)
        else:
            print(f"debridfs: mounted at {mountpoint}", flush=True)

    try:
        trio.run(serve, config, mountpoint, on_ready)
    except ServiceUnreachable as exc:  # perhaps the network: a restart may help
        return report_startup_error(ready_fd, str(exc))
    except (AuthError, ConfigError, PreflightError) as exc:  # the user must fix the config
        return report_startup_error(ready_fd, str(exc), EXIT_USAGE)
    except MountError as exc:
        return report_startup_error(ready_fd, str(exc))
    except RemoteError as exc:
        return report_startup_error(ready_fd, f"cannot reach the service: {exc}")
    except RuntimeError as exc:  # pyfuse3.init failing: no /dev/fuse, busy mount point...
        return report_startup_error(ready_fd, f"cannot mount {mountpoint}: {exc}")
    except BaseExceptionGroup as group:  # Ctrl-C while trio nurseries start the parts
        if group.split(KeyboardInterrupt)[1] is not None:
            raise
        raise KeyboardInterrupt from None
    sd_notify("STOPPING=1")
    return 0


def report_startup_error(ready_fd: int | None, message: str, status: int = EXIT_FAILED) -> int:
    if not isinstance(logging.getLogger().handlers[0], logging.StreamHandler) or isinstance(
        logging.getLogger().handlers[0], logging.FileHandler
    ):
        log.error("%s", message)  # into the log file; stderr gets the line below
    if ready_fd is not None:
        os.write(ready_fd, f"error {status}: {message}\n".encode())
        os.close(ready_fd)
    return fail(message, status)


def spawn_daemon(mountpoint: Path, config: Config) -> int:
    """Starts the mount in a detached child and waits until it is ready."""
    meta = click.get_current_context().find_root().meta
    read_end, write_end = os.pipe()
    log_file = meta.get("log_file") or (config.state_dir / "debridfs.log")
    level = logging.getLevelName(logging.getLogger().level)
    command = [sys.executable, "-m", "vfs.cli", "--log-level", level, "--log-file", str(log_file)]
    if config.path is not None and config.file_exists:
        command += ["--config", str(config.path)]
    command += ["mount", str(mountpoint), "--ready-fd", str(write_end)]
    for section, values in (meta.get("overrides") or {}).items():
        for key, value in values.items():
            command += ["-o", f"{section}.{key}={toml_value(value)}"]
    subprocess.Popen(
        command,
        pass_fds=(write_end,),
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.readline().decode().strip()
    if answer == "ready":
        print(f"debridfs: mounted at {mountpoint} (log: {log_file})", flush=True)
        return 0
    kind, _, message = answer.partition(": ")
    status = EXIT_USAGE if kind == f"error {EXIT_USAGE}" else EXIT_FAILED
    return fail(message or f"the mount process exited; see {log_file}", status)


# --- the other commands -------------------------------------------------------

# service -> "module:function"; the function takes (args, config) and returns an exit status.
LOGINS: dict[str, str] = {}
LOGINS["rapidgator"] = "vfs.sources.rapidgator:login_command"
LOGINS["realdebrid"] = "vfs.sources.realdebrid_login:login"


@cli.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  debridfs login realdebrid    prints a code to approve at https://real-debrid.com/device
  debridfs login rapidgator    asks for the login and password, stores the token
""",
)
@click.argument("service", type=click.Choice(sorted(LOGINS)))
@global_options
def login(service: str) -> int:
    """Log in to SERVICE and store the credentials (mode 0600) next to the config file."""
    import importlib

    config = setup("INFO")
    module_name, function_name = LOGINS[service].split(":")
    function: Callable[[SimpleNamespace, Config | None], int] = getattr(
        importlib.import_module(module_name), function_name
    )
    return function(SimpleNamespace(service=service), config)


# `debridfs add SERVICE`: service -> "module:Class" of a Source built as
# Class(config, http) that has `async add_links(urls) -> list[row]`, each row
# with .url, .state ("ok" | "failed" | "waiting" | "new"), .name, .size, .reason
# (vfs/sources/links.py LinkSource does this). The link services come from
# vfs.sources.LINK_SOURCES; another service plugs in with one line here, e.g.
# ADD_SERVICES["realdebrid"] = "vfs.sources.realdebrid:RealDebridSource".
ADD_SERVICES: dict[str, str] = {"realdebrid": "vfs.sources.realdebrid:RealDebridSource"}


class LinkAdder(Protocol):
    async def add_links(self, urls: list[str]) -> list[LinkRow]: ...


def add_services() -> dict[str, str]:
    from .sources import LINK_SOURCES

    return {**LINK_SOURCES, **ADD_SERVICES}


@cli.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  debridfs add portal https://rapidgator.net/file/0123.../film.mkv.html
  debridfs add realdebrid --file links.txt
  debridfs add premiumize URL1 URL2 -v       also show what happens on the way

\b
Prints one line per link: ok (name and size), failed (with the reason),
waiting or new. Exit status 1 when a link failed.
""",
)
@click.argument("service", type=click.Choice(sorted(add_services())))
@click.argument("urls", nargs=-1, metavar="[URL]...")
@click.option(
    "--file",
    "links_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A text file of links, one per line.",
)
@global_options
def add(service: str, urls: tuple[str, ...], links_file: Path | None) -> int:
    """Add hoster links to SERVICE; they appear in its directory of the mount."""
    import importlib

    from clients.http import make_http_client

    from .sources.links import parse_links

    config = setup("WARNING")
    assert config is not None
    links = list(urls)
    if links_file is not None:
        try:
            links += parse_links(links_file.read_text(errors="replace"))
        except OSError as exc:
            raise Failed(f"cannot read {links_file}: {exc.strerror}", EXIT_USAGE) from None
    if not links:
        raise Failed("no links given (URL arguments or --file FILE)", EXIT_USAGE)
    if getattr(config, service, None) is None:
        raise Failed(f"{service} is not configured: add a [{service}] section to {config.path}", EXIT_USAGE)
    module_name, class_name = add_services()[service].split(":")
    source_class: Callable[[Config, httpx.AsyncClient], LinkAdder] = getattr(
        importlib.import_module(module_name), class_name
    )

    async def run() -> list[LinkRow]:
        async with make_http_client(8) as http:
            return await source_class(config, http).add_links(links)

    try:
        rows = trio.run(run)
    except ConfigError as exc:
        raise Failed(f"config: {exc}", EXIT_USAGE) from None
    except AuthError as exc:
        raise Failed(str(exc), EXIT_USAGE) from None
    except RemoteError as exc:
        raise Failed(f"cannot reach {service}: {exc}") from None
    failed = 0
    for row in rows:
        if row.state == "ok":
            print(f"ok       {row.name} ({row.size} bytes)  {row.url}")
        else:
            failed += row.state == "failed"
            reason = f": {row.reason}" if row.reason else ""
            print(f"{row.state:<8} {row.url}{reason}")
    return EXIT_FAILED if failed else 0


@cli.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  debridfs verify ~/debrid/realdebrid/downloads/film.mkv
  debridfs verify ~/debrid/rapidgator/Films/*.mkv
""",
)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="FILE...")
@global_options
def verify(paths: tuple[Path, ...]) -> int:
    """Read FILE through the mount and compare its md5 with the one its service gave.

    Prints OK or MISMATCH per file (progress on a terminal); exit status 1 when
    a file does not match or cannot be read.
    """
    from .verify import verify_file

    setup("WARNING", need_config=False)
    status = 0
    for path in paths:
        status = max(status, verify_file(path))
    return status


@cli.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  debridfs status                 every service of the running mount
  debridfs status ~/debrid        read it from that mount
""",
)
@click.argument("mountpoint", type=click.Path(path_type=Path), required=False)
@global_options
def status(mountpoint: Path | None) -> int:
    """Show each service's account, sync state and errors, uploads and cache use.

    Without MOUNTPOINT, reads the status file the running mount keeps in the
    state dir, or the upload journals when nothing is mounted.
    """
    from .statusview import show_status

    config = setup("WARNING")
    assert config is not None
    return show_status(config, mountpoint)


@cli.group(
    context_settings=CONTEXT,
    cls=Group,
    epilog="""\
Examples:
  debridfs config check --config /etc/debridfs/config.toml
  debridfs config show > effective.toml
""",
)
@global_options
def config() -> None:
    """Check the config file, or show the effective config."""


@config.command("check", context_settings=CONTEXT)
@global_options
def config_check() -> int:
    """Validate the config file without mounting (exit status 2 when invalid)."""
    loaded = setup("WARNING")
    assert loaded is not None
    if not loaded.file_exists:
        raise Failed(f"config file {loaded.path} does not exist", EXIT_USAGE)
    services = ", ".join(loaded.services()) or "none (add a service section)"
    print(f"{loaded.path}: OK; services: {services}")
    return 0


@config.command("show", context_settings=CONTEXT)
@global_options
def config_show() -> int:
    """Print the effective config (defaults filled in) as TOML, secrets masked."""
    import tomli_w

    from .config import effective

    loaded = setup("WARNING")
    assert loaded is not None
    sys.stdout.write(tomli_w.dumps(effective(loaded)))
    return 0


# --- entry points -------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) >= 2 and not args[0].startswith("-") and args[0] not in cli.commands:
        return mount_helper(args)  # mount.fuse3 runs `debridfs SOURCE MOUNTPOINT -o ...`
    try:
        result = cli.main(args=args, prog_name="debridfs", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        return fail("interrupted", 130)
    except click.ClickException as exc:
        ctx = exc.ctx if isinstance(exc, click.UsageError) else None
        hint = f" (see `{ctx.command_path} --help`)" if ctx else ""
        return fail(exc.format_message().replace("\n", " ") + hint, exc.exit_code)
    except Failed as exc:
        return fail(str(exc), exc.status)
    return result if isinstance(result, int) else 0


def mount_helper(argv: list[str] | None = None) -> int:
    """`mount.debridfs SOURCE MOUNTPOINT [-o OPTIONS]`, as mount(8) and fstab call it.

    SOURCE is the config file (`debridfs#FILE` and a bare `debridfs` for the
    default config are accepted too). The mount detaches once it is ready."""
    args = list(sys.argv[1:] if argv is None else argv)
    positional: list[str] = []
    options: list[str] = []
    foreground = False
    while args:
        arg = args.pop(0)
        if arg == "-o" and args:
            options.append(args.pop(0))
        elif arg.startswith("-o") and len(arg) > 2:
            options.append(arg[2:])
        elif arg == "-f":
            foreground = True
        elif arg in ("-n", "-s", "-v"):  # no mtab / sloppy / verbose: nothing to do
            continue
        else:
            positional.append(arg)
    if len(positional) != 2:
        return fail("usage: mount.debridfs CONFIG_FILE MOUNTPOINT [-o OPTION[,...]]", EXIT_USAGE)
    source, mountpoint = positional
    source = source.split("#", 1)[1] if "#" in source else source
    command = [] if source in ("", "debridfs") else ["--config", source]
    command += ["mount", mountpoint] + ([] if foreground else ["--daemon"])
    for option in options:
        command += ["-o", option]
    return main(command)


def mount_helper_main() -> None:
    sys.exit(mount_helper())


if __name__ == "__main__":
    sys.exit(main())
