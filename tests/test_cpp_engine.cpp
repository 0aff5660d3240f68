// CANN's C++ API in libadxl_cxx: ge::AscendString, adxl::AdxlEngine and hixl::Hixl over the
// C API, their statics, defaults and every status mapping the classes add themselves.
#include <adxl/adxl_engine.h>
#include <hixl/hixl.h>

#include "compat/free_port.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>
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

static void test_ascend_string() {
    ge::AscendString empty, null_name(nullptr), abc("abc"), part("abcdef", 3), other("abd");
    CHECK(std::strcmp(empty.GetString(), "") == 0 && empty.GetLength() == 0);
    CHECK(std::strcmp(null_name.GetString(), "") == 0 && null_name == empty);
    CHECK(abc.GetLength() == 3 && part == abc && part == "abc" && part != "abcdef");
    CHECK(abc < other && other > abc && abc <= part && abc >= part && abc != other);
    CHECK(!(abc < part) && !(other <= abc));
    CHECK(ge::AscendString("xxabcx").Find(abc) == 2 &&
          ge::AscendString("ab").Find(abc) == std::string::npos);
    CHECK(std::hash<ge::AscendString>()(part) == std::hash<ge::AscendString>()(abc));
    ge::AscendString copy = abc;
    copy = "changed";
    CHECK(abc == "abc" && copy == "changed"); // copies share nothing visible
    std::map<ge::AscendString, ge::AscendString> m;
    m["b"] = "2";
    m["a"] = "1";
    CHECK(m.begin()->first == "a" && m["b"] == "2");
    std::unordered_map<ge::AscendString, int> u = {{"k", 1}};
    CHECK(u.count("k") == 1 && u.count("j") == 0);
}

static void test_statics() {
    int32_t value = -1;
    CHECK(adxl::AdxlEngine::GetCapability(adxl::AUTO_CONNECT, value) == adxl::SUCCESS &&
          value == adxl::FEATURE_SUPPORTED);
    CHECK(hixl::Hixl::GetCapability(hixl::CLIENT_SERVER_COMM, value) == hixl::SUCCESS &&
          value == hixl::FEATURE_SUPPORTED);
    value = -1; // unknown features: SUCCESS, not supported (as CANN answers)
    CHECK(adxl::AdxlEngine::GetCapability(static_cast<adxl::FeatureType>(9), value) ==
              adxl::SUCCESS &&
          value == adxl::FEATURE_NOT_SUPPORTED);
    value = -1;
    CHECK(hixl::Hixl::GetCapability(static_cast<hixl::FeatureType>(-1), value) == hixl::SUCCESS &&
          value == hixl::FEATURE_NOT_SUPPORTED);

    void *p = nullptr;
    CHECK(adxl::AdxlEngine::MallocMem(adxl::MEM_HOST, 4096, &p) == adxl::SUCCESS && p);
    CHECK(adxl::AdxlEngine::MallocMem(adxl::MEM_HOST, 0, &p) == adxl::PARAM_INVALID);
    CHECK(adxl::AdxlEngine::MallocMem(adxl::MEM_HOST, 4096, nullptr) == adxl::PARAM_INVALID);
    adxl::ShareableHandle handle{};
    CHECK(adxl::AdxlEngine::ExportToShareableHandle(p, handle) == adxl::UNSUPPORTED);
    int on_stack = 0;
    CHECK(adxl::AdxlEngine::ExportToShareableHandle(&on_stack, handle) == adxl::PARAM_INVALID);
    CHECK(adxl::AdxlEngine::FreeMem(p) == adxl::SUCCESS);
    CHECK(adxl::AdxlEngine::FreeMem(p) == adxl::PARAM_INVALID);
    CHECK(adxl::AdxlEngine::ExportToShareableHandle(p, handle) == adxl::PARAM_INVALID);

    // CANN's layouts and defaults.
    CHECK(sizeof(adxl::MemDesc) == 144 && sizeof(hixl::MemDesc) == 144);
    CHECK(sizeof(adxl::TransferArgs) == 128 && sizeof(hixl::TransferArgs) == 128);
    CHECK(sizeof(hixl::GetTransferStatusArgs) == 128 && sizeof(hixl::TransferResult) == 128);
    CHECK(sizeof(adxl::ShareableHandle) == 128);
    hixl::GetTransferStatusArgs args;
    CHECK(args.max_query_count == UINT32_MAX && !args.skip_waiting);
    CHECK(std::strcmp(hixl::OPTION_GLOBAL_RESOURCE_CONFIG, "GlobalResourceConfig") == 0 &&
          std::strcmp(adxl::OPTION_LOCAL_COMM_RES, "adxl.LocalCommRes") == 0);
}

