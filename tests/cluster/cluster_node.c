/*
 * One engine of the cluster test bed (tests/cluster/cluster.sh), run in its own network
 * namespace, driven by one command per line on stdin with one reply line per command on
 * stdout ("R <STATUS> key=value ...", STATUS being adxl_status_str's name, or BADDATA
 * when a transfer succeeded but moved wrong bytes).
 *
 *   cluster_node ID LISTEN [KEY=VALUE ...]
 *     ID         0..7: seeds the node's data and names its slot in every region
 *     LISTEN     "IP:PORT" (PORT 0: the OS picks) or "IP" (client only)
 *     KEY=VALUE  an engine option (Transport=tcp is set unless given), or a node option:
 *                node.slot_kib=N  slot size (default 12288; the same on every node)
 *                node.big_mib=N   an extra region of N MiB that peers may write, never
 *                                 read here (default none)
 *   Prints "READY <name> <region-hex> <big-hex> <big-len> <pid>" once serving.
 *
 * Commands (P is a peer's ID; TMO a timeout in ms):
 *   peer P NAME REGION BIG BIGLEN     learn a peer (from its READY line)
 *   connect P TMO, disconnect P TMO   -> ms=
 *   state P                           -> state=<HIXL connect state>
 *   stats                             -> adxl_get_stats
 *   health                            -> threads= fds= rss_kb= of this process
 *   traffic ROUND P1,P2.. ITERS TMO DKIB BKIB
 *                                     a thread per peer runs cluster_traffic.c's passes
 *                                     (ITERS, more while held, then the final one)
 *                                     -> ms= iters= mib= and on failure fail_us= what=
 *   verify WRITER ROUND DKIB BKIB     our inbox from WRITER holds its final pass
 *   probe P read|write TMO            one checked 64 KiB transfer -> ms= end_us=
 *   bigwrite P MIB TMO                WRITE MIB MiB into P's big region, again and again
 *                                     while held -> ms= (of the last call) iters= end_us=
 *   hold 0|1                          the loops above go on while 1
 *   bg JOB COMMAND...                 runs COMMAND in a thread; its reply waits for
 *   wait JOB TMO                      -> the job's reply, or "R WAITING"
 *   progress JOB                      -> iters= (passes or writes done so far)
 *   exit                              ends jobs, destroys the engine, frees, exits 0
 * end_us and fail_us are CLOCK_REALTIME in microseconds, as bash's EPOCHREALTIME.
 */
#include "cluster_node.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ARGS 16
#define MAX_OPTS 16
#define MAX_JOBS 16
#define PROBE_LEN (64 * CN_KIB)

typedef struct {
    bool used;
    char name[32];
    char cmd[256];
    pthread_t thread;
    atomic_bool done;
    atomic_uint progress;
    char reply[CN_REPLY_MAX];
} job_t;

static cn_node_t g_node;
static job_t g_jobs[MAX_JOBS];
static pthread_mutex_t g_big_lock = PTHREAD_MUTEX_INITIALIZER;
/* bigwrite's source (one bigwrite at a time): registered, never written, so it costs no
 * RSS and the kernel sends zero pages from it. */
static uint8_t *g_big_src;
static size_t g_big_src_len;
static adxl_mem_handle_t g_big_src_handle;

bool cn_node_peer(cn_node_t *node, int p, cn_peer_t *out) {
    if (p < 0 || p >= CN_MAX_NODES) return false;
    pthread_mutex_lock(&node->lock);
    *out = node->peers[p];
    pthread_mutex_unlock(&node->lock);
    return out->known;
}

