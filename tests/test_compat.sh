#!/usr/bin/env bash
# Client code written for CANN's ADXL and HIXL (tests/compat/*.cpp) builds against an
# installed adxl with nothing but `pkg-config --cflags --libs adxl-cxx` (and, for one of
# them, CMake's find_package(adxl)) plus AscendCL's header and library, and runs as two
# processes: a server that registers device memory and a client that moves it. AscendCL is
# the build's double (tests/doubles/): `<acl/acl.h>` from tests/doubles, `-lascendcl` from
# the build, and the engine loads that same file. Usage: tests/test_compat.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
CXX=${CXX:-c++}
command -v "$CXX" >/dev/null || { echo "no C++ compiler: skipped"; exit 77; }
[ -e "$build/libadxl_cxx.so" ] || { echo "no libadxl_cxx in $build: skipped"; exit 77; }

tmp=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

prefix="$tmp/prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; echo "0 passed, 1 failed"; exit 1; }
PKG_CONFIG_PATH="$(dirname "$(find "$prefix" -name adxl-cxx.pc)")"
export PKG_CONFIG_PATH
# The .pc files name the prefix the build was configured for; this tree lies elsewhere.
pc_tmp() { pkg-config --define-variable=prefix="$prefix" "$@"; }
libdir=$(pc_tmp --variable=libdir adxl-cxx)
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export ADXL_LOG_LEVEL=${ADXL_LOG_LEVEL:-error}

# AscendCL as the programs and the engine see it: one library, the double. A real CUDA
# driver on this machine would make DeviceRuntime=auto ambiguous: the engine looks for
# CUDA where there is none.
acl_dir="$build/tests/doubles/ascend"
[ -e "$acl_dir/libascendcl.so" ] || { echo "no AscendCL double in $acl_dir"; echo "0 passed, 1 failed"; exit 1; }
acl_flags=("-I$here/doubles" "-L$acl_dir" -lascendcl "-Wl,-rpath,$acl_dir")
export ADXL_ASCEND_LIBRARY="$acl_dir/libascendcl.so"
export ADXL_CUDA_LIBRARY="$tmp/no-cuda/libcuda.so.1"

passed=0
failed=0
fail() { echo "FAILED: $*"; failed=$((failed + 1)); }

for prog in kv_transfer_adxl hixl_async; do
    # shellcheck disable=SC2046,SC2086 # flags and pkg-config's output are lists of words
    if "$CXX" -std=c++17 -Wall -Wextra -Werror ${ADXL_SANITIZE_FLAGS:-} -o "$tmp/$prog" \
        "$here/compat/$prog.cpp" $(pc_tmp --cflags --libs adxl-cxx) "${acl_flags[@]}" \
        2>"$tmp/$prog.log"; then
        passed=$((passed + 1))
    else
        cat "$tmp/$prog.log"
        fail "$prog does not build with pkg-config adxl-cxx"
    fi
done

# The same program through the CMake package.
if cmake -S "$here/compat" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_CXX_FLAGS="${ADXL_SANITIZE_FLAGS:-}" \
    -DCMAKE_INCLUDE_PATH="$here/doubles" -DCMAKE_LIBRARY_PATH="$acl_dir" \
    >"$tmp/cmake.log" 2>&1 && cmake --build "$tmp/cmake" >>"$tmp/cmake.log" 2>&1; then
    passed=$((passed + 1))
else
    cat "$tmp/cmake.log"
    fail "find_package(adxl) with adxl::adxl_cxx"
fi

