// adxl_cxx::EngineBridge: the C++ engines' calls in terms of adxl's C API.
#include "engine_bridge.h"

#include <algorithm>
#include <unordered_map>

namespace adxl_cxx {

namespace {
constexpr size_t kNotifyBatch = 16;
constexpr size_t kStatusBatch = 256;
} // namespace

#define REQUIRE_CREATED()                                                                          \
    do {                                                                                           \
        if (!engine_) return ADXL_FAILED;                                                          \
    } while (0)

EngineBridge::EngineBridge() {
    if (adxl_engine_create(&engine_) != ADXL_SUCCESS) engine_ = nullptr;
}

EngineBridge::~EngineBridge() {
    adxl_engine_destroy(engine_);
}

Status EngineBridge::Initialize(const ge::AscendString &local_engine,
                                const std::map<ge::AscendString, ge::AscendString> &options) {
    REQUIRE_CREATED();
    return Guarded([&] {
        std::vector<adxl_option_t> opts;
        opts.reserve(options.size());
        for (const auto &kv : options)
            opts.push_back({kv.first.GetString(), kv.second.GetString()});
        return adxl_initialize(engine_, local_engine.GetString(), opts.data(), opts.size());
    });
}

void EngineBridge::Finalize() {
    if (engine_) adxl_finalize(engine_);
}

Status EngineBridge::RegisterMem(uintptr_t addr, size_t len, int type, void *&handle) {
    REQUIRE_CREATED();
    adxl_mem_desc_t desc = {addr, len};
    adxl_mem_handle_t h = nullptr;
    Status st = adxl_register_mem(engine_, &desc, static_cast<adxl_mem_type_t>(type), &h);
    if (st == ADXL_SUCCESS) handle = h;
    return st;
}

Status EngineBridge::DeregisterMem(void *handle) {
    REQUIRE_CREATED();
    return adxl_deregister_mem(engine_, static_cast<adxl_mem_handle_t>(handle));
}

Status EngineBridge::Connect(const ge::AscendString &remote, int32_t timeout_ms) {
    REQUIRE_CREATED();
    return adxl_connect(engine_, remote.GetString(), timeout_ms);
}

Status EngineBridge::Disconnect(const ge::AscendString &remote, int32_t timeout_ms) {
    REQUIRE_CREATED();
    return adxl_disconnect(engine_, remote.GetString(), timeout_ms);
}

Status EngineBridge::ConnectAsync(const ge::AscendString &remote, int32_t timeout_ms) {
    REQUIRE_CREATED();
    return adxl_connect_async(engine_, remote.GetString(), timeout_ms);
}

Status EngineBridge::DisconnectAsync(const ge::AscendString &remote, int32_t timeout_ms) {
    REQUIRE_CREATED();
    return adxl_disconnect_async(engine_, remote.GetString(), timeout_ms);
}

Status EngineBridge::GetAsyncConnectStatus(const ge::AscendString &remote, int &state) {
    REQUIRE_CREATED();
    adxl_connect_state_t s = ADXL_NOT_CONNECT;
    Status st = adxl_get_async_connect_status(engine_, remote.GetString(), &s);
    if (st == ADXL_SUCCESS) state = static_cast<int>(s);
    return st;
}

Status
EngineBridge::GetAsyncConnectStatuses(std::vector<std::pair<ge::AscendString, int>> &states) {
    REQUIRE_CREATED();
    return Guarded([&] {
        // The set may grow between the count and the copy: retry with room to spare.
        std::vector<adxl_connect_status_t> buf;
        size_t n = 0;
        for (;;) {
            Status st = adxl_get_async_connect_statuses(engine_, buf.data(), buf.size(), &n);
            if (st != ADXL_SUCCESS) return st;
            if (n < buf.size() || (n == 0 && buf.empty())) break;
            buf.resize(n + 16);
        }
        states.clear();
        for (size_t i = 0; i < n; i++)
            states.emplace_back(buf[i].remote_engine, static_cast<int>(buf[i].state));
        return static_cast<Status>(ADXL_SUCCESS);
    });
}

Status EngineBridge::TransferSyncC(const ge::AscendString &remote, int op,
                                   const std::vector<adxl_transfer_op_desc_t> &descs,
                                   int32_t timeout_ms) {
    REQUIRE_CREATED();
    return adxl_transfer_sync(engine_, remote.GetString(), static_cast<adxl_transfer_op_t>(op),
                              descs.data(), descs.size(), timeout_ms);
}

Status EngineBridge::TransferAsyncC(const ge::AscendString &remote, int op,
                                    const std::vector<adxl_transfer_op_desc_t> &descs,
                                    const void *user_data, void *&req) {
    REQUIRE_CREATED();
    adxl_transfer_args_t args = {0, user_data}; // CANN's async transfers have no timeout
    adxl_transfer_req_t r = nullptr;
    Status st =
        adxl_transfer_async(engine_, remote.GetString(), static_cast<adxl_transfer_op_t>(op),
                            descs.data(), descs.size(), &args, &r);
    if (st == ADXL_SUCCESS) req = r;
    return st;
}

Status EngineBridge::GetTransferStatus(void *req, int &status) {
    REQUIRE_CREATED();
    adxl_transfer_status_t s = ADXL_TRANSFER_WAITING;
    Status st = adxl_get_transfer_status(engine_, static_cast<adxl_transfer_req_t>(req), &s);
    if (st == ADXL_SUCCESS) status = static_cast<int>(s);
    return st;
}

Status EngineBridge::GetTransferStatuses(uint32_t max_count, bool skip_waiting,
                                         std::vector<adxl_transfer_result_t> &results) {
    REQUIRE_CREATED();
    return Guarded([&] {
        // The C call fills a caller's array and has no "how many" query; a full array
        // means there may be more, so ask again with a larger one. Waiting requests are
        // reported by every call (final ones once, then released), so later answers
        // replace earlier ones by request.
        std::vector<adxl_transfer_result_t> out;
        std::unordered_map<adxl_transfer_req_t, size_t> index;
        std::vector<adxl_transfer_result_t> buf;
        size_t want = std::min<size_t>(max_count, kStatusBatch);
        const uint32_t flags = skip_waiting ? ADXL_STATUS_SKIP_WAITING : 0u;
        while (want > 0) {
            buf.resize(want);
            size_t n = 0;
            Status st = adxl_get_transfer_statuses(engine_, buf.data(), want, flags, &n);
            if (st != ADXL_SUCCESS) return st;
            for (size_t i = 0; i < n; i++) {
                auto found = index.find(buf[i].req);
                if (found != index.end()) {
                    out[found->second] = buf[i];
                } else if (out.size() < max_count) {
                    index.emplace(buf[i].req, out.size());
                    out.push_back(buf[i]);
                }
            }
            if (n < want || out.size() >= max_count) break;
            want = std::min<size_t>(max_count, want * 2);
        }
        results = std::move(out);
        return static_cast<Status>(ADXL_SUCCESS);
    });
}

Status EngineBridge::SendNotify(const ge::AscendString &remote, const ge::AscendString &name,
                                const ge::AscendString &msg, int32_t timeout_ms) {
    REQUIRE_CREATED();
    return adxl_send_notify(engine_, remote.GetString(), name.GetString(), msg.GetString(),
                            timeout_ms);
}

Status EngineBridge::GetNotifies(std::vector<std::pair<ge::AscendString, ge::AscendString>> &out) {
    REQUIRE_CREATED();
    return Guarded([&] {
        std::vector<adxl_notify_t> buf(kNotifyBatch);
        out.clear();
        for (;;) {
            size_t n = 0;
            Status st = adxl_get_notifies(engine_, buf.data(), buf.size(), &n);
            if (st != ADXL_SUCCESS) return st;
            for (size_t i = 0; i < n; i++)
                out.emplace_back(buf[i].name, buf[i].msg);
            if (n < buf.size()) return static_cast<Status>(ADXL_SUCCESS);
        }
    });
}

Status EngineBridge::GetCapability(int32_t feature, int32_t &value) {
    switch (feature) {
    case ADXL_FEATURE_AUTO_CONNECT:
    case ADXL_FEATURE_CLIENT_SERVER_COMM:
        return adxl_get_capability(static_cast<adxl_feature_t>(feature), &value);
    default:
        value = ADXL_CAPABILITY_UNSUPPORTED;
        return ADXL_SUCCESS;
    }
}

} // namespace adxl_cxx
