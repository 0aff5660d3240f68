#include "core/region_set.h"

#include "core/region_slab.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/*
 * A B+-tree. Every node holds its keys (start and length) in two arrays, so that choosing
 * a child or a range reads a few adjacent cache lines: with a million ranges a lookup
 * misses in the cache on the lowest levels only, where a binary tree missed on each of
 * some twenty. Leaves hold the ranges, each an adxl_region_t in a slab (region_slab.h,
 * so that it stays where it is while leaves split and merge), and are linked in address
 * order. Inner nodes hold n keys and n + 1 children: child i holds the keys from key i - 1
 * (inclusive) up to key i, so a key equal to a separator lies to its right.
 */

#define KEYS_MAX 30             /* a node's header and start array fill 4 cache lines */
#define KEYS_CAP (KEYS_MAX + 1) /* an insert may overfill a node just before it splits */
#define KEYS_MIN (KEYS_MAX / 2) /* fewer, and a node other than the root borrows or merges */
#define DEPTH_MAX 24            /* KEYS_MIN-wide levels: far beyond any address space */
#define NODE_ALIGN 64

struct adxl_region_node {
    uint32_t n; /* keys held */
    bool leaf;
    uintptr_t addr[KEYS_CAP];
    size_t len[KEYS_CAP];
};

typedef adxl_region_node_t node_t;

typedef struct leaf {
    node_t keys;
    adxl_region_t *region[KEYS_CAP];
    struct leaf *prev, *next; /* the neighbouring leaves in address order */
} leaf_t;

typedef struct {
    node_t keys;
    node_t *child[KEYS_CAP + 1];
} inner_t;

/* Where a descent went: the inner node and the child it took. */
typedef struct {
    inner_t *node;
    unsigned at;
} step_t;

/* Both kinds of node take one size, a whole number of cache lines. */
#define NODE_BYTES                                                                                 \
    (((sizeof(leaf_t) > sizeof(inner_t) ? sizeof(leaf_t) : sizeof(inner_t)) + NODE_ALIGN - 1) /    \
     NODE_ALIGN * NODE_ALIGN)

static node_t *node_new(bool leaf) {
    node_t *x = aligned_alloc(NODE_ALIGN, NODE_BYTES);
    if (!x) return NULL;
    x->n = 0;
    x->leaf = leaf;
    if (leaf) ((leaf_t *)x)->prev = ((leaf_t *)x)->next = NULL;
    return x;
}

/* How many of x's keys come at or before (addr, len), ordered by start, then length: an
 * owner that briefly holds two ranges with one start still finds each. Every start is
 * compared, without branches, so that the array's cache lines load together. */
static unsigned rank(const node_t *x, uintptr_t addr, size_t len) {
    unsigned c = 0;
    for (unsigned i = 0; i < x->n; i++)
        c += x->addr[i] < addr;
    while (c < x->n && x->addr[c] == addr && x->len[c] <= len)
        c++;
    return c;
}

/* Asks for x's lines past its starts while rank() reads those: a descent then waits for
 * memory once per level that misses, not once for the keys and again for the child or
 * range they choose. A set this small stays in the cache, where asking costs time. */
#define PREFETCH_FROM 4096
static void prefetch_node(const node_t *x) {
    for (size_t off = offsetof(node_t, len); off < NODE_BYTES; off += NODE_ALIGN)
        __builtin_prefetch((const char *)x + off);
}

/* The leaf where (addr, len) belongs; with path, the steps that led there (*depth many).
 * The set is not empty. */
static leaf_t *descend(const adxl_region_set_t *set, uintptr_t addr, size_t len, step_t *path,
                       unsigned *depth) {
    node_t *x = set->root;
    unsigned d = 0;
    bool far = set->count >= PREFETCH_FROM;
    while (!x->leaf) {
        unsigned at = rank(x, addr, len);
        if (path) path[d] = (step_t){(inner_t *)x, at};
        d++;
        x = ((inner_t *)x)->child[at];
        if (far) prefetch_node(x);
    }
    if (depth) *depth = d;
    return (leaf_t *)x;
}

