/*
 * KV-cache handoff between a "prefill" and a "decode" process, the job adxl exists for.
 *
 * The decode process owns a paged KV cache (NUM_PAGES fixed-size blocks) and registers
 * it. For each request, the prefill process has computed that request's KV blocks
 * (contiguous in its own memory) and the decode side's scheduler has handed out free
 * pages for them, scattered over the cache as a paged allocator leaves them. Prefill
 * writes every block into its page with one batched WRITE per request, then sends a
 * notify naming the request and its pages; decode checks every block of the request.
 *
 * Usage: kv_handoff [requests] [blocks_per_request] [block_kib]   (default 8 48 64)
 */
#include <adxl/adxl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int requests, blocks, pages;
    size_t block_size;
} shape_t;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The content of block i of request r: every 8-byte word names its request, block and index. */
static uint64_t word(int r, int i, size_t k) {
    return ((uint64_t)r << 48) ^ ((uint64_t)i << 32) ^ (uint64_t)k ^ 0x5a5a000000000000ull;
}

static void fill_block(uint8_t *p, size_t size, int r, int i) {
    for (size_t k = 0; k < size / 8; k++) {
        uint64_t w = word(r, i, k);
        memcpy(p + k * 8, &w, 8);
    }
}

static int check_block(const uint8_t *p, size_t size, int r, int i) {
    for (size_t k = 0; k < size / 8; k++) {
        uint64_t w;
        memcpy(&w, p + k * 8, 8);
        if (w != word(r, i, k)) return 0;
    }
    return 1;
}

static int decode(const shape_t *s, int to_prefill) {
    adxl_engine_t *engine = NULL;
    void *cache = NULL;
    adxl_mem_handle_t handle;
    size_t cache_size = (size_t)s->pages * s->block_size;
    if (adxl_engine_create(&engine) != ADXL_SUCCESS ||
        adxl_initialize(engine, "127.0.0.1:0", NULL, 0) != ADXL_SUCCESS ||
        adxl_malloc_mem(ADXL_MEM_HOST, cache_size, &cache) != ADXL_SUCCESS)
        return 1;
    adxl_mem_desc_t desc = {(uintptr_t)cache, cache_size};
    if (adxl_register_mem(engine, &desc, ADXL_MEM_HOST, &handle) != ADXL_SUCCESS) return 1;
    char hello[128];
    int n = snprintf(hello, sizeof(hello), "%s %" PRIuPTR "\n", adxl_local_engine(engine),
                     (uintptr_t)cache);
    if (write(to_prefill, hello, (size_t)n) != n) return 1;
    close(to_prefill);

    int done = 0, bad = 0, checked = 0;
    while (done < s->requests) {
        adxl_notify_t note;
        size_t count = 0;
        if (adxl_get_notifies(engine, &note, 1, &count) != ADXL_SUCCESS) return 1;
        if (count == 0) {
            usleep(100); /* a real decode loop would run its model step here */
            continue;
        }
        /* "req=<r> pages=<p0>,<p1>,..." */
        int r = -1, off = 0;
        if (strcmp(note.name, "kv_ready") != 0 || sscanf(note.msg, "req=%d pages=%n", &r, &off) < 1)
            return 1;
        const char *p = note.msg + off;
        for (int i = 0; i < s->blocks; i++) {
            char *end;
            long page = strtol(p, &end, 10);
            if (end == p || page < 0 || page >= s->pages) return 1;
            if (!check_block((uint8_t *)cache + (size_t)page * s->block_size, s->block_size, r, i))
                bad++;
            checked++;
            p = *end == ',' ? end + 1 : end;
        }
        done++;
    }
    printf("decode: %d requests, %d KV blocks checked, %d wrong\n", done, checked, bad);
    adxl_deregister_mem(engine, handle);
    adxl_engine_destroy(engine);
    adxl_free_mem(cache);
    return bad == 0 ? 0 : 1;
}

