/*
 * What cluster_node.c (the command loop, jobs and fault hooks) and cluster_traffic.c (the
 * verified workload) share. See cluster_node.c for the command protocol.
 */
#ifndef ADXL_CLUSTER_NODE_H
#define ADXL_CLUSTER_NODE_H

#include <adxl/adxl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CN_KIB ((size_t)1024)
#define CN_MIB (CN_KIB * CN_KIB)
#define CN_MAX_NODES 8 /* node ids 0..7; each node's region has one slot per id */
#define CN_FINAL_ITER 0xffffu
#define CN_REPLY_MAX 512
#define CN_HOLD_MAX_MS 240000 /* a hold the script forgot ends anyway */

/* What a node knows about another: its engine name and where its regions are. */
typedef struct {
    bool known;
    char name[ADXL_ENGINE_NAME_MAX];
    uintptr_t region; /* base of its CN_MAX_NODES slots */
    uintptr_t big;    /* base of its big region, 0 if it has none */
    size_t big_len;
} cn_peer_t;

/*
 * A node's region is CN_MAX_NODES slots of slot_len bytes. Slot `id` (its own) is its
 * outbox, filled once with cn_outbox_seed(id) and only ever read by peers; slot w is the
 * inbox that node w writes into. Every byte at slot offset o written with seed s holds
 * cn_pattern_byte(s, o), so both sides agree without shipping data around.
 */
typedef struct {
    adxl_engine_t *engine;
    int id;
    uint8_t *region;
    size_t slot_len;
    uint8_t *big; /* an extra region that peers may write; never read here */
    size_t big_len;
    pthread_mutex_t lock; /* peers */
    cn_peer_t peers[CN_MAX_NODES];
    atomic_int hold; /* loops keep going while it is 1 */
} cn_node_t;

/*
 * A target reads what peers wrote into its memory only when the test script says so,
 * i.e. ordered through other processes, which ThreadSanitizer cannot see; under TSan
 * those reads are left out of race detection (the engine's own threads are still checked),
 * as tests/xfer_common.h does.
 */
#if defined(__SANITIZE_THREAD__)
#define CN_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CN_TSAN 1
#endif
#endif
#ifdef CN_TSAN
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#define CN_EXTERNALLY_ORDERED_BEGIN() __tsan_ignore_thread_begin()
#define CN_EXTERNALLY_ORDERED_END() __tsan_ignore_thread_end()
#else
#define CN_EXTERNALLY_ORDERED_BEGIN() ((void)0)
#define CN_EXTERNALLY_ORDERED_END() ((void)0)
#endif

/* Copies what the node knows about peer p; false if nothing. */
bool cn_node_peer(cn_node_t *node, int p, cn_peer_t *out);

/* ---- patterns (cluster_traffic.c) ---- */
uint64_t cn_seed(unsigned round, unsigned writer, unsigned target, unsigned iter);
uint64_t cn_outbox_seed(int id);
void cn_fill(uint8_t *p, size_t len, uint64_t seed, size_t base);
/* Whether p[i] == pattern(seed, base + i) for all i < len; else *bad = base + i. */
bool cn_check(const uint8_t *p, size_t len, uint64_t seed, size_t base, size_t *bad);

/* ---- the workload between this node and one peer (cluster_traffic.c) ---- */
typedef struct {
    /* in */
    cn_node_t *node;
    int peer;
    unsigned round;
    unsigned min_iters; /* then more while node->hold is set */
    int32_t timeout_ms;
    size_t dlen;           /* bytes of the slot moved by direct batches (pieces >= 256 KiB) */
    size_t blen;           /* bytes after them moved by buffered batches (pieces <= 8 KiB) */
    atomic_uint *progress; /* iterations done, for `progress` */
    /* out */
    adxl_status_t status; /* first failure, or SUCCESS */
    bool bad_data;        /* a transfer succeeded but moved wrong bytes */
    char what[160];       /* what failed */
    unsigned iters;       /* iterations that passed, the final one included */
    uint64_t fail_us;     /* CLOCK_REALTIME of the failure */
    uint64_t bytes;       /* payload bytes moved and checked */
} cn_pair_t;

void *cn_pair_main(void *arg);
/* Whether the node's inbox from writer holds what cn_pair_main's final pass wrote. */
bool cn_verify_inbox(cn_node_t *node, unsigned writer, unsigned round, size_t dlen, size_t blen,
                     size_t *bad);

/* ---- small helpers (cluster_traffic.c) ---- */
uint64_t cn_now_ms(void);      /* CLOCK_MONOTONIC */
uint64_t cn_realtime_us(void); /* CLOCK_REALTIME, comparable with bash's EPOCHREALTIME */
void cn_sleep_ms(unsigned ms);
/* Waits for an async request's final state, polling, for at most limit_ms; returns the
 * call's status (TIMEOUT/FAILED for those states). *final false: still waiting. */
adxl_status_t cn_wait_async(adxl_engine_t *e, adxl_transfer_req_t req, uint64_t limit_ms,
                            bool *final);

#endif
