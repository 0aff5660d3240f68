/*
 * adxl_malloc_mem / adxl_free_mem: argument checks, DEVICE, page alignment, zeroed memory
 * (also when reused), the whole size usable, allocation failure, frees of NULL, foreign,
 * interior and already freed pointers, and many threads at once.
 */
#include "test_api_util.h"

static size_t page_size(void) {
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

static bool is_zero(const uint8_t *p, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (p[i] != 0) {
            fprintf(stderr, "byte %zu of %zu is 0x%02x, expected 0\n", i, len, p[i]);
            return false;
        }
    return true;
}

static void test_args(void) {
    fprintf(stderr, "-- arguments\n");
    void *p = (void *)(uintptr_t)0x1;
    CHECK_STATUS(adxl_malloc_mem(ADXL_MEM_HOST, 0, &p), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_malloc_mem(ADXL_MEM_HOST, 4096, NULL), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_malloc_mem(ADXL_MEM_HOST, 0, NULL), ADXL_PARAM_INVALID);
    p = NULL;
    CHECK_STATUS(adxl_malloc_mem(ADXL_MEM_DEVICE, 4096, &p), ADXL_UNSUPPORTED);
    CHECK_STATUS(adxl_free_mem(NULL), ADXL_PARAM_INVALID);

    /* Far more than the address space: RESOURCE_EXHAUSTED, not a crash or a tiny block. */
    p = NULL;
    CHECK_STATUS(adxl_malloc_mem(ADXL_MEM_HOST, SIZE_MAX / 2, &p), ADXL_RESOURCE_EXHAUSTED);
    p = NULL;
    CHECK_STATUS(adxl_malloc_mem(ADXL_MEM_HOST, SIZE_MAX, &p), ADXL_RESOURCE_EXHAUSTED);
    p = NULL;
    CHECK_STATUS(adxl_malloc_mem(ADXL_MEM_HOST, SIZE_MAX - page_size() + 2, &p),
                 ADXL_RESOURCE_EXHAUSTED);
}

static void test_sizes(void) {
    fprintf(stderr, "-- sizes, alignment, zeroing\n");
    const size_t pg = page_size();
    const size_t sizes[] = {1, 7, 100, pg - 1, pg, pg + 1, 3 * pg, (1u << 20) + 1, 64u << 20};
    void *ptrs[sizeof(sizes) / sizeof(sizes[0])];
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        void *p = NULL;
        CHECK_STATUS(adxl_malloc_mem(ADXL_MEM_HOST, sizes[i], &p), ADXL_SUCCESS);
        ptrs[i] = p;
        CHECK(p != NULL);
        if (p == NULL) continue;
        CHECK((uintptr_t)p % pg == 0);
        CHECK(is_zero(p, sizes[i]));
        /* Every byte usable. */
        tu_fill(p, sizes[i], sizes[i]);
        CHECK(tu_verify(p, sizes[i], sizes[i]));
        for (size_t j = 0; j < i; j++)
            CHECK(ptrs[j] != p);
    }
    /* Each block still holds its own data (no overlap between blocks). */
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        if (ptrs[i] != NULL) CHECK(tu_verify(ptrs[i], sizes[i], sizes[i]));
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        if (ptrs[i] != NULL) CHECK_STATUS(adxl_free_mem(ptrs[i]), ADXL_SUCCESS);

    /* Reuse: dirty a block, free it, allocate the same size again: zeroed. */
    for (int round = 0; round < 20; round++) {
        size_t len = round % 2 ? 8192 : 100;
        void *p = NULL;
        CHECK_STATUS(adxl_malloc_mem(ADXL_MEM_HOST, len, &p), ADXL_SUCCESS);
        if (p == NULL) continue;
        CHECK(is_zero(p, len));
        memset(p, 0xee, len);
        CHECK_STATUS(adxl_free_mem(p), ADXL_SUCCESS);
    }
}

static void test_bad_frees(void) {
    fprintf(stderr, "-- frees of foreign, interior and freed pointers\n");
    void *p = NULL;
    CHECK_STATUS(adxl_malloc_mem(ADXL_MEM_HOST, 3 * page_size(), &p), ADXL_SUCCESS);
    REQUIRE(p != NULL);
    tu_fill(p, 3 * page_size(), 9);

    void *m = malloc(4096);
    REQUIRE(m != NULL);
    memset(m, 0x3c, 4096);
    CHECK_STATUS(adxl_free_mem(m), ADXL_PARAM_INVALID);
    /* The foreign block is untouched and still ours to free. */
    bool intact = true;
    for (size_t i = 0; i < 4096; i++)
        intact = intact && ((uint8_t *)m)[i] == 0x3c;
    CHECK(intact);
    free(m);
    int on_stack = 0;
    CHECK_STATUS(adxl_free_mem(&on_stack), ADXL_PARAM_INVALID);
    static char in_data[64];
    CHECK_STATUS(adxl_free_mem(in_data), ADXL_PARAM_INVALID);
    /* Interior pointers of an adxl block. */
    CHECK_STATUS(adxl_free_mem((uint8_t *)p + 1), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_free_mem((uint8_t *)p + page_size()), ADXL_PARAM_INVALID);
    /* The block survived all of that. */
    CHECK(tu_verify(p, 3 * page_size(), 9));
    CHECK_STATUS(adxl_free_mem(p), ADXL_SUCCESS);
    /* Double free. */
    CHECK_STATUS(adxl_free_mem(p), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_free_mem(p), ADXL_PARAM_INVALID);
}

