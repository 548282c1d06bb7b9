"""Runs every emulator in one process: `python -m tests.emulators --port 0`.

Prints one JSON line with the base URL and each service's API URL, then serves
until killed. `--library` is `sample` (the demo's small library), a
path to a JSON file, or inline JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import sys

import uvicorn

from .app import build_app
from .library import load_library
from .state import EmulatorState


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.emulators")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--library", default="sample")
    parser.add_argument("--faults", default=None, help="JSON patch of initial faults")
    parser.add_argument("--latency", default=None, help="data host latency, e.g. 20ms")
    parser.add_argument("--per-conn-rate", default=None, help="data host cap per connection, e.g. 25MB")
    parser.add_argument(
        "--data-base-url",
        default=None,
        help="base URL of minted direct links (default: this server's own data "
        "host); a benchmark points it at a real web server that serves "
        "/data/<token>/<name> as the file <name>",
    )
    args = parser.parse_args(argv)

    state = EmulatorState(library=load_library(args.library))
    if args.faults:
        state.faults.update(json.loads(args.faults))
    if args.latency:
        state.faults.data.latency_ms = float(args.latency.removesuffix("ms"))
    if args.per_conn_rate:
        state.faults.data.rate_bps = parse_rate(args.per_conn_rate)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    # Listen before announcing the URL: a client that connects between the
    # announcement and uvicorn's start then waits in the backlog, not refused.
    sock.listen(2048)
    base_url = f"http://{args.host}:{sock.getsockname()[1]}"
    state.links.base_url = (args.data_base_url or base_url).rstrip("/")

    app, api_paths = build_app(state)
    urls = {"base_url": base_url, **{name: base_url + path for name, path in api_paths.items()}}
    print(json.dumps(urls), flush=True)

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30)
    uvicorn.Server(config).run(sockets=[sock])


def parse_rate(text: str) -> float:
    """'25MB' -> 25e6 bytes/s; '2MiB' -> 2*2**20; plain numbers are bytes/s."""
    units = {"KIB": 1024, "MIB": 1 << 20, "GIB": 1 << 30, "KB": 1e3, "MB": 1e6, "GB": 1e9, "B": 1}
    upper = text.strip().upper().removesuffix("/S")
    for suffix, factor in units.items():
        if upper.endswith(suffix):
            return float(upper[: -len(suffix)]) * factor
    return float(upper)


if __name__ == "__main__":
    main()
