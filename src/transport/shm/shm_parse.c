#include "transport/shm/shm_parse.h"

#include <string.h>

bool shm_msg_valid(const shm_msg_t *msg, size_t got) {
    return got >= SHM_MSG_FIXED && got <= sizeof(*msg) && msg->magic == SHM_WIRE_MAGIC &&
           msg->version == SHM_WIRE_VERSION && msg->text_len <= SHM_TEXT_MAX &&
           got == SHM_MSG_FIXED + msg->text_len;
}

bool shm_hello_valid(const shm_msg_t *msg) {
    if (msg->text_len == 0 || msg->text_len > ADXL_NAME_MAX - 1) return false;
    for (uint32_t i = 0; i < msg->text_len; i++)
        if (msg->text[i] <= ' ' || msg->text[i] >= 127) return false;
    return true;
}

bool shm_notify_valid(const shm_msg_t *msg, size_t *name_len) {
    uint64_t n = msg->arg[1];
    if (msg->text_len > SHM_TEXT_MAX || n > ADXL_NOTIFY_MAX_LEN || n > msg->text_len ||
        msg->text_len - n > ADXL_NOTIFY_MAX_LEN)
        return false;
    if (memchr(msg->text, '\0', msg->text_len)) return false;
    *name_len = (size_t)n;
    return true;
}

static bool range_and_slot_valid(uint64_t addr, uint64_t len, uint64_t slot) {
    return len > 0 && addr + len > addr && slot < SHM_MAX_REGIONS;
}

bool shm_region_add_valid(const shm_msg_t *msg) {
    uint64_t len = msg->arg[1], gen = msg->arg[3];
    uint32_t flags = msg->status;
    bool ipc = (flags & SHM_REGION_IPC) != 0;
    /* An IPC handle comes only with a device region, in the text, at its exact size; the
     * offset of the region in its allocation cannot wrap the mapping's address. */
    bool shape = (flags & ~(SHM_REGION_DEVICE | SHM_REGION_IPC)) == 0 &&
                 (!ipc || ((flags & SHM_REGION_DEVICE) && msg->text_len == ADXL_IPC_HANDLE_BYTES &&
                           msg->arg[4] <= UINT64_MAX - len)) &&
                 (ipc || msg->text_len == 0);
    return shape && range_and_slot_valid(msg->arg[0], len, msg->arg[2]) && gen != 0 &&
           gen <= UINT32_MAX;
}

bool shm_regions_valid(const shm_msg_t *msg, uint32_t *count) {
    uint64_t n = msg->arg[0];
    if (n < 1 || n > SHM_REGIONS_PER_MSG || msg->text_len != n * sizeof(shm_region_entry_t))
        return false;
    *count = (uint32_t)n;
    return true;
}

bool shm_region_entry(const shm_msg_t *msg, uint32_t i, shm_region_entry_t *entry) {
    memcpy(entry, msg->text + (size_t)i * sizeof(*entry), sizeof(*entry));
    bool removed = (entry->flags & SHM_REGION_REMOVED) != 0;
    return range_and_slot_valid(entry->addr, entry->len, entry->slot) &&
           (entry->flags & ~(SHM_REGION_DEVICE | SHM_REGION_REMOVED)) == 0 &&
           entry->reserved == 0 && (removed ? entry->gen == 0 : entry->gen != 0);
}

bool shm_block_shape_valid(uint64_t len, uint64_t block_len, size_t page) {
    return block_len != 0 && block_len % page == 0 && len <= block_len && block_len - len < page;
}

static bool piece_valid(const shm_piece_t *p) {
    return p->len > 0 && p->addr != 0 && p->addr + p->len > p->addr && p->span_addr != 0 &&
           p->span_addr + p->span_len > p->span_addr && p->addr >= p->span_addr &&
           p->addr + p->len <= p->span_addr + p->span_len;
}

bool shm_slot_request_valid(uint32_t op, uint32_t npieces, const shm_piece_t *pieces,
                            uint64_t *total) {
    if ((op != SHM_OP_WRITE && op != SHM_OP_READ) || npieces < 1 || npieces > SHM_SLOT_PIECES)
        return false;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < npieces; i++) {
        if (!piece_valid(&pieces[i]) || pieces[i].len > SHM_SLOT_BYTES - sum) return false;
        sum += pieces[i].len;
    }
    *total = sum;
    return true;
}
