#!/usr/bin/env bash
# Installs what is missing, runs the static checks (ruff, mypy --strict: see
# scripts/lint.sh), then the whole test suite in layers, in the order of
# pyproject.toml's testpaths: tests/unit (pure), tests/fs (Operations without
# a kernel), tests/emulators, tests/clients, tests/cli and tests/mount (real
# mounts, needs /dev/fuse).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
bash scripts/lint.sh
exec .venv/bin/python -m pytest "$@"
