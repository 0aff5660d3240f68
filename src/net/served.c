#include "net/served.h"

#include "net/thread_util.h"

void adxl_served_init(adxl_served_list_t *list, int max, pthread_rwlock_t *walkers,
                      void (*free_fn)(adxl_served_t *s), void (*wake)(adxl_served_t *s)) {
    pthread_mutex_init(&list->lock, NULL);
    list->free_fn = free_fn;
    list->wake = wake;
    list->walkers = walkers;
    list->head = NULL;
    list->count = 0;
    list->max = max;
}

void adxl_served_destroy(adxl_served_list_t *list) {
    pthread_mutex_destroy(&list->lock);
}

bool adxl_served_full(adxl_served_list_t *list) {
    pthread_mutex_lock(&list->lock);
    bool full = list->count >= list->max;
    pthread_mutex_unlock(&list->lock);
    return full;
}

adxl_served_t *adxl_served_first(adxl_served_list_t *list) {
    pthread_mutex_lock(&list->lock);
    adxl_served_t *s = list->head;
    pthread_mutex_unlock(&list->lock);
    return s;
}

/* With the list's lock held. */
static void unlink_one(adxl_served_list_t *list, adxl_served_t *s) {
    for (adxl_served_t **p = &list->head; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            list->count--;
            return;
        }
}

bool adxl_served_start(adxl_served_list_t *list, adxl_served_t *s, void *(*fn)(void *)) {
    atomic_init(&s->finished, false);
    pthread_mutex_lock(&list->lock);
    bool room = list->count < list->max;
    if (room) {
        s->next = list->head;
        list->head = s;
        list->count++;
    }
    pthread_mutex_unlock(&list->lock);
    if (!room) return false;
    if (adxl_thread_start(&s->thread, fn, s)) return true;
    /* A walker may have seen it: it leaves as reaped ones do. It has no thread, so it
     * never did anything a walker could act on. */
    if (list->walkers) pthread_rwlock_wrlock(list->walkers);
    pthread_mutex_lock(&list->lock);
    unlink_one(list, s);
    pthread_mutex_unlock(&list->lock);
    if (list->walkers) pthread_rwlock_unlock(list->walkers);
    return false;
}

void adxl_served_reap(adxl_served_list_t *list, bool all) {
    if (list->walkers) {
        if (all)
            pthread_rwlock_wrlock(list->walkers);
        else if (pthread_rwlock_trywrlock(list->walkers) != 0)
            return;
    }
    pthread_mutex_lock(&list->lock);
    adxl_served_t *done = NULL;
    for (adxl_served_t **p = &list->head; *p;) {
        adxl_served_t *s = *p;
        if (all || atomic_load(&s->finished)) {
            *p = s->next;
            s->next = done;
            done = s;
            list->count--;
            if (all && list->wake) list->wake(s);
        } else {
            p = &s->next;
        }
    }
    pthread_mutex_unlock(&list->lock);
    if (list->walkers) pthread_rwlock_unlock(list->walkers);
    while (done) {
        adxl_served_t *next = done->next;
        pthread_join(done->thread, NULL);
        list->free_fn(done);
        done = next;
    }
}
