/*
 * The shared-memory transport's private structures, shared by its files and no one else.
 *
 * A link is a Unix-domain SOCK_SEQPACKET connection (control: regions, their file
 * descriptors, notifies) plus one shared mapping that the target creates per link:
 * liveness, the revocation counters, the region generation table and a staging ring.
 * Bytes move by one of three paths, chosen per chunk by the initiator:
 *   mapped  - the target's block (an adxl_malloc_mem memfd) is mapped here; a copy is a
 *             memcpy, with no system call and no work by the target;
 *   CMA     - process_vm_readv/writev straight into the target's memory;
 *   staging - the initiator copies into a ring slot; the target's thread checks the
 *             request against its registry and copies it in or out.
 * Mapped and CMA copies are one-sided: the target learns nothing of them. They are
 * bracketed by a per-link reader count in shared memory and re-check the region's
 * generation inside it, so that deregistration (which zeroes the generation and waits
 * for the count to drain) returns only once no copy can touch the region.
 */
#ifndef ADXL_SHM_INTERNAL_H
#define ADXL_SHM_INTERNAL_H

#include "core/region_set.h"
#include "core/remote_regions.h"
#include "net/listener.h"
#include "net/served.h"
#include "transport/transport.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <string.h>
#include <sys/uio.h>

#define SHM_WIRE_MAGIC 0x4D485341u /* "ASHM" */
#define SHM_WIRE_VERSION 3u        /* 2: 16M generation slots; 3: copies counted per slot bucket */
#define SHM_SHARED_MAGIC 0x52485341u /* "ASHR" */

/* Generation slots per link: the table lies in the link's shared memfd, whose pages the
 * kernel allocates only when first written, and freed slots are reused first, so its
 * memory follows the most regions the link has held at once, not this bound. */
#define SHM_MAX_REGIONS (16u * 1024u * 1024u)
#define SHM_RING_SLOTS 16u
#define SHM_SLOT_BYTES (512u * 1024u)
#define SHM_SLOT_PIECES 256u
#define SHM_MAX_INBOUND 1024 /* links a target serves at once */
#define SHM_CMA_IOV 1024u    /* iovecs per process_vm_* call (the kernel's UIO_MAXIOV) */

/* ---- The shared mapping (created by the target, mapped by both) ---- */

enum { SHM_SLOT_FREE = 0, SHM_SLOT_POSTED = 1, SHM_SLOT_DONE = 2 };
enum { SHM_OP_WRITE = 1, SHM_OP_READ = 2 };

/* The listener's abstract socket name, with its NUL: what the transport offers in the
 * host facts (net/host_facts.h), so it must fit an offer. */
#define SHM_ENDPOINT_MAX 48
_Static_assert(SHM_ENDPOINT_MAX - 1 <= ADXL_FACTS_OFFER_BYTES, "the endpoint fits an offer");

typedef struct {
    uint64_t addr;
    uint64_t len;
    uint64_t span_addr; /* the whole descriptor the piece was cut from */
    uint64_t span_len;
} shm_piece_t;

/* One staging request. The initiator owns a FREE or DONE slot, the target a POSTED one. */
typedef struct {
    _Atomic uint32_t state;
    uint32_t op;
    uint32_t npieces;
    uint32_t status; /* the target's answer */
    shm_piece_t pieces[SHM_SLOT_PIECES];
} shm_slot_t;

/* Buckets of region slots for the counts of copies in progress (a power of two: one bit
 * each in a 64-bit mask). */
#define SHM_BUSY_BUCKETS 64u
_Static_assert(SHM_BUSY_BUCKETS <= 64 && (SHM_BUSY_BUCKETS & (SHM_BUSY_BUCKETS - 1)) == 0,
               "a copy's buckets fit one uint64_t mask");
static inline uint32_t shm_busy_bucket(uint32_t slot) {
    return slot & (SHM_BUSY_BUCKETS - 1);
}

typedef struct {
    uint32_t magic;
    uint32_t version;
    uint64_t size; /* of the whole mapping */
    /* Held by the target's serving thread for the link's life, robust: a dead target
     * leaves it "owner died", which the initiator sees with a trylock, no system call. */
    pthread_mutex_t target_alive;
    _Atomic uint64_t target_beat; /* bumped by the target's thread at least every heartbeat */
    alignas(64) _Atomic uint32_t epoch;
    /* One-sided copies in progress, per epoch and per bucket of the region slots they
     * touch (shm_busy_bucket), so that a revocation waits only for copies that may be
     * in the revoked region, not for every copy of every region. */
    alignas(64) _Atomic uint32_t busy[2][SHM_BUSY_BUCKETS];
    alignas(64) _Atomic uint32_t target_waiting; /* the target sleeps: ring its doorbell */
    alignas(64) shm_slot_t slots[SHM_RING_SLOTS];
    /* Generation of each published region, 0 when revoked; a copy re-checks it. */
    _Atomic uint32_t region_gen[SHM_MAX_REGIONS];
} shm_shared_t;

