#!/usr/bin/env bash
# Installs what debridfs needs on Debian/Ubuntu, only where it is missing:
# fuse3, libfuse3-dev, pkg-config (to build pyfuse3), ffmpeg (the benchmark's
# media files), attr (getfattr, as users check user.md5), rsync and vi (the
# POSIX mount tests use them as users do), then a virtualenv in
# .venv with the package and test extras. Run by test.sh and demo.sh; safe to
# run again. With --bench it also installs what scripts/bench.py compares
# against: nginx (the data origin) and rclone (the peer mount).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need=()
if [ "${1:-}" = "--bench" ]; then
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
    command -v rclone >/dev/null || need+=(rclone)
    command -v curl >/dev/null || need+=(curl)
fi
command -v fusermount3 >/dev/null || need+=(fuse3)
pkg-config --exists fuse3 2>/dev/null || need+=(libfuse3-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v ffprobe >/dev/null || need+=(ffmpeg)
command -v getfattr >/dev/null || need+=(attr)
command -v rsync >/dev/null || need+=(rsync)       # the POSIX mount tests drive rsync -a
command -v vi >/dev/null || need+=(vim-tiny)       # ... and an editor's save
command -v gcc >/dev/null || need+=(gcc)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))' || need+=(python3-dev)
if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing ${need[*]}"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
    if ! .venv/bin/pip install -q -e '.[test]' > .venv/install.log 2>&1; then
        cat .venv/install.log
        exit 1
    fi
    touch "$stamp"
fi
