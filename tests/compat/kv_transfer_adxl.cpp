// A KV-cache transfer in the way serving frameworks' Ascend-direct transports drive CANN's
// ADXL: a prefill side ("server") sets its NPU, keeps its cache blocks in aclrtMalloc'd
// device memory registered as MEM_DEVICE, and waits; a decode side ("client") connects,
// pulls blocks with one batched TransferSync READ, pushes its own with a batched WRITE, and
// tells the server by notify, all from a transfer thread that adopts the device context
// of the thread that set the device. Two processes:
//   kv_transfer_adxl server            prints "READY <engine> <addr> <blocks> <block_size>"
//   kv_transfer_adxl client MEMORY <engine> <addr> <blocks> <block_size>
// MEMORY is the client's cache: "device" (AdxlEngine::MallocMem(MEM_DEVICE)) or "host"
// (MallocMem(MEM_HOST)). Built only with `pkg-config --cflags --libs adxl-cxx` against the
// installed headers, plus AscendCL's header and library.
#include <acl/acl.h>
#include <adxl/adxl_engine.h>

#include "acl_bytes.h"
#include "compat_common.h"
#include "free_port.h"

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr uint32_t kBlocks = 16;
constexpr size_t kBlockSize = 64 * 1024;
constexpr size_t kCacheBytes = kBlocks * kBlockSize;
constexpr size_t kHalf = kCacheBytes / 2;
constexpr uint32_t kWrittenTag = 100; // the client's blocks carry pattern(kWrittenTag + b)
constexpr int32_t kConnectTimeoutMs = 3000;
constexpr int32_t kTransferTimeoutMs = 10000;

// The transport's engine options, as such transports build them.
std::map<adxl::AscendString, adxl::AscendString> EngineOptions() {
    std::map<adxl::AscendString, adxl::AscendString> options;
    options[adxl::OPTION_BUFFER_POOL] = "4:8";
    options[adxl::OPTION_RDMA_TRAFFIC_CLASS] = "132";
    options[adxl::OPTION_RDMA_SERVICE_LEVEL] = "4";
    return options;
}

int Server() {
    EXPECT_OK(aclrtSetDevice(0));
    auto engine = std::make_unique<adxl::AdxlEngine>();
    const std::string name = listen_on(*engine, EngineOptions());
    EXPECT_TRUE(!name.empty());
    void *cache = nullptr;
    EXPECT_OK(aclrtMalloc(&cache, kCacheBytes, ACL_MEM_MALLOC_HUGE_FIRST));
    put_bytes(true, cache, pattern_blocks(0, kBlocks / 2, kBlockSize)); // the prefilled KV
    adxl::MemDesc mem_desc{};
    mem_desc.addr = reinterpret_cast<uintptr_t>(cache);
    mem_desc.len = kCacheBytes;
    adxl::MemHandle mem_handle = nullptr;
    EXPECT_OK(engine->RegisterMem(mem_desc, adxl::MEM_DEVICE, mem_handle));
    std::printf("READY %s %llu %u %zu\n", name.c_str(),
                static_cast<unsigned long long>(mem_desc.addr), kBlocks, kBlockSize);
    std::fflush(stdout);

    std::vector<adxl::NotifyDesc> notifies;
    EXPECT_TRUE(poll_until([&] {
        std::vector<adxl::NotifyDesc> got;
        EXPECT_OK(engine->GetNotifies(got));
        notifies.insert(notifies.end(), got.begin(), got.end());
        return !notifies.empty();
    }));
    EXPECT_TRUE(notifies.size() == 1 && notifies[0].name == "kv_written");
    EXPECT_TRUE(std::strcmp(notifies[0].notify_msg.GetString(), "blocks 8-15") == 0);
    EXPECT_TRUE(get_bytes(true, static_cast<uint8_t *>(cache) + kHalf, kHalf) ==
                pattern_blocks(kWrittenTag + kBlocks / 2, kBlocks / 2, kBlockSize));
    wait_for_client_exit();
    EXPECT_OK(engine->DeregisterMem(mem_handle));
    engine->Finalize();
    EXPECT_OK(aclrtFree(cache));
    std::printf("server: %u device blocks served and received\n", kBlocks);
    return 0;
}

