#!/usr/bin/env bash
# The device-memory checks on a machine with an NVIDIA GPU and its driver (libcuda.so.1),
# where CI's doubles are replaced by the real thing: builds adxl, runs test_device_xfer
# against the real driver over the same-host transport (CUDA IPC) and over TCP, then
# bench/device_compare on each, and writes what it saw to OUT (default ./gpu-results).
#
#   tests/gpu/run.sh [OUT]
#
# Exit status: 0 when every test passed; the benchmark figures are for docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
OUT=${1:-gpu-results}
mkdir -p "$OUT"
BUILD=build-gpu

if ! ldconfig -p | grep -q 'libcuda.so.1'; then
    echo "tests/gpu/run.sh: no libcuda.so.1 here (is the NVIDIA driver installed?)" >&2
    exit 2
fi
command -v nvidia-smi >/dev/null && nvidia-smi -L | tee "$OUT/gpu.txt"

# The build needs no CUDA toolkit: the driver is opened at run time.
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DADXL_WITH_UCX=OFF >"$OUT/cmake.log"
cmake --build "$BUILD" -j "$(nproc)" --target test_device_xfer device_compare >"$OUT/build.log"

status=0
for transport in auto tcp; do
    echo "=== test_device_xfer, real CUDA, transport $transport"
    if ADXL_TEST_DEVICE=cuda ADXL_TRANSPORT=$transport ADXL_LOG_LEVEL=warn \
        timeout 300 "$BUILD/tests/test_device_xfer" 2>&1 | tee "$OUT/test-$transport.txt"; then
        :
    else
        status=1
    fi
done
for transport in auto tcp; do
    echo "=== bench/device_compare, real CUDA, transport $transport"
    ADXL_TEST_DEVICE=cuda ADXL_TRANSPORT=$transport ADXL_LOG_LEVEL=error \
        timeout 300 "$BUILD/bench/device_compare" 5 1 | tee "$OUT/bench-$transport.txt" || status=1
done
exit $status
