# Plumbing of tests/cluster/cluster.sh, sourced by it: the namespaces and their bridge,
# starting and talking to cluster_node processes, checks, figures and the teardown.
# shellcheck shell=bash
# Globals set here are read by the scripts that source this one; some helpers are only
# called through poll_until.
# shellcheck disable=SC2034,SC2317

# ---- results ----
# Verdicts and figures go to the script's stdout even from a command whose log lines are
# sent to /dev/null (expect ... >/dev/null).
exec {RESULT_FD}>&1
passed=0
failed=0
skipped=0
FIGURES=()

pass() {
    passed=$((passed + 1))
    echo "PASS: $*" >&"$RESULT_FD"
}
fail() {
    failed=$((failed + 1))
    echo "FAIL: $*" >&"$RESULT_FD"
}
skip() {
    skipped=$((skipped + 1))
    echo "SKIP: $*" >&"$RESULT_FD"
}
# figure NAME VALUE: a measured number, printed now and again in the summary.
figure() {
    echo "  FIGURE $1: $2" >&"$RESULT_FD"
    FIGURES+=("$1: $2")
}
# ms_of US: microseconds as milliseconds with one decimal ("12.3").
ms_of() {
    local us=$1 sign=
    if [ "$us" -lt 0 ]; then
        sign=-
        us=$((-us))
    fi
    echo "$sign$((us / 1000)).$((us % 1000 / 100))"
}
# Sets NOW_US to CLOCK_REALTIME in microseconds (the nodes report the same clock).
now_us() {
    NOW_US=${EPOCHREALTIME/[.,]/}
}

# ---- namespaces: one "switch" holding the bridge, one per node ----
RUN_TAG=adxlc-$$
SW_NS=$RUN_TAG-sw
SUBNET=10.213.$(($$ % 250))
declare -a NODE_NS NODE_IP

# net_up COUNT: namespaces $RUN_TAG-0 .. COUNT-1, each with eth0 at $SUBNET.(i+1)/24, whose
# veth peers are ports of bridge br0 in $SW_NS. Names carry our pid: parallel runs never
# meet, and a name can only be left over from a dead run with the same pid.
net_up() {
    local count=$1 i
    ip netns del "$SW_NS" 2>/dev/null
    ip netns add "$SW_NS" || return 1
    ip -n "$SW_NS" link add br0 type bridge || return 1
    ip -n "$SW_NS" link set br0 up || return 1
    for ((i = 0; i < count; i++)); do
        NODE_NS[i]=$RUN_TAG-$i
        NODE_IP[i]=$SUBNET.$((i + 1))
        ip netns del "${NODE_NS[i]}" 2>/dev/null
        ip netns add "${NODE_NS[i]}" &&
            ip link add eth0 netns "${NODE_NS[i]}" type veth peer name "p$i" netns "$SW_NS" &&
            ip -n "$SW_NS" link set "p$i" master br0 &&
            ip -n "$SW_NS" link set "p$i" up &&
            ip -n "${NODE_NS[i]}" addr add "${NODE_IP[i]}/24" dev eth0 &&
            ip -n "${NODE_NS[i]}" link set lo up &&
            ip -n "${NODE_NS[i]}" link set eth0 up || return 1
    done
}

net_down() {
    local ns
    for ns in "${NODE_NS[@]}" "$SW_NS"; do
        ip netns del "$ns" 2>/dev/null
    done
}

# ---- nodes ----
# Per node id: the wrapper's pid (timeout(1) around it), the node's own pid, its command
# channel (fds), and what its READY line said.
declare -a WRAP_PID NODE_PID NODE_IN NODE_OUT NODE_NAME NODE_REGION NODE_BIG NODE_BIGLEN
declare -A RV # key=value pairs of the last reply
RST=          # status of the last reply
REPLY_LINE=
RUN_BUDGET_S=${CLUSTER_BUDGET_S:-240} # CTest gives the script 300 s
RUN_DEADLINE=$((SECONDS + RUN_BUDGET_S))
NODE_LIMIT_S=$((RUN_BUDGET_S + 30)) # no node outlives the test, whatever happens to it

# node_start ID NS_INDEX LISTEN [KEY=VALUE ...]
node_start() {
    local id=$1 nsi=$2 listen=$3
    shift 3
    rm -f "$TMP/n$id.in" "$TMP/n$id.out"
    mkfifo "$TMP/n$id.in" "$TMP/n$id.out" || return 1
    ip netns exec "${NODE_NS[nsi]}" timeout -k 5 "$NODE_LIMIT_S" "$NODE_BIN" "$id" "$listen" "$@" \
        <"$TMP/n$id.in" >"$TMP/n$id.out" 2>>"$TMP/n$id.err" &
    WRAP_PID[id]=$!
    local fin fout
    exec {fin}<>"$TMP/n$id.in"
    exec {fout}<"$TMP/n$id.out"
    NODE_IN[id]=$fin
    NODE_OUT[id]=$fout
    local line=
    if ! IFS= read -r -t 60 -u "$fout" line || [ "${line%% *}" != READY ]; then
        echo "  node $id did not get ready (got '$line')"
        tail -n 20 "$TMP/n$id.err" 2>/dev/null
        return 1
    fi
    read -r _ "NODE_NAME[$id]" "NODE_REGION[$id]" "NODE_BIG[$id]" "NODE_BIGLEN[$id]" \
        "NODE_PID[$id]" <<<"$line"
    echo "  node $id up in ${NODE_NS[nsi]}: ${NODE_NAME[id]} (pid ${NODE_PID[id]})"
}

