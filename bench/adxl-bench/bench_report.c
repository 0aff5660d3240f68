/* Table and JSON output of a sweep; see bench_report.h. */
#include "bench_report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bench_device.h"
#include "bench_path.h"
#include "bench_util.h"

const char *bench_op_name(adxl_transfer_op_t op) {
    return op == ADXL_READ ? "read" : "write";
}

const char *bench_row_mode(const bench_row_t *row) {
    if (!row->have_modes || (row->direct == 0 && row->buffered == 0)) return "-";
    if (row->buffered == 0) return "direct";
    if (row->direct == 0) return "buffered";
    return "mixed";
}

const char *bench_memory_kind_name(adxl_mem_type_t kind) {
    return kind == ADXL_MEM_DEVICE ? "device" : "host";
}

void bench_report_intro(FILE *out, const bench_args_t *a) {
    char calls[96], length[64];

    if (a->async_depth == 0) {
        snprintf(calls, sizeof(calls), "one adxl_transfer_sync call");
    } else {
        snprintf(calls, sizeof(calls), "one adxl_transfer_async call (%u in flight a thread)",
                 a->async_depth);
    }
    if (a->iters != 0) {
        snprintf(length, sizeof(length), "%llu times a thread", (unsigned long long)a->iters);
    } else {
        snprintf(length, sizeof(length), "for %g s", a->duration_s);
    }
    fprintf(
        out,
        "Each row: batches of BATCH descriptors of BLOCK bytes, timed %s after %llu untimed\n"
        "ones; each batch is %s.\n"
        "GB/s: payload, 1e9 bytes/s; ops/s: descriptors/s; p50/p99/max: one batch's latency%s;\n"
        "mode: direct (zero-copy) or buffered (through adxl's transit pool).\n",
        length, (unsigned long long)a->warmup, calls,
        a->async_depth ? ", submit to completion" : "");
}

/* The initiator's buffers in a word: how host ones were allocated, or whose device. */
static const char *initiator_detail(const bench_args_t *a) {
    const char *runtime = bench_device_name();
    if (a->memory != BENCH_MEM_DEVICE) return bench_memory_name(a->memory);
    return runtime != NULL ? runtime : "?";
}

void bench_report_table_header(FILE *out, adxl_transfer_op_t op, const bench_args_t *a,
                               bool target_device, unsigned ways) {
    adxl_mem_type_t local = a->memory == BENCH_MEM_DEVICE ? ADXL_MEM_DEVICE : ADXL_MEM_HOST;
    adxl_mem_type_t remote = target_device ? ADXL_MEM_DEVICE : ADXL_MEM_HOST;
    char depth[32], path[256];
    const char *ucx_tls;

    if (a->async_depth == 0) {
        snprintf(depth, sizeof(depth), "sync");
    } else {
        snprintf(depth, sizeof(depth), "async depth %u", a->async_depth);
    }
    bench_path_describe(ways, path, sizeof(path));
    fprintf(out, "\n%s: %u thread%s, %s, initiator %s memory (%s), target %s memory, %s\n",
            op == ADXL_READ ? "READ" : "WRITE", a->threads, a->threads == 1 ? "" : "s", depth,
            bench_memory_kind_name(local), initiator_detail(a), bench_memory_kind_name(remote),
            a->verify_all ? "every batch verified (timings include it)"
                          : "first batch of each row verified");
    ucx_tls = getenv("UCX_TLS");
    fprintf(out, "via %s (Transport %s%s%s)\n", path, a->transport[0] ? a->transport : "auto",
            (ways & BENCH_PATH_UCX) && ucx_tls ? ", UCX_TLS=" : "",
            (ways & BENCH_PATH_UCX) && ucx_tls ? ucx_tls : "");
    fprintf(out, "%7s %6s %9s %11s %9s %9s %9s  %s\n", "block", "batch", "GB/s", "ops/s", "p50 us",
            "p99 us", "max us", "mode");
}

void bench_report_table_row(FILE *out, const bench_row_t *r, unsigned table_ways) {
    char block[32], via[64] = "";

    bench_format_size(r->block, block, sizeof(block));
    if (r->have_modes && r->ways != table_ways) {
        char ways[48];
        bench_path_short(r->ways, ways, sizeof(ways));
        snprintf(via, sizeof(via), ", via %s", ways);
    }
    fprintf(out, "%7s %6zu %9.3f %11.0f %9.1f %9.1f %9.1f  %s%s\n", block, r->batch, r->gbps,
            r->ops_per_s, r->lat.p50_us, r->lat.p99_us, r->lat.max_us, bench_row_mode(r), via);
    fflush(out);
}

