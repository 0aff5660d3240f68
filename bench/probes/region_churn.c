/*
 * region_churn: the churn soak of issue 14 (docs/PERFORMANCE.md, "A million regions").
 *
 *   region_churn [-t tcp|shm|ucx] [-s SECONDS] [-r PAIRS_PER_SECOND] [-p PEERS]
 *
 * A target engine and PEERS initiators, in this process, linked over one transport. Each
 * peer has one region of the target's (registered for the whole run) and, from its own
 * thread, WRITEs a fresh pattern into it and READs it back, checking every byte, over and
 * over. Meanwhile the main thread registers and deregisters 4 KiB regions of a separate
 * area at PAIRS_PER_SECOND pairs a second (1,024 held at a time), which no one writes.
 * At the end: every call succeeded, every read-back matched, each peer's region holds the
 * last pattern written into it, the churned area is all zeros (no byte misdirected), and
 * no link dropped. Prints one line of key=value pairs; exits 1 when anything failed.
 */
#include "region_bench.h"

#include <adxl/adxl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_PEERS 16
#define LIVE_BYTES (64u * 1024u)
#define CHURN_SLOTS 4096u
#define CHURN_HELD 1024u
#define CHURN_BYTES 4096u

typedef struct {
    adxl_engine_t *engine;
    const char *target;
    uint8_t *region; /* the target's memory this peer writes */
    int index;
    atomic_bool *stop;
    uint64_t transfers, failures, last_round;
} peer_t;

static void pattern(uint8_t *p, size_t len, int peer, uint64_t round) {
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)((i * 131u) ^ (round * 7u) ^ (unsigned)peer);
}

static void *peer_main(void *arg) {
    peer_t *p = arg;
    static _Thread_local uint8_t src[LIVE_BYTES], back[LIVE_BYTES];
    for (uint64_t round = 1; !atomic_load(p->stop); round++) {
        pattern(src, sizeof(src), p->index, round);
        adxl_transfer_op_desc_t d = {(uintptr_t)src, (uintptr_t)p->region, sizeof(src)};
        adxl_transfer_op_desc_t r = {(uintptr_t)back, (uintptr_t)p->region, sizeof(back)};
        bool ok =
            adxl_transfer_sync(p->engine, p->target, ADXL_WRITE, &d, 1, 10000) == ADXL_SUCCESS &&
            adxl_transfer_sync(p->engine, p->target, ADXL_READ, &r, 1, 10000) == ADXL_SUCCESS &&
            memcmp(src, back, sizeof(src)) == 0;
        p->transfers += 2;
        if (ok)
            p->last_round = round;
        else
            p->failures++;
    }
    return NULL;
}

int main(int argc, char **argv) {
    const char *transport = "tcp";
    double seconds = 60, rate = 10000;
    int npeers = 4;
    for (int opt; (opt = getopt(argc, argv, "t:s:r:p:")) != -1;) {
        if (opt == 't')
            transport = optarg;
        else if (opt == 's')
            seconds = atof(optarg);
        else if (opt == 'r')
            rate = atof(optarg);
        else if (opt == 'p')
            npeers = atoi(optarg);
        else
            return 2;
    }
    if (npeers < 1 || npeers > MAX_PEERS || seconds <= 0 || rate <= 0) return 2;
    uint8_t *live = mmap(NULL, (size_t)npeers * LIVE_BYTES, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint8_t *churn = mmap(NULL, (size_t)CHURN_SLOTS * CHURN_BYTES, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    adxl_engine_t *target = engine_new(transport);
    if (live == MAP_FAILED || churn == MAP_FAILED || !target) return 1;
    char tname[128];
    snprintf(tname, sizeof(tname), "%s", adxl_local_engine(target));
    bool ok = true;
    atomic_bool stop = false;
    peer_t peers[MAX_PEERS];
    pthread_t threads[MAX_PEERS];
    for (int i = 0; i < npeers; i++) {
        adxl_mem_desc_t d = {(uintptr_t)(live + (size_t)i * LIVE_BYTES), LIVE_BYTES};
        adxl_mem_handle_t h;
        ok &= adxl_register_mem(target, &d, ADXL_MEM_HOST, &h) == ADXL_SUCCESS;
        peers[i] = (peer_t){
            engine_new(transport), tname, live + (size_t)i * LIVE_BYTES, i, &stop, 0, 0, 0};
        ok &= peers[i].engine && adxl_connect(peers[i].engine, tname, 10000) == ADXL_SUCCESS;
    }
    if (!ok) return 1;
    for (int i = 0; i < npeers; i++)
        pthread_create(&threads[i], NULL, peer_main, &peers[i]);

    adxl_mem_handle_t held[CHURN_SLOTS] = {0};
    uint64_t pairs = 0, start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
    for (uint64_t now = start; now < end; now = now_ns()) {
        uint64_t due = (uint64_t)((double)(now - start) / 1e9 * rate);
        if (pairs >= due) {
            struct timespec nap = {0, 100000};
            nanosleep(&nap, NULL);
            continue;
        }
        size_t in = pairs % CHURN_SLOTS, out = (pairs + CHURN_SLOTS - CHURN_HELD) % CHURN_SLOTS;
        adxl_mem_desc_t d = {(uintptr_t)(churn + in * CHURN_BYTES), CHURN_BYTES};
        ok &= adxl_register_mem(target, &d, ADXL_MEM_HOST, &held[in]) == ADXL_SUCCESS;
        if (held[out]) {
            ok &= adxl_deregister_mem(target, held[out]) == ADXL_SUCCESS;
            held[out] = NULL;
        }
        pairs++;
    }
    double took = (double)(now_ns() - start) / 1e9;
    atomic_store(&stop, true);
    uint64_t transfers = 0, failures = 0, dropped = stats_of(target).links_dropped;
    uint8_t expect[LIVE_BYTES];
    for (int i = 0; i < npeers; i++) {
        pthread_join(threads[i], NULL);
        transfers += peers[i].transfers;
        failures += peers[i].failures;
        dropped += stats_of(peers[i].engine).links_dropped;
        pattern(expect, sizeof(expect), i, peers[i].last_round);
        ok &= peers[i].last_round > 0 && memcmp(expect, peers[i].region, LIVE_BYTES) == 0;
    }
    size_t stray = 0;
    for (size_t i = 0; i < (size_t)CHURN_SLOTS * CHURN_BYTES; i++)
        stray += churn[i] != 0;
    printf("transport=%s peers=%d seconds=%.1f pairs=%" PRIu64 " pairs_per_s=%.0f "
           "transfers=%" PRIu64 " transfer_failures=%" PRIu64 " stray_bytes=%zu "
           "links_dropped=%" PRIu64 " ok=%d\n",
           transport, npeers, took, pairs, (double)pairs / took, transfers, failures, stray,
           dropped, ok);
    for (int i = 0; i < npeers; i++)
        adxl_engine_destroy(peers[i].engine);
    adxl_engine_destroy(target);
    return ok && failures == 0 && stray == 0 && dropped == 0 ? 0 : 1;
}
