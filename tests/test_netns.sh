#!/usr/bin/env bash
# Cross-host test over real IPs: two network namespaces joined by a veth pair, a target
# engine (tests/netns_peer target) listening on namespace A's address and an initiator
# (tests/netns_peer initiator) in namespace B that connects to it by name and moves
# verified data: plain, through a netem delay, and across a link that is cut and restored.
# Traffic stays inside the two namespaces.
#
#   bash tests/test_netns.sh BUILD_DIR
#
# Exit status: 0 pass, 77 skip (not root, or no `ip netns`), anything else fail.
set -u

BUILD=${1:-}
if [ -z "$BUILD" ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: network namespaces need root"
    exit 77
fi
if ! command -v ip >/dev/null 2>&1 || ! ip netns list >/dev/null 2>&1; then
    echo "SKIP: ip netns is unavailable"
    exit 77
fi
if [ ! -x "$BUILD/tests/netns_peer" ]; then
    echo "FAIL: $BUILD/tests/netns_peer is missing (build the tree first)"
    echo "0 passed, 1 failed"
    exit 1
fi
PEER=$(cd "$BUILD/tests" && pwd)/netns_peer

X=$(($$ % 200))
NS_A=adxl-a-$$
NS_B=adxl-b-$$
IP_A=10.200.$X.1
IP_B=10.200.$X.2
TMP=$(mktemp -d /tmp/adxl-netns.XXXXXX)
TARGET_PID=
DRIVER_PID=
passed=0
failed=0

pass() {
    passed=$((passed + 1))
    echo "PASS: $*"
}
fail() {
    failed=$((failed + 1))
    echo "FAIL: $*"
}
now_ms() {
    local t=${EPOCHREALTIME/[.,]/}
    echo $((t / 1000))
}

# Waits up to $2 seconds for background job $1, then kills it; leaves its status in $?.
wait_bounded() {
    local pid=$1 i
    for ((i = 0; i < $2 * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "  (pid $pid still running after $2 s: killing it)"
        kill -TERM "$pid" 2>/dev/null
        sleep 2
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM HUP
    local pid
    for pid in $DRIVER_PID $TARGET_PID; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in $DRIVER_PID $TARGET_PID; do
        wait_bounded "$pid" 5
    done
    ip netns del "$NS_A" 2>/dev/null
    ip netns del "$NS_B" 2>/dev/null
    if [ "$failed" -gt 0 ] && [ -s "$TMP/target.err" ]; then
        echo "--- target stderr ---"
        tail -n 50 "$TMP/target.err"
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'fail "interrupted"; exit 130' INT TERM HUP

finish() {
    echo "$passed passed, $failed failed"
    if [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]; then
        exit 0
    fi
    exit 1
}

# ---- the two namespaces and the link between them ----
# Names with our pid can only be left over from a dead run that had the same pid.
ip netns del "$NS_A" 2>/dev/null
ip netns del "$NS_B" 2>/dev/null
if ! ip netns add "$NS_A" 2>"$TMP/netns.err"; then
    cat "$TMP/netns.err"
    echo "SKIP: cannot create a network namespace"
    exit 77
fi
setup() {
    ip netns add "$NS_B" &&
        ip link add vethA netns "$NS_A" type veth peer name vethB netns "$NS_B" &&
        ip -n "$NS_A" addr add "$IP_A/24" dev vethA &&
        ip -n "$NS_B" addr add "$IP_B/24" dev vethB &&
        ip -n "$NS_A" link set lo up &&
        ip -n "$NS_B" link set lo up &&
        ip -n "$NS_A" link set vethA up &&
        ip -n "$NS_B" link set vethB up
}
if setup; then
    pass "namespaces $NS_A ($IP_A) and $NS_B ($IP_B) joined by vethA/vethB"
else
    fail "setting up the namespaces and the veth pair"
    finish
fi

# ---- the target, with its command channel on fds 5 (its stdin) and 6 (its stdout) ----
mkfifo "$TMP/t_in" "$TMP/t_out"
ip netns exec "$NS_A" timeout -k 5 290 "$PEER" target "$IP_A" \
    <"$TMP/t_in" >"$TMP/t_out" 2>"$TMP/target.err" &
TARGET_PID=$!
exec 5<>"$TMP/t_in"
exec 6<"$TMP/t_out"
READY_LINE=
if ! IFS= read -r -t 30 -u 6 READY_LINE || [ "${READY_LINE%% *}" != READY ]; then
    fail "target did not get ready (got '${READY_LINE}')"
    finish
fi
read -r _ TARGET_NAME TARGET_ADDR TARGET_LEN <<<"$READY_LINE"
case "$TARGET_NAME" in
"$IP_A":[1-9]*) pass "target ready: $READY_LINE" ;;
*)
    fail "target's name '$TARGET_NAME' is not $IP_A:<port>"
    finish
    ;;
esac

# run_driver SCENARIO LIMIT_S: runs the initiator in namespace B, relays its output, and
# cuts/restores the link when it asks (CUT / DOWN). Returns 0 when it passed.
CUT_AT=
run_driver() {
    local scenario=$1 limit=$2 line rc status=0 started=$SECONDS
    rm -f "$TMP/d_in" "$TMP/d_out"
    mkfifo "$TMP/d_in" "$TMP/d_out"
    ip netns exec "$NS_B" timeout -k 5 "$limit" "$PEER" initiator "$IP_B" "$TARGET_NAME" \
        "$TARGET_ADDR" "$TARGET_LEN" "$scenario" 3>&5 4<&6 <"$TMP/d_in" >"$TMP/d_out" &
    DRIVER_PID=$!
    exec 7<>"$TMP/d_in"
    exec 8<"$TMP/d_out"
    local deadline=$((SECONDS + limit + 15))
    while :; do
        local left=$((deadline - SECONDS))
        if [ "$left" -le 0 ]; then
            echo "  [script] the $scenario initiator is still running after $limit s"
            status=1
            break
        fi
        if IFS= read -r -t "$left" -u 8 line; then
            case "$line" in
            CUT)
                # Let the loop run a little so that the cut lands in the middle of a batch.
                sleep 0.3
                echo "  [script] cutting the link: ip link set vethB down"
                CUT_AT=$(now_ms)
                ip -n "$NS_B" link set vethB down || status=1
                ;;
            DOWN*)
                local ms=$(($(now_ms) - CUT_AT))
                echo "  [script] the initiator saw transfers fail; ${ms} ms after the cut ($line)"
                if [ "$ms" -gt 30000 ]; then
                    echo "  [script] that is too late"
                    status=1
                fi
                echo "  [script] restoring the link: ip link set vethB up"
                ip -n "$NS_B" link set vethB up || status=1
                echo UP >&7
                ;;
            *) echo "  $line" ;;
            esac
        else
            rc=$?
            [ -n "$line" ] && echo "  $line"
            if [ "$rc" -gt 128 ]; then
                echo "  [script] no output from the $scenario initiator for $left s"
                status=1
            fi
            break
        fi
    done
    wait_bounded "$DRIVER_PID" 20
    rc=$?
    DRIVER_PID=
    exec 7>&- 8<&-
    if [ "$rc" -ne 0 ]; then
        echo "  [script] the $scenario initiator exited with status $rc"
        status=1
    fi
    echo "  [script] $scenario took $((SECONDS - started)) s"
    return "$status"
}