static void reply(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(char *out, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(out, CN_REPLY_MAX, "R ");
    vsnprintf(out + n, CN_REPLY_MAX - (size_t)n, fmt, ap);
    va_end(ap);
}

static int arg_int(const char *s) {
    return (int)strtol(s, NULL, 0);
}

static const char *state_name(adxl_connect_state_t s) {
    static const char *const names[] = {"NOT_CONNECT",  "CONNECT_PENDING", "CONNECTING",
                                        "CONNECTED",    "CONNECT_FAILED",  "DISCONNECT_PENDING",
                                        "DISCONNECTING"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "UNKNOWN";
}

/* ---- commands ---- */

static void cmd_link(int argc, char **argv, char *out) {
    cn_peer_t p;
    if (argc != 3 || !cn_node_peer(&g_node, arg_int(argv[1]), &p)) {
        reply(out, "PARAM_INVALID what=usage_or_unknown_peer");
        return;
    }
    uint64_t t0 = cn_now_ms();
    adxl_status_t st = strcmp(argv[0], "connect") == 0
                           ? adxl_connect(g_node.engine, p.name, arg_int(argv[2]))
                           : adxl_disconnect(g_node.engine, p.name, arg_int(argv[2]));
    reply(out, "%s ms=%" PRIu64, adxl_status_str(st), cn_now_ms() - t0);
}

static void cmd_state(int argc, char **argv, char *out) {
    cn_peer_t p;
    adxl_connect_state_t s = ADXL_NOT_CONNECT;
    if (argc != 2 || !cn_node_peer(&g_node, arg_int(argv[1]), &p)) {
        reply(out, "PARAM_INVALID what=usage_or_unknown_peer");
        return;
    }
    adxl_status_t st = adxl_get_async_connect_status(g_node.engine, p.name, &s);
    reply(out, "%s state=%s", adxl_status_str(st), state_name(s));
}

static void cmd_stats(char *out) {
    adxl_stats_t s = {0};
    adxl_status_t st = adxl_get_stats(g_node.engine, &s);
    reply(out,
          "%s dropped=%" PRIu64 " served=%" PRIu64 " refused=%" PRIu64 " direct=%" PRIu64
          " buffered=%" PRIu64 " written=%" PRIu64 " read=%" PRIu64,
          adxl_status_str(st), s.links_dropped, s.frames_served, s.frames_refused, s.batches_direct,
          s.batches_buffered, s.bytes_written, s.bytes_read);
}

static int count_entries(const char *path) {
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static void cmd_health(char *out) {
    long rss = -1;
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &rss) == 1) break;
    if (f) fclose(f);
    int threads = count_entries("/proc/self/task");
    int fds = count_entries("/proc/self/fd") - 1; /* less opendir's own */
    reply(out, "SUCCESS threads=%d fds=%d rss_kb=%ld", threads, fds, rss);
}

static void cmd_traffic(int argc, char **argv, char *out, atomic_uint *progress) {
    if (argc != 7) {
        reply(out, "PARAM_INVALID what=usage");
        return;
    }
    cn_pair_t pairs[CN_MAX_NODES];
    pthread_t threads[CN_MAX_NODES];
    int n = 0;
    char list[64];
    snprintf(list, sizeof(list), "%s", argv[2]);
    char *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok && n < CN_MAX_NODES;
         tok = strtok_r(NULL, ",", &save)) {
        pairs[n] = (cn_pair_t){.node = &g_node,
                               .peer = arg_int(tok),
                               .round = (unsigned)arg_int(argv[1]),
                               .min_iters = (unsigned)arg_int(argv[3]),
                               .timeout_ms = arg_int(argv[4]),
                               .dlen = (size_t)arg_int(argv[5]) * CN_KIB,
                               .blen = (size_t)arg_int(argv[6]) * CN_KIB,
                               .progress = progress};
        if (pairs[n].dlen + pairs[n].blen + PROBE_LEN > g_node.slot_len) {
            reply(out, "PARAM_INVALID what=larger_than_a_slot");
            return;
        }
        n++;
    }
    uint64_t t0 = cn_now_ms();
    int started = 0;
    for (; started < n; started++)
        if (pthread_create(&threads[started], NULL, cn_pair_main, &pairs[started]) != 0) break;
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    uint64_t ms = cn_now_ms() - t0;
    if (started < n) {
        reply(out, "RESOURCE_EXHAUSTED what=pthread_create");
        return;
    }
    /* The earliest failure is the one to report: later ones may be its consequences. */
    cn_pair_t *first = NULL;
    unsigned iters = 0;
    uint64_t bytes = 0;
    for (int i = 0; i < n; i++) {
        iters += pairs[i].iters;
        bytes += pairs[i].bytes;
        bool failed = pairs[i].status != ADXL_SUCCESS || pairs[i].bad_data;
        if (failed && (!first || pairs[i].fail_us < first->fail_us)) first = &pairs[i];
    }
    if (!first) {
        reply(out, "SUCCESS ms=%" PRIu64 " iters=%u mib=%" PRIu64, ms, iters, bytes / CN_MIB);
        return;
    }
    reply(out, "%s ms=%" PRIu64 " iters=%u mib=%" PRIu64 " fail_us=%" PRIu64 " what=peer%d_%s",
          first->bad_data ? "BADDATA" : adxl_status_str(first->status), ms, iters, bytes / CN_MIB,
          first->fail_us, first->peer, first->what);
}

