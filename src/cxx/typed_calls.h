// The calls whose types are namespace-specific (adxl:: or hixl:: MemDesc, NotifyDesc,
// TransferStatus, ...), written once as templates over those types.
#ifndef ADXL_CXX_TYPED_CALLS_H
#define ADXL_CXX_TYPED_CALLS_H

#include "engine_bridge.h"

namespace adxl_cxx {

template <class MemDescT, class MemTypeT>
Status RegisterMemOf(EngineBridge &bridge, const MemDescT &mem, MemTypeT type, void *&handle) {
    // local_only memory is registered like any other: adxl has no registration that
    // only this engine may use (docs/BEHAVIOUR.md).
    return bridge.RegisterMem(mem.addr, mem.len, static_cast<int>(type), handle);
}

template <class StatusT>
Status GetTransferStatusOf(EngineBridge &bridge, void *req, StatusT &status) {
    int s = 0;
    Status st = bridge.GetTransferStatus(req, s);
    if (st == ADXL_SUCCESS) status = static_cast<StatusT>(s);
    return st;
}

template <class NotifyT>
Status SendNotifyOf(EngineBridge &bridge, const ge::AscendString &remote, const NotifyT &notify,
                    int32_t timeout_ms) {
    return bridge.SendNotify(remote, notify.name, notify.notify_msg, timeout_ms);
}

template <class NotifyT>
Status GetNotifiesOf(EngineBridge &bridge, std::vector<NotifyT> &notifies) {
    return Guarded([&] {
        std::vector<std::pair<ge::AscendString, ge::AscendString>> got;
        Status st = bridge.GetNotifies(got);
        notifies.clear();
        for (auto &n : got) {
            NotifyT d;
            d.name = n.first;
            d.notify_msg = n.second;
            notifies.push_back(d);
        }
        return st;
    });
}

} // namespace adxl_cxx

#endif
