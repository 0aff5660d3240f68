#!/usr/bin/env bash
# Runs every C test program of a build under valgrind's memcheck: no invalid access, no
# uninitialised use, no definite or indirect leak.
# Usage: scripts/valgrind-tests.sh BUILD_DIR
set -uo pipefail
build=${1:-build}
passed=0
failed=0
for t in "$build"/tests/test_*; do
    [ -x "$t" ] && [ -f "$t" ] || continue
    name=$(basename "$t")
    case $name in
    # It re-executes itself through /proc/self/exe to read the log of a child with
    # other ADXL_LOG_LEVEL values; under valgrind that path is valgrind itself.
    test_api_status) continue ;;
    esac
    log=$(mktemp)
    if ADXL_LOG_LEVEL=none valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect "$t" >"$log" 2>&1; then
        passed=$((passed + 1))
        echo "ok    $name: $(tail -n 1 "$log")"
    else
        failed=$((failed + 1))
        echo "FAIL  $name"
        grep -v '^ok' "$log" | tail -n 40
    fi
    rm -f "$log"
done
echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
