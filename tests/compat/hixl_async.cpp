// CANN's HIXL the way its samples and async users drive it: a client that checks the
// library's capabilities, connects asynchronously and watches the connection state,
// issues async WRITEs tagged with user_data, collects them with the bulk
// GetTransferStatus, notifies, and disconnects asynchronously; both sides' memory is
// aclrtMalloc'd device memory registered as MEM_DEVICE. Two processes:
//   hixl_async server PROTOCOL        prints "READY <engine> <addr> <len>"
//   hixl_async client PROTOCOL <engine> <addr> <len>
// PROTOCOL goes into GlobalResourceConfig's comm_resource_config.protocol_desc ("-":
// no GlobalResourceConfig). Built only with `pkg-config --cflags --libs adxl-cxx`, plus
// AscendCL's header and library.
#include <acl/acl.h>
#include <hixl/hixl.h>

#include "acl_bytes.h"
#include "compat_common.h"
#include "free_port.h"

#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

constexpr size_t kChunk = 32 * 1024;
constexpr uint32_t kChunks = 24;
constexpr size_t kRegionBytes = kChunks * kChunk;

std::map<hixl::AscendString, hixl::AscendString> Options(const char *protocol) {
    std::map<hixl::AscendString, hixl::AscendString> options;
    options[hixl::OPTION_BUFFER_POOL] = "0:0";
    options[hixl::OPTION_AUTO_CONNECT] = "0";
    options[hixl::OPTION_ENABLE_USE_FABRIC_MEM] = "0";
    if (std::strcmp(protocol, "-") != 0) {
        std::string config =
            std::string("{\"comm_resource_config.protocol_desc\":[\"") + protocol + "\"]}";
        options[hixl::OPTION_GLOBAL_RESOURCE_CONFIG] = config.c_str();
        options[hixl::OPTION_LOCAL_COMM_RES] = R"({"version":"1.3"})";
    }
    return options;
}

// kRegionBytes of device memory, registered with engine as MEM_DEVICE.
void *RegisterDeviceRegion(hixl::Hixl &engine, hixl::MemDesc &mem, hixl::MemHandle &handle) {
    void *region = nullptr;
    EXPECT_OK(aclrtMalloc(&region, kRegionBytes, ACL_MEM_MALLOC_HUGE_FIRST));
    mem = hixl::MemDesc{};
    mem.addr = reinterpret_cast<uintptr_t>(region);
    mem.len = kRegionBytes;
    EXPECT_OK(engine.RegisterMem(mem, hixl::MEM_DEVICE, handle));
    return region;
}

int Server(const char *protocol) {
    EXPECT_OK(aclrtSetDevice(0));
    hixl::Hixl engine;
    const std::string name = listen_on(engine, Options(protocol));
    EXPECT_TRUE(!name.empty());
    hixl::MemDesc mem{};
    hixl::MemHandle handle = nullptr;
    void *region = RegisterDeviceRegion(engine, mem, handle);
    std::printf("READY %s %llu %zu\n", name.c_str(), static_cast<unsigned long long>(mem.addr),
                kRegionBytes);
    std::fflush(stdout);
    std::vector<hixl::NotifyDesc> notifies;
    EXPECT_TRUE(poll_until([&] {
        EXPECT_OK(engine.GetNotifies(notifies));
        return !notifies.empty();
    }));
    EXPECT_TRUE(notifies[0].name == "written" && notifies[0].notify_msg == "24");
    EXPECT_TRUE(get_bytes(true, region, kRegionBytes) == pattern_blocks(0, kChunks, kChunk));
    wait_for_client_exit();
    EXPECT_OK(engine.DeregisterMem(handle));
    engine.Finalize();
    EXPECT_OK(aclrtFree(region));
    std::printf("server: %u chunks received in device memory\n", kChunks);
    return 0;
}