void bench_report_skipped_row(FILE *out, size_t block, size_t batch, const bench_args_t *a) {
    char block_text[32], bytes[32], max[32];

    bench_format_size(block, block_text, sizeof(block_text));
    bench_format_size(block * batch, bytes, sizeof(bytes));
    bench_format_size(a->max_batch_bytes, max, sizeof(max));
    fprintf(out, "%7s %6zu  skipped: a batch of %s is over --max-batch-bytes %s\n", block_text,
            batch, bytes, max);
    fflush(out);
}

/* Engine names are numeric addresses; still, quote anything JSON would choke on. */
static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
        } else {
            fputc(c, f);
        }
    }
    fputc('"', f);
}

static void json_string_or_null(FILE *f, const char *s) {
    if (s[0] == '\0') {
        fputs("null", f);
    } else {
        json_string(f, s);
    }
}

static void json_config(FILE *f, const bench_args_t *a, const char *target, bool target_device) {
    const char *runtime = bench_device_name();

    fprintf(f, "  \"config\": {\n    \"target\": ");
    json_string(f, target);
    fprintf(f, ",\n    \"threads\": %u,\n    \"async_depth\": %u,\n    \"memory\": \"%s\",\n",
            a->threads, a->async_depth, bench_memory_name(a->memory));
    /* The kinds each side's bytes lived in, and the runtime this side used for its own. */
    fprintf(f,
            "    \"initiator_memory_kind\": \"%s\",\n    \"target_memory_kind\": \"%s\",\n"
            "    \"device_runtime\": ",
            bench_memory_kind_name(a->memory == BENCH_MEM_DEVICE ? ADXL_MEM_DEVICE : ADXL_MEM_HOST),
            bench_memory_kind_name(target_device ? ADXL_MEM_DEVICE : ADXL_MEM_HOST));
    json_string_or_null(f, runtime != NULL ? runtime : "");
    fputs(",\n", f);
    if (a->iters != 0) {
        fprintf(f, "    \"iters\": %" PRIu64 ",\n", a->iters);
    } else {
        fprintf(f, "    \"duration_s\": %g,\n", a->duration_s);
    }
    fprintf(f, "    \"warmup\": %" PRIu64 ",\n    \"verify_all\": %s,\n    \"timeout_ms\": %d,\n",
            a->warmup, a->verify_all ? "true" : "false", (int)a->timeout_ms);
    /* Engine options the user left alone are null: the library's default applied. */
    fprintf(f, "    \"transport\": ");
    json_string_or_null(f, a->transport);
    fprintf(f, ",\n    \"shm_path\": ");
    json_string_or_null(f, a->shm_path);
    fprintf(f, ",\n    \"buffer_pool\": ");
    json_string_or_null(f, a->buffer_pool);
    if (a->streams != 0) {
        fprintf(f, ",\n    \"streams\": %u\n  },\n", a->streams);
    } else {
        fprintf(f, ",\n    \"streams\": null\n  },\n");
    }
}

FILE *bench_report_json_open(const char *path) {
    FILE *f = fopen(path, "w");
    if (f == NULL) bench_err("--json: cannot write '%s': %s", path, strerror(errno));
    return f;
}

int bench_report_json(FILE *f, const char *path, const bench_args_t *a, const char *target,
                      bool target_device, const bench_row_t *rows, size_t n, bool complete) {
    bool bad;

    fprintf(f, "{\n  \"tool\": \"adxl-bench\",\n  \"adxl_version\": ");
    json_string(f, adxl_version());
    fprintf(f, ",\n  \"complete\": %s,\n", complete ? "true" : "false");
    json_config(f, a, target, target_device);
    fprintf(f, "  \"rows\": [");
    for (size_t i = 0; i < n; i++) {
        const bench_row_t *r = &rows[i];
        fprintf(f,
                "%s\n    {\"op\": \"%s\", \"block_size\": %zu, \"batch\": %zu, "
                "\"batches\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"seconds\": %.6f, "
                "\"gbps\": %.6f, \"ops_per_s\": %.1f, \"latency_us\": {\"p50\": %.3f, "
                "\"p90\": %.3f, \"p99\": %.3f, \"p99.9\": %.3f, \"max\": %.3f, "
                "\"mean\": %.3f}, \"mode\": \"%s\"",
                i ? "," : "", bench_op_name(r->op), r->block, r->batch, r->batches, r->bytes,
                r->seconds, r->gbps, r->ops_per_s, r->lat.p50_us, r->lat.p90_us, r->lat.p99_us,
                r->lat.p999_us, r->lat.max_us, r->lat.mean_us, bench_row_mode(r));
        if (r->have_modes) {
            fprintf(f, ", \"batches_direct\": %" PRIu64 ", \"batches_buffered\": %" PRIu64,
                    r->direct, r->buffered);
        }
        fputc('}', f);
    }
    fprintf(f, "\n  ]\n}\n");
    bad = ferror(f) != 0;
    if (fclose(f) != 0) bad = true;
    if (bad) {
        bench_err("--json: error writing '%s'", path);
        return -1;
    }
    return 0;
}
