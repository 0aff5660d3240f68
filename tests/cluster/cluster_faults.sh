# The fault scenarios of tests/cluster/cluster.sh, sourced by it once nodes 0..3 are up
# and linked all-to-all. Each states what it expects; tests/cluster/README.md has the table.
# shellcheck shell=bash

# ---- F1: a target killed with SIGKILL during a 1 GiB WRITE ----
# Expected: the initiator's WRITE returns ADXL_FAILED (the kernel resets the dead process's
# connections, so the link is torn down at once) within BIG_TMO + BOUND_MS of the kill;
# the link is gone (state NOT_CONNECT, next transfer NOT_CONNECTED, links_dropped + 1);
# traffic with the other peers, from the same initiator and from another node, goes on
# during and after the kill and every byte of it checks.
fault_sigkill() {
    echo "== F1 SIGKILL: victim (node 4, in ${NODE_NS[3]}) killed during a 1 GiB WRITE from node 0"
    if ! node_start 4 3 "${NODE_IP[3]}:0" "${OPTS[@]}" node.big_mib=1024; then
        fail "F1: the victim did not start"
        return
    fi
    introduce 0 4
    expect 0 30 SUCCESS "connect 4 15000" || return
    cmd 0 10 stats
    local dropped0=${RV[dropped]:-0}
    expect 0 10 SUCCESS "hold 1" && expect 1 10 SUCCESS "hold 1" || return
    local rss0
    rss0=$(proc_rss_kb "${NODE_PID[4]}")
    expect 0 10 SUCCESS "bg big bigwrite 4 1024 $BIG_TMO" || return
    expect 0 10 SUCCESS "bg side traffic 11 1,2 1 $XFER_TMO $D_KIB $B_KIB" || return
    expect 1 10 SUCCESS "bg side traffic 11 0,2 1 $XFER_TMO $D_KIB $B_KIB" || return
    # The WRITE lands in the victim's untouched region: its RSS grows. Kill once 256 MiB
    # are in, so that the kill falls mid-transfer (the loop writes 1 GiB again and again,
    # so a late look still kills during one).
    if ! poll_until 120 rss_grew "${NODE_PID[4]}" $((rss0 + 262144)); then
        fail "F1: the victim's RSS never grew by 256 MiB"
    fi
    local landed=$((($(proc_rss_kb "${NODE_PID[4]}") - rss0) / 1024))
    cmd 0 10 "progress side"
    local side0=${RV[iters]:-0}
    now_us
    local t_kill=$NOW_US
    kill -KILL "${NODE_PID[4]}"
    echo "  [script] SIGKILL to node 4 with ~$landed MiB of the WRITE landed"
    cmd 0 $((BIG_TMO / 1000 + 60)) "wait big $((BIG_TMO + 30000))"
    local us=$((${RV[end_us]:-$t_kill} - t_kill)) calls=${RV[iters]:-?} call_ms=${RV[ms]:-?}
    if [ "$RST" = FAILED ] && [ "$us" -le $(((BIG_TMO + BOUND_MS) * 1000)) ]; then
        pass "F1: the 1 GiB WRITE failed (FAILED) $(ms_of "$us") ms after the SIGKILL, $call_ms ms into the call ($calls whole GiB went before)"
    else
        fail "F1: the 1 GiB WRITE gave $RST $(ms_of "$us") ms after the SIGKILL (want FAILED within $((BIG_TMO + BOUND_MS)) ms)"
    fi
    figure "F1 SIGKILL of the target -> error at the initiator (1 GiB WRITE, ~$landed MiB in)" "$(ms_of "$us") ms"
    # The others carry on: two more passes after the kill, then all of it checks.
    if poll_until 120 progress_at_least 0 side $((side0 + 2)); then
        pass "F1: node 0's traffic with nodes 1 and 2 went on after the kill"
    else
        fail "F1: node 0's traffic with nodes 1 and 2 made no progress after the kill"
    fi
    expect 0 10 SUCCESS "hold 0" && expect 1 10 SUCCESS "hold 0"
    local ok=0 spec
    expect 0 300 SUCCESS "wait side 240000" || ok=1
    expect 1 300 SUCCESS "wait side 240000" || ok=1
    for spec in 0:1 0:2 1:0 1:2; do
        expect "${spec#*:}" 60 SUCCESS "verify ${spec%%:*} 11 $D_KIB $B_KIB" >/dev/null || ok=1
    done
    [ $ok = 0 ] && pass "F1: traffic 0->1,2 and 1->0,2 during the kill: every byte checks"
    ok=0
    link_state_is 0 4 NOT_CONNECT || {
        fail "F1: node 0's link to the dead node 4: ${RV[state]:-?}, expected NOT_CONNECT"
        ok=1
    }
    expect 0 20 NOT_CONNECTED "probe 4 read 1000" || ok=1
    cmd 0 10 stats
    [ "${RV[dropped]:-}" = $((dropped0 + 1)) ] || {
        fail "F1: node 0 links_dropped ${RV[dropped]:-?}, expected $((dropped0 + 1))"
        ok=1
    }
    [ $ok = 0 ] && pass "F1: the link to the dead node is gone (NOT_CONNECT, NOT_CONNECTED, links_dropped + 1)"
    reap_node 4 10
}

