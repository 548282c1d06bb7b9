#!/usr/bin/env bash
# Installs what is missing, runs the static checks (ruff, mypy --strict: see
# scripts/lint.sh), then the whole test suite in layers: tests/unit (pure),
# tests/emulators, tests/clients, tests/cli and tests/mount (real mounts,
# needs /dev/fuse).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
bash scripts/lint.sh
exec .venv/bin/python -m pytest "$@"
