#include "stream_queue.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct job {
    struct job *next;
    gm_op op;
} job;

struct sq_stream {
    sq_stream *next_live; /* under registry_lock */
    int device;
    pthread_t worker;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a job queued or finished, or stop set */
    job *head, *tail;       /* under lock; head is popped once it has run */
    bool stop;              /* under lock */
    gm_status first_error;  /* under lock */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static sq_stream *live; /* under registry_lock */

static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_released = PTHREAD_COND_INITIALIZER;
static bool held; /* under hold_lock */

static void fork_prepare(void) {
    pthread_mutex_lock(&registry_lock);
}
static void fork_parent(void) {
    pthread_mutex_unlock(&registry_lock);
}
/* The workers did not follow into the child: its copies of the streams are dead. */
static void fork_child(void) {
    live = NULL;
    pthread_mutex_unlock(&registry_lock);
}
__attribute__((constructor)) static void sq_setup(void) {
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void wait_while_held(void) {
    pthread_mutex_lock(&hold_lock);
    while (held)
        pthread_cond_wait(&hold_released, &hold_lock);
    pthread_mutex_unlock(&hold_lock);
}

void sq_hold(bool hold) {
    pthread_mutex_lock(&hold_lock);
    held = hold;
    if (!hold) pthread_cond_broadcast(&hold_released);
    pthread_mutex_unlock(&hold_lock);
}

static void *worker_main(void *arg) {
    sq_stream *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->head && !s->stop)
            pthread_cond_wait(&s->changed, &s->lock);
        if (!s->head) break; /* stop, and nothing left to run */
        job *j = s->head;
        pthread_mutex_unlock(&s->lock);
        wait_while_held();
        gm_status st = gm_copy(&j->op);
        pthread_mutex_lock(&s->lock);
        s->head = j->next;
        if (!s->head) s->tail = NULL;
        if (st != GM_OK && s->first_error == GM_OK) s->first_error = st;
        free(j);
        pthread_cond_broadcast(&s->changed);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

sq_stream *sq_create(int device) {
    sq_stream *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->device = device;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->changed, NULL);
    if (pthread_create(&s->worker, NULL, worker_main, s) != 0) {
        pthread_cond_destroy(&s->changed);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    pthread_mutex_lock(&registry_lock);
    s->next_live = live;
    live = s;
    pthread_mutex_unlock(&registry_lock);
    return s;
}

void sq_destroy(sq_stream *s) {
    pthread_mutex_lock(&registry_lock);
    for (sq_stream **p = &live; *p; p = &(*p)->next_live) {
        if (*p == s) {
            *p = s->next_live;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->worker, NULL);
    pthread_cond_destroy(&s->changed);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

bool sq_is_live(const sq_stream *s) {
    bool found = false;
    pthread_mutex_lock(&registry_lock);
    for (sq_stream *p = live; p && !found; p = p->next_live)
        found = p == s;
    pthread_mutex_unlock(&registry_lock);
    return found;
}

int sq_device(const sq_stream *s) {
    return s->device;
}

bool sq_enqueue(sq_stream *s, const gm_op *op) {
    job *j = calloc(1, sizeof(*j));
    if (!j) return false;
    j->op = *op;
    pthread_mutex_lock(&s->lock);
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    return true;
}

gm_status sq_sync(sq_stream *s) {
    pthread_mutex_lock(&s->lock);
    while (s->head)
        pthread_cond_wait(&s->changed, &s->lock);
    gm_status st = s->first_error;
    s->first_error = GM_OK;
    pthread_mutex_unlock(&s->lock);
    return st;
}

size_t sq_live_streams(void) {
    size_t n = 0;
    pthread_mutex_lock(&registry_lock);
    for (sq_stream *p = live; p; p = p->next_live)
        n++;
    pthread_mutex_unlock(&registry_lock);
    return n;
}