/* Ring data follows the header, page-aligned. */
size_t shm_shared_data_offset(void);
size_t shm_shared_size(void);

/* ---- Control messages (shm_wire.c) ---- */

enum shm_msg_type {
    SHM_MSG_HELLO = 1,        /* I->T: text = initiator name */
    SHM_MSG_HELLO_ACK = 2,    /* T->I: status; arg0 flags, arg1 CMA probe address, arg2 its
                                 value, arg3 shared size; fds: shared memfd, doorbell, done */
    SHM_MSG_REGION_ADD = 3,   /* T->I: arg0 addr, arg1 len, arg2 slot, arg3 generation,
                                 arg4 block length when the block's memfd is attached;
                                 status: SHM_REGION_* flags */
    SHM_MSG_REGION_DEL = 4,   /* retired in version 2: removals travel in REGIONS */
    SHM_MSG_SNAPSHOT_END = 5, /* T->I: the regions registered at connect time were all sent */
    SHM_MSG_NOTIFY = 6,       /* I->T: arg0 id, arg1 name length; text = name then message */
    SHM_MSG_NOTIFY_ACK = 7,   /* T->I: arg0 id; status */
    SHM_MSG_CHALLENGE = 8,    /* T->I, before HELLO_ACK when the target has an AuthSecret:
                                 status, arg1..4 its nonce; text = its proof */
    SHM_MSG_AUTH = 9,         /* I->T: text = the initiator's proof */
    SHM_MSG_REGIONS = 10,     /* T->I: arg0 count; text = count shm_region_entry_t: region
                                 changes without a descriptor, in the order they happened */
};

/* HELLO: arg0 flags (SHM_HELLO_FLAG_AUTH: the initiator holds a secret), arg1..4 nonce. */
#define SHM_HELLO_FLAG_AUTH 1u

#define SHM_FLAG_ALLOW_UNREGISTERED 1u /* the target serves any of its memory */
/* A device region: only a runtime reaches it: the target's on the staging path, or the
 * initiator's through an IPC mapping when SHM_REGION_IPC says the text carries the
 * runtime's handle of the allocation (and arg4 the region's offset in it). */
#define SHM_REGION_DEVICE 1u
#define SHM_REGION_IPC 2u
#define SHM_TEXT_MAX (2u * ADXL_NOTIFY_MAX_LEN)
/* In a REGIONS entry's flags, besides SHM_REGION_DEVICE: the region was withdrawn. */
#define SHM_REGION_REMOVED 4u

/* One region change in a REGIONS message (host layout: both ends share the machine). An
 * addition carries what REGION_ADD carries but a block; a removal its range and slot. */
typedef struct {
    uint64_t addr;
    uint64_t len;
    uint32_t slot;
    uint32_t gen; /* 0 in a removal */
    uint32_t flags;
    uint32_t reserved;
} shm_region_entry_t;

#define SHM_REGIONS_PER_MSG (SHM_TEXT_MAX / sizeof(shm_region_entry_t))
#define SHM_MAX_FDS 3

typedef struct {
    uint32_t magic;
    uint16_t version;
    uint16_t type;
    uint32_t status;
    uint32_t text_len;
    uint64_t arg[5];
    char text[SHM_TEXT_MAX];
} shm_msg_t;

#define SHM_MSG_FIXED offsetof(shm_msg_t, text)

/* Sends one message with up to SHM_MAX_FDS descriptors (nonblocking: false with errno
 * EAGAIN when the socket is full). */
bool shm_msg_send(int fd, shm_msg_t *msg, const int *fds, int nfds, bool wait);
/* Receives one message; false on EOF, error or a malformed message (errno EAGAIN when
 * there is none yet). fds gets the descriptors that came with it (-1 for none), which
 * the caller owns; extra ones are closed. */
bool shm_msg_recv(int fd, shm_msg_t *msg, int fds[SHM_MAX_FDS], bool *again);
void shm_close_fds(int fds[SHM_MAX_FDS]);

/* A nonce travels in arg[1..4] of HELLO and CHALLENGE. */
static inline void shm_put_nonce(shm_msg_t *msg, const uint8_t nonce[32]) {
    memcpy(&msg->arg[1], nonce, 32);
}
static inline void shm_get_nonce(const shm_msg_t *msg, uint8_t nonce[32]) {
    memcpy(nonce, &msg->arg[1], 32);
}

/* ---- The transport (both roles) ---- */