# ---- F2: node 2's link cut with `ip link set eth0 down` mid-transfer, then restored ----
# Expected: nothing resets the connections, so the heartbeat notices: node 0's transfer
# to node 2 fails with FAILED (or NOT_CONNECTED for a call that starts after the drop)
# about PeerTimeoutMs after the cut, long before its own timeout (bound XFER_TMO +
# BOUND_MS); while down a transfer is NOT_CONNECTED and a connect TIMEOUT; node 0's
# traffic with nodes 1 and 3 carries on; once the link is up again a connect works and
# the data is exact; node 2 ends with the threads and descriptors it had before.
fault_link_cut() {
    echo "== F2 link cut: ip link set eth0 down in ${NODE_NS[2]} during node 0's traffic to it"
    cmd 2 10 health
    local th0=${RV[threads]:-?} fd0=${RV[fds]:-?}
    cmd 0 10 stats
    local dropped0=${RV[dropped]:-0}
    expect 0 10 SUCCESS "hold 1" || return
    expect 0 10 SUCCESS "bg cut traffic 12 2 1 $XFER_TMO $D_KIB $B_KIB" || return
    expect 0 10 SUCCESS "bg side traffic 12 1,3 1 $XFER_TMO $D_KIB $B_KIB" || return
    poll_until 60 progress_at_least 0 cut 1 || fail "F2: no pass to node 2 before the cut"
    now_us
    local t_cut=$NOW_US
    ip -n "${NODE_NS[2]}" link set eth0 down || fail "F2: ip link set eth0 down"
    echo "  [script] eth0 of ${NODE_NS[2]} is down"
    cmd 0 90 "wait cut $((XFER_TMO + 40000))"
    local ms=$(((${RV[fail_us]:-$t_cut} - t_cut) / 1000))
    if [[ "$RST" =~ ^(FAILED|NOT_CONNECTED)$ ]] && [ "$ms" -le $((XFER_TMO + BOUND_MS)) ]; then
        pass "F2: node 0's traffic to node 2 failed ($RST, ${RV[what]:-}) $ms ms after the cut"
    else
        fail "F2: node 0's traffic to node 2 gave $RST $ms ms after the cut (want FAILED or NOT_CONNECTED within $((XFER_TMO + BOUND_MS)) ms)"
    fi
    figure "F2 link cut -> error at the initiator (PeerTimeoutMs $PEER_TIMEOUT_MS)" "$ms ms"
    local ok=0
    expect 0 20 NOT_CONNECTED "probe 2 read 2000" || ok=1
    expect 0 20 TIMEOUT "connect 2 1000" || ok=1
    cmd 0 10 stats
    [ "${RV[dropped]:-}" = $((dropped0 + 1)) ] || {
        fail "F2: node 0 links_dropped ${RV[dropped]:-?}, expected $((dropped0 + 1)) (the link to node 2 only)"
        ok=1
    }
    [ $ok = 0 ] && pass "F2: while cut: transfer NOT_CONNECTED, connect TIMEOUT, links_dropped + 1"
    cmd 0 10 "progress side"
    if poll_until 120 progress_at_least 0 side $((${RV[iters]:-0} + 2)); then
        pass "F2: node 0's traffic with nodes 1 and 3 went on while node 2 was cut off"
    else
        fail "F2: node 0's traffic with nodes 1 and 3 stalled while node 2 was cut off"
    fi
    now_us
    figure "F2 link down for" "$(((NOW_US - t_cut) / 1000)) ms"
    ip -n "${NODE_NS[2]}" link set eth0 up || fail "F2: ip link set eth0 up"
    echo "  [script] eth0 of ${NODE_NS[2]} is up again"
    if expect 0 30 SUCCESS "connect 2 15000"; then
        pass "F2: reconnected to node 2 once the link was back"
        figure "F2 connect after the link came back took" "${RV[ms]} ms"
    fi
    local p
    ok=0
    expect 0 10 SUCCESS "hold 0" || ok=1
    if traffic_phase 13 "0:2"; then
        pass "F2: after the reconnect every byte to and from node 2 checks"
    fi
    expect 0 300 SUCCESS "wait side 240000" || ok=1
    for p in 1 3; do
        expect "$p" 60 SUCCESS "verify 0 12 $D_KIB $B_KIB" >/dev/null || ok=1
    done
    [ $ok = 0 ] && pass "F2: node 0's traffic with nodes 1 and 3 during the cut: every byte checks"
    now_us
    relink 2 || fail "F2: relinking node 2 with everyone"
    back_to 2 "$th0" "$fd0" F2 "$NOW_US" "relinking it"
}