/* The ranges that start at or before addr and after it are, in address order, the leaf
 * descend(addr, SIZE_MAX) reaches split at rank(): everything in leaves before it starts
 * at or before addr, everything after it later. */
typedef struct {
    const leaf_t *leaf;
    unsigned i;
} entry_t;

static entry_t last_at_or_before(const leaf_t *l, unsigned r) {
    if (r > 0) return (entry_t){l, r - 1};
    if (l->prev) return (entry_t){l->prev, l->prev->keys.n - 1};
    return (entry_t){NULL, 0};
}

static entry_t first_after(const leaf_t *l, unsigned r) {
    if (r < l->keys.n) return (entry_t){l, r};
    if (l->next) return (entry_t){l->next, 0};
    return (entry_t){NULL, 0};
}

static void keys_move(node_t *dst, unsigned to, const node_t *src, unsigned from, unsigned k) {
    memmove(&dst->addr[to], &src->addr[from], k * sizeof(dst->addr[0]));
    memmove(&dst->len[to], &src->len[from], k * sizeof(dst->len[0]));
}

static void key_copy(node_t *dst, unsigned to, const node_t *src, unsigned from) {
    dst->addr[to] = src->addr[from];
    dst->len[to] = src->len[from];
}

static void free_node(node_t *x, adxl_region_slab_t **slabs) {
    if (x->leaf) {
        for (unsigned i = 0; i < x->n; i++)
            adxl_region_slab_give(slabs, ((leaf_t *)x)->region[i], false);
    } else {
        for (unsigned i = 0; i <= x->n; i++)
            free_node(((inner_t *)x)->child[i], slabs);
    }
    free(x);
}

void adxl_region_set_free(adxl_region_set_t *set) {
    if (set->root) free_node(set->root, &set->slabs);
    adxl_region_slab_release(&set->slabs);
    set->root = NULL;
    set->count = 0;
}

adxl_region_t *adxl_region_set_find_exact(const adxl_region_set_t *set, uintptr_t addr,
                                          size_t len) {
    if (!set->root) return NULL;
    const leaf_t *l = descend(set, addr, len, NULL, NULL);
    unsigned r = rank(&l->keys, addr, len);
    if (r > 0 && l->keys.addr[r - 1] == addr && l->keys.len[r - 1] == len) return l->region[r - 1];
    return NULL;
}

/* The range beside position `at` of leaf l (where (addr, len) goes) that overlaps
 * it, or NULL: in a set without overlaps only a neighbour can. */
static adxl_region_t *neighbour_overlapping(const leaf_t *l, unsigned at, uintptr_t addr,
                                            size_t len) {
    entry_t e = last_at_or_before(l, at);
    if (e.leaf && e.leaf->keys.len[e.i] > addr - e.leaf->keys.addr[e.i]) return e.leaf->region[e.i];
    e = first_after(l, at);
    if (e.leaf && e.leaf->keys.addr[e.i] - addr < len) return e.leaf->region[e.i];
    return NULL;
}

adxl_region_t *adxl_region_set_overlapping(const adxl_region_set_t *set, uintptr_t addr,
                                           size_t len) {
    if (!set->root) return NULL;
    const leaf_t *l = descend(set, addr, SIZE_MAX, NULL, NULL);
    return neighbour_overlapping(l, rank(&l->keys, addr, SIZE_MAX), addr, len);
}

bool adxl_region_set_overlaps(const adxl_region_set_t *set, uintptr_t addr, size_t len) {
    return adxl_region_set_overlapping(set, addr, len) != NULL;
}