static void cmd_verify(int argc, char **argv, char *out) {
    size_t bad = 0;
    if (argc != 5 || arg_int(argv[1]) < 0 || arg_int(argv[1]) >= CN_MAX_NODES) {
        reply(out, "PARAM_INVALID what=usage");
        return;
    }
    size_t dlen = (size_t)arg_int(argv[3]) * CN_KIB, blen = (size_t)arg_int(argv[4]) * CN_KIB;
    if (dlen + blen > g_node.slot_len)
        reply(out, "PARAM_INVALID what=larger_than_a_slot");
    else if (cn_verify_inbox(&g_node, (unsigned)arg_int(argv[1]), (unsigned)arg_int(argv[2]), dlen,
                             blen, &bad))
        reply(out, "SUCCESS");
    else
        reply(out, "BADDATA what=inbox_%s_byte_%zu", argv[1], bad);
}

/* One 64 KiB transfer at the end of a slot (the traffic never goes there), unregistered
 * local memory: a WRITE into our inbox, or a READ of the peer's outbox, checked. */
static void cmd_probe(int argc, char **argv, char *out) {
    cn_peer_t p;
    if (argc != 4 || !cn_node_peer(&g_node, arg_int(argv[1]), &p)) {
        reply(out, "PARAM_INVALID what=usage_or_unknown_peer");
        return;
    }
    int peer = arg_int(argv[1]);
    bool write = strcmp(argv[2], "write") == 0;
    size_t off = g_node.slot_len - PROBE_LEN;
    uint8_t *buf = malloc(PROBE_LEN);
    if (!buf) {
        reply(out, "RESOURCE_EXHAUSTED");
        return;
    }
    uint64_t seed =
        write ? cn_seed(0, (unsigned)g_node.id, (unsigned)peer, 0) ^ 0x5eed : cn_outbox_seed(peer);
    uintptr_t slot = (size_t)(write ? g_node.id : peer) * g_node.slot_len;
    if (write)
        cn_fill(buf, PROBE_LEN, seed, off);
    else
        memset(buf, 0xee, PROBE_LEN);
    adxl_transfer_op_desc_t d = {(uintptr_t)buf, p.region + slot + off, PROBE_LEN};
    uint64_t t0 = cn_now_ms();
    adxl_status_t st = adxl_transfer_sync(g_node.engine, p.name, write ? ADXL_WRITE : ADXL_READ, &d,
                                          1, arg_int(argv[3]));
    uint64_t ms = cn_now_ms() - t0, at = cn_realtime_us();
    size_t bad = 0;
    if (st == ADXL_SUCCESS && !write && !cn_check(buf, PROBE_LEN, seed, off, &bad))
        reply(out, "BADDATA ms=%" PRIu64 " what=probe_byte_%zu", ms, bad);
    else
        reply(out, "%s ms=%" PRIu64 " end_us=%" PRIu64, adxl_status_str(st), ms, at);
    free(buf);
}