typedef struct shm_inbound shm_inbound_t;

/* adxl_transport_t, as this transport sees it (transport.h keeps it opaque). */
typedef struct {
    adxl_engine_t *engine;
    const adxl_config_t *config;
    int listen_fd;
    int stop_fd;
    adxl_listener_t listener;
    /* The inbound links (served.h). A publisher walks them holding `walkers` read-held
     * (a revocation there may wait for a peer as long as it is stopped, and must not hold
     * up accepts); a link leaves the list only with `walkers` write-held. A link is
     * listed before its thread starts, so before its snapshot of the registry: a region
     * change either reaches it through its publisher or is in its snapshot already. */
    adxl_served_list_t served;
    pthread_rwlock_t walkers;
    /* Read by initiators with process_vm_readv to find out whether CMA is allowed. */
    volatile uint64_t cma_probe;
    char endpoint[SHM_ENDPOINT_MAX]; /* the listener's abstract socket name */
} shm_transport_t;

/* An outgoing control message a serving thread still has to send. */
typedef struct shm_out {
    struct shm_out *next;
    shm_msg_t msg;
    int fd; /* attached descriptor or -1 */
} shm_out_t;

/* The target's side of one link, served by its own thread (shm_target.c). */
struct shm_inbound {
    adxl_served_t served; /* first: the list's entry */
    shm_transport_t *transport;
    int fd;
    int wake_fd;     /* publish queued a message */
    int doorbell_fd; /* the initiator posted staging requests */
    int done_fd;     /* we answered staging requests */
    int pidfd;       /* the initiator's process, -1 when the kernel has no pidfd */
    pid_t peer_pid;
    bool share_blocks; /* the initiator may get our blocks' memfds (see publish_add_locked) */
    adxl_notify_source_t *notify_source;
    shm_shared_t *shared;
    int shared_fd;
    uint8_t *ring_data;
    bool alive_held; /* this thread holds shared->target_alive */

    pthread_mutex_t lock; /* everything below */
    bool publishes;       /* handshake done: region changes go to this initiator */
    shm_out_t *out_head, *out_tail;
    /* The generation this initiator was told of in each registry slot (registry.h),
     * 0 for none: the target's own record, private, for the shared region_gen[] is
     * the initiator's to scribble on. A lazily backed mapping of SHM_MAX_REGIONS. */
    uint32_t *announced;
    uint32_t announced_end;      /* past the highest slot ever announced */
    pthread_mutex_t revoke_lock; /* one revocation at a time per link */
};

void *shm_inbound_main(void *arg);
/* Publishes or revokes a registry region to one initiator (see this file's header). */
void shm_inbound_publish(shm_inbound_t *in, const adxl_region_t *region, bool added);
void shm_inbound_free(shm_inbound_t *in);

/* ---- The initiator's side of a link (shm_link.c, shm_copy.c, shm_staging.c) ---- */

/* A target region as this initiator knows it, when it comes with a mapping: the range and
 * whether it is device memory are the mirror's adxl_region_t's own. */
typedef struct {
    uint32_t slot;
    uint32_t gen;
    uint8_t *map; /* the target's block mapped here, or NULL */
    size_t map_len;
    uint8_t *dev_map; /* with IPC: where the region is in our address space, or NULL */
    void *ipc_base;   /* what the runtime's IPC open returned (closed with the entry) */
} shm_mirror_t;

/*
 * The tag of a range in the mirror. A plain region (no block mapped, no IPC: all a REGIONS
 * entry can describe, and nearly every region) needs only its slot and generation: they
 * ride in the tag itself, its low bit set, rather than in an allocation of their own (a
 * million regions, a million allocations and 64 MB fewer). Any other tag points to a
 * shm_mirror_t, whose alignment keeps that bit clear.
 */
_Static_assert(sizeof(uintptr_t) >= 8, "a plain mirror tag holds a slot and a generation");
_Static_assert(SHM_MAX_REGIONS <= (1u << 31), "a plain mirror tag holds 31 bits of slot");

static inline void *shm_mirror_plain_tag(uint32_t slot, uint32_t gen) {
    return (void *)(((uintptr_t)gen << 32) | ((uintptr_t)slot << 1) | 1u);
}
/* The mapping record a mirror tag points to, NULL for a plain one. */
static inline shm_mirror_t *shm_mirror_record(void *tag) {
    return ((uintptr_t)tag & 1u) ? NULL : (shm_mirror_t *)tag;
}
static inline shm_mirror_t *shm_mirror_of(const adxl_region_t *r) {
    return shm_mirror_record(r->tag);
}
static inline uint32_t shm_mirror_slot(const adxl_region_t *r) {
    const shm_mirror_t *m = shm_mirror_of(r);
    return m ? m->slot : (uint32_t)(((uintptr_t)r->tag >> 1) & 0x7fffffffu);
}
static inline uint32_t shm_mirror_gen(const adxl_region_t *r) {
    const shm_mirror_t *m = shm_mirror_of(r);
    return m ? m->gen : (uint32_t)((uintptr_t)r->tag >> 32);
}
static inline uint8_t *shm_mirror_map(const adxl_region_t *r) {
    const shm_mirror_t *m = shm_mirror_of(r);
    return m ? m->map : NULL;
}
static inline uint8_t *shm_mirror_dev_map(const adxl_region_t *r) {
    const shm_mirror_t *m = shm_mirror_of(r);
    return m ? m->dev_map : NULL;
}

