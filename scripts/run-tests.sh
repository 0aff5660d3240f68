#!/usr/bin/env bash
# `make test`: a build tree's whole CTest suite in two CTest runs, so that it is never
# silent for long and its last line is the pass/fail count:
#   1. every test but the soaks, in parallel, as CTest prints it;
#   2. the soaks (label `soak`: a minute each, one at a time), verbose, because CTest
#      shows a test's output only once the test ends: their progress lines ("soak: 10 s,
#      ...", every few seconds) show as they come, without CTest's own chatter.
# Then what the two runs did not pass, and last the count of both, in CTest's words.
#
#   scripts/run-tests.sh BUILD_DIR [JOBS [CTEST_ARGS...]]    (e.g. -R 'soak|status')
set -uo pipefail

build=${1:?usage: $0 BUILD_DIR [JOBS [CTEST_ARGS...]]}
jobs=${2:-2}
shift $(($# < 2 ? $# : 2))
cd "$build" || exit 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# CTest's summary starts with "N% tests passed"; what follows it is gathered at the end.
until_summary='/^[0-9]+% tests passed/ {done = 1} !done {print; fflush()}'

ctest --output-on-failure -j "$jobs" --timeout 300 --no-label-summary -LE soak "$@" 2>&1 |
    tee "$work/main.log" | awk "$until_summary"
rc_main=$?

# In verbose mode CTest prefixes each line of a test's output with "N: ", and also
# writes its command, environment and timeout that way: those go, as does the list of
# tests that passed, which only verbose mode prints.
ctest --output-on-failure --timeout 300 -V -L soak "$@" 2>&1 | tee "$work/soak.log" | awk '
    /^ *Start +[0-9]+: / || /^[0-9]+\/[0-9]+ Test +#/ {print; fflush(); next}
    /^[0-9]+: (Test command|Working Directory|Environment variables|Test timeout computed)/ {next}
    /^[0-9]+:  / {next}
    /^[0-9]+: / {print; fflush()}'
rc_soak=$?

# Both runs' summaries: counts, and the lists of tests that did not run or failed.
passed=0
failed=0
total=0
for log in "$work/main.log" "$work/soak.log"; do
    line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        if grep -q '^No tests were found' "$log"; then continue; fi
        echo "run-tests: CTest printed no summary ($(basename "$log" .log) run):"
        cat "$log"
        rc_main=1
        continue
    fi
    read -r f t <<<"$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1 \2/' <<<"$line")"
    failed=$((failed + f))
    total=$((total + t))
    passed=$((passed + t - f))
done
echo
for heading in "The following tests did not run:" "The following tests FAILED:"; do
    listed=$(cat "$work/main.log" "$work/soak.log" |
        awk -v h="$heading" '$0 == h {on = 1; next} on && /^\t/ {print; next} {on = 0}')
    if [ -n "$listed" ]; then
        echo "$heading"
        echo "$listed"
        echo
    fi
done
# CTest's own rounding: a run with a failure never reads 100%.
percent=100
if [ "$total" -gt 0 ]; then
    percent=$(((passed * 200 + total) / (total * 2)))
    if [ "$failed" -gt 0 ] && [ "$percent" -gt 99 ]; then percent=99; fi
fi
echo "$percent% tests passed, $failed tests failed out of $total"
if [ "$rc_main" -ne 0 ] || [ "$rc_soak" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$total" -eq 0 ]; then
    exit 1
fi
