/* Command-line parsing and validation for adxl-bench; see bench_args.h. */
#include "bench_args.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench_net.h"
#include "bench_util.h"

#define MAX_BATCH 65536u
#define MAX_THREADS 256u
#define MAX_ASYNC 1024u
#define MAX_STREAMS 16u
#define MAX_POOL 1024u

enum {
    OPT_HELP = 'h',
    OPT_ROLE = 256,
    OPT_LISTEN,
    OPT_CONTROL_PORT,
    OPT_REGION_SIZE,
    OPT_EXIT_ON_EOF,
    OPT_TARGET,
    OPT_CONTROL,
    OPT_LOCAL,
    OPT_STOP_TARGET,
    OPT_OP,
    OPT_BLOCK_SIZES,
    OPT_BATCH_SIZES,
    OPT_MAX_BATCH_BYTES,
    OPT_THREADS,
    OPT_DURATION,
    OPT_ITERS,
    OPT_MAX_ITERS,
    OPT_WARMUP,
    OPT_ASYNC,
    OPT_MEMORY,
    OPT_VERIFY,
    OPT_TIMEOUT,
    OPT_TRANSPORT,
    OPT_SHM_PATH,
    OPT_BUFFER_POOL,
    OPT_STREAMS,
    OPT_TARGET_MEMORY,
    OPT_DEVICE_RUNTIME,
    OPT_JSON,
    OPT_END
};

static const struct option long_options[] = {
    {"help", no_argument, NULL, OPT_HELP},
    {"role", required_argument, NULL, OPT_ROLE},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"control-port", required_argument, NULL, OPT_CONTROL_PORT},
    {"region-size", required_argument, NULL, OPT_REGION_SIZE},
    {"exit-on-stdin-eof", no_argument, NULL, OPT_EXIT_ON_EOF},
    {"target", required_argument, NULL, OPT_TARGET},
    {"control", required_argument, NULL, OPT_CONTROL},
    {"local", required_argument, NULL, OPT_LOCAL},
    {"stop-target", no_argument, NULL, OPT_STOP_TARGET},
    {"op", required_argument, NULL, OPT_OP},
    {"block-sizes", required_argument, NULL, OPT_BLOCK_SIZES},
    {"batch-sizes", required_argument, NULL, OPT_BATCH_SIZES},
    {"max-batch-bytes", required_argument, NULL, OPT_MAX_BATCH_BYTES},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"iters", required_argument, NULL, OPT_ITERS},
    {"max-iters", required_argument, NULL, OPT_MAX_ITERS},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"async", required_argument, NULL, OPT_ASYNC},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"verify", no_argument, NULL, OPT_VERIFY},
    {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
    {"transport", required_argument, NULL, OPT_TRANSPORT},
    {"shm-path", required_argument, NULL, OPT_SHM_PATH},
    {"buffer-pool", required_argument, NULL, OPT_BUFFER_POOL},
    {"streams", required_argument, NULL, OPT_STREAMS},
    {"target-memory", required_argument, NULL, OPT_TARGET_MEMORY},
    {"device-runtime", required_argument, NULL, OPT_DEVICE_RUNTIME},
    {"json", required_argument, NULL, OPT_JSON},
    {NULL, 0, NULL, 0},
};

static const char *option_name(int opt) {
    for (const struct option *o = long_options; o->name != NULL; o++) {
        if (o->val == opt) return o->name;
    }
    return "?";
}

