/*
 * The connections a transport's target side serves, each on a thread of its own: listed
 * before its thread starts, and joined and freed once that thread has finished. Every
 * transport's inbound connection begins with an adxl_served_t, so that one list, one
 * start and one reap serve them all.
 */
#ifndef ADXL_SERVED_H
#define ADXL_SERVED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct adxl_served {
    struct adxl_served *next;
    pthread_t thread;
    atomic_bool finished; /* the thread's last act: it may be joined now */
} adxl_served_t;

typedef struct {
    pthread_mutex_t lock;              /* head and count; held only to read or change them */
    void (*free_fn)(adxl_served_t *s); /* frees a connection whose thread was joined */
    void (*wake)(adxl_served_t *s);    /* optional: tells its thread to end (at stop) */
    /* Optional: read-held by whoever walks the list without its lock (holding the lock
     * across a long wait would hold up accepting); connections then leave the list only
     * with it write-held. */
    pthread_rwlock_t *walkers;
    adxl_served_t *head;
    int count;
    int max;
} adxl_served_list_t;

void adxl_served_init(adxl_served_list_t *list, int max, pthread_rwlock_t *walkers,
                      void (*free_fn)(adxl_served_t *s), void (*wake)(adxl_served_t *s));
void adxl_served_destroy(adxl_served_list_t *list);
/* Lists s, first in the list, and starts its thread on fn(s); false when the list is full
 * or the thread cannot start, and s is not listed then. */
bool adxl_served_start(adxl_served_list_t *list, adxl_served_t *s, void *(*fn)(void *));
/* Whether the list holds as many connections as it may. */
bool adxl_served_full(adxl_served_list_t *list);
static inline void adxl_served_finished(adxl_served_t *s) {
    atomic_store(&s->finished, true);
}
/* The first connection listed, read under the list's lock: the rest follow by next. */
adxl_served_t *adxl_served_first(adxl_served_list_t *list);
/*
 * Joins and frees (free_fn) the connections whose threads finished; with all, every
 * one, after calling wake (if any) on each under the list's lock to tell its thread to
 * end. Without all, it gives up at once while someone walks the list: a later reap
 * takes them.
 */
void adxl_served_reap(adxl_served_list_t *list, bool all);

#endif
