/* The target role; see bench_target.h. */
#include "bench_target.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <adxl/adxl.h>

#include "bench_control.h"
#include "bench_device.h"
#include "bench_engine.h"
#include "bench_net.h"
#include "bench_util.h"

#define MAX_CLIENTS 256

typedef struct client client_t;

/* State the control threads share with the main loop. */
typedef struct {
    bench_ctl_region_t region;
    atomic_bool quit;
    int wake_write; /* a control thread writes here after QUIT to wake the main loop */
} shared_t;

struct client {
    pthread_t thread;
    int fd;
    atomic_bool done;
    shared_t *shared;
};

/* One thread per control connection: there are only a few (one per initiator thread),
 * and FILL/CHECK of a large range must not hold up the others. */
static void *client_thread(void *arg) {
    client_t *c = arg;
    char req[512], resp[512];
    bool quit = false;

    /* FILL and CHECK of a device region copy through the runtime, which wants the device
     * current on this thread (should that fail, printed, each such copy fails and is
     * answered ERR). */
    if (c->shared->region.device) (void)bench_device_enter();
    while (!quit && bench_net_recv_line(c->fd, req, sizeof(req), -1) == 0) {
        bench_ctl_handle(&c->shared->region, req, resp, sizeof(resp), &quit);
        if (bench_net_send_line(c->fd, resp) != 0) break;
    }
    if (quit) {
        atomic_store(&c->shared->quit, true);
        (void)!write(c->shared->wake_write, "q", 1);
    }
    atomic_store(&c->done, true);
    return NULL;
}

static void join_client(client_t *c) {
    pthread_join(c->thread, NULL);
    close(c->fd);
    free(c);
}

/* Joins finished clients so that a long-lived target survives many initiator runs. */
static size_t reap_clients(client_t **clients, size_t n) {
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (atomic_load(&clients[i]->done)) {
            join_client(clients[i]);
        } else {
            clients[kept++] = clients[i];
        }
    }
    return kept;
}

static int control_port_for(const bench_args_t *a, int engine_port, int listen_port) {
    if (a->control_port >= 0) return a->control_port;
    if (listen_port == 0) return 0; /* the engine's port was OS-chosen: so is this one */
    if (engine_port >= 65535) {
        bench_err("engine port %d leaves no room for the control port: give --control-port",
                  engine_port);
        return -1;
    }
    return engine_port + 1;
}

/* Accepts and serves control connections until told to stop. */
static void serve(shared_t *shared, int listen_fd, int signal_fd, int wake_read, bool watch_stdin) {
    client_t *clients[MAX_CLIENTS];
    size_t n = 0;

    while (!atomic_load(&shared->quit)) {
        struct pollfd fds[4] = {
            {.fd = listen_fd, .events = POLLIN},
            {.fd = signal_fd, .events = POLLIN},
            {.fd = wake_read, .events = POLLIN},
            {.fd = watch_stdin ? STDIN_FILENO : -1, .events = POLLIN},
        };
        if (poll(fds, 4, -1) < 0) {
            if (errno == EINTR) continue;
            bench_err("poll: %s", strerror(errno));
            break;
        }
        if (fds[1].revents != 0) break; /* SIGINT or SIGTERM */
        if (fds[3].revents != 0) {
            /* The spawning initiator closed our stdin (or died): nobody is left to serve.
             * Anything readable is drained; only end of file ends the run. */
            char buf[64];
            if (read(STDIN_FILENO, buf, sizeof(buf)) <= 0) break;
        }
        if (fds[0].revents & POLLIN) {
            int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
            n = reap_clients(clients, n);
            if (fd < 0) continue;
            client_t *c = calloc(1, sizeof(*c));
            if (n == MAX_CLIENTS || c == NULL) {
                bench_err("too many control connections; refusing one");
                free(c);
                close(fd);
                continue;
            }
            c->fd = fd;
            c->shared = shared;
            atomic_init(&c->done, false);
            if (pthread_create(&c->thread, NULL, client_thread, c) != 0) {
                bench_err("cannot start a control thread");
                free(c);
                close(fd);
                continue;
            }
            clients[n++] = c;
        }
    }
    /* Wake the control threads out of recv so that they can be joined before the region
     * they serve is freed. */
    for (size_t i = 0; i < n; i++)
        shutdown(clients[i]->fd, SHUT_RDWR);
    for (size_t i = 0; i < n; i++)
        join_client(clients[i]);
}

static void report_stats(adxl_engine_t *engine) {
    adxl_stats_t s;
    if (adxl_get_stats(engine, &s) == ADXL_SUCCESS) {
        fprintf(stderr,
                "adxl-bench target: served %" PRIu64 " request frames, refused %" PRIu64
                ", links dropped %" PRIu64 "\n",
                s.frames_served, s.frames_refused, s.links_dropped);
    }
}

