#!/bin/sh
# Starts the demo service, sends it SIGUSR2, prints the Guru Meditation Report it writes on
# stderr, and stops it.
set -eu
build=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/.."
bin="$build/examples/demo-service"
[ -x "$bin" ] || { echo "demo: $bin is missing; run 'make demo'" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

conf=examples/demo-service.conf
echo "\$ demo-service --config-file $conf"
"$bin" --config-file "$conf" >"$tmp/out" 2>"$tmp/err" &
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
sleep 0.3 # let the workers handle a few requests
echo "\$ kill -USR2 $pid"
kill -USR2 "$pid"
# The report is one write(); it is complete once its last section has arrived.
wait_for "$tmp/err" "handled\$" 10
sleep 0.1
cat "$tmp/err"
kill -TERM "$pid"
wait "$pid"
cat "$tmp/out" | tail -n 1