static int prefill(const shape_t *s, int from_decode) {
    char hello[128] = {0};
    ssize_t got = 0, n;
    while ((n = read(from_decode, hello + got, sizeof(hello) - 1 - (size_t)got)) > 0)
        got += n;
    char name[80];
    uintptr_t cache = 0;
    if (sscanf(hello, "%79s %" SCNuPTR, name, &cache) != 2) return 1;

    /* The pages decode's allocator handed out: a shuffled, scattered subset. */
    int *perm = malloc(sizeof(int) * (size_t)s->pages);
    uint64_t seed = 12345;
    for (int i = 0; i < s->pages; i++)
        perm[i] = i;
    for (int i = s->pages - 1; i > 0; i--) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int j = (int)((seed >> 33) % (uint64_t)(i + 1));
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }

    adxl_engine_t *engine = NULL;
    void *kv = NULL;
    size_t kv_size = (size_t)s->requests * (size_t)s->blocks * s->block_size;
    adxl_mem_handle_t handle;
    if (adxl_engine_create(&engine) != ADXL_SUCCESS ||
        adxl_initialize(engine, "127.0.0.1", NULL, 0) != ADXL_SUCCESS ||
        adxl_malloc_mem(ADXL_MEM_HOST, kv_size, &kv) != ADXL_SUCCESS)
        return 1;
    adxl_mem_desc_t desc = {(uintptr_t)kv, kv_size};
    if (adxl_register_mem(engine, &desc, ADXL_MEM_HOST, &handle) != ADXL_SUCCESS) return 1;
    for (int r = 0; r < s->requests; r++)
        for (int i = 0; i < s->blocks; i++)
            fill_block((uint8_t *)kv + ((size_t)r * (size_t)s->blocks + (size_t)i) * s->block_size,
                       s->block_size, r, i);
    adxl_status_t st = adxl_connect(engine, name, 10000);

    adxl_transfer_op_desc_t *descs = calloc((size_t)s->blocks, sizeof(*descs));
    double t0 = now_s();
    for (int r = 0; r < s->requests && st == ADXL_SUCCESS; r++) {
        char msg[ADXL_NOTIFY_MAX_LEN + 1];
        int len = snprintf(msg, sizeof(msg), "req=%d pages=", r);
        for (int i = 0; i < s->blocks; i++) {
            int page = perm[r * s->blocks + i];
            descs[i].local_addr =
                (uintptr_t)kv + ((size_t)r * (size_t)s->blocks + (size_t)i) * s->block_size;
            descs[i].remote_addr = cache + (size_t)page * s->block_size;
            descs[i].len = s->block_size;
            len += snprintf(msg + len, sizeof(msg) - (size_t)len, i ? ",%d" : "%d", page);
        }
        st = adxl_transfer_sync(engine, name, ADXL_WRITE, descs, (size_t)s->blocks, 10000);
        if (st == ADXL_SUCCESS) st = adxl_send_notify(engine, name, "kv_ready", msg, 10000);
    }
    double secs = now_s() - t0;
    if (st == ADXL_SUCCESS) {
        double mib = (double)kv_size / (1 << 20);
        printf("prefill: %d requests x %d blocks of %zu KiB (%.1f MiB) handed off in %.2f ms, "
               "%.1f MiB/s (%.2f Gbit/s)\n",
               s->requests, s->blocks, s->block_size >> 10, mib, secs * 1e3, mib / secs,
               (double)kv_size * 8 / secs / 1e9);
    } else {
        fprintf(stderr, "prefill: %s\n", adxl_status_str(st));
    }
    adxl_disconnect(engine, name, 1000);
    adxl_deregister_mem(engine, handle);
    adxl_engine_destroy(engine);
    adxl_free_mem(kv);
    free(descs);
    free(perm);
    return st == ADXL_SUCCESS ? 0 : 1;
}

int main(int argc, char **argv) {
    shape_t s = {8, 48, 0, 64u << 10};
    if (argc > 1) s.requests = atoi(argv[1]);
    if (argc > 2) s.blocks = atoi(argv[2]);
    if (argc > 3) s.block_size = (size_t)atoi(argv[3]) << 10;
    /* Page numbers must fit in one notify (at most 6 characters each). */
    if (s.requests < 1 || s.blocks < 1 || s.blocks > 150 || s.block_size < 8 || s.block_size % 8) {
        fprintf(stderr, "usage: kv_handoff [requests] [blocks_per_request<=150] [block_kib]\n");
        return 2;
    }
    s.pages = 2 * s.requests * s.blocks; /* a half-full cache */
    if (s.pages > 999999) return 2;
    int fds[2];
    if (pipe(fds) != 0) return 1;
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) return 1;
    if (child == 0) {
        close(fds[0]);
        int rc = decode(&s, fds[1]);
        fflush(stdout);
        _exit(rc);
    }
    close(fds[1]);
    int rc = prefill(&s, fds[0]);
    close(fds[0]);
    int status = 0;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        rc = 1;
    printf("kv_handoff: %s\n", rc == 0 ? "ok" : "FAILED");
    return rc;
}