void bench_args_usage(FILE *out) {
    fputs("Usage: adxl-bench [OPTIONS]                      (both ends on this host)\n"
          "       adxl-bench --role target --listen IP:PORT [OPTIONS]\n"
          "       adxl-bench --role initiator --target IP:PORT [OPTIONS]\n"
          "\n"
          "Measures adxl's one-sided batched READ/WRITE between two engines. Each row of\n"
          "the sweep moves batches of BATCH descriptors of BLOCK bytes each and reports GB/s\n"
          "(1e9 bytes/s), ops/s (descriptors/s) and the latency of one batch (p50/p99/max,\n"
          "microseconds).\n"
          "\n"
          "Without --role, adxl-bench starts a target in a second process on 127.0.0.1\n"
          "(itself, re-executed with --role target), connects to it and runs the sweep.\n"
          "\n"
          "Two hosts:\n"
          "  host A$ adxl-bench --role target --listen 10.0.0.1:50000\n"
          "  host B$ adxl-bench --role initiator --target 10.0.0.1:50000\n"
          "The target prints one line on stdout,\n"
          "  READY engine=IP:PORT control=IP:PORT addr=0x... len=BYTES\n"
          "naming its engine and the region it registered, and serves until interrupted.\n"
          "adxl links are one-way (only the connecting side sends), so the target also\n"
          "listens on a small TCP control channel of the tool's own, by default on the\n"
          "engine port + 1: the initiator asks it for the region's address and length,\n"
          "and to fill or check the region when verifying. The control channel is not\n"
          "authenticated: use it on trusted networks only. Run one initiator at a time\n"
          "against a target: each lays out its threads from the start of the region.\n"
          "\n"
          "Roles:\n"
          "  --role target|initiator    omit for the one-host run described above\n"
          "Target:\n"
          "  --listen IP:PORT           engine name to listen on (port 0: OS-chosen)\n"
          "  --control-port PORT        control channel port (default engine port + 1;\n"
          "                             OS-chosen when the engine port is 0)\n"
          "  --region-size SIZE         bytes to register and serve (default 256M); it must\n"
          "                             hold threads x max(1,async) x largest batch\n"
          "  --exit-on-stdin-eof        exit when stdin closes (how a one-host run stops\n"
          "                             the target it started)\n"
          "  --target-memory host|device  the region: host memory (adxl_malloc_mem, default)\n"
          "                             or device memory of the runtime (--device-runtime),\n"
          "                             registered as ADXL_MEM_DEVICE. Also taken by a\n"
          "                             one-host run, for the target it starts; an\n"
          "                             initiator learns the kind from the target\n"
          "Initiator:\n"
          "  --target IP:PORT           the target's engine name, exactly as it printed it\n"
          "  --control IP:PORT          the target's control channel (default: target port+1)\n"
          "  --local IP                 this side's (client-only) engine name (default: the\n"
          "                             source address the kernel picks to reach the target)\n"
          "  --stop-target              ask the target to exit when done\n"
          "Sweep (initiator and one-host run):\n"
          "  --op read|write|both       (default both: write table, then read table)\n"
          "  --block-sizes LIST         (default 4K,64K,256K,1M,16M)\n"
          "  --batch-sizes LIST         (default 1,16,256)\n"
          "                             LIST: comma-separated values; sizes take K/M/G\n"
          "                             (powers of 1024); A-B means A, 2A, 4A, ... up to B\n"
          "  --max-batch-bytes SIZE     skip rows whose block x batch exceeds SIZE (64M)\n"
          "  --threads N                initiator threads, each on its own disjoint part of\n"
          "                             the target's region and its own buffers, all on one\n"
          "                             engine and link (default 1)\n"
          "  --duration SECONDS         time per row and thread (default 1)\n"
          "  --iters N                  instead: exactly N batches per row and thread\n"
          "  --max-iters N              cap on batches per row and thread (default 1000000)\n"
          "  --warmup N                 untimed batches before each row (default 5)\n"
          "  --async DEPTH              keep DEPTH adxl_transfer_async requests in flight per\n"
          "                             thread, polled with adxl_get_transfer_status; latency\n"
          "                             is then submit-to-completion (default 0: sync)\n"
          "  --memory KIND              initiator buffers: registered (adxl_malloc_mem and\n"
          "                             registered, default), unregistered (adxl_malloc_mem,\n"
          "                             not registered), malloc (plain malloc, not\n"
          "                             registered) or device (device memory of the runtime\n"
          "                             that --device-runtime picks, registered as\n"
          "                             ADXL_MEM_DEVICE); the target's region is always\n"
          "                             registered, and its kind is --target-memory's.\n"
          "                             Device memory is never touched by the CPU: the\n"
          "                             pattern goes in and out through the runtime's copies\n"
          "  --verify                   check every byte of every batch (slow: the numbers\n"
          "                             then include the checking). Without it, one untimed\n"
          "                             batch per row and in-flight slot is checked: READ\n"
          "                             against a pattern the target wrote into its region,\n"
          "                             WRITE by the target checking its region\n"
          "  --timeout-ms MS            timeout of each transfer (default 30000)\n"
          "  --json FILE                also write the rows as JSON to FILE\n"
          "Engine options (both roles; a one-host run passes them to its target too):\n"
          "  --transport auto|tcp|shm|ucx  adxl Transport option; ucx needs a build with UCX\n"
          "                             (libucx-dev); UCX_TLS in the environment (which a\n"
          "                             one-host run's target inherits) picks UCX's own\n"
          "                             transports, e.g. UCX_TLS=tcp or UCX_TLS=sm\n"
          "  --shm-path auto|cma|staging  adxl ShmPath option (shm's byte path)\n"
          "  --buffer-pool NUM:SIZE     adxl BufferPool: NUM transit buffers of SIZE MiB\n"
          "                             (0:0 turns the pool off)\n"
          "  --streams N                adxl TcpStreams: TCP connections per link (1..16)\n"
          "  --device-runtime auto|cuda|ascend|none  adxl DeviceRuntime, and the runtime the\n"
          "                             bench allocates and checks device memory with (auto:\n"
          "                             the one present; none: host memory only). CUDA is\n"
          "                             libcuda.so.1 (or $ADXL_CUDA_LIBRARY), AscendCL\n"
          "                             libascendcl.so (or $ADXL_ASCEND_LIBRARY)\n"
          "\n"
          "  -h, --help                 this text\n"
          "\n"
          "Exit status: 0 success, 1 a failed transfer, verification or setup (the message\n"
          "names the adxl status), 2 a bad command line.\n",
          out);
}