adxl_region_t *adxl_region_set_containing(const adxl_region_set_t *set, uintptr_t addr,
                                          size_t len) {
    if (!set->root) return NULL;
    const leaf_t *l = descend(set, addr, SIZE_MAX, NULL, NULL);
    entry_t e = last_at_or_before(l, rank(&l->keys, addr, SIZE_MAX));
    if (!e.leaf) return NULL;
    uintptr_t start = e.leaf->keys.addr[e.i];
    size_t length = e.leaf->keys.len[e.i];
    /* Written so that nothing overflows: addr >= start here. */
    if (addr - start < length && len <= length - (addr - start)) return e.leaf->region[e.i];
    return NULL;
}

/* How many new nodes an insert into l splits off (a new root included). */
static unsigned splits_needed(const leaf_t *l, const step_t *path, unsigned depth) {
    if (l->keys.n < KEYS_MAX) return 0;
    unsigned need = 1, k = depth;
    while (k > 0 && path[k - 1].node->keys.n == KEYS_MAX) {
        need++;
        k--;
    }
    return k == 0 ? need + 1 : need;
}

/* Moves the upper half of an overfull leaf into fresh (an empty leaf) after it. */
static void split_leaf(leaf_t *l, leaf_t *fresh) {
    unsigned keep = l->keys.n / 2, moved = l->keys.n - keep;
    keys_move(&fresh->keys, 0, &l->keys, keep, moved);
    memcpy(fresh->region, &l->region[keep], moved * sizeof(l->region[0]));
    fresh->keys.n = moved;
    l->keys.n = keep;
    fresh->next = l->next;
    if (fresh->next) fresh->next->prev = fresh;
    fresh->prev = l;
    l->next = fresh;
}

/* Moves the upper half of an overfull inner node into fresh; its middle key, which now
 * separates the two, is left at x->keys.addr/len[x->keys.n]. */
static void split_inner(inner_t *x, inner_t *fresh) {
    unsigned keep = x->keys.n / 2, moved = x->keys.n - keep - 1;
    keys_move(&fresh->keys, 0, &x->keys, keep + 1, moved);
    memcpy(fresh->child, &x->child[keep + 1], (moved + 1) * sizeof(x->child[0]));
    fresh->keys.n = moved;
    x->keys.n = keep;
}

/* Puts key i of src and the child to its right into x at key position at. */
static void inner_put(inner_t *x, unsigned at, const node_t *src, unsigned i, node_t *right) {
    keys_move(&x->keys, at + 1, &x->keys, at, x->keys.n - at);
    memmove(&x->child[at + 2], &x->child[at + 1], (x->keys.n - at) * sizeof(x->child[0]));
    key_copy(&x->keys, at, src, i);
    x->child[at + 1] = right;
    x->keys.n++;
}

/* overlap: when not NULL, a range overlapping one held is not inserted; *overlap names
 * that one (NULL when the insert failed for memory). */
