/*
 * adxl-bench: throughput and latency of adxl's batched READ/WRITE. This file only picks
 * the role and wires the parts together; see --help for what the tool does.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "bench_args.h"
#include "bench_net.h"
#include "bench_run.h"
#include "bench_spawn.h"
#include "bench_target.h"
#include "bench_util.h"

/* Both ends on this host: a spawned target, and this process as the initiator. */
static int run_local(const bench_args_t *a) {
    bench_child_t child;
    int rc;

    if (bench_spawn_target(a, bench_run_region_size(a), &child) != 0) return BENCH_EXIT_FAIL;
    rc = bench_run_initiator(a, child.engine, child.control, "127.0.0.1");
    if (bench_child_stop(&child) != 0) rc = BENCH_EXIT_FAIL;
    return rc;
}

/* Fills in what --control and --local leave to defaults: the control channel at the
 * target's port + 1, and the source address the kernel would use to reach the target. */
static int run_initiator(const bench_args_t *a) {
    char host[BENCH_NAME_LEN], control[BENCH_NAME_LEN], local[BENCH_NAME_LEN];
    int port;

    bench_net_split(a->target, host, sizeof(host), &port); /* checked by bench_args */
    if (a->control[0] != '\0') {
        strcpy(control, a->control);
    } else if (port >= 65535) {
        bench_err("target port %d leaves no room for the default control port: give --control",
                  port);
        return BENCH_EXIT_USAGE;
    } else {
        bench_net_join(host, port + 1, control, sizeof(control));
    }
    if (a->local[0] != '\0') {
        strcpy(local, a->local);
    } else {
        char ip[BENCH_NAME_LEN];
        if (bench_net_local_ip_for(host, ip, sizeof(ip)) != 0) return BENCH_EXIT_FAIL;
        /* adxl spells a client-only IPv6 engine "[addr]". */
        snprintf(local, sizeof(local), strchr(ip, ':') ? "[%s]" : "%s", ip);
    }
    return bench_run_initiator(a, a->target, control, local);
}

int main(int argc, char **argv) {
    bench_args_t args;
    int rc = bench_args_parse(argc, argv, &args);

    if (rc != 0) return rc > 0 ? BENCH_EXIT_OK : BENCH_EXIT_USAGE;
    /* A vanished peer on any socket must come back as an error to report, not kill the
     * process before it can say which transfer failed. */
    signal(SIGPIPE, SIG_IGN);
    switch (args.role) {
    case BENCH_ROLE_TARGET:
        return bench_target_main(&args);
    case BENCH_ROLE_INITIATOR:
        return run_initiator(&args);
    case BENCH_ROLE_LOCAL:
        break;
    }
    return run_local(&args);
}