const char *bench_memory_name(bench_memory_t memory) {
    switch (memory) {
    case BENCH_MEM_REGISTERED:
        return "registered";
    case BENCH_MEM_UNREGISTERED:
        return "unregistered";
    case BENCH_MEM_MALLOC:
        return "malloc";
    case BENCH_MEM_DEVICE:
        return "device";
    }
    return "?";
}

bool bench_args_local_device(const bench_args_t *a) {
    return a->role == BENCH_ROLE_TARGET ? a->target_device : a->memory == BENCH_MEM_DEVICE;
}

const char *bench_args_runtime(const bench_args_t *a) {
    return a->device_runtime[0] != '\0' ? a->device_runtime : "auto";
}

/* Digits only: strtoull would accept "-1", " 5" and "0x10". */
static int parse_u64(const char *text, uint64_t *out, const char **rest) {
    uint64_t value = 0;
    const char *p = text;

    if (!isdigit((unsigned char)*p)) return -1;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned digit = (unsigned)(*p - '0');
        if (value > (UINT64_MAX - digit) / 10) return -1;
        value = value * 10 + digit;
    }
    *out = value;
    if (rest != NULL) {
        *rest = p;
    } else if (*p != '\0') {
        return -1;
    }
    return 0;
}

/* Parses a size with an optional K/M/G (binary) unit, optionally followed by B or iB;
 * *end gets what follows. */
static int parse_size_prefix(const char *text, size_t *out, const char **end) {
    uint64_t value;
    const char *p;
    unsigned shift = 0;

    if (parse_u64(text, &value, &p) != 0) return -1;
    switch (toupper((unsigned char)*p)) {
    case 'K':
        shift = 10;
        p++;
        break;
    case 'M':
        shift = 20;
        p++;
        break;
    case 'G':
        shift = 30;
        p++;
        break;
    default:
        break;
    }
    if (shift != 0 && (p[0] == 'i' || p[0] == 'I') && toupper((unsigned char)p[1]) == 'B') {
        p += 2;
    } else if (toupper((unsigned char)*p) == 'B') {
        p++;
    }
    if (value > (SIZE_MAX >> shift)) return -1;
    *out = (size_t)(value << shift);
    *end = p;
    return 0;
}

int bench_parse_size(const char *text, size_t *out) {
    const char *end;
    return parse_size_prefix(text, out, &end) == 0 && *end == '\0' ? 0 : -1;
}

/*
 * "A,B,C-D": each item a value, or a range A-B of A, 2A, 4A, ... <= B. Values are sizes
 * (with units) when sizes is set, plain counts otherwise. Every value must lie in
 * [min, max]. On error prints why, naming the option.
 */