static adxl_region_t *insert(adxl_region_set_t *set, uintptr_t addr, size_t len, void *tag,
                             adxl_region_t **overlap) {
    if (overlap) *overlap = NULL;
    if (!set->root && !(set->root = node_new(true))) return NULL;
    step_t path[DEPTH_MAX];
    unsigned depth;
    leaf_t *l = descend(set, addr, len, path, &depth);
    unsigned at = rank(&l->keys, addr, len);
    if (overlap && (*overlap = neighbour_overlapping(l, at, addr, len))) return NULL;
    adxl_region_t *r = adxl_region_slab_take(&set->slabs);
    if (!r) {
        if (set->count == 0) { /* the root this call made: empty is NULL */
            free(set->root);
            set->root = NULL;
        }
        return NULL;
    }
    *r = (adxl_region_t){.addr = addr, .len = len, .tag = tag, .refs = 1, .place = r->place};
    /* Every node the insert splits off is allocated first, so that running out of memory
     * leaves the set as it was. */
    node_t *fresh[DEPTH_MAX + 1];
    unsigned need = splits_needed(l, path, depth);
    for (unsigned k = 0; k < need; k++) {
        if (!(fresh[k] = node_new(k == 0))) {
            while (k-- > 0)
                free(fresh[k]);
            adxl_region_slab_give(&set->slabs, r, set->count > 0);
            return NULL;
        }
    }
    keys_move(&l->keys, at + 1, &l->keys, at, l->keys.n - at);
    memmove(&l->region[at + 1], &l->region[at], (l->keys.n - at) * sizeof(l->region[0]));
    l->keys.addr[at] = addr;
    l->keys.len[at] = len;
    l->region[at] = r;
    l->keys.n++;
    set->count++;
    if (need == 0) return r;

    /* Split upwards: each split hands its parent a separator and a new right sibling. */
    split_leaf(l, (leaf_t *)fresh[0]);
    node_t *left = &l->keys, *right = fresh[0], *sep_src = right;
    unsigned sep_i = 0, used = 1;
    for (unsigned k = depth; k-- > 0;) {
        inner_t *p = path[k].node;
        inner_put(p, path[k].at, sep_src, sep_i, right);
        if (p->keys.n <= KEYS_MAX) return r;
        split_inner(p, (inner_t *)fresh[used]);
        left = &p->keys;
        right = fresh[used++];
        sep_src = left;
        sep_i = left->n;
    }
    /* The root split: a new root above the two halves. */
    inner_t *root = (inner_t *)fresh[used];
    key_copy(&root->keys, 0, sep_src, sep_i);
    root->keys.n = 1;
    root->child[0] = left;
    root->child[1] = right;
    set->root = &root->keys;
    return r;
}

adxl_region_t *adxl_region_set_insert(adxl_region_set_t *set, uintptr_t addr, size_t len,
                                      void *tag) {
    return insert(set, addr, len, tag, NULL);
}

adxl_region_t *adxl_region_set_insert_disjoint(adxl_region_set_t *set, uintptr_t addr, size_t len,
                                               void *tag, adxl_region_t **overlap) {
    return insert(set, addr, len, tag, overlap);
}

/* Removes key i of x and the child to its right. */
static void inner_drop(inner_t *x, unsigned i) {
    keys_move(&x->keys, i, &x->keys, i + 1, x->keys.n - i - 1);
    memmove(&x->child[i + 1], &x->child[i + 2], (x->keys.n - i - 1) * sizeof(x->child[0]));
    x->keys.n--;
}

/* Leaf c, child ci of p, fell below KEYS_MIN: it takes a range from a sibling that can
 * spare one, or merges with one. */
static void fix_leaf(inner_t *p, unsigned ci) {
    leaf_t *c = (leaf_t *)p->child[ci];
    leaf_t *left = ci > 0 ? (leaf_t *)p->child[ci - 1] : NULL;
    leaf_t *right = ci < p->keys.n ? (leaf_t *)p->child[ci + 1] : NULL;
    if (left && left->keys.n > KEYS_MIN) {
        keys_move(&c->keys, 1, &c->keys, 0, c->keys.n);
        memmove(&c->region[1], &c->region[0], c->keys.n * sizeof(c->region[0]));
        key_copy(&c->keys, 0, &left->keys, left->keys.n - 1);
        c->region[0] = left->region[left->keys.n - 1];
        left->keys.n--;
        c->keys.n++;
        key_copy(&p->keys, ci - 1, &c->keys, 0);
    } else if (right && right->keys.n > KEYS_MIN) {
        key_copy(&c->keys, c->keys.n, &right->keys, 0);
        c->region[c->keys.n++] = right->region[0];
        keys_move(&right->keys, 0, &right->keys, 1, right->keys.n - 1);
        memmove(&right->region[0], &right->region[1], (right->keys.n - 1) * sizeof(c->region[0]));
        right->keys.n--;
        key_copy(&p->keys, ci, &right->keys, 0);
    } else {
        unsigned sep = left ? ci - 1 : ci;
        leaf_t *into = left ? left : c, *gone = left ? c : right;
        keys_move(&into->keys, into->keys.n, &gone->keys, 0, gone->keys.n);
        memcpy(&into->region[into->keys.n], gone->region, gone->keys.n * sizeof(c->region[0]));
        into->keys.n += gone->keys.n;
        into->next = gone->next;
        if (into->next) into->next->prev = into;
        free(gone);
        inner_drop(p, sep);
    }
}

