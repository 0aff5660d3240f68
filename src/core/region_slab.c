#include "core/region_slab.h"

#include <stddef.h>
#include <stdlib.h>

#define SLAB_BYTES 4080u /* with malloc's own header, one 4 KiB chunk */
#define PLACES 82u       /* as many as fit (checked below) */
#define NONE 0xffu

struct adxl_region_slab {
    adxl_region_slab_t *prev, *next; /* on the open list, while it has a free place */
    uint16_t used;                   /* places handed out */
    uint16_t carved;                 /* places ever handed out; those past it are fresh */
    uint8_t free_head;               /* a place given back, or NONE */
    uint8_t free_next[PLACES];       /* for each place given back, the next one */
    adxl_region_t place[PLACES];
};
_Static_assert(sizeof(adxl_region_slab_t) <= SLAB_BYTES, "a slab fits one 4 KiB chunk");
_Static_assert(PLACES < NONE, "place indexes fit a byte");

/* Under AddressSanitizer a place not handed out is poisoned, so that an owner's stale
 * pointer to a range given back is still caught although its slab lives on. */
#if defined(__SANITIZE_ADDRESS__)
#define SLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_ASAN 1
#endif
#endif
#ifdef SLAB_ASAN
void __asan_poison_memory_region(void const volatile *addr, size_t size);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#define POISON(p, n) __asan_poison_memory_region((p), (n))
#define UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static void unlink_open(adxl_region_slab_t **open, adxl_region_slab_t *s) {
    if (s->prev)
        s->prev->next = s->next;
    else
        *open = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

static void push_open(adxl_region_slab_t **open, adxl_region_slab_t *s) {
    s->prev = NULL;
    s->next = *open;
    if (*open) (*open)->prev = s;
    *open = s;
}

adxl_region_t *adxl_region_slab_take(adxl_region_slab_t **open) {
    adxl_region_slab_t *s = *open;
    if (!s) {
        if (!(s = malloc(sizeof(*s)))) return NULL;
        s->used = s->carved = 0;
        s->free_head = NONE;
        POISON(s->place, sizeof(s->place));
        push_open(open, s);
    }
    unsigned i;
    if (s->free_head != NONE) {
        i = s->free_head;
        s->free_head = s->free_next[i];
    } else {
        i = s->carved++;
    }
    if (++s->used == PLACES) unlink_open(open, s); /* full */
    UNPOISON(&s->place[i], sizeof(s->place[i]));
    s->place[i].place = (uint8_t)i;
    return &s->place[i];
}

void adxl_region_slab_give(adxl_region_slab_t **open, adxl_region_t *r, bool keep_last) {
    unsigned i = r->place;
    adxl_region_slab_t *s =
        (adxl_region_slab_t *)((char *)(r - i) - offsetof(adxl_region_slab_t, place));
    POISON(r, sizeof(*r));
    if (s->used-- == PLACES) push_open(open, s); /* it has a free place again */
    if (s->used == 0 && !(keep_last && *open == s && !s->next)) {
        unlink_open(open, s);
        UNPOISON(s->place, sizeof(s->place));
        free(s);
        return;
    }
    s->free_next[i] = s->free_head;
    s->free_head = (uint8_t)i;
}

void adxl_region_slab_release(adxl_region_slab_t **open) {
    while (*open) {
        adxl_region_slab_t *s = *open;
        unlink_open(open, s);
        UNPOISON(s->place, sizeof(s->place));
        free(s);
    }
}
