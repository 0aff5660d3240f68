/*
 * adxl quickstart in C: a target registers a buffer, an initiator connects by name,
 * writes a batch into it, reads it back, and tells the target with a notify.
 * Two engines in one process for brevity; normally they live in two processes or hosts.
 */
#include <adxl/adxl.h>
#include <stdio.h>
#include <string.h>

#define CHECK(call)                                                                                \
    do {                                                                                           \
        adxl_status_t st_ = (call);                                                                \
        if (st_ != ADXL_SUCCESS) {                                                                 \
            fprintf(stderr, "%s: %s (%u)\n", #call, adxl_status_str(st_), st_);                    \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

int main(void) {
    adxl_engine_t *target = NULL, *initiator = NULL;
    CHECK(adxl_engine_create(&target));
    CHECK(adxl_engine_create(&initiator));
    CHECK(adxl_initialize(target, "127.0.0.1:0", NULL, 0));  /* port 0: the OS picks */
    CHECK(adxl_initialize(initiator, "127.0.0.1", NULL, 0)); /* client-only */
    const char *name = adxl_local_engine(target);

    void *region = NULL;
    CHECK(adxl_malloc_mem(ADXL_MEM_HOST, 1 << 20, &region));
    adxl_mem_desc_t desc = {(uintptr_t)region, 1 << 20};
    adxl_mem_handle_t handle;
    CHECK(adxl_register_mem(target, &desc, ADXL_MEM_HOST, &handle));

    CHECK(adxl_connect(initiator, name, 1000));
    char out[4096], back[4096];
    memset(out, 'q', sizeof(out));
    adxl_transfer_op_desc_t w = {(uintptr_t)out, (uintptr_t)region + 4096, sizeof(out)};
    CHECK(adxl_transfer_sync(initiator, name, ADXL_WRITE, &w, 1, 1000));
    adxl_transfer_op_desc_t r = {(uintptr_t)back, (uintptr_t)region + 4096, sizeof(back)};
    CHECK(adxl_transfer_sync(initiator, name, ADXL_READ, &r, 1, 1000));
    CHECK(adxl_send_notify(initiator, name, "done", "quickstart", 1000));
    adxl_notify_t note;
    size_t count = 0;
    while (count == 0) /* send_notify returned: it is queued at the target already */
        CHECK(adxl_get_notifies(target, &note, 1, &count));
    int ok = memcmp(out, back, sizeof(out)) == 0 && strcmp(note.msg, "quickstart") == 0;
    printf("quickstart (C): wrote and read back 4096 bytes via %s, notify '%s': %s\n", name,
           note.name, ok ? "ok" : "MISMATCH");

    CHECK(adxl_disconnect(initiator, name, 1000));
    CHECK(adxl_deregister_mem(target, handle));
    adxl_engine_destroy(initiator);
    adxl_engine_destroy(target);
    CHECK(adxl_free_mem(region));
    return ok ? 0 : 1;
}