# ---- 1: verified WRITE and READ, buffered and direct ----
echo "== basic: WRITE/READ 4 KiB x 256, 1 MiB x 16, 64 MiB x 1, async, refused ranges"
if run_driver basic 200; then
    pass "basic transfers $IP_B -> $TARGET_NAME"
else
    fail "basic transfers $IP_B -> $TARGET_NAME"
fi

# ---- 2: the same data through a 20 ms delay ----
echo "== delay: netem delay 20ms on vethB"
if ip netns exec "$NS_B" tc qdisc add dev vethB root netem delay 20ms 2>"$TMP/tc.err"; then
    if run_driver delay 150; then
        pass "transfers through netem delay 20ms"
    else
        fail "transfers through netem delay 20ms"
    fi
    ip netns exec "$NS_B" tc qdisc del dev vethB root 2>/dev/null
else
    echo "SKIP: delay case: tc qdisc netem is unavailable here: $(head -n 1 "$TMP/tc.err")"
fi

# ---- 3: the link goes down in the middle of a transfer loop, then comes back ----
echo "== linkdown: ip link set vethB down mid-loop, up again, disconnect + connect"
if run_driver linkdown 150; then
    pass "link cut: transfers failed in time, reconnect worked"
else
    fail "link cut and reconnect"
fi
ip -n "$NS_B" link set vethB up 2>/dev/null

# ---- the target leaves cleanly ----
echo exit >&5
wait_bounded "$TARGET_PID" 30
rc=$?
TARGET_PID=
exec 5>&- 6<&-
if [ "$rc" -eq 0 ]; then
    pass "target exited cleanly"
else
    fail "target exited with status $rc"
fi

finish