# ---- F3: netem delay 50 ms, 1% loss, reordering, on nodes 1 and 2 ----
# Expected: transfers both ways between nodes 1 and 2 succeed with every byte exact (TCP
# repairs loss and order; timeouts are generous). Skipped, with tc's reason, where the
# kernel has no netem (sch_netem).
fault_netem() {
    echo "== F3 netem: delay 50ms, loss 1%, reorder 25% on eth0 of nodes 1 and 2"
    local netem=(netem delay 50ms loss 1% reorder 25% 50%)
    if ! ip netns exec "${NODE_NS[1]}" tc qdisc add dev eth0 root "${netem[@]}" 2>"$TMP/tc.err"; then
        skip "F3 netem: 'tc qdisc add dev eth0 root ${netem[*]}' failed: $(head -n 1 "$TMP/tc.err") (this kernel has no sch_netem)"
        return
    fi
    if ! ip netns exec "${NODE_NS[2]}" tc qdisc add dev eth0 root "${netem[@]}" 2>"$TMP/tc.err"; then
        fail "F3: netem on node 2: $(head -n 1 "$TMP/tc.err")"
        ip netns exec "${NODE_NS[1]}" tc qdisc del dev eth0 root 2>/dev/null
        return
    fi
    local n
    for n in 1 2; do
        ip netns exec "${NODE_NS[n]}" tc qdisc show dev eth0 | grep -q netem ||
            fail "F3: no netem qdisc on eth0 of node $n after adding it"
    done
    expect 1 30 SUCCESS "probe 2 read 10000" &&
        figure "F3 64 KiB READ round trip through netem" "${RV[ms]} ms"
    local saved=("$D_KIB" "$B_KIB" "$XFER_TMO" "$ITERS")
    # Loss on a 100 ms round trip makes TCP slow: less data, long timeouts.
    D_KIB=1024 B_KIB=256 XFER_TMO=120000 ITERS=1
    if traffic_phase 14 "1:2" "2:1"; then
        pass "F3: through netem both ways: every byte checks"
        figure "F3 netem 1<->2" "$TRAFFIC_FIGURE"
    fi
    D_KIB=${saved[0]} B_KIB=${saved[1]} XFER_TMO=${saved[2]} ITERS=${saved[3]}
    # What netem did to node 1's packets ("Sent ... pkt (dropped N, ...)").
    figure "F3 netem on node 1's eth0" \
        "$(ip netns exec "${NODE_NS[1]}" tc -s qdisc show dev eth0 | grep -m 1 Sent | xargs)"
    ip netns exec "${NODE_NS[1]}" tc qdisc del dev eth0 root 2>/dev/null
    ip netns exec "${NODE_NS[2]}" tc qdisc del dev eth0 root 2>/dev/null
}