int Client(const char *protocol, const char *remote, uintptr_t remote_addr, size_t len) {
    EXPECT_TRUE(len == kRegionBytes);
    int32_t value = -1;
    EXPECT_OK(hixl::Hixl::GetCapability(hixl::CLIENT_SERVER_COMM, value));
    EXPECT_TRUE(value == hixl::FEATURE_SUPPORTED);
    EXPECT_OK(hixl::Hixl::GetCapability(static_cast<hixl::FeatureType>(1000), value));
    EXPECT_TRUE(value == hixl::FEATURE_NOT_SUPPORTED);

    EXPECT_OK(aclrtSetDevice(0));
    hixl::Hixl engine;
    EXPECT_OK(engine.Initialize("127.0.0.1", Options(protocol)));
    hixl::MemDesc mem{};
    hixl::MemHandle handle = nullptr;
    void *local = RegisterDeviceRegion(engine, mem, handle);
    put_bytes(true, local, pattern_blocks(0, kChunks, kChunk));

    EXPECT_OK(engine.ConnectAsync(remote, 5000));
    hixl::AsyncConnectStatus state = hixl::AsyncConnectStatus::CONNECT_PENDING;
    EXPECT_TRUE(poll_until([&] {
        EXPECT_OK(engine.GetAsyncConnectStatus(remote, state));
        return state != hixl::AsyncConnectStatus::CONNECT_PENDING &&
               state != hixl::AsyncConnectStatus::CONNECTING;
    }));
    EXPECT_TRUE(state == hixl::AsyncConnectStatus::CONNECTED);
    std::map<hixl::AscendString, hixl::AsyncConnectStatus> states;
    EXPECT_OK(engine.GetAsyncConnectStatus(states));
    EXPECT_TRUE(states.size() == 1 && states.begin()->first == remote);

    // One async WRITE per chunk, each tagged with its chunk number.
    std::vector<uint32_t> tags(kChunks);
    std::set<hixl::TransferReq> pending;
    for (uint32_t c = 0; c < kChunks; c++) {
        tags[c] = c;
        hixl::TransferArgs args;
        args.user_data = &tags[c];
        hixl::TransferReq req = nullptr;
        std::vector<hixl::TransferOpDesc> descs = {
            {mem.addr + c * kChunk, remote_addr + c * kChunk, kChunk}};
        EXPECT_OK(engine.TransferAsync(remote, hixl::WRITE, descs, args, req));
        pending.insert(req);
    }
    // HIXL's defaults: every request, waiting ones included.
    std::set<uint32_t> done;
    EXPECT_TRUE(poll_until([&] {
        std::vector<hixl::TransferResult> results;
        EXPECT_OK(engine.GetTransferStatus(hixl::GetTransferStatusArgs{}, results));
        for (const hixl::TransferResult &r : results) {
            EXPECT_TRUE(pending.count(r.req) == 1);
            if (r.status == hixl::TransferStatus::WAITING) continue;
            EXPECT_TRUE(r.status == hixl::TransferStatus::COMPLETED);
            EXPECT_TRUE(done.insert(*static_cast<const uint32_t *>(r.user_data)).second);
            pending.erase(r.req);
        }
        return pending.empty();
    }));
    EXPECT_TRUE(done.size() == kChunks);

    EXPECT_OK(engine.SendNotify(remote, {"written", "24"}));
    EXPECT_OK(engine.DisconnectAsync(remote));
    EXPECT_TRUE(poll_until([&] {
        EXPECT_OK(engine.GetAsyncConnectStatus(remote, state));
        return state == hixl::AsyncConnectStatus::NOT_CONNECT;
    }));
    EXPECT_OK(engine.DeregisterMem(handle));
    engine.Finalize();
    EXPECT_OK(aclrtFree(local));
    std::printf("client: %u async writes from device memory completed\n", kChunks);
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    if (argc == 3 && std::strcmp(argv[1], "server") == 0) return Server(argv[2]);
    if (argc == 6 && std::strcmp(argv[1], "client") == 0)
        return Client(argv[2], argv[3], std::strtoull(argv[4], nullptr, 10),
                      std::strtoull(argv[5], nullptr, 10));
    std::fprintf(stderr, "usage: %s server PROTOCOL | client PROTOCOL ENGINE ADDR LEN\n", argv[0]);
    return 2;
}