static void cmd_bigwrite(int argc, char **argv, char *out, atomic_uint *progress) {
    cn_peer_t p;
    if (argc != 4 || !cn_node_peer(&g_node, arg_int(argv[1]), &p) || p.big == 0) {
        reply(out, "PARAM_INVALID what=usage_or_peer_without_big_region");
        return;
    }
    size_t len = (size_t)arg_int(argv[2]) * CN_MIB;
    if (len == 0 || len > p.big_len) len = p.big_len;
    adxl_status_t st = ADXL_SUCCESS;
    pthread_mutex_lock(&g_big_lock);
    if (g_big_src_len < len) {
        if (g_big_src_handle) adxl_deregister_mem(g_node.engine, g_big_src_handle);
        if (g_big_src) adxl_free_mem(g_big_src);
        g_big_src = NULL;
        g_big_src_len = 0;
        g_big_src_handle = NULL;
        void *mem = NULL;
        st = adxl_malloc_mem(ADXL_MEM_HOST, len, &mem);
        adxl_mem_desc_t d = {(uintptr_t)mem, len};
        if (st == ADXL_SUCCESS)
            st = adxl_register_mem(g_node.engine, &d, ADXL_MEM_HOST, &g_big_src_handle);
        if (mem) {
            g_big_src = mem;
            g_big_src_len = len;
        }
    }
    pthread_mutex_unlock(&g_big_lock);
    if (st != ADXL_SUCCESS) {
        reply(out, "%s what=local_buffer", adxl_status_str(st));
        return;
    }
    adxl_transfer_op_desc_t d = {(uintptr_t)g_big_src, p.big, len};
    unsigned iters = 0;
    uint64_t started = cn_now_ms(), ms = 0;
    do {
        uint64_t t0 = cn_now_ms();
        st = adxl_transfer_sync(g_node.engine, p.name, ADXL_WRITE, &d, 1, arg_int(argv[3]));
        ms = cn_now_ms() - t0;
        if (st != ADXL_SUCCESS) break;
        iters++;
        atomic_fetch_add(progress, 1);
    } while (atomic_load(&g_node.hold) && cn_now_ms() - started < CN_HOLD_MAX_MS);
    reply(out, "%s ms=%" PRIu64 " iters=%u end_us=%" PRIu64, adxl_status_str(st), ms, iters,
          cn_realtime_us());
}

static void run_command(char *line, char *out, atomic_uint *progress);

/* ---- background jobs ---- */

static void *job_main(void *arg) {
    job_t *j = arg;
    run_command(j->cmd, j->reply, &j->progress);
    atomic_store(&j->done, true);
    return NULL;
}

static job_t *find_job(const char *name) {
    for (int i = 0; i < MAX_JOBS; i++)
        if (g_jobs[i].used && strcmp(g_jobs[i].name, name) == 0) return &g_jobs[i];
    return NULL;
}

/* "bg JOB COMMAND..." with line the whole command line, unsplit. */
static void cmd_bg(char *line, char *out) {
    char name[32];
    int used = 0;
    if (sscanf(line, "bg %31s %n", name, &used) != 1 || used == 0 || find_job(name)) {
        reply(out, "PARAM_INVALID what=usage_or_job_exists");
        return;
    }
    job_t *j = NULL;
    for (int i = 0; i < MAX_JOBS && !j; i++)
        if (!g_jobs[i].used) j = &g_jobs[i];
    if (!j) {
        reply(out, "RESOURCE_EXHAUSTED what=too_many_jobs");
        return;
    }
    memset(j, 0, sizeof(*j));
    snprintf(j->name, sizeof(j->name), "%s", name);
    snprintf(j->cmd, sizeof(j->cmd), "%s", line + used);
    atomic_init(&j->done, false);
    atomic_init(&j->progress, 0);
    if (pthread_create(&j->thread, NULL, job_main, j) != 0) {
        reply(out, "RESOURCE_EXHAUSTED what=pthread_create");
        return;
    }
    j->used = true;
    reply(out, "SUCCESS");
}