# ---- F4: node 3 stopped with SIGSTOP, then SIGCONT ----
# Expected (docs/BEHAVIOUR.md, tests/test_xfer_peer_stop.c): a stop shorter than
# PeerTimeoutMs: transfers with a timeout shorter than the stop return TIMEOUT, and after
# SIGCONT the same link works (links_dropped unchanged). A stop longer than PeerTimeoutMs:
# the initiator drops the link about PeerTimeoutMs after the stop, its transfer in flight
# fails (FAILED, or NOT_CONNECTED for a call that starts after the drop) long before its
# own timeout; then NOT_CONNECT / NOT_CONNECTED; after SIGCONT a connect works and the
# data is exact; node 3 ends with the threads and descriptors it had before.
fault_sigstop() {
    echo "== F4a SIGSTOP shorter than PeerTimeoutMs: node 3 stopped, transfers time out, link survives"
    local pid=${NODE_PID[3]}
    cmd 3 10 health
    local th0=${RV[threads]:-?} fd0=${RV[fds]:-?}
    cmd 0 10 stats
    local dropped0=${RV[dropped]:-0}
    now_us
    local t_stop=$NOW_US ok=0
    kill -STOP "$pid"
    poll_until 10 is_stopped "$pid" || fail "F4a: node 3 did not stop"
    expect 0 20 TIMEOUT "probe 3 read 300" || ok=1
    expect 0 20 TIMEOUT "probe 3 write 300" || ok=1
    kill -CONT "$pid"
    now_us
    local stopped_ms=$(((NOW_US - t_stop) / 1000))
    poll_until 10 not_stopped "$pid" || fail "F4a: node 3 did not resume"
    figure "F4a node 3 stopped for" "$stopped_ms ms"
    expect 0 30 SUCCESS "probe 3 read 10000" || ok=1
    expect 0 30 SUCCESS "probe 3 write 10000" || ok=1
    link_state_is 0 3 CONNECTED || {
        fail "F4a: node 0's link to node 3: ${RV[state]:-?}, expected CONNECTED"
        ok=1
    }
    cmd 0 10 stats
    [ "${RV[dropped]:-}" = "$dropped0" ] || {
        fail "F4a: node 0 dropped a link during a ${stopped_ms} ms stop (PeerTimeoutMs $PEER_TIMEOUT_MS)"
        ok=1
    }
    [ $ok = 0 ] && pass "F4a: TIMEOUT while stopped (${stopped_ms} ms), the same link works after SIGCONT"

    echo "== F4b SIGSTOP longer than PeerTimeoutMs: the link is dropped, a reconnect works after SIGCONT"
    expect 0 10 SUCCESS "hold 1" || return
    expect 0 10 SUCCESS "bg stop traffic 15 3 1 $XFER_TMO $D_KIB $B_KIB" || return
    poll_until 60 progress_at_least 0 stop 1 || fail "F4b: no pass to node 3 before the stop"
    now_us
    t_stop=$NOW_US
    kill -STOP "$pid"
    poll_until 10 is_stopped "$pid" || fail "F4b: node 3 did not stop"
    cmd 0 90 "wait stop $((XFER_TMO + 40000))"
    local ms=$(((${RV[fail_us]:-$t_stop} - t_stop) / 1000))
    if [[ "$RST" =~ ^(FAILED|NOT_CONNECTED)$ ]] && [ "$ms" -le $((PEER_TIMEOUT_MS + BOUND_MS)) ]; then
        pass "F4b: traffic to the stopped node 3 failed ($RST, ${RV[what]:-}) $ms ms after SIGSTOP"
    else
        fail "F4b: traffic to the stopped node 3 gave $RST $ms ms after SIGSTOP (want FAILED or NOT_CONNECTED within $((PEER_TIMEOUT_MS + BOUND_MS)) ms)"
    fi
    figure "F4b SIGSTOP of the target -> error at the initiator (PeerTimeoutMs $PEER_TIMEOUT_MS)" "$ms ms"
    ok=0
    expect 0 10 SUCCESS "hold 0" || ok=1
    link_state_is 0 3 NOT_CONNECT || {
        fail "F4b: node 0's link to node 3: ${RV[state]:-?}, expected NOT_CONNECT"
        ok=1
    }
    expect 0 20 NOT_CONNECTED "probe 3 read 1000" || ok=1
    cmd 0 10 stats
    [ "${RV[dropped]:-}" = $((dropped0 + 1)) ] || {
        fail "F4b: node 0 links_dropped ${RV[dropped]:-?}, expected $((dropped0 + 1))"
        ok=1
    }
    kill -CONT "$pid"
    poll_until 10 not_stopped "$pid" || fail "F4b: node 3 did not resume"
    [ $ok = 0 ] && pass "F4b: while stopped: NOT_CONNECT, NOT_CONNECTED, links_dropped + 1"
    if expect 0 30 SUCCESS "connect 3 15000"; then
        pass "F4b: reconnected to node 3 after SIGCONT"
        figure "F4b connect after SIGCONT took" "${RV[ms]} ms"
    fi
    if traffic_phase 16 "0:3"; then
        pass "F4b: after the reconnect every byte to and from node 3 checks"
    fi
    now_us
    relink 3 || fail "F4b: relinking node 3 with everyone"
    back_to 3 "$th0" "$fd0" F4b "$NOW_US" "relinking it"
}