/* The same for an inner node c: keys pass through the separator in p. */
static void fix_inner(inner_t *p, unsigned ci) {
    inner_t *c = (inner_t *)p->child[ci];
    inner_t *left = ci > 0 ? (inner_t *)p->child[ci - 1] : NULL;
    inner_t *right = ci < p->keys.n ? (inner_t *)p->child[ci + 1] : NULL;
    if (left && left->keys.n > KEYS_MIN) {
        keys_move(&c->keys, 1, &c->keys, 0, c->keys.n);
        memmove(&c->child[1], &c->child[0], (c->keys.n + 1) * sizeof(c->child[0]));
        key_copy(&c->keys, 0, &p->keys, ci - 1);
        c->child[0] = left->child[left->keys.n];
        c->keys.n++;
        key_copy(&p->keys, ci - 1, &left->keys, left->keys.n - 1);
        left->keys.n--;
    } else if (right && right->keys.n > KEYS_MIN) {
        key_copy(&c->keys, c->keys.n, &p->keys, ci);
        c->child[++c->keys.n] = right->child[0];
        key_copy(&p->keys, ci, &right->keys, 0);
        keys_move(&right->keys, 0, &right->keys, 1, right->keys.n - 1);
        memmove(&right->child[0], &right->child[1], right->keys.n * sizeof(c->child[0]));
        right->keys.n--;
    } else {
        unsigned sep = left ? ci - 1 : ci;
        inner_t *into = left ? left : c, *gone = left ? c : right;
        key_copy(&into->keys, into->keys.n, &p->keys, sep);
        keys_move(&into->keys, into->keys.n + 1, &gone->keys, 0, gone->keys.n);
        memcpy(&into->child[into->keys.n + 1], gone->child,
               (gone->keys.n + 1) * sizeof(c->child[0]));
        into->keys.n += 1 + gone->keys.n;
        free(gone);
        inner_drop(p, sep);
    }
}

/* Removes range `at` of leaf l, which path (depth steps) led to. */
static void remove_at(adxl_region_set_t *set, leaf_t *l, unsigned at, step_t *path,
                      unsigned depth) {
    adxl_region_t *r = l->region[at];
    keys_move(&l->keys, at, &l->keys, at + 1, l->keys.n - at - 1);
    memmove(&l->region[at], &l->region[at + 1], (l->keys.n - at - 1) * sizeof(l->region[0]));
    l->keys.n--;
    set->count--;
    adxl_region_slab_give(&set->slabs, r, set->count > 0);
    if (set->count == 0) adxl_region_slab_release(&set->slabs);

    node_t *x = &l->keys;
    for (unsigned k = depth; k > 0 && x->n < KEYS_MIN; k--) {
        inner_t *p = path[k - 1].node;
        if (x->leaf)
            fix_leaf(p, path[k - 1].at);
        else
            fix_inner(p, path[k - 1].at);
        x = &p->keys;
    }
    /* The root may be left an inner node with one child, or an empty leaf. */
    node_t *root = set->root;
    if (!root->leaf && root->n == 0) {
        set->root = ((inner_t *)root)->child[0];
        free(root);
    } else if (root->leaf && root->n == 0) {
        set->root = NULL;
        free(root);
    }
}

void adxl_region_set_remove(adxl_region_set_t *set, adxl_region_t *r) {
    step_t path[DEPTH_MAX];
    unsigned depth;
    leaf_t *l = descend(set, r->addr, r->len, path, &depth);
    remove_at(set, l, rank(&l->keys, r->addr, r->len) - 1, path, depth);
}

