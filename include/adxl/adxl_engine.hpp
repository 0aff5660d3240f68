/*
 * adxl::AdxlEngine: CANN's ADXL C++ engine class over adxl's C API, header-only.
 *
 * Same class, method and type names and signatures as CANN's adxl/adxl_engine.h, with
 * std::string where CANN uses AscendString (adxl::AscendString is an alias of it), so
 * code written for ADXL ports by changing its includes and linking -ladxl. Requires C++17.
 */
#ifndef ADXL_ADXL_ENGINE_HPP
#define ADXL_ADXL_ENGINE_HPP

#include <adxl/adxl.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace adxl {

using AscendString = std::string;
using Status = uint32_t;
constexpr Status SUCCESS = ADXL_SUCCESS;
constexpr Status PARAM_INVALID = ADXL_PARAM_INVALID;
constexpr Status TIMEOUT = ADXL_TIMEOUT;
constexpr Status NOT_CONNECTED = ADXL_NOT_CONNECTED;
constexpr Status ALREADY_CONNECTED = ADXL_ALREADY_CONNECTED;
constexpr Status NOTIFY_FAILED = ADXL_NOTIFY_FAILED;
constexpr Status UNSUPPORTED = ADXL_UNSUPPORTED;
constexpr Status RESOURCE_EXHAUSTED = ADXL_RESOURCE_EXHAUSTED;
constexpr Status FAILED = ADXL_FAILED;

enum MemType { MEM_DEVICE = ADXL_MEM_DEVICE, MEM_HOST = ADXL_MEM_HOST };
enum TransferOp { READ = ADXL_READ, WRITE = ADXL_WRITE };
/* Scoped enumerators named like the Status constants, as in ADXL; not a shadowing bug. */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#endif
enum class TransferStatus {
    WAITING = ADXL_TRANSFER_WAITING,
    COMPLETED = ADXL_TRANSFER_COMPLETED,
    TIMEOUT = ADXL_TRANSFER_TIMEOUT,
    FAILED = ADXL_TRANSFER_FAILED
};
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
enum class AsyncConnectStatus {
    NOT_CONNECT = ADXL_NOT_CONNECT,
    CONNECT_PENDING = ADXL_CONNECT_PENDING,
    CONNECTING = ADXL_CONNECTING,
    CONNECTED = ADXL_CONNECTED,
    CONNECT_FAILED = ADXL_CONNECT_FAILED,
    DISCONNECT_PENDING = ADXL_DISCONNECT_PENDING,
    DISCONNECTING = ADXL_DISCONNECTING
};
enum class Feature {
    AUTO_CONNECT = ADXL_FEATURE_AUTO_CONNECT,
    CLIENT_SERVER_COMM = ADXL_FEATURE_CLIENT_SERVER_COMM
};

using MemHandle = void *;
using TransferReq = void *;

struct MemDesc {
    uintptr_t addr;
    size_t len;
    uint8_t reserved[128] = {};
};

struct TransferOpDesc {
    uintptr_t local_addr;
    uintptr_t remote_addr;
    size_t len;
};

struct TransferArgs {
    int32_t timeout_in_millis = 0; /* 0: no timeout */
    const void *user_data = nullptr;
};

struct NotifyDesc {
    AscendString name;
    AscendString notify_msg;
};

/* One entry of the bulk GetTransferStatus. */
struct TransferResult {
    TransferReq req;
    const void *user_data;
    TransferStatus status;
};

class AdxlEngine {
  public:
    AdxlEngine() {
        if (adxl_engine_create(&engine_) != ADXL_SUCCESS) engine_ = nullptr;
    }
    ~AdxlEngine() {
        adxl_engine_destroy(engine_);
    }
    AdxlEngine(const AdxlEngine &) = delete;
    AdxlEngine &operator=(const AdxlEngine &) = delete;

    Status Initialize(const AscendString &local_engine,
                      const std::map<AscendString, AscendString> &options) {
        if (!engine_) return RESOURCE_EXHAUSTED;
        std::vector<adxl_option_t> opts;
        for (const auto &kv : options)
            opts.push_back({kv.first.c_str(), kv.second.c_str()});
        return adxl_initialize(engine_, local_engine.c_str(), opts.data(), opts.size());
    }
    void Finalize() {
        adxl_finalize(engine_);
    }

    Status RegisterMem(const MemDesc &mem, MemType type, MemHandle &mem_handle) {
        adxl_mem_desc_t d = {mem.addr, mem.len};
        adxl_mem_handle_t h = nullptr;
        Status st = adxl_register_mem(engine_, &d, static_cast<adxl_mem_type_t>(type), &h);
        if (st == SUCCESS) mem_handle = h;
        return st;
    }
    Status DeregisterMem(MemHandle mem_handle) {
        return adxl_deregister_mem(engine_, static_cast<adxl_mem_handle_t>(mem_handle));
    }

