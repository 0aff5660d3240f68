// adxl::AdxlEngine (include/adxl/adxl_engine.hpp): the ADXL C++ class over the C API.
#include <adxl/adxl_engine.hpp>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

static int passed = 0, failed = 0;
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            passed++;                                                                              \
        } else {                                                                                   \
            failed++;                                                                              \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);          \
        }                                                                                          \
    } while (0)

using namespace adxl;

int main() {
    int32_t value = -1;
    CHECK(AdxlEngine::GetCapability(Feature::AUTO_CONNECT, value) == SUCCESS && value == 1);
    CHECK(AdxlEngine::GetCapability(static_cast<Feature>(9), value) == PARAM_INVALID);

    AdxlEngine target, initiator;
    CHECK(initiator.Connect("127.0.0.1:1") == FAILED); // before Initialize
    std::map<AscendString, AscendString> opts = {{"adxl.BufferPool", "4:8"}};
    CHECK(target.Initialize("127.0.0.1:0", opts) == SUCCESS);
    CHECK(initiator.Initialize("127.0.0.1", {}) == SUCCESS);
    CHECK(target.Initialize("127.0.0.1:0", opts) == SUCCESS);            // second: no-op
    CHECK(initiator.Initialize("bad", {{"NoSuchKey", "1"}}) == SUCCESS); // already initialized
    AdxlEngine bad;
    CHECK(bad.Initialize("127.0.0.1:0", {{"NoSuchKey", "1"}}) == PARAM_INVALID);
    const AscendString name = target.GetLocalEngine();
    CHECK(!name.empty());

    const size_t size = 1 << 20;
    void *cache = AdxlEngine::MallocMem(MEM_HOST, size);
    void *src = nullptr;
    CHECK(AdxlEngine::MallocMem(MEM_HOST, size, src) == SUCCESS && cache && src);
    CHECK(AdxlEngine::MallocMem(MEM_HOST, 0, src) == PARAM_INVALID);
    MemDesc desc{};
    desc.addr = reinterpret_cast<uintptr_t>(cache);
    desc.len = size;
    MemHandle handle = nullptr;
    CHECK(target.RegisterMem(desc, MEM_HOST, handle) == SUCCESS && handle);
    CHECK(target.RegisterMem(desc, MEM_DEVICE, handle) == UNSUPPORTED);

    CHECK(initiator.Connect(name, 0) == PARAM_INVALID);
    CHECK(initiator.Connect(name) == SUCCESS);
    CHECK(initiator.Connect(name) == ALREADY_CONNECTED);
    std::memset(src, 'c', size);
    std::vector<TransferOpDesc> descs = {
        {reinterpret_cast<uintptr_t>(src), reinterpret_cast<uintptr_t>(cache), 4096},
        {reinterpret_cast<uintptr_t>(src) + 4096, reinterpret_cast<uintptr_t>(cache) + 8192, 512}};
    CHECK(initiator.TransferSync(name, WRITE, descs, 5000) == SUCCESS);
    CHECK(static_cast<char *>(cache)[8192 + 511] == 'c' && static_cast<char *>(cache)[4096] == 0);
    CHECK(initiator.TransferSync(name, WRITE, {}, 5000) == PARAM_INVALID);

    // Async, single and bulk status.
    TransferArgs args;
    int tag = 42;
    args.user_data = &tag;
    TransferReq req = nullptr;
    CHECK(initiator.TransferAsync(name, READ, descs, args, req) == SUCCESS);
    TransferStatus status = TransferStatus::WAITING;
    while (status == TransferStatus::WAITING)
        CHECK(initiator.GetTransferStatus(req, status) == SUCCESS);
    CHECK(status == TransferStatus::COMPLETED);
    CHECK(initiator.TransferAsync(name, WRITE, descs, args, req) == SUCCESS);
    std::vector<TransferResult> results;
    while (results.empty())
        CHECK(initiator.GetTransferStatus(results) == SUCCESS);
    CHECK(results.size() == 1 && results[0].req == req && results[0].user_data == &tag &&
          results[0].status == TransferStatus::COMPLETED);

    // Notifies.
    CHECK(initiator.SendNotify(name, {"kv_ready", "request 7"}) == SUCCESS);
    std::vector<NotifyDesc> notes;
    CHECK(target.GetNotifies(notes) == SUCCESS);
    CHECK(notes.size() == 1 && notes[0].name == "kv_ready" && notes[0].notify_msg == "request 7");

    // Async connect states.
    CHECK(initiator.Disconnect(name) == SUCCESS);
    CHECK(initiator.TransferSync(name, WRITE, descs) == NOT_CONNECTED);
    CHECK(initiator.ConnectAsync(name, 5000) == SUCCESS);
    AsyncConnectStatus cs = AsyncConnectStatus::CONNECT_PENDING;
    while (cs == AsyncConnectStatus::CONNECT_PENDING || cs == AsyncConnectStatus::CONNECTING)
        CHECK(initiator.GetAsyncConnectStatus(name, cs) == SUCCESS);
    CHECK(cs == AsyncConnectStatus::CONNECTED);
    std::map<AscendString, AsyncConnectStatus> all;
    CHECK(initiator.GetAsyncConnectStatus(all) == SUCCESS);
    CHECK(all.size() == 1 && all[name] == AsyncConnectStatus::CONNECTED);
    CHECK(initiator.DisconnectAsync(name, 1000) == SUCCESS);
    while (cs != AsyncConnectStatus::NOT_CONNECT)
        CHECK(initiator.GetAsyncConnectStatus(name, cs) == SUCCESS);

    CHECK(target.DeregisterMem(handle) == SUCCESS);
    CHECK(target.DeregisterMem(nullptr) == PARAM_INVALID);
    initiator.Finalize();
    target.Finalize();
    CHECK(AdxlEngine::FreeMem(cache) == SUCCESS && AdxlEngine::FreeMem(src) == SUCCESS);
    CHECK(AdxlEngine::FreeMem(nullptr) == PARAM_INVALID);
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
