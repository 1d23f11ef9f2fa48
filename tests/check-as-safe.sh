#!/bin/sh
# Lists the undefined symbols of the signal-handler code (the gmr-as-safe archive) and fails
# on any that is not on the reviewed allowlist of async-signal-safe functions.
# Usage: check-as-safe.sh ARCHIVE ALLOWLIST
set -eu
archive=$1
allowlist=$2

undefined=$(nm --undefined-only --format=just-symbols "$archive" | sed 's/@.*//' | sort -u)
allowed=$(grep -v '^[[:space:]]*#' "$allowlist" | awk 'NF { print $1 }' | sort -u)

bad=""
for sym in $undefined; do
    case "$sym" in
        gmr__as_*) continue ;; # our own signal-safe functions, in the same archive
    esac
    if ! printf '%s\n' "$allowed" | grep -qxF "$sym"; then
        bad="$bad $sym"
    fi
done

if [ -n "$bad" ]; then
    echo "signal-handler code calls functions that are not on the async-signal-safe allowlist:$bad" >&2
    exit 1
fi
echo "signal-handler code: $(printf '%s\n' "$undefined" | grep -c .) undefined symbols, all allowed"
