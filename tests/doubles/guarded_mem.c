#include "guarded_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HANDLE_MAGIC 0x31764444584c4441ULL /* "ADLXDDv1" */
#define HEADER_MAGIC 0x7264684444584c41ULL

typedef enum { RANGE_DEVICE, RANGE_IMPORT, RANGE_HOST_ALLOC, RANGE_HOST_REG } range_kind;

/* One tracked range. Device kinds own a reservation at base and an alias of the same
 * length; busy counts copies running on the alias, so that a free during a copy unmaps
 * only when that copy is done (whoever drops busy to 0 on an unlinked range releases it). */
typedef struct range {
    struct range *next;
    range_kind kind;
    uintptr_t base;
    size_t size;
    size_t map_size;
    unsigned char *alias;
    int fd; /* local device allocations: the memfd an importer opens through /proc */
    uint64_t id;
    pid_t exporter; /* imports */
    int device;
    int opens; /* imports: opens not yet closed */
    int busy;
    bool unlinked;
} range;

/* What the first page of every device memfd holds: an importer checks it, so a stale
 * handle (the fd number reused for another allocation) is refused. */
typedef struct {
    uint64_t magic;
    uint64_t id;
    uint64_t size; /* 0 once freed */
} memfd_header;

/* The handle's layout inside CUipcMemHandle's 64 bytes. */
typedef struct {
    uint64_t magic;
    int32_t pid;
    int32_t fd;
    uint64_t size;
    uint64_t id;
    int32_t device;
} handle_fields;
_Static_assert(sizeof(handle_fields) <= GM_HANDLE_BYTES, "an IPC handle is 64 bytes");

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static range *table;               /* under table_lock */
static uint64_t next_id = 1;       /* under table_lock */
static size_t device_bytes;        /* under table_lock: the sizes of local device allocations */
static atomic_size_t device_limit; /* 0: none */
static atomic_int fail_left;

/* A fork while another thread holds the table would leave the child's table locked. */
static void fork_prepare(void) {
    pthread_mutex_lock(&table_lock);
}
static void fork_done(void) {
    pthread_mutex_unlock(&table_lock);
}
__attribute__((constructor)) static void gm_setup(void) {
    pthread_atfork(fork_prepare, fork_done, fork_done);
}

static size_t page_size(void) {
    return (size_t)sysconf(_SC_PAGESIZE);
}

static bool round_to_pages(size_t size, size_t *out) {
    size_t page = page_size();
    if (size == 0 || size > SIZE_MAX - 2 * page) return false;
    *out = (size + page - 1) / page * page;
    return true;
}

static void release(range *r) {
    if (r->kind == RANGE_DEVICE || r->kind == RANGE_IMPORT) {
        munmap(r->alias, r->map_size);
        munmap((void *)r->base, r->map_size);
    }
    if (r->kind == RANGE_HOST_ALLOC) munmap((void *)r->base, r->map_size);
    if (r->fd >= 0) close(r->fd);
    free(r);
}

