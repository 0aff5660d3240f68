#!/usr/bin/env bash
# A multi-host test bed in network namespaces: four namespaces on one Linux bridge (each
# its own IP on one subnet) stand in for four hosts, each running a cluster_node engine
# (Transport=tcp); the scenarios below move verified data between them (one-to-many,
# many-to-one, all-to-all; READ and WRITE, sync and async, direct and buffered, all at
# once) and inject faults. tests/cluster/README.md has the table of scenarios with what
# each expects; every expectation is also written next to its code here.
#
#   bash tests/cluster/cluster.sh BUILD_DIR
#
# Exit status: 0 pass, 77 skip (not root, no `ip netns`), anything else fail. A single
# case is skipped (and said so) where the kernel lacks what it needs (tc netem).
# Timings are printed as FIGURE lines and summed up at the end; only generous upper
# bounds are asserted (the machine may be small and busy).
#
# Helpers here are also called through poll_until, which shellcheck cannot see.
# shellcheck disable=SC2317
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
NODE_BIN=$(cd "$BUILD/tests" 2>/dev/null && pwd)/cluster_node
if [ ! -x "$NODE_BIN" ]; then
    echo "FAIL: $BUILD/tests/cluster_node is missing (build the tree first)"
    exit 1
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/cluster/cluster_lib.sh
. "$HERE/cluster_lib.sh"

TMP=$(mktemp -d /tmp/adxl-cluster.XXXXXX)
trap cleanup EXIT
trap 'fail "interrupted"; exit 130' INT TERM HUP
STARTED=$SECONDS

# ---- parameters ----
PEER_TIMEOUT_MS=3000 # every engine: a silent peer is dropped after this
OPTS=("PeerTimeoutMs=$PEER_TIMEOUT_MS" HeartbeatIntervalMs=500)
XFER_TMO=20000 # per transfer call; far above PeerTimeoutMs, so a dead link shows as such
BIG_TMO=30000  # the 1 GiB WRITE
BOUND_MS=10000 # "a small bound" beyond a timeout, generous for a busy machine
ITERS=2        # passes per pair and phase (each pass moves 3 x (D + B) per pair)
D_KIB=${CLUSTER_D_KIB:-8192}
B_KIB=${CLUSTER_B_KIB:-1024}
if [ -n "${ADXL_SANITIZE_FLAGS:-}" ]; then
    # Sanitized builds check every byte several times slower: less data, same shapes.
    D_KIB=${CLUSTER_D_KIB:-2048}
    B_KIB=${CLUSTER_B_KIB:-512}
fi
NODES=(0 1 2 3)

finish() {
    echo
    echo "== figures ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r))"
    local f
    for f in "${FIGURES[@]}"; do
        echo "  $f"
    done
    echo "cluster run took $((SECONDS - STARTED)) s"
    echo "$passed passed, $failed failed, $skipped skipped"
    if [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]; then
        exit 0
    fi
    exit 1
}

# others ID: the ids of NODES but ID, comma-separated.
others() {
    local n out=
    for n in "${NODES[@]}"; do
        [ "$n" = "$1" ] || out+=${out:+,}$n
    done
    echo "$out"
}

