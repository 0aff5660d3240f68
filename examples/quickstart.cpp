// adxl quickstart in C++: CANN's adxl::AdxlEngine, unchanged (include/adxl/adxl_engine.h),
// built against libadxl_cxx (pkg-config --cflags --libs adxl-cxx).
#include <adxl/adxl_engine.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

using namespace adxl;

// A port the OS has just handed out, for the target to listen on. Another program may take
// it before Initialize does, so the caller retries with a new one.
static int free_port() {
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

int main() {
    AdxlEngine target, initiator;
    std::string name;
    Status st = FAILED;
    for (int attempt = 0; attempt < 20 && st != SUCCESS; attempt++) {
        name = "127.0.0.1:" + std::to_string(free_port());
        st = target.Initialize(name.c_str(), {{OPTION_BUFFER_POOL, "4:8"}});
    }
    if (st != SUCCESS || initiator.Initialize("127.0.0.1", {}) != SUCCESS) return 1;

    void *region = nullptr;
    if (AdxlEngine::MallocMem(MEM_HOST, 1 << 20, &region) != SUCCESS) return 1;
    MemDesc desc{};
    desc.addr = reinterpret_cast<uintptr_t>(region);
    desc.len = 1 << 20;
    MemHandle handle = nullptr;
    if (target.RegisterMem(desc, MEM_HOST, handle) != SUCCESS) return 1;

    if (initiator.Connect(name.c_str(), 1000) != SUCCESS) return 1;
    std::vector<char> out(4096, 'p'), back(4096);
    uintptr_t remote = desc.addr + 4096;
    st = initiator.TransferSync(name.c_str(), WRITE,
                                {{reinterpret_cast<uintptr_t>(out.data()), remote, out.size()}});
    if (st == SUCCESS)
        st = initiator.TransferSync(
            name.c_str(), READ, {{reinterpret_cast<uintptr_t>(back.data()), remote, back.size()}});
    if (st == SUCCESS) st = initiator.SendNotify(name.c_str(), {"done", "quickstart"});
    std::vector<NotifyDesc> notes;
    while (st == SUCCESS && notes.empty())
        st = target.GetNotifies(notes);
    bool ok = st == SUCCESS && out == back && notes[0].notify_msg == "quickstart";
    std::printf("quickstart (C++): wrote and read back 4096 bytes via %s: %s\n", name.c_str(),
                ok ? "ok" : "MISMATCH");
    initiator.Disconnect(name.c_str());
    target.DeregisterMem(handle);
    initiator.Finalize();
    target.Finalize();
    AdxlEngine::FreeMem(region);
    return ok ? 0 : 1;
}