# run_pair SERVER_CMD... -- CLIENT_CMD...: the server prints "READY <args>" once it
# listens; the client gets those args appended. Both must exit 0, and neither may log an
# error: a good run of a client's code is silent at ADXL_LOG_LEVEL=error.
run_pair() {
    local server=() client=()
    while [ "$1" != "--" ]; do server+=("$1"); shift; done
    shift
    client=("$@")
    rm -f "$tmp/ready" "$tmp/go"
    mkfifo "$tmp/ready" "$tmp/go"
    # The server's stdin stays open until the client has exited: then it finalizes.
    "${server[@]}" <"$tmp/go" >"$tmp/ready" 2>"$tmp/server.err" &
    server_pid=$!
    exec 4>"$tmp/go"
    exec 3<"$tmp/ready"
    local tag rest
    if ! read -r -t 120 tag rest <&3 || [ "$tag" != READY ]; then
        exec 3<&- 4>&-
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
        cat "$tmp/server.err" >&2
        return 1
    fi
    local client_rc=0 server_rc=0
    # shellcheck disable=SC2086 # rest is the server's words
    "${client[@]}" $rest 2>"$tmp/client.err" || client_rc=$?
    # A client that failed never told the server to finish.
    [ "$client_rc" -eq 0 ] || kill "$server_pid" 2>/dev/null || true
    exec 4>&-
    wait "$server_pid" || server_rc=$?
    server_pid=
    cat <&3
    exec 3<&-
    cat "$tmp/server.err" "$tmp/client.err" >&2
    local errors=0
    if grep -q ' ERROR\] ' "$tmp/server.err" "$tmp/client.err"; then
        echo "errors logged by a good run (above)"
        errors=1
    fi
    [ "$client_rc" -eq 0 ] && [ "$server_rc" -eq 0 ] && [ "$errors" -eq 0 ]
}

# The server's cache is device memory; the client's, device memory and then host memory.
if [ -x "$tmp/kv_transfer_adxl" ]; then
    if run_pair "$tmp/kv_transfer_adxl" server -- "$tmp/kv_transfer_adxl" client device; then
        passed=$((passed + 1))
    else
        fail "ADXL KV transfer between two processes, device to device"
    fi
    if [ -x "$tmp/cmake/kv_transfer_adxl_cmake" ]; then
        if run_pair "$tmp/kv_transfer_adxl" server -- \
            "$tmp/cmake/kv_transfer_adxl_cmake" client host; then
            passed=$((passed + 1))
        else
            fail "ADXL KV transfer, client built with CMake, host to device"
        fi
    fi
fi

# HIXL over the protocols GlobalResourceConfig can choose here (a build without json-c
# refuses that option, so it runs without it).
protocols=(-)
pc_tmp --print-requires-private adxl | grep -q json-c && protocols=(hccs:device tcp:host)
if [ -x "$tmp/hixl_async" ]; then
    for protocol in "${protocols[@]}"; do
        if run_pair "$tmp/hixl_async" server "$protocol" -- "$tmp/hixl_async" client "$protocol"; then
            passed=$((passed + 1))
        else
            fail "HIXL async client over $protocol"
        fi
    done
fi

# HIXL's Python module, as installed (a Python loading a sanitized library would need the
# sanitizer runtime preloaded: plain builds only).
py=$(command -v /usr/bin/python3 || command -v python3 || true)
pydir=$(find "$prefix" -type d -name hixl -path '*-packages/*' | head -n 1)
if [ -n "$py" ] && [ -n "$pydir" ] && [ -z "${ADXL_SANITIZE_FLAGS:-}" ]; then
    if PYTHONPATH=$(dirname "$pydir") ADXL_LIBRARY="$libdir/libadxl.so" "$py" -c '
import hixl
assert hixl.get_capability(hixl.AUTO_CONNECT) == (hixl.SUCCESS, hixl.FEATURE_SUPPORTED)
engine = hixl.Hixl()
assert engine.initialize("127.0.0.1", {hixl.OPTION_BUFFER_POOL: "0:0"}) == hixl.SUCCESS
assert engine.connect("127.0.0.1:1", timeout_in_millis=0) == hixl.PARAM_INVALID
engine.finalize()
print("installed hixl module: ok")'; then
        passed=$((passed + 1))
    else
        fail "the installed Python module hixl"
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
