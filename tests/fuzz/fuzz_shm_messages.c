/*
 * The shm transport's checks of what a same-host peer sends (src/transport/shm/shm_parse.c):
 * control packets (header, HELLO, NOTIFY, REGION_ADD, REGIONS batches, a block's shape
 * before it is mapped) and staging requests copied out of a ring slot. The first byte picks which;
 * every verdict must agree with a reference written here with wider arithmetic.
 */
#include "fuzz.h"
#include "transport/shm/shm_parse.h"

#include <string.h>

/* A REGIONS batch: 32-byte entries (u64 address, u64 length, u32 slot, u32 generation,
 * u32 flags, u32 reserved) that fill the text, as many as arg0 says. */
static void regions(const shm_msg_t *msg) {
    uint32_t count = 0;
    bool ok = shm_regions_valid(msg, &count);
    bool ref = msg->arg[0] >= 1 && msg->arg[0] <= SHM_TEXT_MAX / 32 &&
               (uint64_t)msg->text_len == msg->arg[0] * 32;
    FUZZ_CHECK(ok == ref);
    if (!ok) return;
    FUZZ_CHECK(count == msg->arg[0]);
    for (uint32_t i = 0; i < count; i++) {
        const char *p = msg->text + (size_t)i * 32;
        uint64_t addr, len;
        uint32_t slot, gen, flags, reserved;
        memcpy(&addr, p, 8);
        memcpy(&len, p + 8, 8);
        memcpy(&slot, p + 16, 4);
        memcpy(&gen, p + 20, 4);
        memcpy(&flags, p + 24, 4);
        memcpy(&reserved, p + 28, 4);
        /* Entry flags: bit 0 device, bit 2 removed (bit 1, REGION_ADD's IPC, never here). */
        bool removed = (flags & 4) != 0;
        bool entry_ref = len > 0 && (unsigned __int128)addr + len <= UINT64_MAX &&
                         slot < SHM_MAX_REGIONS && (flags & ~5u) == 0 && reserved == 0 &&
                         (removed ? gen == 0 : gen != 0);
        shm_region_entry_t e;
        bool entry_ok = shm_region_entry(msg, i, &e);
        FUZZ_CHECK(entry_ok == entry_ref);
        FUZZ_CHECK(e.addr == addr && e.len == len && e.slot == slot && e.gen == gen &&
                   e.flags == flags);
    }
}

static void packet(const uint8_t *data, size_t size) {
    shm_msg_t msg;
    if (size > sizeof(msg)) size = sizeof(msg);
    memset(&msg, 0, sizeof(msg));
    memcpy(&msg, data, size);
    bool ok = shm_msg_valid(&msg, size);
    bool ref = size >= SHM_MSG_FIXED && msg.magic == SHM_WIRE_MAGIC &&
               msg.version == SHM_WIRE_VERSION && (uint64_t)msg.text_len <= SHM_TEXT_MAX &&
               (uint64_t)size == SHM_MSG_FIXED + (uint64_t)msg.text_len;
    FUZZ_CHECK(ok == ref);
    if (!ok) return;
    if (msg.type == SHM_MSG_HELLO) {
        bool name_ok = msg.text_len >= 1 && msg.text_len <= 63;
        for (uint32_t i = 0; name_ok && i < msg.text_len; i++)
            name_ok = msg.text[i] > ' ' && msg.text[i] < 127;
        FUZZ_CHECK(shm_hello_valid(&msg) == name_ok);
    } else if (msg.type == SHM_MSG_NOTIFY) {
        size_t name_len = 0;
        unsigned __int128 n = msg.arg[1];
        bool ref_ok = n <= 1024 && n <= msg.text_len && msg.text_len - n <= 1024 &&
                      memchr(msg.text, 0, msg.text_len) == NULL;
        bool got = shm_notify_valid(&msg, &name_len);
        FUZZ_CHECK(got == ref_ok);
        if (got) FUZZ_CHECK(name_len == msg.arg[1] && name_len <= msg.text_len);
    } else if (msg.type == SHM_MSG_REGION_ADD) {
        unsigned __int128 end = (unsigned __int128)msg.arg[0] + msg.arg[1];
        /* Flags: bit 0 device, bit 1 an IPC handle (64 bytes of text) of a device region
         * at offset arg4 of its allocation; any other bit, or text without IPC: refused. */
        bool device = msg.status & 1u, ipc = msg.status & 2u;
        bool flags_ok = (msg.status & ~3u) == 0 &&
                        (ipc ? device && msg.text_len == 64 &&
                                   (unsigned __int128)msg.arg[4] + msg.arg[1] <= UINT64_MAX
                             : msg.text_len == 0);
        bool ref_ok = flags_ok && msg.arg[1] > 0 && end <= UINT64_MAX &&
                      msg.arg[2] < SHM_MAX_REGIONS && msg.arg[3] >= 1 &&
                      msg.arg[3] <= UINT32_MAX;
        FUZZ_CHECK(shm_region_add_valid(&msg) == ref_ok);
        uint64_t block = msg.arg[4];
        bool shape = block > 0 && block % 4096 == 0 && msg.arg[1] <= block &&
                     (unsigned __int128)block < (unsigned __int128)msg.arg[1] + 4096;
        FUZZ_CHECK(shm_block_shape_valid(msg.arg[1], block, 4096) == shape);
    } else if (msg.type == SHM_MSG_REGIONS) {
        regions(&msg);
    }
}

static uint64_t le64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static void slot_request(const uint8_t *data, size_t size) {
    if (size < 8) return;
    uint32_t op, n;
    memcpy(&op, data, 4);
    memcpy(&n, data + 4, 4);
    static shm_piece_t pieces[SHM_SLOT_PIECES];
    memset(pieces, 0, sizeof(pieces));
    size_t avail = (size - 8) / sizeof(shm_piece_t);
    if (avail > SHM_SLOT_PIECES) avail = SHM_SLOT_PIECES;
    for (size_t i = 0; i < avail; i++) {
        const uint8_t *p = data + 8 + i * sizeof(shm_piece_t);
        pieces[i] = (shm_piece_t){le64(p), le64(p + 8), le64(p + 16), le64(p + 24)};
    }
    uint64_t total = 0;
    bool ok = shm_slot_request_valid(op, n, pieces, &total);
    bool ref = (op == SHM_OP_WRITE || op == SHM_OP_READ) && n >= 1 && n <= SHM_SLOT_PIECES;
    unsigned __int128 sum = 0;
    for (uint32_t i = 0; ref && i < n; i++) {
        const shm_piece_t *p = &pieces[i];
        unsigned __int128 a = p->addr, l = p->len, sa = p->span_addr, sl = p->span_len;
        ref = l > 0 && a != 0 && a + l <= UINT64_MAX && sa != 0 && sl > 0 &&
              sa + sl <= UINT64_MAX && a >= sa && a + l <= sa + sl;
        sum += l;
        ref = ref && sum <= SHM_SLOT_BYTES;
    }
    FUZZ_CHECK(ok == ref);
    if (ok) FUZZ_CHECK(total == sum && total <= SHM_SLOT_BYTES);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    if (size < 1) return 0;
    if (data[0] % 2 == 0)
        packet(data + 1, size - 1);
    else
        slot_request(data + 1, size - 1);
    return 0;
}
