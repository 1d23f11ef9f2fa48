#!/bin/sh
# Starts an example program, sends it SIGUSR2, prints the Guru Meditation Report it writes on
# stderr, and stops it.
# Usage: demo.sh BUILD PROGRAM END [ARG...]
#   BUILD:   the meson build directory
#   PROGRAM: an executable in BUILD/examples (demo-service, coro-scheduler)
#   END:     a grep pattern of the report's last line: the report is one write(), so it is
#            complete once that line has arrived
set -eu
build=$(cd "${1:-build}" && pwd)
name=${2:-demo-service}
end=${3:-handled\$}
[ $# -ge 3 ] && shift 3 || set --
cd "$(dirname "$0")/.."
bin="$build/examples/$name"
[ -x "$bin" ] || { echo "demo: $bin is missing; run 'make demo'" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "\$ $name${*:+ $*}"
"$bin" "$@" >"$tmp/out" 2>"$tmp/err" &
pid=$!

wait_for() { # wait_for FILE PATTERN SECONDS
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        if [ "$i" -gt $(($3 * 20)) ]; then
            echo "demo: timed out waiting for '$2' in $1" >&2
            kill "$pid" 2>/dev/null || true
            cat "$tmp/out" "$tmp/err" >&2
            exit 1
        fi
        sleep 0.05
    done
}

wait_for "$tmp/out" "kill -USR2" 10
cat "$tmp/out"
sleep 0.3 # let the program run a little: handle requests, switch coroutines
echo "\$ kill -USR2 $pid"
kill -USR2 "$pid"
wait_for "$tmp/err" "$end" 10
sleep 0.1
cat "$tmp/err"
kill -TERM "$pid"
wait "$pid"
tail -n 1 "$tmp/out"