static void test_adxl_engine() {
    adxl::AdxlEngine target, initiator, bad;
    CHECK(initiator.Connect("127.0.0.1:1") == adxl::FAILED); // before Initialize
    std::map<adxl::AscendString, adxl::AscendString> opts = {{adxl::OPTION_BUFFER_POOL, "4:8"}};
    const std::string name = listen_on(target, opts);
    CHECK(!name.empty());
    CHECK(initiator.Initialize("127.0.0.1", {}) == adxl::SUCCESS);
    CHECK(bad.Initialize("127.0.0.1", {{"NoSuchKey", "1"}}) == adxl::PARAM_INVALID);

    const size_t size = 1 << 20;
    void *cache = nullptr, *src = nullptr;
    CHECK(adxl::AdxlEngine::MallocMem(adxl::MEM_HOST, size, &cache) == adxl::SUCCESS);
    CHECK(adxl::AdxlEngine::MallocMem(adxl::MEM_HOST, size, &src) == adxl::SUCCESS);
    adxl::MemDesc desc{};
    desc.addr = reinterpret_cast<uintptr_t>(cache);
    desc.len = size;
    adxl::MemHandle handle = nullptr;
    CHECK(target.RegisterMem(desc, adxl::MEM_HOST, handle) == adxl::SUCCESS && handle);

    CHECK(initiator.Connect(name.c_str()) == adxl::SUCCESS);
    CHECK(initiator.Connect(name.c_str()) == adxl::ALREADY_CONNECTED);
    std::memset(src, 'c', size);
    const uintptr_t s = reinterpret_cast<uintptr_t>(src), c = desc.addr;
    std::vector<adxl::TransferOpDesc> descs = {{s, c, 4096}, {s + 4096, c + 8192, 512}};
    CHECK(initiator.TransferSync(name.c_str(), adxl::WRITE, descs, 5000) == adxl::SUCCESS);
    CHECK(static_cast<char *>(cache)[8192 + 511] == 'c' && static_cast<char *>(cache)[4096] == 0);
    CHECK(initiator.TransferSync(name.c_str(), adxl::WRITE, {}) == adxl::PARAM_INVALID);

    adxl::TransferReq req = nullptr;
    CHECK(initiator.TransferAsync(name.c_str(), adxl::READ, descs, adxl::TransferArgs{}, req) ==
          adxl::SUCCESS);
    adxl::TransferStatus status = adxl::TransferStatus::WAITING;
    while (status == adxl::TransferStatus::WAITING)
        CHECK(initiator.GetTransferStatus(req, status) == adxl::SUCCESS);
    CHECK(status == adxl::TransferStatus::COMPLETED);

    CHECK(initiator.SendNotify(name.c_str(), {"kv_ready", "request 7"}) == adxl::SUCCESS);
    std::vector<adxl::NotifyDesc> notes;
    CHECK(target.GetNotifies(notes) == adxl::SUCCESS);
    CHECK(notes.size() == 1 && notes[0].name == "kv_ready" && notes[0].notify_msg == "request 7");
    CHECK(target.GetNotifies(notes) == adxl::SUCCESS && notes.empty());

    CHECK(initiator.Disconnect(name.c_str()) == adxl::SUCCESS);
    CHECK(initiator.TransferSync(name.c_str(), adxl::WRITE, descs) == adxl::NOT_CONNECTED);
    CHECK(target.DeregisterMem(handle) == adxl::SUCCESS);
    CHECK(target.DeregisterMem(nullptr) == adxl::PARAM_INVALID);
    initiator.Finalize();
    target.Finalize();
    CHECK(adxl::AdxlEngine::FreeMem(cache) == adxl::SUCCESS);
    CHECK(adxl::AdxlEngine::FreeMem(src) == adxl::SUCCESS);
}

