/*
 * HELLO_ACK, as an initiator reads it during connect: 12 fixed bytes, then the target's
 * name. Acceptance must agree with the reference (magic, version, name length, and a
 * success status for the connect to go on), and an accepted HELLO_ACK must encode back
 * to exactly the bytes it came from. The bytes after it are read as a probe's answer:
 * a 2-byte length, then the target's host facts, accepted exactly when the reference
 * accepts them (docs/WIRE.md), and then they must encode back to the same bytes.
 */
#include "fuzz.h"
#include "fuzz_ref.h"
#include "net/host_facts.h"
#include "transport/tcp/tcp_parse.h"

#include <adxl/adxl.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    if (size < TCP_HELLO_ACK_FIXED) return 0; /* connect waits for more, then times out */
    tcp_hello_ack_t a;
    memset(&a, 0xEE, sizeof(a));
    bool ok = tcp_hello_ack_decode_fixed(data, &a);
    uint64_t name_len = ref_le(data + 6, 2);
    bool ref_ok = ref_le(data, 4) == 0x4C445841u && ref_le(data + 4, 2) == 4 && name_len <= 64;
    FUZZ_CHECK(ok == ref_ok);
    if (!ok) return 0;
    FUZZ_CHECK(a.name_len == name_len && a.status == ref_le(data + 8, 4) &&
               a.flags == ref_le(data + 12, 4) && memcmp(a.nonce, data + 16, 32) == 0 &&
               memcmp(a.proof, data + 48, 32) == 0);
    if (size < TCP_HELLO_ACK_FIXED + name_len) return 0;
    memcpy(a.name, data + TCP_HELLO_ACK_FIXED, a.name_len);
    /* Connect goes on only on success; any other value, known or not, fails it. */
    bool accepted = a.status == ADXL_SUCCESS;
    FUZZ_CHECK(accepted == (ref_le(data + 8, 4) == 0));

    uint8_t again[TCP_HELLO_ACK_FIXED + TCP_HELLO_NAME_MAX];
    size_t len = tcp_hello_ack_encode(again, &a);
    FUZZ_CHECK(len == TCP_HELLO_ACK_FIXED + name_len && memcmp(again, data, len) == 0);

    if (size - len < 2) return 0;
    size_t facts_len = (size_t)ref_le(data + len, 2);
    const uint8_t *facts = data + len + 2;
    if (size - len - 2 < facts_len) return 0;
    adxl_host_facts_t f;
    memset(&f, 0xEE, sizeof(f));
    bool facts_ok = adxl_host_facts_decode(facts, facts_len, &f);
    FUZZ_CHECK(facts_ok == ref_facts_ok(facts, facts_len));
    if (!facts_ok) return 0;
    FUZZ_CHECK(memcmp(f.boot_id, facts, 16) == 0 && f.pid_ns == ref_le(facts + 16, 8) &&
               f.net_ns == ref_le(facts + 24, 8) && f.pid == ref_le(facts + 32, 4) &&
               f.uid == ref_le(facts + 36, 4) && f.noffers == facts[40]);
    /* Each offer is found by its name, with its bytes. */
    size_t at = 41;
    for (unsigned i = 0; i < facts[40]; i++) {
        char name[8] = {0};
        memcpy(name, facts + at + 1, facts[at]);
        at += 1u + facts[at];
        size_t got = 0;
        const uint8_t *bytes = adxl_host_facts_offered(&f, name, &got);
        FUZZ_CHECK(bytes != NULL && got == facts[at] && memcmp(bytes, facts + at + 1, got) == 0);
        at += 1u + facts[at];
    }
    uint8_t back[ADXL_FACTS_WIRE_MAX];
    FUZZ_CHECK(ADXL_FACTS_WIRE_MAX == REF_FACTS_MAX);
    FUZZ_CHECK(adxl_host_facts_encode(back, &f) == facts_len &&
               memcmp(back, facts, facts_len) == 0);
    return 0;
}