static int parse_list(const char *option, const char *text, bool sizes, size_t min, size_t max,
                      size_t *values, size_t *count) {
    const char *p = text;
    size_t n = 0;

    if (*p == '\0') {
        bench_err("%s: empty list", option);
        return -1;
    }
    for (;;) {
        size_t lo, hi;
        const char *end;
        uint64_t v64;

        if (sizes ? parse_size_prefix(p, &lo, &end) : parse_u64(p, &v64, &end)) goto bad;
        if (!sizes) lo = (size_t)v64;
        hi = lo;
        if (*end == '-') {
            p = end + 1;
            if (sizes ? parse_size_prefix(p, &hi, &end) : parse_u64(p, &v64, &end)) goto bad;
            if (!sizes) hi = (size_t)v64;
            if (hi < lo) {
                bench_err("%s: range '%.*s' runs backwards", option, (int)(end - text), text);
                return -1;
            }
        }
        if (lo < min || hi > max) {
            bench_err("%s: values must lie in %zu..%zu, got '%s'", option, min, max, text);
            return -1;
        }
        for (size_t v = lo; v <= hi; v *= 2) {
            if (n == BENCH_MAX_LIST) {
                bench_err("%s: more than %d values", option, BENCH_MAX_LIST);
                return -1;
            }
            values[n++] = v;
            if (v > hi / 2) break; /* also guards v *= 2 against overflow */
        }
        if (*end == '\0') break;
        if (*end != ',') goto bad;
        p = end + 1;
    }
    *count = n;
    return 0;
bad:
    bench_err("%s: cannot parse '%s' (expected e.g. %s)", option, text,
              sizes ? "4K,64K,1M or 4K-1M" : "1,16,256 or 1-256");
    return -1;
}

static int parse_count(const char *option, const char *text, uint64_t min, uint64_t max,
                       uint64_t *out) {
    if (parse_u64(text, out, NULL) != 0 || *out < min || *out > max) {
        bench_err("%s: expected an integer in %llu..%llu, got '%s'", option,
                  (unsigned long long)min, (unsigned long long)max, text);
        return -1;
    }
    return 0;
}

static int parse_buffer_pool(const char *text, char *out, size_t out_len) {
    uint64_t num, size;
    const char *p;

    if (parse_u64(text, &num, &p) != 0 || *p != ':' || parse_u64(p + 1, &size, &p) != 0 ||
        (*p != '\0' && !((*p == 'M' || *p == 'm') && p[1] == '\0'))) {
        bench_err("--buffer-pool: expected NUM:SIZE (SIZE in MiB), e.g. 4:8 or 0:0, got '%s'",
                  text);
        return -1;
    }
    if (num > MAX_POOL || size > MAX_POOL) {
        bench_err("--buffer-pool: NUM and SIZE must each be 0..%u, got '%s'", MAX_POOL, text);
        return -1;
    }
    if ((num == 0) != (size == 0)) {
        bench_err("--buffer-pool: use 0:0 to turn the pool off, got '%s'", text);
        return -1;
    }
    snprintf(out, out_len, "%llu:%llu", (unsigned long long)num, (unsigned long long)size);
    return 0;
}

static int copy_name(const char *option, const char *text, char *out, size_t out_len,
                     bool need_port) {
    char host[BENCH_NAME_LEN];
    int port;

    if (strlen(text) >= out_len || bench_net_split(text, host, sizeof(host), &port) != 0) {
        bench_err("%s: expected a numeric IP, IP:PORT or [IPv6]:PORT, got '%s'", option, text);
        return -1;
    }
    if (need_port && port < 0) {
        bench_err("%s: '%s' needs a port (IP:PORT)", option, text);
        return -1;
    }
    strcpy(out, text);
    return 0;
}

static void set_defaults(bench_args_t *a) {
    static const size_t blocks[] = {4096, 65536, 262144, 1048576, 16777216};
    static const size_t batches[] = {1, 16, 256};

    memset(a, 0, sizeof(*a));
    a->role = BENCH_ROLE_LOCAL;
    a->control_port = -1;
    a->region_size = (size_t)256 << 20;
    a->op_write = true;
    a->op_read = true;
    memcpy(a->block_sizes, blocks, sizeof(blocks));
    a->num_block_sizes = sizeof(blocks) / sizeof(blocks[0]);
    memcpy(a->batch_sizes, batches, sizeof(batches));
    a->num_batch_sizes = sizeof(batches) / sizeof(batches[0]);
    a->max_batch_bytes = (size_t)64 << 20;
    a->threads = 1;
    a->duration_s = 1.0;
    a->max_iters = 1000000;
    a->warmup = 5;
    a->memory = BENCH_MEM_REGISTERED;
    a->timeout_ms = 30000;
}

