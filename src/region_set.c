#include "region_set.h"

#include <stdlib.h>

/* The range comes first, so that a range's address is its node's. */
struct adxl_region_node {
    adxl_region_t region;
    adxl_region_node_t *child[2]; /* [0] lower addresses, [1] higher */
    int height;
};

typedef adxl_region_node_t node_t;

static int height(const node_t *n) {
    return n ? n->height : 0;
}

static void update_height(node_t *n) {
    int l = height(n->child[0]), r = height(n->child[1]);
    n->height = 1 + (l > r ? l : r);
}

/* Lifts the child on side !dir into n's place (dir 1: a right rotation). */
static node_t *rotate(node_t *n, int dir) {
    node_t *c = n->child[!dir];
    n->child[!dir] = c->child[dir];
    c->child[dir] = n;
    update_height(n);
    update_height(c);
    return c;
}

static node_t *rebalance(node_t *n) {
    update_height(n);
    int skew = height(n->child[0]) - height(n->child[1]);
    if (skew > 1) {
        if (height(n->child[0]->child[0]) < height(n->child[0]->child[1]))
            n->child[0] = rotate(n->child[0], 0);
        return rotate(n, 1);
    }
    if (skew < -1) {
        if (height(n->child[1]->child[1]) < height(n->child[1]->child[0]))
            n->child[1] = rotate(n->child[1], 1);
        return rotate(n, 0);
    }
    return n;
}

/* Ordered by start, then length: an owner that briefly holds two ranges with one start
 * (a region published again before its old range was withdrawn) still finds each. */
static int after_key(const adxl_region_t *a, uintptr_t addr, size_t len) {
    return addr > a->addr || (addr == a->addr && len > a->len);
}

static node_t *insert_node(node_t *n, node_t *x) {
    if (!n) return x;
    int dir = after_key(&n->region, x->region.addr, x->region.len);
    n->child[dir] = insert_node(n->child[dir], x);
    return rebalance(n);
}

static node_t *detach_min(node_t *n, node_t **min) {
    if (!n->child[0]) {
        *min = n;
        return n->child[1];
    }
    n->child[0] = detach_min(n->child[0], min);
    return rebalance(n);
}

/* Unlinks the node holding [addr, +len); nodes are relinked, never copied, so the others'
 * ranges keep their addresses. */
static node_t *remove_node(node_t *n, uintptr_t addr, size_t len) {
    if (!n) return NULL;
    if (addr != n->region.addr || len != n->region.len) {
        int dir = after_key(&n->region, addr, len);
        n->child[dir] = remove_node(n->child[dir], addr, len);
        return rebalance(n);
    }
    if (!n->child[1]) return n->child[0];
    node_t *successor;
    node_t *right = detach_min(n->child[1], &successor);
    successor->child[0] = n->child[0];
    successor->child[1] = right;
    return rebalance(successor);
}

static void free_nodes(node_t *n) {
    while (n) {
        free_nodes(n->child[0]);
        node_t *right = n->child[1];
        free(n);
        n = right;
    }
}

void adxl_region_set_free(adxl_region_set_t *set) {
    free_nodes(set->root);
    set->root = NULL;
    set->count = 0;
}

/* The range with the greatest start <= addr (after: the least start > addr), or NULL. */
static node_t *at_or_before(const adxl_region_set_t *set, uintptr_t addr) {
    node_t *best = NULL;
    for (node_t *n = set->root; n;) {
        if (n->region.addr <= addr) {
            best = n;
            n = n->child[1];
        } else {
            n = n->child[0];
        }
    }
    return best;
}

static node_t *after(const adxl_region_set_t *set, uintptr_t addr) {
    node_t *best = NULL;
    for (node_t *n = set->root; n;) {
        if (n->region.addr > addr) {
            best = n;
            n = n->child[0];
        } else {
            n = n->child[1];
        }
    }
    return best;
}

adxl_region_t *adxl_region_set_find_exact(const adxl_region_set_t *set, uintptr_t addr,
                                          size_t len) {
    for (node_t *n = set->root; n;) {
        if (n->region.addr == addr && n->region.len == len) return &n->region;
        n = n->child[after_key(&n->region, addr, len)];
    }
    return NULL;
}

bool adxl_region_set_overlaps(const adxl_region_set_t *set, uintptr_t addr, size_t len) {
    /* The range starting at or before addr may reach into it... */
    node_t *n = at_or_before(set, addr);
    if (n && n->region.len > addr - n->region.addr) return true;
    /* ...and so may the first one starting after it. */
    n = after(set, addr);
    return n && n->region.addr - addr < len;
}

adxl_region_t *adxl_region_set_containing(const adxl_region_set_t *set, uintptr_t addr,
                                          size_t len) {
    node_t *n = at_or_before(set, addr);
    if (!n) return NULL;
    adxl_region_t *r = &n->region;
    /* Written so that nothing overflows: addr >= r->addr here. */
    if (addr - r->addr < r->len && len <= r->len - (addr - r->addr)) return r;
    return NULL;
}

adxl_region_t *adxl_region_set_insert(adxl_region_set_t *set, uintptr_t addr, size_t len,
                                      void *tag) {
    node_t *x = malloc(sizeof(*x));
    if (!x) return NULL;
    *x = (node_t){.region = {.addr = addr, .len = len, .tag = tag, .refs = 1}, .height = 1};
    set->root = insert_node(set->root, x);
    set->count++;
    return &x->region;
}

void adxl_region_set_remove(adxl_region_set_t *set, adxl_region_t *r) {
    node_t *n = (node_t *)r;
    set->root = remove_node(set->root, r->addr, r->len);
    set->count--;
    free(n);
}

static bool each_node(node_t *n, bool (*fn)(adxl_region_t *r, void *ctx), void *ctx) {
    while (n) {
        if (!each_node(n->child[0], fn, ctx) || !fn(&n->region, ctx)) return false;
        n = n->child[1];
    }
    return true;
}

bool adxl_region_set_each(const adxl_region_set_t *set, bool (*fn)(adxl_region_t *r, void *ctx),
                          void *ctx) {
    return each_node(set->root, fn, ctx);
}