static void unlink_range(range *r) {
    for (range **p = &table; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
    r->unlinked = true;
}

static bool is_device_kind(const range *r) {
    return r->kind == RANGE_DEVICE || r->kind == RANGE_IMPORT;
}

/* Under table_lock: the range of one of the two families that contains ptr. */
static range *find_containing(uintptr_t ptr, bool device) {
    for (range *r = table; r; r = r->next) {
        if (is_device_kind(r) != device) continue;
        if (ptr >= r->base && ptr - r->base < r->size) return r;
    }
    return NULL;
}

static range *find_base(uintptr_t base, range_kind kind) {
    for (range *r = table; r; r = r->next)
        if (r->kind == kind && r->base == base) return r;
    return NULL;
}

static bool overlaps_device(uintptr_t p, size_t len) {
    for (range *r = table; r; r = r->next) {
        if (!is_device_kind(r)) continue;
        if (p < r->base + r->map_size && r->base < p + len) return true;
    }
    return false;
}

static range *new_range(range_kind kind, uintptr_t base, size_t size, size_t map_size, int device) {
    range *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->kind = kind;
    r->base = base;
    r->size = size;
    r->map_size = map_size;
    r->fd = -1;
    r->device = device;
    return r;
}

static void *reserve(size_t map_size) {
    void *p = mmap(NULL, map_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void *map_alias(int fd, size_t map_size) {
    void *p = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)page_size());
    return p == MAP_FAILED ? NULL : p;
}

gm_status gm_device_alloc(size_t size, int device, uintptr_t *dev_out) {
    size_t map_size = 0;
    if (!round_to_pages(size, &map_size)) return GM_NO_MEMORY;
    int fd = memfd_create("device-double", MFD_CLOEXEC);
    if (fd < 0) return GM_NO_MEMORY;
    void *alias = NULL;
    void *base = NULL;
    range *r = NULL;
    if (ftruncate(fd, (off_t)(page_size() + map_size)) != 0) goto fail;
    alias = map_alias(fd, map_size);
    base = reserve(map_size);
    r = new_range(RANGE_DEVICE, (uintptr_t)base, size, map_size, device);
    if (!alias || !base || !r) goto fail;
    r->alias = alias;
    r->fd = fd;
    pthread_mutex_lock(&table_lock);
    size_t limit = atomic_load(&device_limit);
    r->id = next_id++;
    memfd_header hdr = {HEADER_MAGIC, r->id, size};
    if ((limit && (device_bytes > limit || size > limit - device_bytes)) ||
        pwrite(fd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr)) {
        pthread_mutex_unlock(&table_lock);
        goto fail;
    }
    device_bytes += size;
    r->next = table;
    table = r;
    pthread_mutex_unlock(&table_lock);
    *dev_out = (uintptr_t)base;
    return GM_OK;
fail:
    if (alias) munmap(alias, map_size);
    if (base) munmap(base, map_size);
    free(r);
    close(fd);
    return GM_NO_MEMORY;
}

/* Under table_lock: unlinks r and releases it now, or when its last copy ends. */
static range *retire(range *r) {
    unlink_range(r);
    return r->busy == 0 ? r : NULL;
}

gm_status gm_device_free(uintptr_t base) {
    pthread_mutex_lock(&table_lock);
    range *r = find_base(base, RANGE_DEVICE);
    if (!r) {
        pthread_mutex_unlock(&table_lock);
        return GM_NOT_FOUND;
    }
    memfd_header dead = {HEADER_MAGIC, r->id, 0};
    (void)!pwrite(r->fd, &dead, sizeof(dead), 0);
    device_bytes -= r->size;
    range *now = retire(r);
    pthread_mutex_unlock(&table_lock);
    if (now) release(now);
    return GM_OK;
}

static gm_status find_info(uintptr_t ptr, bool device, gm_info *out) {
    pthread_mutex_lock(&table_lock);
    range *r = find_containing(ptr, device);
    if (r)
        *out = (gm_info){.base = r->base,
                         .size = r->size,
                         .device = r->device,
                         .imported = r->kind == RANGE_IMPORT};
    pthread_mutex_unlock(&table_lock);
    return r ? GM_OK : GM_NOT_FOUND;
}

gm_status gm_device_find(uintptr_t ptr, gm_info *out) {
    return find_info(ptr, true, out);
}

gm_status gm_host_find(uintptr_t ptr, gm_info *out) {
    return find_info(ptr, false, out);
}

gm_status gm_host_alloc(size_t size, int device, void **out) {
    size_t map_size = 0;
    if (!round_to_pages(size, &map_size)) return GM_NO_MEMORY;
    void *p = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return GM_NO_MEMORY;
    range *r = new_range(RANGE_HOST_ALLOC, (uintptr_t)p, size, map_size, device);
    if (!r) {
        munmap(p, map_size);
        return GM_NO_MEMORY;
    }
    pthread_mutex_lock(&table_lock);
    r->next = table;
    table = r;
    pthread_mutex_unlock(&table_lock);
    *out = p;
    return GM_OK;
}

static gm_status remove_host(void *ptr, range_kind kind) {
    pthread_mutex_lock(&table_lock);
    range *r = find_base((uintptr_t)ptr, kind);
    range *now = r ? retire(r) : NULL;
    pthread_mutex_unlock(&table_lock);
    if (now) release(now);
    return r ? GM_OK : GM_NOT_FOUND;
}

gm_status gm_host_free(void *ptr) {
    return remove_host(ptr, RANGE_HOST_ALLOC);
}

gm_status gm_host_register(void *ptr, size_t size, int device) {
    uintptr_t p = (uintptr_t)ptr;
    if (!ptr || size == 0 || p + size < p) return GM_NOT_FOUND;
    range *r = new_range(RANGE_HOST_REG, p, size, size, device);
    if (!r) return GM_NO_MEMORY;
    gm_status st = GM_OK;
    pthread_mutex_lock(&table_lock);
    if (overlaps_device(p, size)) st = GM_HOST_IS_DEVICE;
    for (range *o = table; o && st == GM_OK; o = o->next)
        if (!is_device_kind(o) && p < o->base + o->size && o->base < p + size) st = GM_OVERLAP;
    if (st == GM_OK) {
        r->next = table;
        table = r;
    }
    pthread_mutex_unlock(&table_lock);
    if (st != GM_OK) free(r);
    return st;
}

gm_status gm_host_unregister(void *ptr) {
    return remove_host(ptr, RANGE_HOST_REG);
}

/* Under table_lock: where one side of op lives, with bounds checked. */
static gm_status resolve_side(uintptr_t p, size_t len, bool device, range **r_out,
                              unsigned char **at) {
    *r_out = NULL;
    if (!device) {
        if (p == 0 || p + len < p) return GM_NOT_FOUND;
        if (overlaps_device(p, len)) return GM_HOST_IS_DEVICE;
        *at = (unsigned char *)p;
        return GM_OK;
    }
    range *r = find_containing(p, true);
    if (!r) return GM_NOT_FOUND;
    if (len > r->size - (p - r->base)) return GM_OUT_OF_BOUNDS;
    *r_out = r;
    *at = r->alias + (p - r->base);
    return GM_OK;
}

typedef struct {
    range *dst_r, *src_r;
    unsigned char *dst, *src;
} resolved;

static gm_status resolve(const gm_op *op, resolved *res) {
    *res = (resolved){0};
    gm_status st = resolve_side(op->dst, op->len, op->dst_dev, &res->dst_r, &res->dst);
    if (st == GM_OK && !op->is_memset)
        st = resolve_side(op->src, op->len, op->src_dev, &res->src_r, &res->src);
    return st;
}

gm_status gm_check(const gm_op *op) {
    if (op->len == 0) return GM_OK;
    resolved res;
    pthread_mutex_lock(&table_lock);
    gm_status st = resolve(op, &res);
    pthread_mutex_unlock(&table_lock);
    return st;
}

static bool take_injected_failure(void) {
    int left = atomic_load(&fail_left);
    while (left > 0)
        if (atomic_compare_exchange_weak(&fail_left, &left, left - 1)) return true;
    return false;
}

void gm_limit_device_memory(size_t bytes) {
    atomic_store(&device_limit, bytes);
}

void gm_fail_next(int n) {
    atomic_store(&fail_left, n > 0 ? n : 0);
}

static range *unbusy(range *r) {
    if (!r) return NULL;
    r->busy--;
    return r->unlinked && r->busy == 0 ? r : NULL;
}

gm_status gm_copy(const gm_op *op) {
    if (op->len == 0) return GM_OK;
    resolved res;
    pthread_mutex_lock(&table_lock);
    gm_status st = resolve(op, &res);
    if (st == GM_OK) {
        if (res.dst_r) res.dst_r->busy++;
        if (res.src_r) res.src_r->busy++;
    }
    pthread_mutex_unlock(&table_lock);
    if (st != GM_OK) return st;
    if (take_injected_failure()) {
        st = GM_INJECTED;
    } else if (op->is_memset) {
        memset(res.dst, op->fill_byte, op->len);
    } else {
        memmove(res.dst, res.src, op->len);
    }
    pthread_mutex_lock(&table_lock);
    range *gone_dst = unbusy(res.dst_r);
    range *gone_src = unbusy(res.src_r);
    pthread_mutex_unlock(&table_lock);
    if (gone_dst) release(gone_dst);
    if (gone_src && gone_src != gone_dst) release(gone_src);
    return st;
}

gm_status gm_export(uintptr_t ptr, gm_handle *out) {
    pthread_mutex_lock(&table_lock);
    range *r = find_containing(ptr, true);
    bool ok = r && r->kind == RANGE_DEVICE;
    handle_fields f = {0};
    if (ok)
        f = (handle_fields){.magic = HANDLE_MAGIC,
                            .pid = (int32_t)getpid(),
                            .fd = r->fd,
                            .size = r->size,
                            .id = r->id,
                            .device = r->device};
    pthread_mutex_unlock(&table_lock);
    if (!ok) return GM_NOT_FOUND;
    memset(out, 0, sizeof(*out));
    memcpy(out->bytes, &f, sizeof(f));
    return GM_OK;
}

/* Opens the exporter's memfd through /proc and checks that it still holds the allocation
 * the handle names. */
static int open_exported(const handle_fields *f) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)f->pid, (int)f->fd);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return -1;
    memfd_header hdr;
    struct stat st;
    size_t map_size = 0;
    if (pread(fd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) || hdr.magic != HEADER_MAGIC ||
        hdr.id != f->id || hdr.size != f->size || hdr.size > SIZE_MAX ||
        !round_to_pages((size_t)hdr.size, &map_size) || fstat(fd, &st) != 0 ||
        (uint64_t)st.st_size < page_size() + map_size) {
        close(fd);
        return -1;
    }
    return fd;
}