# ---- F5: node 3 killed and restarted under the same name (same ip:port) ----
# Expected: both initiators see the link die (NOT_CONNECT). While node 3 is away, node 0
# (AutoConnect off) gets NOT_CONNECTED and node 5 (AutoConnect=1) TIMEOUT (it keeps
# trying to connect until the call's timeout). Once it is back: node 0 still gets
# NOT_CONNECTED (no AutoConnect), its disconnect says NOT_CONNECTED (the link is already
# gone), then a connect works; node 5's next transfer reconnects by itself. All data
# exact, the new node 3's region included.
fault_restart() {
    echo "== F5 restart: node 3 SIGKILLed and restarted on ${NODE_NAME[3]}; node 0 reconnects by hand, node 5 (AutoConnect) by itself"
    if ! node_start 5 1 "${NODE_IP[1]}" "${OPTS[@]}" AutoConnect=1; then
        fail "F5: node 5 did not start"
        return
    fi
    introduce 5 3
    local ok=0 n
    # AutoConnect: no connect call, the first transfer links.
    expect 5 30 SUCCESS "probe 3 read 10000" || ok=1
    for n in 5 0; do
        link_state_is "$n" 3 CONNECTED || {
            fail "F5: node $n's link to node 3: ${RV[state]:-?}, expected CONNECTED"
            ok=1
        }
    done
    [ $ok = 0 ] && pass "F5: node 5 linked to node 3 by its first transfer (AutoConnect)"
    local name=${NODE_NAME[3]}
    now_us
    local t_kill=$NOW_US
    kill -KILL "${NODE_PID[3]}"
    reap_node 3 10
    local t0
    for n in 0 5; do
        if poll_until 30 link_state_is "$n" 3 NOT_CONNECT; then
            now_us
            figure "F5 node $n saw the killed node 3's link as NOT_CONNECT (polled) within" "$(((NOW_US - t_kill) / 1000)) ms"
        else
            fail "F5: node $n still has a link to the killed node 3 (${RV[state]:-?})"
        fi
    done
    ok=0
    expect 0 20 NOT_CONNECTED "probe 3 read 1000" || ok=1
    expect 5 20 TIMEOUT "probe 3 read 1000" || ok=1
    [ $ok = 0 ] && pass "F5: node 3 away: node 0 NOT_CONNECTED, node 5 (AutoConnect) TIMEOUT"

    if ! node_start 3 3 "$name" "${OPTS[@]}"; then
        fail "F5: node 3 did not restart on $name"
        return
    fi
    [ "${NODE_NAME[3]}" = "$name" ] || fail "F5: node 3 came back as ${NODE_NAME[3]}, not $name"
    for n in "${NODES[@]}" 5; do
        [ "$n" = 3 ] && continue
        introduce "$n" 3
        [ "$n" = 5 ] || introduce 3 "$n"
    done
    ok=0
    expect 0 20 NOT_CONNECTED "probe 3 read 5000" || ok=1
    expect 0 20 NOT_CONNECTED "disconnect 3 5000" || ok=1
    expect 0 30 SUCCESS "connect 3 15000" || ok=1
    [ $ok = 0 ] && pass "F5: node 0 (no AutoConnect): NOT_CONNECTED until disconnect + connect, then linked"
    t0=${RV[ms]:-?}
    figure "F5 node 0's connect to the restarted node 3 took" "$t0 ms"
    if traffic_phase 17 "0:3" "5:3"; then
        pass "F5: node 0 (reconnected) and node 5 (reconnected by AutoConnect): every byte checks"
    fi
    link_state_is 5 3 CONNECTED || fail "F5: node 5 is not linked to node 3 after its transfers (${RV[state]:-?})"
    # The others' links to the old node 3 died with it; everyone links to the new one.
    relink 3 || fail "F5: relinking node 3 with everyone"
    node_exit 5 && pass "F5: node 5 exited cleanly"
}

