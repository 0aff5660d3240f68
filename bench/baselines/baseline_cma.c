/*
 * baseline_cma: the cross-memory-attach ceiling for bench/compare, a bare loop of
 * process_vm_writev (or, with -r, process_vm_readv) into a child process.
 *
 *   baseline_cma [-d SECONDS] [-r] BLOCK:BATCH ...
 *
 * For each BLOCK:BATCH pair it moves batches of BATCH blocks of BLOCK bytes, up to 1024
 * iovecs per system call (the kernel's limit), for SECONDS, and prints one line:
 * block=B batch=N gbps=X (GB/s = 1e9 bytes/s). Both buffers are memfd-backed shared
 * mappings, the memory adxl_malloc_mem hands out, so the kernel does the same work as
 * for adxl's CMA path.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_IOV 1024

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *shared_buffer(size_t bytes) {
    int fd = memfd_create("baseline-cma", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)bytes) != 0) return NULL;
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

int main(int argc, char **argv) {
    double duration = 0.3;
    int read_mode = 0;
    int opt;
    while ((opt = getopt(argc, argv, "d:r")) != -1) {
        if (opt == 'd')
            duration = atof(optarg);
        else if (opt == 'r')
            read_mode = 1;
        else
            return 2;
    }
    if (optind >= argc || duration <= 0) {
        fprintf(stderr, "usage: %s [-d SECONDS] [-r] BLOCK:BATCH ...\n", argv[0]);
        return 2;
    }
    size_t most = 0;
    for (int i = optind; i < argc; i++) {
        unsigned long long block = 0, batch = 0;
        if (sscanf(argv[i], "%llu:%llu", &block, &batch) != 2 || block == 0 || batch == 0) {
            fprintf(stderr, "bad pair '%s'\n", argv[i]);
            return 2;
        }
        if (block * batch > most) most = (size_t)(block * batch);
    }
    most = (most + 4095) / 4096 * 4096;
    /* The child's buffer sits at the same address as in the parent after fork. */
    char *remote = shared_buffer(most);
    char *local = shared_buffer(most);
    if (!remote || !local) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    int hold[2];
    if (pipe(hold) != 0) return 1;
    pid_t child = fork();
    if (child == 0) {
        /* Its own memfd at the same address: the parent really crosses processes. */
        int fd = memfd_create("baseline-cma-child", MFD_CLOEXEC);
        if (fd < 0 || ftruncate(fd, (off_t)most) != 0 ||
            mmap(remote, most, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
            _exit(1);
        memset(remote, 0, most);
        close(hold[1]);
        char c;
        while (read(hold[0], &c, 1) > 0) {
        }
        _exit(0);
    }
    close(hold[0]);
    memset(local, 0x5a, most);
    struct iovec liov[MAX_IOV], riov[MAX_IOV];
    for (int i = optind; i < argc; i++) {
        unsigned long long block, batch;
        sscanf(argv[i], "%llu:%llu", &block, &batch);
        uint64_t batches = 0;
        double t0 = 0, t;
        for (int warm = 1;; warm = 0) {
            if (!warm && batches == 0) t0 = now_s();
            for (size_t k = 0; k < batch;) {
                size_t n = batch - k < MAX_IOV ? batch - k : MAX_IOV;
                for (size_t j = 0; j < n; j++) {
                    liov[j] = (struct iovec){local + (k + j) * block, block};
                    riov[j] = (struct iovec){remote + (k + j) * block, block};
                }
                ssize_t got = read_mode ? process_vm_readv(child, liov, n, riov, n, 0)
                                        : process_vm_writev(child, liov, n, riov, n, 0);
                if (got != (ssize_t)(n * block)) {
                    perror("process_vm_*");
                    kill(child, SIGKILL);
                    return 1;
                }
                k += n;
            }
            if (warm) continue;
            batches++;
            t = now_s();
            if (t - t0 >= duration) break;
        }
        printf("block=%llu batch=%llu gbps=%.4f\n", block, batch,
               (double)batches * (double)(block * batch) / (t - t0) / 1e9);
        fflush(stdout);
    }
    close(hold[1]);
    waitpid(child, NULL, 0);
    return 0;
}