static void cmd_wait(int argc, char **argv, char *out) {
    job_t *j = argc == 3 ? find_job(argv[1]) : NULL;
    if (!j) {
        reply(out, "PARAM_INVALID what=usage_or_unknown_job");
        return;
    }
    uint64_t until = cn_now_ms() + (uint64_t)arg_int(argv[2]);
    while (!atomic_load(&j->done) && cn_now_ms() < until)
        cn_sleep_ms(5);
    if (!atomic_load(&j->done)) {
        reply(out, "WAITING");
        return;
    }
    pthread_join(j->thread, NULL);
    snprintf(out, CN_REPLY_MAX, "%s", j->reply);
    j->used = false;
}

static void run_command(char *line, char *out, atomic_uint *progress) {
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", line);
    char *argv[MAX_ARGS], *save = NULL;
    int argc = 0;
    for (char *tok = strtok_r(copy, " \t\r\n", &save); tok && argc < MAX_ARGS;
         tok = strtok_r(NULL, " \t\r\n", &save))
        argv[argc++] = tok;
    if (argc == 0) {
        reply(out, "PARAM_INVALID what=empty");
        return;
    }
    const char *c = argv[0];
    if (strcmp(c, "peer") == 0 && argc == 6) {
        int p = arg_int(argv[1]);
        if (p < 0 || p >= CN_MAX_NODES) {
            reply(out, "PARAM_INVALID what=peer_id");
            return;
        }
        cn_peer_t np = {.known = true,
                        .region = (uintptr_t)strtoull(argv[3], NULL, 16),
                        .big = (uintptr_t)strtoull(argv[4], NULL, 16),
                        .big_len = (size_t)strtoull(argv[5], NULL, 10)};
        snprintf(np.name, sizeof(np.name), "%s", argv[2]);
        pthread_mutex_lock(&g_node.lock);
        g_node.peers[p] = np;
        pthread_mutex_unlock(&g_node.lock);
        reply(out, "SUCCESS");
    } else if (strcmp(c, "connect") == 0 || strcmp(c, "disconnect") == 0) {
        cmd_link(argc, argv, out);
    } else if (strcmp(c, "state") == 0) {
        cmd_state(argc, argv, out);
    } else if (strcmp(c, "stats") == 0) {
        cmd_stats(out);
    } else if (strcmp(c, "health") == 0) {
        cmd_health(out);
    } else if (strcmp(c, "traffic") == 0) {
        cmd_traffic(argc, argv, out, progress);
    } else if (strcmp(c, "verify") == 0) {
        cmd_verify(argc, argv, out);
    } else if (strcmp(c, "probe") == 0) {
        cmd_probe(argc, argv, out);
    } else if (strcmp(c, "bigwrite") == 0) {
        cmd_bigwrite(argc, argv, out, progress);
    } else if (strcmp(c, "hold") == 0 && argc == 2) {
        atomic_store(&g_node.hold, arg_int(argv[1]) != 0);
        reply(out, "SUCCESS");
    } else if (strcmp(c, "bg") == 0) {
        cmd_bg(line, out);
    } else if (strcmp(c, "wait") == 0) {
        cmd_wait(argc, argv, out);
    } else if (strcmp(c, "progress") == 0 && argc == 2) {
        job_t *j = find_job(argv[1]);
        if (j)
            reply(out, "SUCCESS iters=%u", atomic_load(&j->progress));
        else
            reply(out, "PARAM_INVALID what=unknown_job");
    } else {
        reply(out, "PARAM_INVALID what=unknown_command");
    }
}

/* ---- set-up and tear-down ---- */