/* Which options apply to which role, so that a misplaced one is an error rather than
 * silently ignored (e.g. --op on a target, which never initiates). */
static int check_roles(const bench_args_t *a, const bool *seen) {
    static const int target_only[] = {OPT_LISTEN, OPT_CONTROL_PORT, OPT_REGION_SIZE,
                                      OPT_EXIT_ON_EOF};
    static const int initiator_only[] = {OPT_TARGET, OPT_CONTROL, OPT_LOCAL, OPT_STOP_TARGET};
    static const int not_initiator[] = {OPT_TARGET_MEMORY};
    static const int sweep[] = {OPT_OP,      OPT_BLOCK_SIZES, OPT_BATCH_SIZES, OPT_MAX_BATCH_BYTES,
                                OPT_THREADS, OPT_DURATION,    OPT_ITERS,       OPT_MAX_ITERS,
                                OPT_WARMUP,  OPT_ASYNC,       OPT_MEMORY,      OPT_VERIFY,
                                OPT_TIMEOUT, OPT_JSON};
    const char *role = a->role == BENCH_ROLE_TARGET      ? "--role target"
                       : a->role == BENCH_ROLE_INITIATOR ? "--role initiator"
                                                         : "a one-host run (no --role)";

    for (size_t i = 0; i < sizeof(target_only) / sizeof(target_only[0]); i++) {
        if (a->role != BENCH_ROLE_TARGET && seen[target_only[i] - OPT_ROLE]) {
            bench_err("--%s applies to --role target only, not to %s", option_name(target_only[i]),
                      role);
            return -1;
        }
    }
    for (size_t i = 0; i < sizeof(initiator_only) / sizeof(initiator_only[0]); i++) {
        if (a->role != BENCH_ROLE_INITIATOR && seen[initiator_only[i] - OPT_ROLE]) {
            bench_err("--%s applies to --role initiator only, not to %s",
                      option_name(initiator_only[i]), role);
            return -1;
        }
    }
    for (size_t i = 0; i < sizeof(not_initiator) / sizeof(not_initiator[0]); i++) {
        if (a->role == BENCH_ROLE_INITIATOR && seen[not_initiator[i] - OPT_ROLE]) {
            bench_err("--%s describes the target's region: give it to the target (an "
                      "initiator learns it from the target)",
                      option_name(not_initiator[i]));
            return -1;
        }
    }
    for (size_t i = 0; i < sizeof(sweep) / sizeof(sweep[0]); i++) {
        if (a->role == BENCH_ROLE_TARGET && seen[sweep[i] - OPT_ROLE]) {
            bench_err("--%s applies to the initiator; a target only serves", option_name(sweep[i]));
            return -1;
        }
    }
    if (a->role == BENCH_ROLE_TARGET && a->listen[0] == '\0') {
        bench_err("--role target needs --listen IP:PORT");
        return -1;
    }
    if (a->role == BENCH_ROLE_INITIATOR && a->target[0] == '\0') {
        bench_err("--role initiator needs --target IP:PORT (the name the target printed)");
        return -1;
    }
    return 0;
}

static int check_combinations(const bench_args_t *a, const bool *seen) {
    if (seen[OPT_DURATION - OPT_ROLE] && seen[OPT_ITERS - OPT_ROLE]) {
        bench_err("give either --duration or --iters, not both");
        return -1;
    }
    if (a->iters > a->max_iters) {
        bench_err("--iters %llu exceeds --max-iters %llu", (unsigned long long)a->iters,
                  (unsigned long long)a->max_iters);
        return -1;
    }
    if ((a->memory == BENCH_MEM_UNREGISTERED || a->memory == BENCH_MEM_MALLOC) &&
        strcmp(a->buffer_pool, "0:0") == 0) {
        bench_err("--memory %s needs the transit pool: adxl refuses unregistered local "
                  "memory with --buffer-pool 0:0",
                  bench_memory_name(a->memory));
        return -1;
    }
    if ((a->memory == BENCH_MEM_DEVICE || a->target_device) &&
        strcmp(a->device_runtime, "none") == 0) {
        bench_err("device memory needs a runtime: --device-runtime none leaves none");
        return -1;
    }
    if (a->role != BENCH_ROLE_TARGET) {
        bool any = false;
        for (size_t i = 0; i < a->num_block_sizes && !any; i++) {
            for (size_t j = 0; j < a->num_batch_sizes && !any; j++) {
                any = a->block_sizes[i] <= a->max_batch_bytes / a->batch_sizes[j];
            }
        }
        if (!any) {
            bench_err("every block x batch combination exceeds --max-batch-bytes; nothing to "
                      "run");
            return -1;
        }
    }
    return 0;
}

