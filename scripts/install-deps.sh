#!/bin/sh
# Install the Debian 12 packages that libgmr needs, only those missing.
# Usage: install-deps.sh [build|check]
#   build (default): what building the library, the tools and the demo needs
#   check:           also what the test suite needs (real programs the tests run, a browser)
set -eu

profile=${1:-build}

build_pkgs="meson ninja-build pkg-config gcc g++ libdw-dev libelf-dev libjansson-dev
libinih-dev libcmocka-dev python3"
# elfutils and gdb: the peers the benchmark and tests compare with; valgrind and clang's
# runtime: the sanitizer and memcheck runs of CI.
# redis-server, nginx-light, chromium: programs nobody here wrote, run under
# libgmr-preload.so and used to open gmr's HTML view; their tests fail without them.
check_pkgs="elfutils gdb valgrind clang libclang-rt-14-dev redis-server nginx-light chromium"

case "$profile" in
build) pkgs=$build_pkgs ;;
check) pkgs="$build_pkgs $check_pkgs" ;;
*)
    echo "install-deps: unknown profile '$profile' (build or check)" >&2
    exit 64
    ;;
esac

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing Debian packages:$missing (run as root, or install them)" >&2
    exit 1
fi

echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