static range *find_import(pid_t exporter, uint64_t id) {
    for (range *r = table; r; r = r->next)
        if (r->kind == RANGE_IMPORT && r->exporter == exporter && r->id == id) return r;
    return NULL;
}

static bool reopen_existing(pid_t exporter, uint64_t id, uintptr_t *dev_out) {
    pthread_mutex_lock(&table_lock);
    range *r = find_import(exporter, id);
    if (r) {
        r->opens++;
        *dev_out = r->base;
    }
    pthread_mutex_unlock(&table_lock);
    return r != NULL;
}

gm_status gm_import(const gm_handle *h, int device, uintptr_t *dev_out) {
    handle_fields f;
    memcpy(&f, h->bytes, sizeof(f));
    if (f.magic != HANDLE_MAGIC || f.pid <= 0 || f.fd < 0 || f.size == 0) return GM_BAD_HANDLE;
    if (f.pid == (int32_t)getpid()) return GM_SELF_IMPORT;
    if (reopen_existing(f.pid, f.id, dev_out)) return GM_OK;
    int fd = open_exported(&f);
    if (fd < 0) return GM_BAD_HANDLE;
    size_t map_size = 0;
    round_to_pages((size_t)f.size, &map_size);
    void *alias = map_alias(fd, map_size);
    void *base = reserve(map_size);
    range *r = new_range(RANGE_IMPORT, (uintptr_t)base, (size_t)f.size, map_size, device);
    close(fd);
    if (!alias || !base || !r) {
        if (alias) munmap(alias, map_size);
        if (base) munmap(base, map_size);
        free(r);
        return GM_NO_MEMORY;
    }
    r->alias = alias;
    r->exporter = f.pid;
    r->id = f.id;
    r->opens = 1;
    pthread_mutex_lock(&table_lock);
    range *raced = find_import(f.pid, f.id);
    if (raced) {
        raced->opens++;
        *dev_out = raced->base;
    } else {
        r->next = table;
        table = r;
        *dev_out = r->base;
    }
    pthread_mutex_unlock(&table_lock);
    if (raced) release(r);
    return GM_OK;
}

gm_status gm_close_import(uintptr_t base) {
    pthread_mutex_lock(&table_lock);
    range *r = find_base(base, RANGE_IMPORT);
    range *now = NULL;
    if (r && --r->opens == 0) now = retire(r);
    pthread_mutex_unlock(&table_lock);
    if (now) release(now);
    return r ? GM_OK : GM_NOT_FOUND;
}

static size_t count(range_kind kind, bool by_opens) {
    size_t n = 0;
    pthread_mutex_lock(&table_lock);
    for (range *r = table; r; r = r->next)
        if (r->kind == kind) n += by_opens ? (size_t)r->opens : 1;
    pthread_mutex_unlock(&table_lock);
    return n;
}

size_t gm_live_device_allocs(void) {
    return count(RANGE_DEVICE, false);
}
size_t gm_live_host_allocs(void) {
    return count(RANGE_HOST_ALLOC, false);
}
size_t gm_registered_ranges(void) {
    return count(RANGE_HOST_REG, false);
}
size_t gm_open_imports(void) {
    return count(RANGE_IMPORT, true);
}
