"""Fixtures the test modules share.

- `emu`: the emulators, started once per module with the module's `LIBRARY`
  (a library dict, or the name of a built-in one; "sample" when the module
  defines none). A module that needs something else defines its own `emu`.
- `fresh_link_services`: the link services, their faults and call counters back
  to the library's state before each test; link-service modules turn it on with
  `pytestmark = pytest.mark.usefixtures("fresh_link_services")`.
- `mount`: a real mount in `tmp_path` of the module's `mount_config(emu)`, with
  the daemon log guard of tests/mounting.py (`mount.expect_log(...)`).
- `fs`: the same config's `Operations`, built as the mount builds them and
  driven without a kernel (tests/fs/harness.py), log-guarded.
- `load_test_config`: a Config from TOML text, its state in `tmp_path`, without
  the process environment (for tests that drive sources in-process).
- `log_guard`: the same guard for tests without a mount: the test fails when
  debridfs logs a WARNING or ERROR it did not declare (`log_guard.expect(...)`).
  Every test of tests/unit/ and tests/fs/ runs with it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pyfuse3
import pytest

from tests.emulators.harness import EmulatorHandle, run_emulator
from tests.fs.harness import FS, readdir_reply, running
from tests.linkservices import reset_link_services
from tests.mounting import Mount, mounted
from vfs.config import Config, load_config

# Layers that run in-process: what debridfs logs goes through `log_guard`.
IN_PROCESS = (Path(__file__).parent / "unit", Path(__file__).parent / "fs")


@pytest.fixture(scope="module")
def emu(request: pytest.FixtureRequest) -> Iterator[EmulatorHandle]:
    with run_emulator(getattr(request.module, "LIBRARY", "sample")) as handle:
        yield handle


@pytest.fixture
def fresh_link_services(emu: EmulatorHandle) -> None:
    reset_link_services(emu)


@pytest.fixture
def mount(request: pytest.FixtureRequest, emu: EmulatorHandle, tmp_path: Path) -> Iterator[Mount]:
    with mounted(tmp_path, request.module.mount_config(emu)) as handle:
        yield handle


@pytest.fixture
async def fs(
    request: pytest.FixtureRequest,
    emu: EmulatorHandle,
    load_test_config: Callable[[str], Config],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[FS]:
    monkeypatch.setattr(pyfuse3, "readdir_reply", readdir_reply)
    async with running(load_test_config(request.module.mount_config(emu))) as handle:
        yield handle


@pytest.fixture
def load_test_config(tmp_path: Path) -> Callable[[str], Config]:
    def load(text: str) -> Config:
        path = tmp_path / "config.toml"
        path.write_text(text + f'[paths]\nstate_dir = "{tmp_path / "state"}"\n')
        path.chmod(0o600)
        return load_config(path, env={})

    return load


class LogGuard(logging.Handler):
    """Collects WARNING and worse from debridfs' loggers during one test."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.allowed: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in ("vfs", "clients"):
            self.records.append(record)

    def expect(self, pattern: str) -> None:
        """Declares a WARNING/ERROR message matching `pattern` as expected."""
        self.allowed.append(pattern)

    def unexpected(self) -> list[str]:
        lines = [f"{r.levelname} {r.name}: {r.getMessage()}" for r in self.records]
        return [line for line in lines if not any(re.search(p, line) for p in self.allowed)]


@pytest.fixture
def log_guard() -> Iterator[LogGuard]:
    guard = LogGuard()
    root = logging.getLogger()
    root.addHandler(guard)
    try:
        yield guard
    finally:
        root.removeHandler(guard)
    bad = guard.unexpected()
    assert not bad, "unexpected warnings/errors logged:\n" + "\n".join(bad)


@pytest.fixture(autouse=True)
def _unit_tests_are_log_guarded(request: pytest.FixtureRequest) -> Any:
    if any(layer in Path(request.node.path).parents for layer in IN_PROCESS):
        return request.getfixturevalue("log_guard")
    return None