# ---- F6: an initiator killed (SIGKILL) in the middle of a stream of large WRITEs ----
# Expected: the target (node 2) stays healthy: within a few seconds it is back to the
# threads and descriptors it had before that initiator connected (its connections were
# closed and freed), and it serves another initiator (node 1) with every byte exact.
fault_initiator_dies() {
    echo "== F6 initiator dies: node 6 (in ${NODE_NS[1]}) SIGKILLed while writing 256 MiB batches into node 2"
    cmd 2 10 health
    local th0=${RV[threads]:-?} fd0=${RV[fds]:-?} rss0=${RV[rss_kb]:-0}
    if ! node_start 6 1 "${NODE_IP[1]}" "${OPTS[@]}"; then
        fail "F6: node 6 did not start"
        return
    fi
    introduce 6 2
    expect 6 30 SUCCESS "connect 2 15000" || return
    expect 6 10 SUCCESS "hold 1" || return
    expect 6 10 SUCCESS "bg w bigwrite 2 256 $XFER_TMO" || return
    poll_until 120 progress_at_least 6 w 2 || fail "F6: node 6 never wrote 2 x 256 MiB"
    cmd 2 10 health
    figure "F6 node 2 while node 6 writes" "threads ${RV[threads]} (idle: $th0), fds ${RV[fds]} (idle: $fd0)"
    now_us
    local t_kill=$NOW_US
    kill -KILL "${NODE_PID[6]}"
    reap_node 6 10
    back_to 2 "$th0" "$fd0" F6 "$t_kill" "the SIGKILL of node 6"
    cmd 2 10 health
    # Its RSS grows by the 256 MiB of its big region that node 6 wrote, and no more.
    figure "F6 node 2 RSS before / after (256 MiB of its region written)" "$((rss0 / 1024)) MiB / $((${RV[rss_kb]:-0} / 1024)) MiB"
    if traffic_phase 18 "1:2"; then
        pass "F6: node 2 serves node 1 after losing an initiator mid-write: every byte checks"
    fi
}
