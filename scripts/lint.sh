#!/usr/bin/env bash
# Static checks, with the settings in pyproject.toml: ruff lint and ruff format
# (the whole tree), and mypy --strict on vfs/ and clients/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
status=0
.venv/bin/ruff check vfs clients tests scripts "$@" || status=1
.venv/bin/ruff format --check --quiet vfs clients tests scripts || { echo "lint: run ruff format"; status=1; }
.venv/bin/mypy || status=1
exit $status