// What a serving framework's transfer thread does with a connected engine: pull the
// prefilled half, push the other, notify, and poll one async READ to its end.
void Transfer(adxl::AdxlEngine &engine, const char *remote, bool on_device, uint8_t *local,
              uintptr_t remote_addr) {
    const uintptr_t local_addr = reinterpret_cast<uintptr_t>(local);
    // Pull the prefilled half in one batch, blocks landing in reverse order locally.
    std::vector<adxl::TransferOpDesc> op_descs;
    for (uint32_t b = 0; b < kBlocks / 2; b++) {
        adxl::TransferOpDesc desc{};
        desc.local_addr = local_addr + (kBlocks / 2 - 1 - b) * kBlockSize;
        desc.remote_addr = remote_addr + b * kBlockSize;
        desc.len = kBlockSize;
        op_descs.emplace_back(desc);
    }
    EXPECT_OK(engine.TransferSync(remote, adxl::READ, op_descs, kTransferTimeoutMs));
    for (uint32_t b = 0; b < kBlocks / 2; b++)
        EXPECT_TRUE(get_bytes(on_device, local + (kBlocks / 2 - 1 - b) * kBlockSize, kBlockSize) ==
                    pattern_blocks(b, 1, kBlockSize));

    // Push the other half, then say so.
    put_bytes(on_device, local + kHalf,
              pattern_blocks(kWrittenTag + kBlocks / 2, kBlocks / 2, kBlockSize));
    op_descs.clear();
    for (uint32_t b = kBlocks / 2; b < kBlocks; b++)
        op_descs.push_back({local_addr + b * kBlockSize, remote_addr + b * kBlockSize, kBlockSize});
    EXPECT_OK(engine.TransferSync(remote, adxl::WRITE, op_descs, kTransferTimeoutMs));
    adxl::NotifyDesc notify;
    notify.name = adxl::AscendString("kv_written");
    notify.notify_msg = adxl::AscendString("blocks 8-15");
    EXPECT_OK(engine.SendNotify(remote, notify, kTransferTimeoutMs));

    // An async READ of the server's block 0 over the local block 15, polled to its end as
    // ADXL clients do.
    adxl::TransferReq req = nullptr;
    const adxl::TransferOpDesc one{local_addr + (kBlocks - 1) * kBlockSize, remote_addr,
                                   kBlockSize};
    EXPECT_OK(engine.TransferAsync(remote, adxl::READ, {one}, adxl::TransferArgs{}, req));
    adxl::TransferStatus status = adxl::TransferStatus::WAITING;
    EXPECT_TRUE(poll_until([&] {
        EXPECT_OK(engine.GetTransferStatus(req, status));
        return status != adxl::TransferStatus::WAITING;
    }));
    EXPECT_TRUE(status == adxl::TransferStatus::COMPLETED);
    EXPECT_TRUE(get_bytes(on_device, local + (kBlocks - 1) * kBlockSize, kBlockSize) ==
                pattern_blocks(0, 1, kBlockSize));
}

int Client(bool on_device, const char *remote, uintptr_t remote_addr, uint32_t blocks,
           size_t block_size) {
    EXPECT_TRUE(blocks == kBlocks && block_size == kBlockSize);
    if (on_device) EXPECT_OK(aclrtSetDevice(0));
    adxl::AdxlEngine engine;
    EXPECT_OK(engine.Initialize(adxl::AscendString("127.0.0.1"), EngineOptions()));
    const adxl::MemType mem_type = on_device ? adxl::MEM_DEVICE : adxl::MEM_HOST;
    void *local = nullptr;
    EXPECT_OK(adxl::AdxlEngine::MallocMem(mem_type, kCacheBytes, &local));
    adxl::MemDesc mem_desc{};
    mem_desc.addr = reinterpret_cast<uintptr_t>(local);
    mem_desc.len = kCacheBytes;
    adxl::MemHandle mem_handle = nullptr;
    EXPECT_OK(engine.RegisterMem(mem_desc, mem_type, mem_handle));
    EXPECT_OK(engine.Connect(remote, kConnectTimeoutMs));

    // AscendCL contexts are per thread: the transfer thread makes current the context of
    // the thread that set the device, as CANN asks of every thread that uses the device.
    aclrtContext context = nullptr;
    if (on_device) EXPECT_OK(aclrtGetCurrentContext(&context));
    std::thread transfer_thread([&] {
        if (on_device) EXPECT_OK(aclrtSetCurrentContext(context));
        Transfer(engine, remote, on_device, static_cast<uint8_t *>(local), remote_addr);
    });
    transfer_thread.join();

    EXPECT_OK(engine.Disconnect(remote, kConnectTimeoutMs));
    EXPECT_OK(engine.DeregisterMem(mem_handle));
    engine.Finalize();
    EXPECT_OK(adxl::AdxlEngine::FreeMem(local));
    std::printf("client: read %u blocks into %s memory, wrote %u\n", kBlocks / 2 + 1,
                on_device ? "device" : "host", kBlocks / 2);
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    if (argc == 2 && std::strcmp(argv[1], "server") == 0) return Server();
    if (argc == 7 && std::strcmp(argv[1], "client") == 0 &&
        (std::strcmp(argv[2], "device") == 0 || std::strcmp(argv[2], "host") == 0))
        return Client(std::strcmp(argv[2], "device") == 0, argv[3],
                      std::strtoull(argv[4], nullptr, 10),
                      static_cast<uint32_t>(std::strtoul(argv[5], nullptr, 10)),
                      std::strtoull(argv[6], nullptr, 10));
    std::fprintf(stderr, "usage: %s server | client device|host ENGINE ADDR BLOCKS BLOCK_SIZE\n",
                 argv[0]);
    return 2;
}
