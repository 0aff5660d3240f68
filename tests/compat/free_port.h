// For client programs that, as CANN's do, name their listening port in Initialize: a port
// the OS has just handed out. Another program may take it before Initialize binds it, so
// callers retry Initialize with a new one (listen_on below).
#ifndef ADXL_TESTS_COMPAT_FREE_PORT_H
#define ADXL_TESTS_COMPAT_FREE_PORT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

inline int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    int port = -1;
    if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

// Initializes engine (an adxl::AdxlEngine or hixl::Hixl) listening on 127.0.0.1 and a
// fresh port; its name, or "" when every attempt failed.
template <class Engine, class Options>
std::string listen_on(Engine &engine, const Options &options) {
    for (int attempt = 0; attempt < 20; attempt++) {
        std::string name = "127.0.0.1:" + std::to_string(free_port());
        if (engine.Initialize(name.c_str(), options) == 0) return name;
    }
    return "";
}

#endif
