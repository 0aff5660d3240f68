#!/usr/bin/env bash
# adxl-bench with device memory, on both runtime doubles (tests/doubles): --memory device
# (the initiator's buffers) and --target-memory device (the target's region), over the
# same-host transport and over TCP, a few small rows each with every batch verified. The
# doubles map device memory PROT_NONE, so a bench that touched it from the CPU instead of
# through the runtime's copies would die of SIGSEGV here; a byte moved wrong fails the
# verification. Then the bad command lines and a runtime that cannot serve.
#
#   bash tests/test_bench_device.sh BUILD_DIR
set -uo pipefail
build=$(cd "$1" && pwd)
bench=$build/bench/adxl-bench
cuda=$build/tests/doubles/cuda/libcuda.so.1
ascend=$build/tests/doubles/ascend/libascendcl.so
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for f in "$bench" "$cuda" "$ascend"; do
    [ -e "$f" ] || { echo "missing $f (build the tree first)"; echo "0 passed, 1 failed"; exit 1; }
done

passed=0
failed=0
pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() {
    echo "FAIL $1"
    sed 's/^/     | /' "$work/out" | tail -n 20
    failed=$((failed + 1))
}

# bench RUNTIME ARGS...: runs adxl-bench with only RUNTIME's double visible (so that auto
# finds exactly one), output in $work/out; returns its exit status.
bench() {
    local runtime=$1
    shift
    if [ "$runtime" = cuda ]; then
        env -u ADXL_ASCEND_LIBRARY ADXL_CUDA_LIBRARY="$cuda" timeout 60 "$bench" "$@" >"$work/out" 2>&1
    else
        env -u ADXL_CUDA_LIBRARY ADXL_ASCEND_LIBRARY="$ascend" timeout 60 "$bench" "$@" >"$work/out" 2>&1
    fi
}

small=(--block-sizes 4K,64K --batch-sizes 1,4 --iters 3 --warmup 1 --verify)

# run_case WHAT RUNTIME LOCAL TARGET ARGS...: a sweep that must pass with LOCAL/TARGET
# (host|device) memory named in its tables and JSON, and all 8 rows measured.
run_case() {
    local what=$1 runtime=$2 local_kind=$3 target_kind=$4
    shift 4
    local json=$work/rows.json detail
    rm -f "$json"
    if ! bench "$runtime" "${small[@]}" --json "$json" "$@"; then
        fail "$what: exit status"
        return
    fi
    detail=registered
    [ "$local_kind" = device ] && detail=$runtime
    if [ "$(grep -c "initiator $local_kind memory ($detail), target $target_kind memory" "$work/out")" != 2 ]; then
        fail "$what: both tables name initiator $local_kind ($detail) and target $target_kind memory"
        return
    fi
    if ! grep -q "\"initiator_memory_kind\": \"$local_kind\"" "$json" ||
        ! grep -q "\"target_memory_kind\": \"$target_kind\"" "$json"; then
        fail "$what: the JSON names the memory kinds"
        return
    fi
    if [ "$local_kind" = device ] && ! grep -q "\"device_runtime\": \"$runtime\"" "$json"; then
        fail "$what: the JSON names the runtime $runtime"
        return
    fi
    if [ "$(grep -c '"op": ' "$json")" != 8 ] || ! grep -q '"complete": true' "$json"; then
        fail "$what: all 8 rows measured"
        return
    fi
    pass "$what"
}

for rt in cuda ascend; do
    run_case "$rt: device -> device, same host" $rt device device \
        --memory device --target-memory device --device-runtime $rt
    run_case "$rt: device -> host over tcp" $rt device host \
        --memory device --device-runtime $rt --transport tcp
    run_case "$rt: host -> device over tcp, async" $rt host device \
        --target-memory device --device-runtime $rt --transport tcp --async 2
done
# Without --device-runtime the bench and the engines pick the one runtime present.
run_case "auto: device -> device, 2 threads" cuda device device \
    --memory device --target-memory device --threads 2

# The device bytes of a TCP row are staged through host buffers, and the table says so.
bench cuda "${small[@]}" --op write --memory device --device-runtime cuda --transport tcp
if grep -q "device memory staged through host buffers" "$work/out"; then
    pass "a staged device row names its path"
else
    fail "a staged device row names its path"
fi

# expect_exit WHAT STATUS MESSAGE RUNTIME ARGS...
expect_exit() {
    local what=$1 status=$2 message=$3
    shift 3
    bench "$@"
    local rc=$?
    if [ "$rc" = "$status" ] && grep -q -- "$message" "$work/out"; then
        pass "$what"
    else
        echo "     (exit status $rc, wanted $status and '$message')"
        fail "$what"
    fi
}
expect_exit "--device-runtime none with device memory is a usage error" 2 \
    "device memory needs a runtime" cuda --memory device --device-runtime none
expect_exit "--device-runtime takes only known runtimes" 2 \
    "expected auto, cuda, ascend or none" cuda --memory device --device-runtime rocm
expect_exit "--target-memory takes host or device" 2 "expected host or device" cuda \
    --target-memory gpu
expect_exit "--target-memory is the target's, not an initiator's" 2 "give it to the target" \
    cuda --role initiator --target 127.0.0.1:5 --target-memory device
expect_exit "--memory device on a target is refused" 2 "applies to the initiator" cuda \
    --role target --listen 127.0.0.1:0 --memory device
# A missing runtime: the bench says which library it looked for, as a target (before its
# engine, which would refuse DeviceRuntime=cuda too) and as an initiator (auto: the
# engines then move host memory only, and the bench finds nothing to allocate with).
ADXL_CUDA_LIBRARY=$work/no-such-libcuda.so.1 timeout 60 "$bench" --role target \
    --listen 127.0.0.1:0 --target-memory device --device-runtime cuda >"$work/out" 2>&1
rc=$?
if [ "$rc" = 1 ] && grep -q "device runtime cuda: cannot load $work/no-such-libcuda.so.1" "$work/out"; then
    pass "a target whose runtime does not load fails, naming the library"
else
    fail "a target whose runtime does not load fails, naming the library (exit status $rc)"
fi
env -u ADXL_ASCEND_LIBRARY ADXL_CUDA_LIBRARY=$work/no-such-libcuda.so.1 timeout 60 "$bench" \
    "${small[@]}" --memory device --transport tcp >"$work/out" 2>&1
rc=$?
if [ "$rc" = 1 ] && grep -q "neither libcuda.so.1 nor libascendcl.so loads" "$work/out"; then
    pass "an initiator with no runtime fails, naming what it looked for"
else
    fail "an initiator with no runtime fails, naming what it looked for (exit status $rc)"
fi
DEVICE_DOUBLE_DEVICES=0 bench cuda --role target --listen 127.0.0.1:0 --target-memory device \
    --device-runtime cuda
rc=$?
if [ "$rc" = 1 ] && grep -qE "device runtime cuda: (no device|cuInit or cuDeviceGetCount failed)" "$work/out"; then
    pass "a runtime without a device fails the run"
else
    fail "a runtime without a device fails the run (exit status $rc)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