/* A staged chunk: cut into slot-sized parts as slots come free. */
typedef struct shm_job {
    struct shm_job *next;
    adxl_chunk_t *chunk;
    uint32_t seg; /* next segment to place */
    uint64_t seg_off;
    uint32_t parts_out; /* parts in slots */
    adxl_status_t status;
} shm_job_t;

typedef struct {
    shm_job_t *job;
    uint32_t npieces;
    uint8_t *local[SHM_SLOT_PIECES]; /* where each piece's bytes come from or go to */
    uint64_t len[SHM_SLOT_PIECES];   /* our own record: the shared copy is the target's too */
} shm_slot_owner_t;

/* adxl_link_t, as this transport sees it. */
typedef struct shm_link shm_link_t;

struct shm_link {
    shm_transport_t *transport;
    adxl_peer_t *peer;
    adxl_engine_t *engine;
    int fd;
    int wake_fd;
    int doorbell_fd;
    int done_fd;
    pid_t target_pid;
    bool cma_ok;
    bool allow_unregistered;
    adxl_shm_path_t path;
    shm_shared_t *shared;
    size_t shared_size;
    uint8_t *ring_data;
    pthread_t thread;
    bool thread_started;
    atomic_bool failed;
    _Atomic adxl_status_t fail_status;
    uint64_t peer_timeout_ns;
    uint64_t heartbeat_ms;

    /* The mirror of the target's regions: the peer's view (remote_regions.h), one set
     * for the planner and for this link, each range's tag this link's (see
     * shm_mirror_plain_tag). Copies hold its lock read-held for as long as they use a
     * mapping; the link thread write-locks it to change it. */
    adxl_remote_regions_t *view;

    pthread_mutex_t lock;             /* staging and notifies */
    bool closed;                      /* failed and drained: posts complete at once */
    shm_job_t *jobs_head, *jobs_tail; /* waiting for a slot, oldest first */
    shm_slot_owner_t owners[SHM_RING_SLOTS];
    adxl_chunk_fifo_t deferred;    /* one-sided chunks for the link thread */
    adxl_chunk_fifo_t notify_out;  /* to send */
    adxl_chunk_fifo_t notify_wait; /* sent, awaiting their ack */
    uint64_t next_notify_id;
};

/* shm_link.c: the transport operations on links */
adxl_status_t shm_connect(adxl_transport_t *transport, adxl_peer_t *peer, const char *remote_name,
                          const adxl_engine_addr_t *remote, const adxl_host_facts_t *remote_facts,
                          uint64_t deadline, adxl_link_t **out);
void shm_shutdown(adxl_link_t *link, adxl_status_t status);
void shm_destroy(adxl_link_t *link);
void shm_post(adxl_link_t *link, adxl_chunk_t *chunk);
void shm_link_fail(shm_link_t *link, adxl_status_t status);
bool shm_link_target_alive(shm_link_t *link);
void shm_link_wake(shm_link_t *link);

/* shm_copy.c: carries a chunk by a one-sided path now; false when it cannot (then the
 * chunk goes to staging). */
bool shm_copy_try(shm_link_t *link, adxl_chunk_t *chunk);
void shm_copy_run(shm_link_t *link, adxl_chunk_t *chunk);
/* adxl_transport_ops_t.device_direct: every descriptor's remote side is mapped here: a
 * peer's device region through IPC, or a whole host block through its memfd. */
bool shm_device_direct(adxl_link_t *link, const adxl_transfer_op_desc_t *descs, size_t num_descs);

/* shm_staging.c */
void shm_staging_post(shm_link_t *link, adxl_chunk_t *chunk);
/* Link thread: collects answered slots, refills free ones; completes finished chunks. */
void shm_staging_progress(shm_link_t *link);
/* Completes every staged chunk with status (the link failed). */
void shm_staging_fail_all(shm_link_t *link, adxl_status_t status);

/* The target's side of the staging ring (shm_target.c uses it). */
bool shm_serve_slots(shm_inbound_t *in);

#endif
