#!/usr/bin/env bash
# Installs what is missing, then runs the whole test suite (mounts for real).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