    Status Connect(const AscendString &remote_engine, int32_t timeout_in_millis = 1000) {
        return adxl_connect(engine_, remote_engine.c_str(), timeout_in_millis);
    }
    Status Disconnect(const AscendString &remote_engine, int32_t timeout_in_millis = 1000) {
        return adxl_disconnect(engine_, remote_engine.c_str(), timeout_in_millis);
    }
    Status ConnectAsync(const AscendString &remote_engine, int32_t timeout_in_millis = 1000) {
        return adxl_connect_async(engine_, remote_engine.c_str(), timeout_in_millis);
    }
    Status DisconnectAsync(const AscendString &remote_engine, int32_t timeout_in_millis = 1000) {
        return adxl_disconnect_async(engine_, remote_engine.c_str(), timeout_in_millis);
    }
    Status GetAsyncConnectStatus(const AscendString &remote_engine, AsyncConnectStatus &status) {
        adxl_connect_state_t s = ADXL_NOT_CONNECT;
        Status st = adxl_get_async_connect_status(engine_, remote_engine.c_str(), &s);
        if (st == SUCCESS) status = static_cast<AsyncConnectStatus>(s);
        return st;
    }
    /* All peers at once: remote name -> state. */
    Status GetAsyncConnectStatus(std::map<AscendString, AsyncConnectStatus> &statuses) {
        size_t n = 0;
        Status st = adxl_get_async_connect_statuses(engine_, nullptr, 0, &n);
        if (st != SUCCESS) return st;
        std::vector<adxl_connect_status_t> v(n + 8);
        st = adxl_get_async_connect_statuses(engine_, v.data(), v.size(), &n);
        if (st != SUCCESS) return st;
        statuses.clear();
        for (size_t i = 0; i < n; i++)
            statuses[v[i].remote_engine] = static_cast<AsyncConnectStatus>(v[i].state);
        return SUCCESS;
    }

    Status TransferSync(const AscendString &remote_engine, TransferOp operation,
                        const std::vector<TransferOpDesc> &op_descs,
                        int32_t timeout_in_millis = 1000) {
        std::vector<adxl_transfer_op_desc_t> d = descs(op_descs);
        return adxl_transfer_sync(engine_, remote_engine.c_str(),
                                  static_cast<adxl_transfer_op_t>(operation), d.data(), d.size(),
                                  timeout_in_millis);
    }
    Status TransferAsync(const AscendString &remote_engine, TransferOp operation,
                         const std::vector<TransferOpDesc> &op_descs,
                         const TransferArgs &optional_args, TransferReq &req) {
        std::vector<adxl_transfer_op_desc_t> d = descs(op_descs);
        adxl_transfer_args_t args = {optional_args.timeout_in_millis, optional_args.user_data};
        adxl_transfer_req_t r = nullptr;
        Status st = adxl_transfer_async(engine_, remote_engine.c_str(),
                                        static_cast<adxl_transfer_op_t>(operation), d.data(),
                                        d.size(), &args, &r);
        if (st == SUCCESS) req = r;
        return st;
    }
    Status GetTransferStatus(const TransferReq &req, TransferStatus &status) {
        adxl_transfer_status_t s = ADXL_TRANSFER_WAITING;
        Status st = adxl_get_transfer_status(engine_, static_cast<adxl_transfer_req_t>(req), &s);
        if (st == SUCCESS) status = static_cast<TransferStatus>(s);
        return st;
    }
    /* Bulk (HIXL): up to max_count requests that finished (released now), with their
     * user_data; with skip_waiting false, waiting ones too. */
    Status GetTransferStatus(std::vector<TransferResult> &results, size_t max_count = 256,
                             bool skip_waiting = true) {
        std::vector<adxl_transfer_result_t> r(max_count);
        size_t n = 0;
        Status st = adxl_get_transfer_statuses(engine_, r.data(), max_count,
                                               skip_waiting ? ADXL_STATUS_SKIP_WAITING : 0u, &n);
        if (st != SUCCESS) return st;
        results.clear();
        for (size_t i = 0; i < n; i++)
            results.push_back({r[i].req, r[i].user_data, static_cast<TransferStatus>(r[i].status)});
        return SUCCESS;
    }

    Status SendNotify(const AscendString &remote_engine, const NotifyDesc &notify,
                      int32_t timeout_in_millis = 1000) {
        return adxl_send_notify(engine_, remote_engine.c_str(), notify.name.c_str(),
                                notify.notify_msg.c_str(), timeout_in_millis);
    }
    /* Drains every notify received so far. */
    Status GetNotifies(std::vector<NotifyDesc> &notifies) {
        notifies.clear();
        adxl_notify_t buf[16];
        for (;;) {
            size_t n = 0;
            Status st = adxl_get_notifies(engine_, buf, 16, &n);
            if (st != SUCCESS) return st;
            for (size_t i = 0; i < n; i++)
                notifies.push_back({buf[i].name, buf[i].msg});
            if (n < 16) return SUCCESS;
        }
    }

    static Status MallocMem(MemType type, size_t size, void *&ptr) {
        return adxl_malloc_mem(static_cast<adxl_mem_type_t>(type), size, &ptr);
    }
    /* nullptr on failure. */
    static void *MallocMem(MemType type, size_t size) {
        void *p = nullptr;
        return adxl_malloc_mem(static_cast<adxl_mem_type_t>(type), size, &p) == SUCCESS ? p
                                                                                        : nullptr;
    }
    static Status FreeMem(void *ptr) {
        return adxl_free_mem(ptr);
    }
    static Status GetCapability(Feature feature, int32_t &value) {
        return adxl_get_capability(static_cast<adxl_feature_t>(feature), &value);
    }

    /* adxl's own: the name with the real port, "" before Initialize. */
    AscendString GetLocalEngine() const {
        const char *n = adxl_local_engine(engine_);
        return n ? n : "";
    }

  private:
    static std::vector<adxl_transfer_op_desc_t> descs(const std::vector<TransferOpDesc> &in) {
        std::vector<adxl_transfer_op_desc_t> out;
        out.reserve(in.size());
        for (const auto &d : in)
            out.push_back({d.local_addr, d.remote_addr, d.len});
        return out;
    }

    adxl_engine_t *engine_ = nullptr;
};

} // namespace adxl

#endif
