#!/bin/sh
# Compares the dynamic symbols the shared library exports with src/libgmr.sym: nothing more,
# nothing less.  Usage: check-exports.sh LIBRARY SYMFILE
set -eu
lib=$1
sym=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only --format=just-symbols "$lib" | sed 's/@.*//' | grep -v '^GMR_' | sort -u >"$tmp/exported"
sed -n 's/^[[:space:]]*\([a-z_][a-z0-9_]*\);[[:space:]]*$/\1/p' "$sym" | sort -u >"$tmp/listed"

if ! diff -u "$tmp/listed" "$tmp/exported" >"$tmp/diff"; then
    echo "exported symbols differ from $sym (- listed only, + exported only):" >&2
    grep '^[-+][a-z]' "$tmp/diff" >&2
    exit 1
fi
grep -q '^gmr__' "$tmp/exported" && { echo "internal symbols exported" >&2; exit 1; }
echo "exports: $(wc -l <"$tmp/exported") symbols, as listed"