# Closes our ends of a node's channel once it is gone.
node_forget() {
    local id=$1 fd
    fd=${NODE_IN[id]:-}
    [ -n "$fd" ] && exec {fd}>&-
    fd=${NODE_OUT[id]:-}
    [ -n "$fd" ] && exec {fd}<&-
    NODE_IN[id]=
    NODE_OUT[id]=
    WRAP_PID[id]=
    NODE_PID[id]=
}

# parse_reply LINE: sets RST and RV from "R STATUS key=value ...".
parse_reply() {
    RV=()
    RST=
    REPLY_LINE=$1
    local words w
    read -r -a words <<<"$1"
    [ "${words[0]:-}" = R ] || return 1
    RST=${words[1]:-}
    for w in "${words[@]:2}"; do
        case $w in *=*) RV[${w%%=*}]=${w#*=} ;; esac
    done
}

node_send() {
    echo "$2" >&"${NODE_IN[$1]}"
}

# node_recv ID TIMEOUT_S: reads one reply; false (RST=NOREPLY) when none came in time.
# No wait goes past RUN_DEADLINE (SECONDS): a hung node ends the run in time to clean up,
# before CTest's own timeout would kill the script and leave namespaces behind.
node_recv() {
    local line= t=$2 left=$((RUN_DEADLINE - SECONDS))
    if [ "$left" -le 0 ]; then
        fail "out of time: the run is past its ${RUN_BUDGET_S} s budget"
        exit 1
    fi
    [ "$t" -gt "$left" ] && t=$left
    if IFS= read -r -t "$t" -u "${NODE_OUT[$1]}" line; then
        parse_reply "$line"
        return 0
    fi
    RV=()
    RST=NOREPLY
    REPLY_LINE="(no reply from node $1 within $2 s)"
    return 1
}

# cmd ID TIMEOUT_S COMMAND: one command, its reply in RST/RV; logged.
cmd() {
    node_send "$1" "$3"
    node_recv "$1" "$2"
    echo "    [n$1] $3 -> $REPLY_LINE"
}

# expect ID TIMEOUT_S WANT COMMAND: WANT is a status or several as "A|B".
expect() {
    local id=$1 t=$2 want=$3
    cmd "$id" "$t" "$4"
    case "|$want|" in
    *"|$RST|"*) return 0 ;;
    esac
    fail "node $id: '$4' gave $RST, expected $want"
    return 1
}

# Introduces node p to node id (peer command).
introduce() {
    local id=$1 p=$2
    expect "$id" 10 SUCCESS \
        "peer $p ${NODE_NAME[p]} ${NODE_REGION[p]} ${NODE_BIG[p]} ${NODE_BIGLEN[p]}" >/dev/null
}

# proc_state PID: R, S, T (stopped), Z ... or X when gone.
proc_state() {
    local rest
    if ! read -r rest <"/proc/$1/stat" 2>/dev/null; then
        echo X
        return
    fi
    rest=${rest##*) }
    echo "${rest%% *}"
}

proc_rss_kb() {
    local k v
    while read -r k v _; do
        if [ "$k" = "VmRSS:" ]; then
            echo "$v"
            return
        fi
    done <"/proc/$1/status" 2>/dev/null
    echo 0
}

# poll_until TIMEOUT_S COMMAND...: runs COMMAND until it succeeds; false on timeout.
poll_until() {
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -ge "$end" ] && return 1
        sleep 0.05
    done
}

# Waits up to $2 seconds for a node's wrapper to exit (killing it after that) and
# leaves its exit status in WAIT_RC.
reap_node() {
    local id=$1 limit=$2 pid=${WRAP_PID[$1]:-} i
    WAIT_RC=
    [ -z "$pid" ] && return
    for ((i = 0; i < limit * 20; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "  node $id still running after $limit s: killing it"
        [ -n "${NODE_PID[id]:-}" ] && kill -KILL "${NODE_PID[id]}" 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    WAIT_RC=$?
    node_forget "$id"
}

# node_exit ID: a clean exit: the node answers "R SUCCESS" and exits 0 (a sanitizer build
# exits non-zero on a leak or a race).
node_exit() {
    local id=$1
    cmd "$id" 120 exit
    local said=$RST
    reap_node "$id" 60
    if [ "$said" = SUCCESS ] && [ "$WAIT_RC" = 0 ]; then
        return 0
    fi
    fail "node $id did not exit cleanly (said $said, exit status $WAIT_RC)"
    tail -n 30 "$TMP/n$id.err" 2>/dev/null
    return 1
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local rc=$?
    set +eu
    trap - EXIT INT TERM HUP
    local id
    for id in "${!WRAP_PID[@]}"; do
        [ -n "${NODE_PID[id]:-}" ] && kill -CONT "${NODE_PID[id]}" 2>/dev/null
        [ -n "${NODE_PID[id]:-}" ] && kill -KILL "${NODE_PID[id]}" 2>/dev/null
        [ -n "${WRAP_PID[id]:-}" ] && kill -KILL "${WRAP_PID[id]}" 2>/dev/null
    done
    for id in "${!WRAP_PID[@]}"; do
        [ -n "${WRAP_PID[id]:-}" ] && wait "${WRAP_PID[id]}" 2>/dev/null
    done
    net_down
    if [ "$failed" -gt 0 ] && [ -n "${TMP:-}" ]; then
        local f
        for f in "$TMP"/n*.err; do
            [ -s "$f" ] || continue
            echo "--- $(basename "$f") (last lines) ---"
            tail -n 15 "$f"
        done
    fi
    if [ -n "${CLUSTER_KEEP:-}" ]; then
        echo "kept $TMP (CLUSTER_KEEP is set)"
    elif [ -n "${TMP:-}" ]; then
        rm -rf "$TMP"
    fi
    exit "$rc"
}
