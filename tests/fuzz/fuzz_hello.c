/*
 * HELLO, as the target reads it from a new connection: 20 fixed bytes, then the
 * initiator's name. Acceptance must agree with the reference (magic, version, name
 * length, stream index and count, where count 0 with index 0 is a probe for the host
 * facts, printable name), and an accepted HELLO must encode
 * back to exactly the bytes it came from.
 */
#include "fuzz.h"
#include "fuzz_ref.h"
#include "transport/tcp/tcp_parse.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    if (size < TCP_HELLO_FIXED) return 0; /* the target waits for more, then times out */
    tcp_hello_t h;
    memset(&h, 0xEE, sizeof(h)); /* no field may be left undecoded */
    bool ok = tcp_hello_decode_fixed(data, &h);
    uint64_t name_len = ref_le(data + 10, 2), index = ref_le(data + 6, 2),
             count = ref_le(data + 8, 2);
    bool ref_ok = ref_le(data, 4) == 0x4C445841u && ref_le(data + 4, 2) == 4 && name_len <= 64 &&
                  ((count >= 1 && index < count) || (count == 0 && index == 0));
    FUZZ_CHECK(ok == ref_ok);
    if (!ok) return 0;
    FUZZ_CHECK(h.name_len == name_len && h.stream_index == index && h.stream_count == count &&
               h.link_id == ref_le(data + 12, 8) && h.flags == ref_le(data + 20, 4) &&
               memcmp(h.nonce, data + 24, 32) == 0);
    FUZZ_CHECK(tcp_hello_is_probe(&h) == (count == 0));
    if (size < TCP_HELLO_FIXED + name_len) return 0;

    memcpy(h.name, data + TCP_HELLO_FIXED, h.name_len);
    bool named = tcp_hello_name_valid(h.name, h.name_len);
    bool ref_named = true;
    for (size_t i = 0; i < name_len; i++)
        ref_named = ref_named && data[TCP_HELLO_FIXED + i] > ' ' && data[TCP_HELLO_FIXED + i] < 127;
    FUZZ_CHECK(named == ref_named);
    if (!named) return 0;
    h.name[h.name_len] = '\0';
    FUZZ_CHECK(strlen(h.name) == name_len); /* what the target logs is the whole name */

    uint8_t again[TCP_HELLO_FIXED + TCP_HELLO_NAME_MAX];
    size_t len = tcp_hello_encode(again, &h);
    FUZZ_CHECK(len == TCP_HELLO_FIXED + name_len && memcmp(again, data, len) == 0);
    return 0;
}