static void test_many(void) {
    fprintf(stderr, "-- many blocks\n");
    enum { N = 1000 };
    void **ptrs = calloc(N, sizeof(void *));
    REQUIRE(ptrs != NULL);
    int ok = 0;
    for (int i = 0; i < N; i++)
        if (adxl_malloc_mem(ADXL_MEM_HOST, 64 + (size_t)i, &ptrs[i]) == ADXL_SUCCESS &&
            ptrs[i] != NULL) {
            ok++;
            memset(ptrs[i], i & 0xff, 64 + (size_t)i);
        }
    CHECK(ok == N);
    bool intact = true;
    for (int i = 0; i < N; i++)
        if (ptrs[i] != NULL)
            for (size_t b = 0; b < 64 + (size_t)i; b++)
                intact = intact && ((uint8_t *)ptrs[i])[b] == (uint8_t)(i & 0xff);
    CHECK(intact);
    /* Free in an order different from allocation. */
    int freed = 0;
    for (int i = N - 1; i >= 0; i -= 2)
        freed += ptrs[i] != NULL && adxl_free_mem(ptrs[i]) == ADXL_SUCCESS;
    for (int i = N - 2; i >= 0; i -= 2)
        freed += ptrs[i] != NULL && adxl_free_mem(ptrs[i]) == ADXL_SUCCESS;
    CHECK(freed == N);
    free(ptrs);
}

static void *thread_fn(void *arg) {
    int *failures = arg;
    for (int i = 0; i < 300; i++) {
        void *p = NULL;
        size_t len = 1 + (size_t)(i * 37) % 20000;
        if (adxl_malloc_mem(ADXL_MEM_HOST, len, &p) != ADXL_SUCCESS || p == NULL) {
            (*failures)++;
            continue;
        }
        if (!is_zero(p, len)) (*failures)++;
        memset(p, 0xab, len);
        if (adxl_free_mem(p) != ADXL_SUCCESS) (*failures)++;
    }
    return NULL;
}

static void test_threads(void) {
    fprintf(stderr, "-- threads\n");
    enum { NT = 4 };
    pthread_t th[NT];
    int failures[NT] = {0};
    for (int k = 0; k < NT; k++)
        REQUIRE(pthread_create(&th[k], NULL, thread_fn, &failures[k]) == 0);
    int total = 0;
    for (int k = 0; k < NT; k++) {
        pthread_join(th[k], NULL);
        total += failures[k];
    }
    CHECK(total == 0);
}

static void test_with_engine(void) {
    fprintf(stderr, "-- adxl memory in a transfer\n");
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    adxl_engine_t *e = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(t != NULL && e != NULL);
    ta_region_t tr, er;
    REQUIRE(ta_region_alloc(&tr, t, 2u << 20));
    REQUIRE(ta_region_alloc(&er, e, 2u << 20));
    CHECK(is_zero(tr.ptr, tr.len));
    CHECK_STATUS(adxl_connect(e, adxl_local_engine(t), 5000), ADXL_SUCCESS);
    tu_fill(er.ptr, er.len, 31);
    CHECK_STATUS(ta_xfer(e, adxl_local_engine(t), ADXL_WRITE, er.ptr, tr.ptr, er.len, 10000),
                 ADXL_SUCCESS);
    CHECK(tu_verify(tr.ptr, tr.len, 31));
    ta_region_free(&er, e);
    ta_region_free(&tr, t);
    adxl_engine_destroy(e);
    adxl_engine_destroy(t);
}

/* Last, since a library that peeks at a header before the pointer would crash here. */
static void test_unmapped_free(void) {
    CHECK_STATUS(adxl_free_mem((void *)(uintptr_t)0x1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_free_mem((void *)(uintptr_t)0x10), ADXL_PARAM_INVALID);
}

int main(void) {
    test_args();
    test_sizes();
    test_bad_frees();
    test_many();
    test_threads();
    test_with_engine();
    test_unmapped_free();
    return tu_finish();
}
