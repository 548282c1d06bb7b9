#!/usr/bin/env bash
# Try debridfs without an account: installs what is missing, starts the
# emulators with a small sample library (its videos are real, short media made
# with ffmpeg, so players and ffprobe work), mounts it at ./mnt, and unmounts
# on Ctrl-C. The logs stay in .demo/ after exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh

workdir=$(mktemp -d)
logs=.demo
# A demo killed hard (kill -9, a closed terminal) leaves a stale mount behind.
fusermount3 -uz mnt 2>/dev/null || true
mkdir -p mnt "$logs"
cleanup() {
    trap - EXIT INT TERM
    fusermount3 -u mnt 2>/dev/null || fusermount3 -uz mnt 2>/dev/null || true
    [ -n "${mount_pid:-}" ] && wait "$mount_pid" 2>/dev/null || true
    [ -n "${emu_pid:-}" ] && kill "$emu_pid" 2>/dev/null || true
    rm -rf "$workdir"
    echo "logs: $logs/debridfs.log $logs/emulator.log"
}
trap cleanup EXIT INT TERM

echo "making the sample media with ffmpeg..."
library=$(.venv/bin/python -m tests.emulators.media "$logs/media")
.venv/bin/python -m tests.emulators --port 0 --library "$library" > "$workdir/urls" 2> "$logs/emulator.log" &
emu_pid=$!
# A loaded machine can take a while: wait as long as the process lives (up to 60 s).
for _ in $(seq 600); do [ -s "$workdir/urls" ] && break; kill -0 "$emu_pid" 2>/dev/null || break; sleep 0.1; done
[ -s "$workdir/urls" ] || { echo "the emulator did not start:"; cat "$logs/emulator.log"; exit 1; }
url() { .venv/bin/python -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$workdir/urls" "$1"; }

# Every service of the sample library; the credentials are the emulators' demo accounts.
cat > "$workdir/config.toml" <<TOML
[realdebrid]
token = "rd-good-token"
api_url = "$(url realdebrid)"

[rapidgator]
login = "demo@example.org"
password = "secret"
api_url = "$(url rapidgator)"

[portal]
api_key = "obb_demo_4f1c2a9e7b3d5f60"
api_url = "$(url portal)"

[premiumize]
login = "123456789"
password = "k7m2x9q4p1"
api_url = "$(url premiumize)"

[rapidshare]
login = "demo"
password = "rs-secret"
api_url = "$(url rapidshare)"

[mount]
listing_ttl = 2

[paths]
state_dir = "$workdir/state"
cache_root = "$workdir/cache"
TOML
chmod 600 "$workdir/config.toml"

: > "$logs/debridfs.log"
.venv/bin/debridfs --config "$workdir/config.toml" --log-file "$logs/debridfs.log" mount mnt &
mount_pid=$!
for _ in $(seq 600); do mountpoint -q mnt && break; kill -0 "$mount_pid" 2>/dev/null || break; sleep 0.1; done
mountpoint -q mnt || { echo "mount failed:"; cat "$logs/debridfs.log"; exit 1; }

cat <<MSG

debridfs is mounted at ./mnt with emulated sample accounts. Try, in another terminal:

    ls -lR mnt/realdebrid mnt/rapidgator
    ffprobe -hide_banner "mnt/realdebrid/torrents/Sintel (2010) [1080p]/Sintel.2010.1080p.mkv"
    ffmpeg -v error -ss 6 -i "mnt/realdebrid/downloads/Big Buck Bunny (2008) 1080p.mp4" -frames:v 1 /tmp/frame.png
    .venv/bin/debridfs --config $workdir/config.toml status
    cp mnt/realdebrid/downloads/* /tmp/
    cp /etc/hostname mnt/rapidgator/ && cat mnt/.debridfs/uploads
    .venv/bin/debridfs --config $workdir/config.toml add portal \\
        https://rapidgator.net/file/0123456789abcdef0123456789abcdef/sample.one.mkv.html
    ls -l mnt/portal && cat mnt/portal/.status

Log: $logs/debridfs.log (kept after exit). Press Ctrl-C here to unmount.
MSG
wait "$mount_pid"
