#!/usr/bin/env bash
# Installs what building and testing adxl needs on Debian, when it is missing.
# Usage: scripts/install-deps.sh [extra-package ...]
# Quiet and quick when everything is already there; needs root (or sudo) otherwise.
set -euo pipefail

PACKAGES=(cmake make gcc g++ libc6-dev pkg-config libssl-dev libucx-dev libjson-c-dev iproute2 python3 python3-dev python3-pytest python3-numpy "$@")
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
        missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root to install ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