static int apply_option(bench_args_t *a, int opt, const char *val) {
    uint64_t n;
    size_t size;

    switch (opt) {
    case OPT_ROLE:
        if (strcmp(val, "target") == 0) {
            a->role = BENCH_ROLE_TARGET;
        } else if (strcmp(val, "initiator") == 0) {
            a->role = BENCH_ROLE_INITIATOR;
        } else {
            bench_err("--role: expected target or initiator, got '%s'", val);
            return -1;
        }
        return 0;
    case OPT_LISTEN:
        return copy_name("--listen", val, a->listen, sizeof(a->listen), true);
    case OPT_CONTROL_PORT:
        if (parse_count("--control-port", val, 0, 65535, &n) != 0) return -1;
        a->control_port = (int)n;
        return 0;
    case OPT_REGION_SIZE:
        if (bench_parse_size(val, &size) != 0 || size == 0) {
            bench_err("--region-size: expected a positive size such as 256M, got '%s'", val);
            return -1;
        }
        a->region_size = size;
        return 0;
    case OPT_EXIT_ON_EOF:
        a->exit_on_stdin_eof = true;
        return 0;
    case OPT_TARGET:
        return copy_name("--target", val, a->target, sizeof(a->target), true);
    case OPT_CONTROL:
        return copy_name("--control", val, a->control, sizeof(a->control), true);
    case OPT_LOCAL:
        if (copy_name("--local", val, a->local, sizeof(a->local), false) != 0) return -1;
        if (strchr(val, ']') ? strstr(val, "]:") != NULL : strchr(val, ':') != NULL) {
            bench_err("--local: give an IP without port (the initiator is client-only)");
            return -1;
        }
        return 0;
    case OPT_STOP_TARGET:
        a->stop_target = true;
        return 0;
    case OPT_OP:
        a->op_read = strcmp(val, "read") == 0 || strcmp(val, "both") == 0;
        a->op_write = strcmp(val, "write") == 0 || strcmp(val, "both") == 0;
        if (!a->op_read && !a->op_write) {
            bench_err("--op: expected read, write or both, got '%s'", val);
            return -1;
        }
        return 0;
    case OPT_BLOCK_SIZES:
        return parse_list("--block-sizes", val, true, 1, (size_t)1 << 30, a->block_sizes,
                          &a->num_block_sizes);
    case OPT_BATCH_SIZES:
        return parse_list("--batch-sizes", val, false, 1, MAX_BATCH, a->batch_sizes,
                          &a->num_batch_sizes);
    case OPT_MAX_BATCH_BYTES:
        if (bench_parse_size(val, &size) != 0 || size == 0 || size > ((size_t)4 << 30)) {
            bench_err("--max-batch-bytes: expected a size in 1..4G, got '%s'", val);
            return -1;
        }
        a->max_batch_bytes = size;
        return 0;
    case OPT_THREADS:
        if (parse_count("--threads", val, 1, MAX_THREADS, &n) != 0) return -1;
        a->threads = (unsigned)n;
        return 0;
    case OPT_DURATION: {
        char *end;
        double d;
        errno = 0;
        d = strtod(val, &end);
        if (end != val && *end == 's') end++;
        if (errno != 0 || end == val || *end != '\0' || !isfinite(d) || d <= 0 || d > 3600) {
            bench_err("--duration: expected seconds in (0, 3600], e.g. 1 or 0.5, got '%s'", val);
            return -1;
        }
        a->duration_s = d;
        return 0;
    }
    case OPT_ITERS:
        return parse_count("--iters", val, 1, UINT32_MAX, &a->iters);
    case OPT_MAX_ITERS:
        return parse_count("--max-iters", val, 1, 100000000u, &a->max_iters);
    case OPT_WARMUP:
        return parse_count("--warmup", val, 0, UINT32_MAX, &a->warmup);
    case OPT_ASYNC:
        if (parse_count("--async", val, 0, MAX_ASYNC, &n) != 0) return -1;
        a->async_depth = (unsigned)n;
        return 0;
    case OPT_MEMORY:
        if (strcmp(val, "registered") == 0) {
            a->memory = BENCH_MEM_REGISTERED;
        } else if (strcmp(val, "unregistered") == 0) {
            a->memory = BENCH_MEM_UNREGISTERED;
        } else if (strcmp(val, "malloc") == 0) {
            a->memory = BENCH_MEM_MALLOC;
        } else if (strcmp(val, "device") == 0) {
            a->memory = BENCH_MEM_DEVICE;
        } else {
            bench_err("--memory: expected registered, unregistered, malloc or device, got '%s'",
                      val);
            return -1;
        }
        return 0;
    case OPT_VERIFY:
        a->verify_all = true;
        return 0;
    case OPT_TIMEOUT:
        if (parse_count("--timeout-ms", val, 1, INT32_MAX, &n) != 0) return -1;
        a->timeout_ms = (int32_t)n;
        return 0;
    case OPT_TRANSPORT:
        if (strcmp(val, "auto") != 0 && strcmp(val, "tcp") != 0 && strcmp(val, "shm") != 0 &&
            strcmp(val, "ucx") != 0) {
            bench_err("--transport: expected auto, tcp, shm or ucx, got '%s'", val);
            return -1;
        }
        strcpy(a->transport, val);
        return 0;
    case OPT_SHM_PATH:
        if (strcmp(val, "auto") != 0 && strcmp(val, "cma") != 0 && strcmp(val, "staging") != 0) {
            bench_err("--shm-path: expected auto, cma or staging, got '%s'", val);
            return -1;
        }
        strcpy(a->shm_path, val);
        return 0;
    case OPT_BUFFER_POOL:
        return parse_buffer_pool(val, a->buffer_pool, sizeof(a->buffer_pool));
    case OPT_STREAMS:
        if (parse_count("--streams", val, 1, MAX_STREAMS, &n) != 0) return -1;
        a->streams = (unsigned)n;
        return 0;
    case OPT_TARGET_MEMORY:
        if (strcmp(val, "host") != 0 && strcmp(val, "device") != 0) {
            bench_err("--target-memory: expected host or device, got '%s'", val);
            return -1;
        }
        a->target_device = strcmp(val, "device") == 0;
        return 0;
    case OPT_DEVICE_RUNTIME:
        if (strcmp(val, "auto") != 0 && strcmp(val, "none") != 0 && strcmp(val, "cuda") != 0 &&
            strcmp(val, "ascend") != 0) {
            bench_err("--device-runtime: expected auto, cuda, ascend or none, got '%s'", val);
            return -1;
        }
        strcpy(a->device_runtime, val);
        return 0;
    case OPT_JSON:
        if (*val == '\0') {
            bench_err("--json: empty file name");
            return -1;
        }
        a->json_path = val;
        return 0;
    default:
        return -1;
    }
}

int bench_args_parse(int argc, char **argv, bench_args_t *a) {
    bool seen[OPT_END - OPT_ROLE] = {false};
    int opt;

    set_defaults(a);
    opterr = 0; /* our own messages: getopt's do not say what was expected */
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        if (opt == OPT_HELP) {
            bench_args_usage(stdout);
            return 1;
        }
        if (opt == '?' || opt == ':') {
            const char *arg = argv[optind - 1];
            if (optopt != 0 && strncmp(arg, "--", 2) == 0) {
                bench_err("option '%s' needs a value (see --help)", arg);
            } else {
                bench_err("unknown option '%s' (see --help)", arg);
            }
            return -1;
        }
        if (seen[opt - OPT_ROLE]) {
            bench_err("option --%s given twice", option_name(opt));
            return -1;
        }
        seen[opt - OPT_ROLE] = true;
        if (apply_option(a, opt, optarg) != 0) return -1;
    }
    if (optind < argc) {
        bench_err("unexpected argument '%s' (options start with --; see --help)", argv[optind]);
        return -1;
    }
    if (check_roles(a, seen) != 0 || check_combinations(a, seen) != 0) return -1;
    return 0;
}
