/*
 * The shm transport's control messages: one fixed header and a short text per
 * SOCK_SEQPACKET message, file descriptors as SCM_RIGHTS. Both ends run on one host, so
 * the header is sent in its in-memory layout; the magic and version catch a peer of
 * another build. Everything received is checked here before anyone uses it.
 */
#include "transport/shm/shm_internal.h"
#include "transport/shm/shm_parse.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void shm_close_fds(int fds[SHM_MAX_FDS]) {
    for (int i = 0; i < SHM_MAX_FDS; i++) {
        if (fds[i] >= 0) close(fds[i]);
        fds[i] = -1;
    }
}

bool shm_msg_send(int fd, shm_msg_t *msg, const int *fds, int nfds, bool wait) {
    msg->magic = SHM_WIRE_MAGIC;
    msg->version = SHM_WIRE_VERSION;
    struct iovec iov = {msg, SHM_MSG_FIXED + msg->text_len};
    union {
        char buf[CMSG_SPACE(sizeof(int) * SHM_MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds > 0) {
        memset(&control, 0, sizeof(control));
        mh.msg_control = control.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    for (;;) {
        ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT));
        if (n == (ssize_t)iov.iov_len) return true;
        if (n < 0 && errno == EINTR) continue;
        return false;
    }
}

bool shm_msg_recv(int fd, shm_msg_t *msg, int fds[SHM_MAX_FDS], bool *again) {
    for (int i = 0; i < SHM_MAX_FDS; i++)
        fds[i] = -1;
    *again = false;
    struct iovec iov = {msg, sizeof(*msg)};
    union {
        char buf[CMSG_SPACE(sizeof(int) * SHM_MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = control.buf,
                        .msg_controllen = sizeof(control.buf)};
    ssize_t n;
    do {
        n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        *again = true;
        return false;
    }
    if (n <= 0) return false;
    /* Take every descriptor that came, so none leaks whatever happens next. */
    int got = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int d;
            memcpy(&d, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (got < SHM_MAX_FDS)
                fds[got++] = d;
            else
                close(d);
        }
    }
    if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || !shm_msg_valid(msg, (size_t)n)) {
        shm_close_fds(fds);
        errno = EPROTO;
        return false;
    }
    return true;
}
