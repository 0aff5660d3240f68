#!/usr/bin/env bash
# Fuzzes every target of tests/fuzz/ with libFuzzer (clang, ASan+UBSan) for a bounded
# time each, starting from the committed seed corpus, and prints executions, corpus size
# and coverage per target. Exits non-zero if any target crashed, leaked or timed out; its
# input is then under $BUILD/fuzz-work/<target>/artifacts/: copy it into
# tests/fuzz/corpus/<target>/ (it becomes a regression test of `make test`) and fix the bug.
#
# Usage: scripts/fuzz.sh [seconds-per-target] [target ...]     (default 20 s, all targets)
# Environment: FUZZ_BUILD (default build-fuzz), FUZZ_KEEP=1 keeps the corpus grown by
# earlier runs (default: every run starts from the seeds, so runs compare).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SECONDS_EACH=${1:-20}
[ $# -gt 0 ] && shift
BUILD=${FUZZ_BUILD:-build-fuzz}

scripts/install-deps.sh clang libclang-rt-14-dev
cmake -S . -B "$BUILD" -DADXL_FUZZ=ON -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build "$BUILD" --target fuzzers -j "$(nproc)" >/dev/null

if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for f in tests/fuzz/fuzz_*.c; do
        t=$(basename "$f" .c)
        t=${t#fuzz_}
        [ "$t" = arena ] || targets+=("$t")
    done
fi

printf '%-18s %8s %12s %10s %8s %8s  %s\n' target seconds executions exec/s corpus cov result
failed=0
for t in "${targets[@]}"; do
    work="$BUILD/fuzz-work/$t"
    [ "${FUZZ_KEEP:-0}" = 1 ] || rm -rf "$work"
    mkdir -p "$work/corpus" "$work/artifacts"
    log="$work/log"
    rc=0
    # New inputs go into the work corpus; the seeds are read, never written.
    "$BUILD/tests/fuzz/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
        "$work/corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
    execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log" | tail -n 1)
    rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$log" | tail -n 1)
    # The last status line holds the final coverage and corpus ("cov: N ft: N corp: N/...").
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
    result=ok
    if [ "$rc" -ne 0 ]; then
        result="FAILED (exit $rc)"
        failed=1
    fi
    printf '%-18s %8s %12s %10s %8s %8s  %s\n' "$t" "$SECONDS_EACH" "${execs:--}" "${rate:--}" \
        "${corp:--}" "${cov:--}" "$result"
    if [ "$rc" -ne 0 ]; then
        grep -E 'ERROR|fuzz check failed|SUMMARY|Test unit written' "$log" | head -n 20 | sed 's/^/    /'
        echo "    full log: $log"
    fi
done
if [ "$failed" -ne 0 ]; then
    echo "fuzzing found a failure: copy the artifact into tests/fuzz/corpus/<target>/ and fix it" >&2
    exit 1
fi
