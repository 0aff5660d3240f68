/*
 * The target's NOTIFY body: u32 name length, u32 message length, the name, the message.
 * The input is the body (its length is the frame's). Acceptance must agree with the
 * reference, and an accepted notify must come out of the engine's real queue exactly as
 * sent, as the NUL-terminated strings the application gets.
 */
#include "fuzz.h"
#include "fuzz_ref.h"
#include "core/notify_queue.h"
#include "transport/tcp/tcp_parse.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    /* The header check bounds the body before it is read. */
    tcp_frame_header_t h = {.type = TCP_FRAME_NOTIFY, .length = size};
    size_t meta_len = 0;
    bool header_ok = tcp_request_header_check(&h, &meta_len);
    FUZZ_CHECK(header_ok == (size >= 8 && size <= 8 + 2 * ADXL_NOTIFY_MAX_LEN));
    if (!header_ok) return 0;
    FUZZ_CHECK(meta_len == size);

    tcp_notify_body_t n;
    bool ok = tcp_notify_decode(data, size, &n);
    uint64_t name_len = ref_le(data, 4), msg_len = ref_le(data + 4, 4);
    bool ref_ok = name_len <= ADXL_NOTIFY_MAX_LEN && msg_len <= ADXL_NOTIFY_MAX_LEN &&
                  8 + name_len + msg_len == size && !memchr(data + 8, 0, size - 8);
    FUZZ_CHECK(ok == ref_ok);
    if (!ok) return 0;
    FUZZ_CHECK(n.name == (const char *)data + 8 && n.name_len == name_len);
    FUZZ_CHECK(n.msg == n.name + name_len && n.msg_len == msg_len);

    adxl_notify_queue_t q;
    adxl_notify_queue_init(&q);
    adxl_notify_source_t *src = adxl_notify_source_new();
    FUZZ_CHECK(src);
    FUZZ_CHECK(adxl_notify_queue_push(&q, src, n.name, n.name_len, n.msg, n.msg_len) ==
               ADXL_SUCCESS);
    static adxl_notify_t out;
    size_t got = 0;
    adxl_notify_queue_pop(&q, &out, 1, &got);
    FUZZ_CHECK(got == 1);
    FUZZ_CHECK(strlen(out.name) == name_len && memcmp(out.name, n.name, name_len) == 0);
    FUZZ_CHECK(strlen(out.msg) == msg_len && memcmp(out.msg, n.msg, msg_len) == 0);
    adxl_notify_source_release(src);
    adxl_notify_queue_destroy(&q);
    return 0;
}
