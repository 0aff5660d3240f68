// What adxl::AdxlEngine and hixl::Hixl share: one adxl C engine, and the translation of
// their calls into adxl's C API. Both classes' types have the same fields under their
// own namespaces, so the conversions are templates over them. Private to libadxl_cxx.
#ifndef ADXL_CXX_ENGINE_BRIDGE_H
#define ADXL_CXX_ENGINE_BRIDGE_H

#include <adxl/adxl.h>
#include <adxl/ascend_string.h>

#include <cstdint>
#include <map>
#include <new>
#include <utility>
#include <vector>

namespace adxl_cxx {

using Status = uint32_t;

// Runs body, answering RESOURCE_EXHAUSTED where it ran out of memory: the API returns
// statuses and must not throw into its callers.
template <class Body> Status Guarded(Body body) {
    try {
        return body();
    } catch (const std::bad_alloc &) {
        return ADXL_RESOURCE_EXHAUSTED;
    }
}

class EngineBridge {
  public:
    EngineBridge();
    ~EngineBridge();
    EngineBridge(const EngineBridge &) = delete;
    EngineBridge &operator=(const EngineBridge &) = delete;

    Status Initialize(const ge::AscendString &local_engine,
                      const std::map<ge::AscendString, ge::AscendString> &options);
    void Finalize();

    Status RegisterMem(uintptr_t addr, size_t len, int type, void *&handle);
    Status DeregisterMem(void *handle);

    Status Connect(const ge::AscendString &remote, int32_t timeout_ms);
    Status Disconnect(const ge::AscendString &remote, int32_t timeout_ms);
    Status ConnectAsync(const ge::AscendString &remote, int32_t timeout_ms);
    Status DisconnectAsync(const ge::AscendString &remote, int32_t timeout_ms);
    Status GetAsyncConnectStatus(const ge::AscendString &remote, int &state);
    Status GetAsyncConnectStatuses(std::vector<std::pair<ge::AscendString, int>> &states);

    template <class OpDesc>
    Status TransferSync(const ge::AscendString &remote, int op, const std::vector<OpDesc> &descs,
                        int32_t timeout_ms) {
        return Guarded([&] { return TransferSyncC(remote, op, ToC(descs), timeout_ms); });
    }
    template <class OpDesc>
    Status TransferAsync(const ge::AscendString &remote, int op, const std::vector<OpDesc> &descs,
                         const void *user_data, void *&req) {
        return Guarded([&] { return TransferAsyncC(remote, op, ToC(descs), user_data, req); });
    }
    Status GetTransferStatus(void *req, int &status);
    // Up to max_count requests, each reported once with its latest state.
    Status GetTransferStatuses(uint32_t max_count, bool skip_waiting,
                               std::vector<adxl_transfer_result_t> &results);

    Status SendNotify(const ge::AscendString &remote, const ge::AscendString &name,
                      const ge::AscendString &msg, int32_t timeout_ms);
    Status GetNotifies(std::vector<std::pair<ge::AscendString, ge::AscendString>> &notifies);

    // FEATURE_NOT_SUPPORTED (0) for a feature adxl does not know, as CANN answers.
    static Status GetCapability(int32_t feature, int32_t &value);

  private:
    template <class OpDesc>
    static std::vector<adxl_transfer_op_desc_t> ToC(const std::vector<OpDesc> &descs) {
        std::vector<adxl_transfer_op_desc_t> out;
        out.reserve(descs.size());
        for (const OpDesc &d : descs)
            out.push_back({d.local_addr, d.remote_addr, d.len});
        return out;
    }
    Status TransferSyncC(const ge::AscendString &remote, int op,
                         const std::vector<adxl_transfer_op_desc_t> &descs, int32_t timeout_ms);
    Status TransferAsyncC(const ge::AscendString &remote, int op,
                          const std::vector<adxl_transfer_op_desc_t> &descs, const void *user_data,
                          void *&req);

    adxl_engine_t *engine_ = nullptr; // nullptr when creation failed: every call FAILED
};

} // namespace adxl_cxx

#endif
