#!/usr/bin/env bash
# The C example of README.md, built and run the way the README says a user does: the build
# tree installed into a fresh prefix (`cmake --install --prefix`, as `make install` does),
# the example compiled with `cc example.c $(pkg-config --cflags --libs adxl)` against the
# installed shared library, and run with no LD_LIBRARY_PATH. Also the installed adxl-bench
# and, where Python is, the installed Python package must find that same library.
#
#   bash tests/test_readme_example.sh BUILD_DIR
# CC and ADXL_SANITIZE_FLAGS (set by CTest) match the build's compiler and sanitizers: a
# sanitized libadxl.so needs its runtime in the program.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for tool in cmake pkg-config; do
    command -v "$tool" >/dev/null || { echo "SKIP: no $tool (apt-get install $tool)"; exit 77; }
done

awk '/^```c$/{on=1; next} /^```$/{if(on){exit}} on' "$src/README.md" >"$work/example.c"
[ -s "$work/example.c" ] || { echo "no C example found in README.md"; echo "0 passed, 1 failed"; exit 1; }
# shellcheck disable=SC2016 # the README's literal text
grep -qF 'cc example.c $(pkg-config --cflags --libs adxl)' "$src/README.md" ||
    { echo "README.md no longer says how to build its example"; echo "0 passed, 1 failed"; exit 1; }

prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log" ||
    { cat "$work/install.log"; echo "0 passed, 1 failed"; exit 1; }
pc=$(find "$prefix" -name adxl.pc | head -n 1)
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
unset LD_LIBRARY_PATH
passed=0
failed=0
check() { # check WHAT COMMAND...: one line, pass or fail
    local what=$1
    shift
    if "$@"; then
        echo "ok   $what"
        passed=$((passed + 1))
    else
        echo "FAIL $what"
        failed=$((failed + 1))
    fi
}

cd "$work"
# shellcheck disable=SC2046,SC2086 # pkg-config's output and the flags are lists
"${CC:-cc}" ${ADXL_SANITIZE_FLAGS:-} -Wall -Wextra -Werror example.c \
    $(pkg-config --cflags --libs adxl) -o example
# The program must load the installed library, not one of the build tree or the system.
check "example links $prefix's libadxl.so" \
    grep -q "libadxl.so.0 => $prefix/" <(ldd ./example)
out=$(./example) || true
echo "$out"
check "example runs with no LD_LIBRARY_PATH" \
    grep -q "^write: SUCCESS, byte at 65536: k$" <<<"$out"
check "example's notify arrives" grep -q "^notify: kv_ready request 42$" <<<"$out"

check "installed adxl-bench links $prefix's libadxl.so" \
    grep -q "libadxl.so.0 => $prefix/" <(ldd "$prefix/bin/adxl-bench")
starts() { "$@" >/dev/null; }
check "installed adxl-bench starts" starts "$prefix/bin/adxl-bench" --help

# A Python loading a sanitized library would need the sanitizer runtime preloaded.
pydir=$(find "$prefix" -name _install.py -path '*/adxl/*' | head -n 1)
if [ -n "$pydir" ] && [ -z "${ADXL_SANITIZE_FLAGS:-}" ] && command -v python3 >/dev/null; then
    got=$(env -u ADXL_LIBRARY PYTHONPATH="$(dirname "$(dirname "$pydir")")" python3 -c \
        'import adxl._lib as l; print(l.lib._name)') || got="(import failed)"
    check "installed Python package loads $prefix's libadxl.so ($got)" \
        test "$(realpath "$got")" = "$(realpath "$(dirname "$pc")/../libadxl.so.0")"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
