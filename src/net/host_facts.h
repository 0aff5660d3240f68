/*
 * What makes two engines "on the same host" for the shared-memory transport: the same
 * kernel boot (boot id), the same pid namespace (so that a pid names the same process
 * for process_vm_readv/writev) and the same network namespace (whose abstract Unix
 * sockets carry the shm transport's control link; engines in different network
 * namespaces are what tests use to stand in for separate hosts). Never the IP address.
 */
#ifndef ADXL_HOST_FACTS_H
#define ADXL_HOST_FACTS_H

#include <stdbool.h>
#include <stdint.h>

#define ADXL_SHM_ENDPOINT_MAX 48 /* abstract socket name, with its NUL */

typedef struct {
    uint8_t boot_id[16];
    uint64_t pid_ns; /* inode of /proc/self/ns/pid */
    uint64_t net_ns; /* inode of /proc/self/ns/net */
    uint32_t pid;
    uint32_t uid;
    /* Where this engine's shm transport listens; empty when it offers none. */
    char shm_endpoint[ADXL_SHM_ENDPOINT_MAX];
    /* Where this engine's UCX transport takes control connections (a TCP port on the
     * engine's address); 0 when it runs none. */
    uint16_t ucx_port;
    uint16_t ucx_flags; /* ADXL_FACTS_UCX_* */
} adxl_host_facts_t;

/* UCX found a device that does RDMA (InfiniBand, RoCE) on this host. */
#define ADXL_FACTS_UCX_RDMA 0x1u

/* This process's facts, with an empty endpoint. False when /proc cannot tell them. */
bool adxl_host_facts_local(adxl_host_facts_t *facts);
/* Same boot, pid namespace and network namespace (all known). */
bool adxl_host_facts_same_host(const adxl_host_facts_t *a, const adxl_host_facts_t *b);

#endif