# traffic_phase ROUND ID:PEERS ...: every ID runs its passes against its PEERS, all at
# the same time. Expected: SUCCESS everywhere (every byte read was checked by the
# reader), then every target finds exactly the final pass's bytes in its inbox.
traffic_phase() {
    local round=$1 spec id peers p t0 ok=0 mib=0
    shift
    now_us
    t0=$NOW_US
    for spec; do
        node_send "${spec%%:*}" "traffic $round ${spec#*:} $ITERS $XFER_TMO $D_KIB $B_KIB"
    done
    for spec; do
        id=${spec%%:*}
        node_recv "$id" 300
        echo "    [n$id] traffic $round ${spec#*:} -> $REPLY_LINE"
        if [ "$RST" != SUCCESS ]; then
            fail "round $round: node $id's traffic to ${spec#*:}: $RST"
            ok=1
        else
            mib=$((mib + ${RV[mib]:-0}))
        fi
    done
    now_us
    local ms=$(((NOW_US - t0) / 1000))
    for spec; do
        id=${spec%%:*}
        peers=${spec#*:}
        for p in ${peers//,/ }; do
            expect "$p" 120 SUCCESS "verify $id $round $D_KIB $B_KIB" >/dev/null || ok=1
        done
    done
    TRAFFIC_FIGURE="$mib MiB in $ms ms ($((mib * 1000 / (ms > 0 ? ms : 1))) MiB/s)"
    return "$ok"
}

# relink ID: every link to and from ID is closed and made anew (after a fault some may
# be dead, some not yet: start from a known state).
relink() {
    local id=$1 n ok=0
    for n in "${NODES[@]}"; do
        [ "$n" = "$id" ] && continue
        expect "$n" 20 "SUCCESS|NOT_CONNECTED" "disconnect $id 5000" >/dev/null || ok=1
        expect "$n" 30 SUCCESS "connect $id 15000" >/dev/null || ok=1
        expect "$id" 20 "SUCCESS|NOT_CONNECTED" "disconnect $n 5000" >/dev/null || ok=1
        expect "$id" 30 SUCCESS "connect $n 15000" >/dev/null || ok=1
    done
    return "$ok"
}

# health_is ID THREADS FDS: the node has exactly that many threads and descriptors.
health_is() {
    node_send "$1" health
    node_recv "$1" 10 && [ "${RV[threads]:-}" = "$2" ] && [ "${RV[fds]:-}" = "$3" ]
}

# back_to ID THREADS FDS WHAT T0_US SINCE: polls until health_is; a figure says how long
# it took from T0_US (SINCE says what happened then).
back_to() {
    local id=$1 th=$2 fds=$3 what=$4 t0=$5 since=$6
    if poll_until 30 health_is "$id" "$th" "$fds"; then
        now_us
        pass "$what: node $id is back to $th threads and $fds descriptors"
        figure "$what node $id back to its idle threads/fds, after $since" "$(((NOW_US - t0) / 1000)) ms"
    else
        fail "$what: node $id kept ${RV[threads]:-?} threads and ${RV[fds]:-?} descriptors (before: $th, $fds)"
    fi
}

progress_at_least() {
    node_send "$1" "progress $2"
    node_recv "$1" 10 && [ "${RV[iters]:-0}" -ge "$3" ]
}

rss_grew() {
    [ "$(proc_rss_kb "$1")" -ge "$2" ]
}

is_stopped() {
    [ "$(proc_state "$1")" = T ]
}

not_stopped() {
    [ "$(proc_state "$1")" != T ]
}

link_state_is() {
    node_send "$1" "state $2"
    node_recv "$1" 10 && [ "${RV[state]:-}" = "$3" ]
}

# ---------------------------------------------------------------------------------
echo "== set-up: ${#NODES[@]} namespaces on bridge br0 (in $SW_NS), a cluster_node in each"
if ! net_up "${#NODES[@]}" 2>"$TMP/net.err"; then
    cat "$TMP/net.err"
    if [ "$passed" -eq 0 ] && ! ip netns list | grep -q "$RUN_TAG"; then
        echo "SKIP: cannot create network namespaces"
        exit 77
    fi
    fail "setting up the namespaces and the bridge"
    finish
fi
pass "namespaces ${NODE_NS[*]} on $SUBNET.0/24, bridged in $SW_NS"
for n in "${NODES[@]}"; do
    # Node 2 has a big region too: the target of the dying initiator (F6).
    extra=()
    [ "$n" = 2 ] && extra=(node.big_mib=256)
    node_start "$n" "$n" "${NODE_IP[n]}:0" "${OPTS[@]}" "${extra[@]}" || {
        fail "node $n did not start"
        finish
    }
done
for n in "${NODES[@]}"; do
    for p in "${NODES[@]}"; do
        [ "$n" = "$p" ] || introduce "$n" "$p"
    done
done
ok=0
for n in "${NODES[@]}"; do
    for p in "${NODES[@]}"; do
        [ "$n" = "$p" ] && continue
        expect "$n" 30 SUCCESS "connect $p 15000" >/dev/null || ok=1
    done
done
[ $ok = 0 ] && pass "all 12 links connected (TcpStreams 4 each, over the bridge)"

# ---- S1..S3: verified traffic ----
echo "== S1 one-to-many: node 0 -> 1,2,3 (WRITE+READ, sync+async, direct+buffered at once)"
if traffic_phase 1 "0:1,2,3"; then
    pass "one-to-many: every byte as written/read"
    figure "S1 one-to-many" "$TRAFFIC_FIGURE"
fi
echo "== S2 many-to-one: nodes 1,2,3 -> 0 at once"
if traffic_phase 2 "1:0" "2:0" "3:0"; then
    pass "many-to-one: every byte as written/read"
    figure "S2 many-to-one" "$TRAFFIC_FIGURE"
fi
echo "== S3 all-to-all: every node -> every other at once"
specs=()
for n in "${NODES[@]}"; do
    specs+=("$n:$(others "$n")")
done
if traffic_phase 3 "${specs[@]}"; then
    pass "all-to-all: every byte as written/read"
    figure "S3 all-to-all (12 pairs)" "$TRAFFIC_FIGURE"
fi
# Both modes were used by every node: direct batches (pieces >= 256 KiB, registered) and
# buffered ones (pieces < 256 KiB go through the transit pool).
ok=0
for n in "${NODES[@]}"; do
    cmd "$n" 10 stats >/dev/null
    if [ "${RV[direct]:-0}" -eq 0 ] || [ "${RV[buffered]:-0}" -eq 0 ] || [ "${RV[dropped]:-}" != 0 ]; then
        fail "node $n stats: $REPLY_LINE (want direct > 0, buffered > 0, dropped 0)"
        ok=1
    fi
done
[ $ok = 0 ] && pass "every node sent direct and buffered batches; no link dropped"

# shellcheck source=tests/cluster/cluster_faults.sh
. "$HERE/cluster_faults.sh"

fault_sigkill
fault_link_cut
fault_netem
fault_sigstop
fault_restart
fault_initiator_dies

# ---- the end: every node leaves cleanly ----
echo "== tear-down: every node exits cleanly (engines destroyed, memory freed)"
ok=0
for n in "${NODES[@]}"; do
    node_exit "$n" || ok=1
done
[ $ok = 0 ] && pass "all nodes exited cleanly"
finish