static int start(int argc, char **argv) {
    g_node.id = arg_int(argv[1]);
    if (g_node.id < 0 || g_node.id >= CN_MAX_NODES) return 2;
    g_node.slot_len = 12 * CN_MIB;
    adxl_option_t opts[MAX_OPTS];
    size_t nopts = 0;
    bool transport = false;
    for (int i = 3; i < argc && nopts < MAX_OPTS - 1; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) return 2;
        *eq = '\0';
        if (strcmp(argv[i], "node.slot_kib") == 0) {
            g_node.slot_len = (size_t)arg_int(eq + 1) * CN_KIB;
        } else if (strcmp(argv[i], "node.big_mib") == 0) {
            g_node.big_len = (size_t)arg_int(eq + 1) * CN_MIB;
        } else {
            transport = transport || strstr(argv[i], "Transport") != NULL;
            opts[nopts++] = (adxl_option_t){argv[i], eq + 1};
        }
    }
    /* Namespaces stand in for hosts: a same-host transport must not take over. */
    if (!transport) opts[nopts++] = (adxl_option_t){"Transport", "tcp"};
    pthread_mutex_init(&g_node.lock, NULL);
    atomic_init(&g_node.hold, 0);

    adxl_status_t st = adxl_engine_create(&g_node.engine);
    if (st == ADXL_SUCCESS) st = adxl_initialize(g_node.engine, argv[2], opts, nopts);
    if (st != ADXL_SUCCESS) {
        fprintf(stderr, "node %d: initialize %s: %s\n", g_node.id, argv[2], adxl_status_str(st));
        return 1;
    }
    void *mem = NULL;
    adxl_mem_handle_t h;
    st = adxl_malloc_mem(ADXL_MEM_HOST, CN_MAX_NODES * g_node.slot_len, &mem);
    adxl_mem_desc_t d = {(uintptr_t)mem, CN_MAX_NODES * g_node.slot_len};
    if (st == ADXL_SUCCESS) st = adxl_register_mem(g_node.engine, &d, ADXL_MEM_HOST, &h);
    g_node.region = mem;
    if (st == ADXL_SUCCESS && g_node.big_len) {
        mem = NULL;
        st = adxl_malloc_mem(ADXL_MEM_HOST, g_node.big_len, &mem);
        adxl_mem_desc_t b = {(uintptr_t)mem, g_node.big_len};
        if (st == ADXL_SUCCESS) st = adxl_register_mem(g_node.engine, &b, ADXL_MEM_HOST, &h);
        g_node.big = mem;
    }
    if (st != ADXL_SUCCESS) {
        fprintf(stderr, "node %d: memory: %s\n", g_node.id, adxl_status_str(st));
        return 1;
    }
    cn_fill(g_node.region + (size_t)g_node.id * g_node.slot_len, g_node.slot_len,
            cn_outbox_seed(g_node.id), 0);
    printf("READY %s 0x%" PRIxPTR " 0x%" PRIxPTR " %zu %d\n", adxl_local_engine(g_node.engine),
           (uintptr_t)g_node.region, (uintptr_t)g_node.big, g_node.big_len, (int)getpid());
    return 0;
}

/* Everything must go cleanly: the sanitizer builds check for leaks at exit. */
static int finish(void) {
    atomic_store(&g_node.hold, 0);
    for (int i = 0; i < MAX_JOBS; i++)
        if (g_jobs[i].used) pthread_join(g_jobs[i].thread, NULL);
    adxl_engine_destroy(g_node.engine); /* deregisters whatever is left */
    int rc = 0;
    if (adxl_free_mem(g_node.region) != ADXL_SUCCESS) rc = 1;
    if (g_node.big && adxl_free_mem(g_node.big) != ADXL_SUCCESS) rc = 1;
    if (g_big_src && adxl_free_mem(g_big_src) != ADXL_SUCCESS) rc = 1;
    pthread_mutex_destroy(&g_node.lock);
    return rc;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3) {
        fprintf(stderr, "usage: cluster_node ID IP[:PORT] [KEY=VALUE ...]\n");
        return 2;
    }
    int rc = start(argc, argv);
    if (rc != 0) return rc;
    char line[256], out[CN_REPLY_MAX];
    while (fgets(line, sizeof(line), stdin) != NULL) {
        if (strncmp(line, "exit", 4) == 0) {
            rc = finish();
            printf("R %s\n", rc == 0 ? "SUCCESS" : "FAILED");
            return rc;
        }
        atomic_uint unused;
        atomic_init(&unused, 0);
        run_command(line, out, &unused);
        printf("%s\n", out);
    }
    fprintf(stderr, "node %d: stdin closed without exit\n", g_node.id);
    finish();
    return 1;
}
