// A KV-cache transfer in the way serving frameworks' Ascend-direct transports drive CANN's
// ADXL: a prefill side ("server") registers its cache blocks and waits; a decode side
// ("client") connects, pulls blocks with one batched TransferSync READ, pushes its own
// with a batched WRITE, and tells the server by notify. Two processes:
//   kv_transfer_adxl server            prints "READY <engine> <addr> <blocks> <block_size>"
//   kv_transfer_adxl client <engine> <addr> <blocks> <block_size>
// Built only with `pkg-config --cflags --libs adxl-cxx` against the installed headers.
#include <adxl/adxl_engine.h>

#include "compat_common.h"
#include "free_port.h"

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr uint32_t kBlocks = 16;
constexpr size_t kBlockSize = 64 * 1024;
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

// The cache: on an NPU this is aclrtMalloc'd device memory registered as MEM_DEVICE.
// Until adxl's AscendCL double exists, it is host memory registered as MEM_HOST; only
// these two lines change when it does.
void *AllocCache(size_t size) {
    void *cache = nullptr;
    EXPECT_OK(adxl::AdxlEngine::MallocMem(adxl::MEM_HOST, size, &cache));
    return cache;
}
constexpr adxl::MemType kCacheMemType = adxl::MEM_HOST;

int Server() {
    auto engine = std::make_unique<adxl::AdxlEngine>();
    const std::string name = listen_on(*engine, EngineOptions());
    EXPECT_TRUE(!name.empty());
    auto *cache = static_cast<uint8_t *>(AllocCache(kBlocks * kBlockSize));
    for (uint32_t b = 0; b < kBlocks / 2; b++) // the first half is the prefilled KV
        for (size_t i = 0; i < kBlockSize; i++)
            cache[b * kBlockSize + i] = pattern(b, i);
    adxl::MemDesc mem_desc{};
    mem_desc.addr = reinterpret_cast<uintptr_t>(cache);
    mem_desc.len = kBlocks * kBlockSize;
    adxl::MemHandle mem_handle = nullptr;
    EXPECT_OK(engine->RegisterMem(mem_desc, kCacheMemType, mem_handle));
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
    for (uint32_t b = kBlocks / 2; b < kBlocks; b++) // the client's half
        for (size_t i = 0; i < kBlockSize; i++)
            EXPECT_TRUE(cache[b * kBlockSize + i] == pattern(b + 100, i));
    wait_for_client_exit();
    EXPECT_OK(engine->DeregisterMem(mem_handle));
    engine->Finalize();
    EXPECT_OK(adxl::AdxlEngine::FreeMem(cache));
    std::printf("server: %u blocks served and received\n", kBlocks);
    return 0;
}

int Client(const char *remote, uintptr_t remote_addr, uint32_t blocks, size_t block_size) {
    EXPECT_TRUE(blocks == kBlocks && block_size == kBlockSize);
    adxl::AdxlEngine engine;
    EXPECT_OK(engine.Initialize(adxl::AscendString("127.0.0.1"), EngineOptions()));
    auto *local = static_cast<uint8_t *>(AllocCache(kBlocks * kBlockSize));
    adxl::MemDesc mem_desc{};
    mem_desc.addr = reinterpret_cast<uintptr_t>(local);
    mem_desc.len = kBlocks * kBlockSize;
    adxl::MemHandle mem_handle = nullptr;
    EXPECT_OK(engine.RegisterMem(mem_desc, kCacheMemType, mem_handle));
    EXPECT_OK(engine.Connect(remote, kConnectTimeoutMs));

    // Pull the prefilled half in one batch, blocks landing in reverse order locally.
    std::vector<adxl::TransferOpDesc> op_descs;
    for (uint32_t b = 0; b < kBlocks / 2; b++) {
        adxl::TransferOpDesc desc{};
        desc.local_addr = mem_desc.addr + (kBlocks / 2 - 1 - b) * kBlockSize;
        desc.remote_addr = remote_addr + b * kBlockSize;
        desc.len = kBlockSize;
        op_descs.emplace_back(desc);
    }
    EXPECT_OK(engine.TransferSync(remote, adxl::READ, op_descs, kTransferTimeoutMs));
    for (uint32_t b = 0; b < kBlocks / 2; b++)
        for (size_t i = 0; i < kBlockSize; i++)
            EXPECT_TRUE(local[(kBlocks / 2 - 1 - b) * kBlockSize + i] == pattern(b, i));

    // Push the other half, then say so.
    op_descs.clear();
    for (uint32_t b = kBlocks / 2; b < kBlocks; b++) {
        for (size_t i = 0; i < kBlockSize; i++)
            local[b * kBlockSize + i] = pattern(b + 100, i);
        op_descs.push_back(
            {mem_desc.addr + b * kBlockSize, remote_addr + b * kBlockSize, kBlockSize});
    }
    EXPECT_OK(engine.TransferSync(remote, adxl::WRITE, op_descs, kTransferTimeoutMs));
    adxl::NotifyDesc notify;
    notify.name = adxl::AscendString("kv_written");
    notify.notify_msg = adxl::AscendString("blocks 8-15");
    EXPECT_OK(engine.SendNotify(remote, notify, kTransferTimeoutMs));

    // An async READ of one block, polled to its end as ADXL clients do.
    adxl::TransferReq req = nullptr;
    EXPECT_OK(engine.TransferAsync(remote, adxl::READ, {op_descs[0]}, adxl::TransferArgs{}, req));
    adxl::TransferStatus status = adxl::TransferStatus::WAITING;
    EXPECT_TRUE(poll_until([&] {
        EXPECT_OK(engine.GetTransferStatus(req, status));
        return status != adxl::TransferStatus::WAITING;
    }));
    EXPECT_TRUE(status == adxl::TransferStatus::COMPLETED);

    EXPECT_OK(engine.Disconnect(remote, kConnectTimeoutMs));
    EXPECT_OK(engine.DeregisterMem(mem_handle));
    engine.Finalize();
    EXPECT_OK(adxl::AdxlEngine::FreeMem(local));
    std::printf("client: read %u blocks, wrote %u\n", kBlocks / 2, kBlocks / 2);
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    if (argc == 2 && std::strcmp(argv[1], "server") == 0) return Server();
    if (argc == 6 && std::strcmp(argv[1], "client") == 0)
        return Client(argv[2], std::strtoull(argv[3], nullptr, 10),
                      static_cast<uint32_t>(std::strtoul(argv[4], nullptr, 10)),
                      std::strtoull(argv[5], nullptr, 10));
    std::fprintf(stderr, "usage: %s server | client ENGINE ADDR BLOCKS BLOCK_SIZE\n", argv[0]);
    return 2;
}
