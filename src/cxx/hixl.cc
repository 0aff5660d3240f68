// hixl::Hixl (include/hixl/hixl.h) over the C API, through EngineBridge.
#include <hixl/hixl.h>

#include "typed_calls.h"

namespace hixl {

class Hixl::HixlImpl : public adxl_cxx::EngineBridge {};

Hixl::Hixl() : impl_(new HixlImpl) {}

Hixl::~Hixl() = default;

Status Hixl::Initialize(const AscendString &local_engine,
                        const std::map<AscendString, AscendString> &options) {
    return impl_->Initialize(local_engine, options);
}

void Hixl::Finalize() {
    impl_->Finalize();
}

Status Hixl::RegisterMem(const MemDesc &mem, MemType type, MemHandle &mem_handle) {
    return adxl_cxx::RegisterMemOf(*impl_, mem, type, mem_handle);
}

Status Hixl::DeregisterMem(MemHandle mem_handle) {
    return impl_->DeregisterMem(mem_handle);
}

Status Hixl::Connect(const AscendString &remote_engine, int32_t timeout_in_millis) {
    return impl_->Connect(remote_engine, timeout_in_millis);
}

Status Hixl::Disconnect(const AscendString &remote_engine, int32_t timeout_in_millis) {
    return impl_->Disconnect(remote_engine, timeout_in_millis);
}

Status Hixl::ConnectAsync(const AscendString &remote_engine, int32_t timeout_in_millis) {
    return impl_->ConnectAsync(remote_engine, timeout_in_millis);
}

Status Hixl::DisconnectAsync(const AscendString &remote_engine, int32_t timeout_in_millis) {
    return impl_->DisconnectAsync(remote_engine, timeout_in_millis);
}

Status Hixl::GetAsyncConnectStatus(const AscendString &remote_engine, AsyncConnectStatus &status) {
    int state = 0;
    Status st = impl_->GetAsyncConnectStatus(remote_engine, state);
    if (st == SUCCESS) status = static_cast<AsyncConnectStatus>(state);
    return st;
}

Status Hixl::GetAsyncConnectStatus(std::map<AscendString, AsyncConnectStatus> &statuses) {
    return adxl_cxx::Guarded([&] {
        std::vector<std::pair<AscendString, int>> states;
        Status st = impl_->GetAsyncConnectStatuses(states);
        if (st != SUCCESS) return st;
        statuses.clear();
        for (const auto &s : states)
            statuses[s.first] = static_cast<AsyncConnectStatus>(s.second);
        return SUCCESS;
    });
}

Status Hixl::TransferSync(const AscendString &remote_engine, TransferOp operation,
                          const std::vector<TransferOpDesc> &op_descs, int32_t timeout_in_millis) {
    return impl_->TransferSync(remote_engine, operation, op_descs, timeout_in_millis);
}

Status Hixl::TransferAsync(const AscendString &remote_engine, TransferOp operation,
                           const std::vector<TransferOpDesc> &op_descs,
                           const TransferArgs &optional_args, TransferReq &req) {
    return impl_->TransferAsync(remote_engine, operation, op_descs, optional_args.user_data, req);
}

Status Hixl::GetTransferStatus(const TransferReq &req, TransferStatus &status) {
    return adxl_cxx::GetTransferStatusOf(*impl_, req, status);
}

Status Hixl::GetTransferStatus(const GetTransferStatusArgs &args,
                               std::vector<TransferResult> &results) {
    return adxl_cxx::Guarded([&] {
        std::vector<adxl_transfer_result_t> got;
        Status st = impl_->GetTransferStatuses(args.max_query_count, args.skip_waiting, got);
        if (st != SUCCESS) return st;
        results.clear();
        for (const adxl_transfer_result_t &r : got) {
            TransferResult out;
            out.req = r.req;
            out.user_data = r.user_data;
            out.status = static_cast<TransferStatus>(r.status);
            results.push_back(out);
        }
        return SUCCESS;
    });
}

Status Hixl::SendNotify(const AscendString &remote_engine, const NotifyDesc &notify,
                        int32_t timeout_in_millis) {
    return adxl_cxx::SendNotifyOf(*impl_, remote_engine, notify, timeout_in_millis);
}

Status Hixl::GetNotifies(std::vector<NotifyDesc> &notifies) {
    return adxl_cxx::GetNotifiesOf(*impl_, notifies);
}

Status Hixl::GetCapability(FeatureType feature_type, int32_t &value) {
    return adxl_cxx::EngineBridge::GetCapability(feature_type, value);
}

} // namespace hixl
