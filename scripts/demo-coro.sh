#!/bin/sh
# Starts the coroutine scheduler example, sends it SIGUSR2, prints the Guru Meditation Report
# it writes on stderr (Threads and Green Threads), and stops it.
set -eu
build=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/.."
bin="$build/examples/coro-scheduler"
[ -x "$bin" ] || { echo "demo-coro: $bin is missing; run 'make demo-coro'" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "\$ coro-scheduler"
"$bin" >"$tmp/out" 2>"$tmp/err" &
pid=$!

wait_for() { # wait_for FILE PATTERN SECONDS
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        if [ "$i" -gt $(($3 * 20)) ]; then
            echo "demo-coro: timed out waiting for '$2' in $1" >&2
            kill "$pid" 2>/dev/null || true
            cat "$tmp/out" "$tmp/err" >&2
            exit 1
        fi
        sleep 0.05
    done
}

wait_for "$tmp/out" "kill -USR2" 10
cat "$tmp/out"
sleep 0.3 # let the scheduler run a few rounds
echo "\$ kill -USR2 $pid"
kill -USR2 "$pid"
# The report is one write(); it is complete once its last coroutine has arrived.
wait_for "$tmp/err" "Green Thread #5" 10
sleep 0.1
cat "$tmp/err"
kill -TERM "$pid"
wait "$pid"
tail -n 1 "$tmp/out"