bool adxl_region_set_remove_exact(adxl_region_set_t *set, uintptr_t addr, size_t len, void **tag) {
    if (!set->root) return false;
    step_t path[DEPTH_MAX];
    unsigned depth;
    leaf_t *l = descend(set, addr, len, path, &depth);
    unsigned r = rank(&l->keys, addr, len);
    if (r == 0 || l->keys.addr[r - 1] != addr || l->keys.len[r - 1] != len) return false;
    if (tag) *tag = l->region[r - 1]->tag;
    remove_at(set, l, r - 1, path, depth);
    return true;
}

bool adxl_region_set_each(const adxl_region_set_t *set, bool (*fn)(adxl_region_t *r, void *ctx),
                          void *ctx) {
    node_t *x = set->root;
    if (!x) return true;
    while (!x->leaf)
        x = ((inner_t *)x)->child[0];
    for (const leaf_t *l = (const leaf_t *)x; l; l = l->next)
        for (unsigned i = 0; i < l->keys.n; i++)
            if (!fn(l->region[i], ctx)) return false;
    return true;
}

/* What adxl_region_set_is_sound has seen so far, leaves left to right. */
typedef struct {
    const leaf_t *last_leaf;
    unsigned leaf_depth; /* every leaf's; 0 until the first */
    size_t count;
    bool sound;
} audit_t;

typedef struct {
    uintptr_t addr;
    size_t len;
    bool present; /* false: no bound on this side */
} bound_t;

static bool key_before(uintptr_t a, size_t alen, uintptr_t b, size_t blen) {
    return a < b || (a == b && alen < blen);
}

/* x's keys ascend strictly within [lo, hi), it is filled as its place requires, and so are
 * its children; leaves lie at one depth and are linked in key order. */
static void audit_node(const node_t *x, unsigned depth, bool root, bound_t lo, bound_t hi,
                       audit_t *a) {
    unsigned least = root ? 1 : KEYS_MIN;
    if (depth >= DEPTH_MAX || x->n < least || x->n > KEYS_MAX) a->sound = false;
    for (unsigned i = 0; a->sound && i < x->n; i++) {
        if (i > 0 && !key_before(x->addr[i - 1], x->len[i - 1], x->addr[i], x->len[i]))
            a->sound = false;
        if (lo.present && key_before(x->addr[i], x->len[i], lo.addr, lo.len)) a->sound = false;
        if (hi.present && !key_before(x->addr[i], x->len[i], hi.addr, hi.len)) a->sound = false;
    }
    if (!a->sound) return;
    if (x->leaf) {
        const leaf_t *l = (const leaf_t *)x;
        if (a->leaf_depth == 0) a->leaf_depth = depth + 1;
        if (a->leaf_depth != depth + 1 || l->prev != a->last_leaf ||
            (a->last_leaf && a->last_leaf->next != l))
            a->sound = false;
        for (unsigned i = 0; i < x->n; i++)
            if (l->region[i]->addr != x->addr[i] || l->region[i]->len != x->len[i])
                a->sound = false;
        a->last_leaf = l;
        a->count += x->n;
        return;
    }
    const inner_t *in = (const inner_t *)x;
    for (unsigned i = 0; a->sound && i <= x->n; i++) {
        bound_t child_lo = i > 0 ? (bound_t){x->addr[i - 1], x->len[i - 1], true} : lo;
        bound_t child_hi = i < x->n ? (bound_t){x->addr[i], x->len[i], true} : hi;
        audit_node(in->child[i], depth + 1, false, child_lo, child_hi, a);
    }
}

bool adxl_region_set_is_sound(const adxl_region_set_t *set) {
    if (!set->root) return set->count == 0;
    audit_t a = {NULL, 0, 0, true};
    bound_t none = {0, 0, false};
    audit_node(set->root, 0, true, none, none, &a);
    return a.sound && a.last_leaf && !a.last_leaf->next && a.count == set->count;
}
