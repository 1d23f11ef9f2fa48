#!/bin/sh
# Install the Debian 12 packages that building, testing and the demo need.
# Only packages that are missing are installed; does nothing when all are present.
set -eu

pkgs="meson ninja-build pkg-config gcc g++ libdw-dev libelf-dev libjansson-dev libinih-dev
libcmocka-dev elfutils gdb python3"

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
