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

# The C library needs no C++ runtime.
if readelf -d "$lib" | grep -q 'NEEDED.*libstdc++'; then
    echo "libadxl.so needs libstdc++"
    echo "1 passed, 1 failed"
    exit 1
fi

# The C++ library (when built) exports CANN's classes and nothing else of its own: its
# strong symbols are all adxl::, hixl:: or ge::AscendString members; what else it shows
# is the standard library's weak (V/W) template data, which every C++ library carries.
cxx="$1/libadxl_cxx.so"
if [ -e "$cxx" ]; then
    strong=$(nm -D --defined-only -C "$cxx" | awk '$2 ~ /^[TDBR]$/ {$1=""; $2=""; print}')
    stray=$(grep -vE '^ +(adxl::AdxlEngine::|hixl::Hixl::|ge::AscendString::)' <<<"$strong" || true)
    if [ -n "$stray" ]; then
        echo "libadxl_cxx.so exports outside adxl::AdxlEngine, hixl::Hixl, ge::AscendString:"
        echo "$stray"
        echo "1 passed, 1 failed"
        exit 1
    fi
    for sym in 'adxl::AdxlEngine::MallocMem' 'hixl::Hixl::GetTransferStatus' \
               'ge::AscendString::GetString'; do
        grep -qF "$sym" <<<"$strong" || { echo "not exported: $sym"; echo "1 passed, 1 failed"; exit 1; }
    done
    echo "$(wc -l <<<"$strong") C++ symbols exported, all CANN's classes"
    echo "2 passed, 0 failed"
    exit 0
fi
echo "1 passed, 0 failed"
