#!/usr/bin/env bash
# Compiles and runs the C example of README.md against the library just built, so the
# README cannot drift from the API.
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
awk '/^```c$/{on=1; next} /^```$/{if(on){exit}} on' "$src/README.md" >"$work/example.c"
[ -s "$work/example.c" ] || { echo "no C example found in README.md"; echo "0 passed, 1 failed"; exit 1; }
# The static library needs what adxl.pc lists as private: libcrypto and UCX when found.
libs=(-lpthread)
private=$(sed -n 's/^Requires.private: *//p' "$build/adxl.pc" | tr ',' ' ')
if [ -n "${private// /}" ]; then
    # shellcheck disable=SC2086 # a list of package names
    read -r -a extra <<<"$(pkg-config --libs $private)"
    libs+=("${extra[@]}")
fi
# shellcheck disable=SC2086 # ADXL_SANITIZE_FLAGS is a list of flags
"${CC:-cc}" -std=c11 -Wall -Wextra -Werror ${ADXL_SANITIZE_FLAGS:-} -I"$src/include" \
    "$work/example.c" "$build/libadxl.a" "${libs[@]}" -o "$work/example"
out=$("$work/example")
echo "$out"
if grep -q "^write: SUCCESS, byte at 65536: k$" <<<"$out" && grep -q "^notify: kv_ready request 42$" <<<"$out"; then
    echo "1 passed, 0 failed"
else
    echo "0 passed, 1 failed"
    exit 1
fi
