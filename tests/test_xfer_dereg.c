/*
 * The target deregisters a region while an initiator keeps transferring into / out of it
 * (direct and buffered). Once adxl_deregister_mem has returned, no peer reads or writes
 * that region: a sentinel written right after the return stays intact through WRITEs,
 * and no READ that succeeds delivers sentinel bytes. Transfers started afterwards are
 * ADXL_PARAM_INVALID, and the link keeps working for other regions.
 * Device variants (_cuda, _ascend): the same with device memory on both sides (xfer_mem.h).
 */
#include "xfer_common.h"

#include <pthread.h>
#include <stdatomic.h>

#define REGION (16 * XC_MIB)
#define SEED 4321

static xc_pair_t p;
static uint8_t *region;       /* the target memory that gets deregistered */
static adxl_mem_handle_t rh2; /* its handle */
static adxl_transfer_op_t loop_op;
static size_t loop_len;
static atomic_int loop_count;
static atomic_int stop_loop;
static atomic_int bad_status;
static atomic_int bad_read_data;
static atomic_int invalid_after;

static void *loop(void *arg) {
    (void)arg;
    uint8_t *local = loop_op == ADXL_WRITE ? p.lbuf : p.lbuf + REGION;
    while (!atomic_load(&stop_loop)) {
        if (loop_op == ADXL_READ && !xc_set(local, 0, loop_len)) {
            atomic_fetch_add(&bad_status, 1);
            break;
        }
        adxl_status_t st =
            xc_xfer1(p.init, p.tname, loop_op, local, (uintptr_t)region, loop_len, 20000);
        if (st == ADXL_PARAM_INVALID) {
            atomic_fetch_add(&invalid_after, 1);
            continue;
        }
        if (st != ADXL_SUCCESS) {
            fprintf(stderr, "transfer while deregistering: %s\n", adxl_status_str(st));
            atomic_fetch_add(&bad_status, 1);
            break;
        }
        if (loop_op == ADXL_READ) {
            /* a successful READ holds the region's pattern, never the sentinel */
            if (!xc_verify(local, loop_len, SEED)) atomic_fetch_add(&bad_read_data, 1);
        }
        atomic_fetch_add(&loop_count, 1);
    }
    return NULL;
}

static void one(adxl_transfer_op_t op, size_t len, const char *what) {
    REQUIRE((rh2 = xc_register(p.tgt, region, REGION)) != NULL);
    REQUIRE(xc_fill(region, REGION, SEED));
    REQUIRE(xc_fill(p.lbuf, REGION, SEED));
    /* The initiator must know the region again before the loop starts. */
    uint64_t deadline = tu_now_ms() + 10000;
    adxl_status_t st;
    do {
        st = xc_xfer1(p.init, p.tname, ADXL_WRITE, p.lbuf, (uintptr_t)region, 4096, 10000);
    } while (st == ADXL_PARAM_INVALID && tu_now_ms() < deadline && (tu_sleep_ms(5), true));
    REQUIRE(st == ADXL_SUCCESS);

    loop_op = op;
    loop_len = len;
    atomic_store(&loop_count, 0);
    atomic_store(&stop_loop, 0);
    atomic_store(&bad_status, 0);
    atomic_store(&bad_read_data, 0);
    atomic_store(&invalid_after, 0);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, loop, NULL) == 0);
    deadline = tu_now_ms() + 20000;
    while (atomic_load(&loop_count) < 3 && !atomic_load(&bad_status) && tu_now_ms() < deadline)
        tu_sleep_ms(1);
    CHECK(atomic_load(&loop_count) >= 3);

    CHECK_STATUS(adxl_deregister_mem(p.tgt, rh2), ADXL_SUCCESS);
    /* From here on nobody may touch region. */
    REQUIRE(xc_set(region, 0x77, REGION));
    int count_at_dereg = atomic_load(&loop_count);
    /* Let the loop run into the deregistered region a few times. */
    deadline = tu_now_ms() + 20000;
    while (atomic_load(&invalid_after) < 3 && !atomic_load(&bad_status) && tu_now_ms() < deadline)
        tu_sleep_ms(1);
    atomic_store(&stop_loop, 1);
    pthread_join(th, NULL);
    CHECK(atomic_load(&invalid_after) >= 3);
    CHECK(atomic_load(&bad_status) == 0);
    if (atomic_load(&bad_read_data))
        fprintf(stderr, "%s: %d successful READs delivered bytes written after deregistration\n",
                what, atomic_load(&bad_read_data));
    CHECK(atomic_load(&bad_read_data) == 0);
    /* At most the one transfer in flight at the moment of deregistration succeeds after. */
    CHECK(atomic_load(&loop_count) - count_at_dereg <= 1);

    /* Settle: more traffic on the link, to a region that is still registered. */
    for (int k = 0; k < 3; k++) {
        REQUIRE(xc_fill(p.lbuf + REGION, 4 * XC_MIB, 60 + (uint64_t)k));
        CHECK_STATUS(xc_xfer1(p.init, p.tname, ADXL_WRITE, p.lbuf + REGION, (uintptr_t)p.rbuf,
                              4 * XC_MIB, 20000),
                     ADXL_SUCCESS);
        CHECK(xc_verify(p.rbuf, 4 * XC_MIB, 60 + (uint64_t)k));
    }
    bool intact = xc_all_bytes(region, REGION, 0x77);
    if (!intact)
        fprintf(stderr, "%s: the region was written after adxl_deregister_mem returned\n", what);
    CHECK(intact);
}

int main(void) {
    REQUIRE(xc_pair_open(&p, 2 * REGION, true, 4 * XC_MIB));
    region = xc_alloc(REGION);
    REQUIRE(region != NULL);
    one(ADXL_WRITE, REGION, "direct WRITE");
    one(ADXL_READ, REGION, "direct READ");
    one(ADXL_WRITE, 200 * XC_KIB, "buffered WRITE");
    one(ADXL_READ, 200 * XC_KIB, "buffered READ");
    xc_pair_close(&p);
    xc_free(region);
    return tu_finish();
}