static void test_hixl() {
    hixl::Hixl target, initiator;
    const std::string name = listen_on(target, std::map<hixl::AscendString, hixl::AscendString>{});
    CHECK(!name.empty());
    CHECK(initiator.Initialize("127.0.0.1", {{hixl::OPTION_AUTO_CONNECT, "0"}}) == hixl::SUCCESS);
    std::vector<char> remote(1 << 16), local(1 << 16, 'h');
    hixl::MemDesc desc{};
    desc.addr = reinterpret_cast<uintptr_t>(remote.data());
    desc.len = remote.size();
    hixl::MemHandle handle = nullptr;
    CHECK(target.RegisterMem(desc, hixl::MEM_HOST, handle) == hixl::SUCCESS);

    CHECK(initiator.ConnectAsync(name.c_str(), 5000) == hixl::SUCCESS);
    hixl::AsyncConnectStatus cs = hixl::AsyncConnectStatus::CONNECT_PENDING;
    while (cs == hixl::AsyncConnectStatus::CONNECT_PENDING ||
           cs == hixl::AsyncConnectStatus::CONNECTING)
        CHECK(initiator.GetAsyncConnectStatus(name.c_str(), cs) == hixl::SUCCESS);
    CHECK(cs == hixl::AsyncConnectStatus::CONNECTED);
    std::map<hixl::AscendString, hixl::AsyncConnectStatus> all;
    CHECK(initiator.GetAsyncConnectStatus(all) == hixl::SUCCESS);
    CHECK(all.size() == 1 && all[name.c_str()] == hixl::AsyncConnectStatus::CONNECTED);

    // Three async writes with their user_data, collected by the bulk status.
    int tags[3] = {0, 1, 2};
    std::map<const void *, hixl::TransferReq> reqs;
    for (int i = 0; i < 3; i++) {
        hixl::TransferArgs args;
        args.user_data = &tags[i];
        hixl::TransferReq req = nullptr;
        uintptr_t off = static_cast<uintptr_t>(i) * 4096;
        std::vector<hixl::TransferOpDesc> d = {
            {reinterpret_cast<uintptr_t>(local.data()) + off, desc.addr + off, 4096}};
        CHECK(initiator.TransferAsync(name.c_str(), hixl::WRITE, d, args, req) == hixl::SUCCESS);
        reqs[&tags[i]] = req;
    }
    hixl::GetTransferStatusArgs only_final;
    only_final.skip_waiting = true;
    only_final.max_query_count = 1; // one at a time: the cap is honoured
    std::map<const void *, hixl::TransferStatus> seen;
    while (seen.size() < 3) {
        std::vector<hixl::TransferResult> results;
        CHECK(initiator.GetTransferStatus(only_final, results) == hixl::SUCCESS);
        CHECK(results.size() <= 1);
        for (const auto &r : results) {
            CHECK(reqs.count(r.user_data) == 1 && reqs[r.user_data] == r.req);
            CHECK(seen.count(r.user_data) == 0);
            seen[r.user_data] = r.status;
        }
    }
    for (const auto &s : seen)
        CHECK(s.second == hixl::TransferStatus::COMPLETED);
    CHECK(remote[3 * 4096 - 1] == 'h' && remote[3 * 4096] == 0);
    std::vector<hixl::TransferResult> none;
    CHECK(initiator.GetTransferStatus(hixl::GetTransferStatusArgs{}, none) == hixl::SUCCESS &&
          none.empty());

    // More requests than one C call reports (256): the bulk status asks again for more,
    // and each request still comes back once in its final state.
    const int many = 300;
    std::vector<int> many_tags(many);
    std::map<hixl::TransferReq, int> many_reqs;
    for (int i = 0; i < many; i++) {
        hixl::TransferArgs args;
        args.user_data = &many_tags[i];
        hixl::TransferReq req = nullptr;
        std::vector<hixl::TransferOpDesc> d = {{reinterpret_cast<uintptr_t>(local.data()) + i,
                                                desc.addr + static_cast<uintptr_t>(i), 1}};
        CHECK(initiator.TransferAsync(name.c_str(), hixl::WRITE, d, args, req) == hixl::SUCCESS);
        many_reqs[req] = i;
    }
    std::map<hixl::TransferReq, int> finals;
    size_t most = 0;
    while (finals.size() < many_reqs.size()) {
        std::vector<hixl::TransferResult> results;
        CHECK(initiator.GetTransferStatus(hixl::GetTransferStatusArgs{}, results) == hixl::SUCCESS);
        most = std::max(most, results.size());
        std::map<hixl::TransferReq, int> in_this_answer;
        for (const auto &r : results) {
            CHECK(in_this_answer[r.req]++ == 0); // each request once per answer
            CHECK(many_reqs.count(r.req) == 1 && r.user_data == &many_tags[many_reqs[r.req]]);
            if (r.status == hixl::TransferStatus::WAITING) continue;
            CHECK(r.status == hixl::TransferStatus::COMPLETED);
            CHECK(finals[r.req]++ == 0); // final only once
        }
        if (results.empty()) break; // nothing left to report: a request went missing
    }
    CHECK(finals.size() == static_cast<size_t>(many));
    CHECK(most <= static_cast<size_t>(many));
    hixl::GetTransferStatusArgs capped;
    capped.max_query_count = 0;
    std::vector<hixl::TransferResult> zero(1);
    CHECK(initiator.GetTransferStatus(capped, zero) == hixl::SUCCESS && zero.empty());

    CHECK(initiator.DisconnectAsync(name.c_str()) == hixl::SUCCESS);
    while (cs != hixl::AsyncConnectStatus::NOT_CONNECT)
        CHECK(initiator.GetAsyncConnectStatus(name.c_str(), cs) == hixl::SUCCESS);
    CHECK(target.DeregisterMem(handle) == hixl::SUCCESS);
    initiator.Finalize();
    target.Finalize();
}

int main() {
    test_ascend_string();
    test_statics();
    test_adxl_engine();
    test_hixl();
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
