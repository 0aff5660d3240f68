#!/usr/bin/env bash
# The shared library exports the public API (adxl_*) and nothing else.
set -euo pipefail
lib="$1/libadxl.so"
[ -e "$lib" ] || { echo "no $lib"; echo "0 passed, 1 failed"; exit 1; }
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRV]$/ {print $3}')
stray=$(grep -v '^adxl_' <<<"$exported" || true)
count=$(wc -l <<<"$exported")
if [ -n "$stray" ]; then
    echo "symbols exported outside the adxl_ namespace:"
    echo "$stray"
    echo "0 passed, 1 failed"
    exit 1
fi
# Every function the public header declares is exported.
missing=0
for fn in $(grep -ohE 'adxl_[a-z_]+\(' "$(dirname "$0")/../include/adxl/adxl.h" | tr -d '(' | sort -u); do
    grep -qx "$fn" <<<"$exported" || { echo "declared but not exported: $fn"; missing=1; }
done
[ "$missing" -eq 0 ] || { echo "0 passed, 1 failed"; exit 1; }
echo "$count symbols exported, all adxl_*"
echo "1 passed, 0 failed"