/* How to use this target, for the person who started it. */
static void print_banner(const bench_args_t *a, const char *name, const void *base,
                         const char *control, bool default_control) {
    char size[32], kind[32];

    bench_format_size(a->region_size, size, sizeof(size));
    snprintf(kind, sizeof(kind), "%s", "host");
    if (a->target_device) snprintf(kind, sizeof(kind), "%s device", bench_device_name());
    fprintf(stderr,
            "adxl-bench target: engine %s, registered %s of %s memory at 0x%" PRIxPTR
            ", control channel %s\n"
            "  run: adxl-bench --role initiator --target %s%s%s\n"
            "  Ctrl-C to stop\n",
            name, size, kind, (uintptr_t)base, control, name, default_control ? "" : " --control ",
            default_control ? "" : control);
}

int bench_target_main(const bench_args_t *a) {
    char host[BENCH_NAME_LEN], engine_host[BENCH_NAME_LEN], control[BENCH_NAME_LEN];
    int listen_port, engine_port, port;
    int rc = BENCH_EXIT_FAIL, listen_fd = -1, signal_fd = -1, wake[2] = {-1, -1};
    adxl_engine_t *engine = NULL;
    adxl_mem_handle_t handle = NULL;
    void *base = NULL;
    const char *name;
    shared_t shared;
    adxl_status_t st;
    sigset_t sigs;

    /* Blocked before the engine starts its threads, so that SIGINT/SIGTERM reach only the
     * signalfd below and the target shuts down cleanly instead of dying mid-transfer. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal_fd = signalfd(-1, &sigs, SFD_CLOEXEC);
    if (signal_fd < 0 || pipe2(wake, O_CLOEXEC) != 0) {
        bench_err("signalfd/pipe: %s", strerror(errno));
        goto out;
    }

    bench_net_split(a->listen, host, sizeof(host), &listen_port); /* checked by args */
    /* This process never forks, so a real CUDA may be initialised here; before the engine,
     * so that a missing runtime is reported in the bench's words. */
    if (a->target_device && bench_device_open(bench_args_runtime(a)) != 0) goto out;
    engine = bench_engine_open(a, a->listen);
    if (engine == NULL) goto out;
    name = adxl_local_engine(engine);
    if (name == NULL || bench_net_split(name, engine_host, sizeof(engine_host), &engine_port)) {
        bench_err("adxl_local_engine returned '%s', not IP:PORT", name ? name : "(null)");
        goto out;
    }

    if (a->target_device) {
        base = bench_device_alloc(a->region_size);
        if (base == NULL) goto out;
    } else {
        st = adxl_malloc_mem(ADXL_MEM_HOST, a->region_size, &base);
        if (st != ADXL_SUCCESS) {
            bench_err_status("adxl_malloc_mem of the target region", st);
            goto out;
        }
    }
    st = adxl_register_mem(engine, &(adxl_mem_desc_t){(uintptr_t)base, a->region_size},
                           a->target_device ? ADXL_MEM_DEVICE : ADXL_MEM_HOST, &handle);
    if (st != ADXL_SUCCESS) {
        bench_err_status("adxl_register_mem of the target region", st);
        goto out;
    }

    port = control_port_for(a, engine_port, listen_port);
    if (port < 0) goto out;
    listen_fd = bench_net_listen(host, port, control, sizeof(control));
    if (listen_fd < 0) goto out;

    /* One machine-readable line on stdout (a one-host run parses it), the rest on
     * stderr. */
    printf("READY engine=%s control=%s addr=0x%" PRIxPTR " len=%zu\n", name, control,
           (uintptr_t)base, a->region_size);
    fflush(stdout);
    if (!a->exit_on_stdin_eof) print_banner(a, name, base, control, port == engine_port + 1);

    shared.region = (bench_ctl_region_t){name, base, a->region_size, a->target_device};
    atomic_init(&shared.quit, false);
    shared.wake_write = wake[1];
    serve(&shared, listen_fd, signal_fd, wake[0], a->exit_on_stdin_eof);
    if (!a->exit_on_stdin_eof) report_stats(engine);
    rc = BENCH_EXIT_OK;

out:
    if (listen_fd >= 0) close(listen_fd);
    if (handle != NULL) adxl_deregister_mem(engine, handle);
    adxl_engine_destroy(engine); /* before freeing: no transfer may touch base after */
    if (base != NULL && a->target_device) {
        bench_device_free(base);
    } else if (base != NULL) {
        adxl_free_mem(base);
    }
    bench_device_close();
    if (signal_fd >= 0) close(signal_fd);
    if (wake[0] >= 0) close(wake[0]);
    if (wake[1] >= 0) close(wake[1]);
    return rc;
}
