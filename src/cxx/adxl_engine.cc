// adxl::AdxlEngine (include/adxl/adxl_engine.h) over the C API, through EngineBridge.
#include <adxl/adxl_engine.h>

#include "typed_calls.h"

namespace adxl {

class AdxlEngine::AdxlEngineImpl : public adxl_cxx::EngineBridge {};

AdxlEngine::AdxlEngine() : impl_(new AdxlEngineImpl) {}

AdxlEngine::~AdxlEngine() = default;

Status AdxlEngine::Initialize(const AscendString &local_engine,
                              const std::map<AscendString, AscendString> &options) {
    return impl_->Initialize(local_engine, options);
}

void AdxlEngine::Finalize() {
    impl_->Finalize();
}

Status AdxlEngine::RegisterMem(const MemDesc &mem, MemType type, MemHandle &mem_handle) {
    return adxl_cxx::RegisterMemOf(*impl_, mem, type, mem_handle);
}

Status AdxlEngine::DeregisterMem(MemHandle mem_handle) {
    return impl_->DeregisterMem(mem_handle);
}

Status AdxlEngine::Connect(const AscendString &remote_engine, int32_t timeout_in_millis) {
    return impl_->Connect(remote_engine, timeout_in_millis);
}

Status AdxlEngine::Disconnect(const AscendString &remote_engine, int32_t timeout_in_millis) {
    return impl_->Disconnect(remote_engine, timeout_in_millis);
}

Status AdxlEngine::TransferSync(const AscendString &remote_engine, TransferOp operation,
                                const std::vector<TransferOpDesc> &op_descs,
                                int32_t timeout_in_millis) {
    return impl_->TransferSync(remote_engine, operation, op_descs, timeout_in_millis);
}

Status AdxlEngine::TransferAsync(const AscendString &remote_engine, TransferOp operation,
                                 const std::vector<TransferOpDesc> &op_descs, const TransferArgs &,
                                 TransferReq &req) {
    return impl_->TransferAsync(remote_engine, operation, op_descs, nullptr, req);
}

Status AdxlEngine::GetTransferStatus(const TransferReq &req, TransferStatus &status) {
    return adxl_cxx::GetTransferStatusOf(*impl_, req, status);
}

Status AdxlEngine::SendNotify(const AscendString &remote_engine, const NotifyDesc &notify,
                              int32_t timeout_in_millis) {
    return adxl_cxx::SendNotifyOf(*impl_, remote_engine, notify, timeout_in_millis);
}

Status AdxlEngine::GetNotifies(std::vector<NotifyDesc> &notifies) {
    return adxl_cxx::GetNotifiesOf(*impl_, notifies);
}

Status AdxlEngine::MallocMem(MemType type, size_t size, void **ptr) {
    // MEM_DEVICE: the device runtime's memory, in the calling thread's context.
    return adxl_malloc_mem(static_cast<adxl_mem_type_t>(type), size, ptr);
}

Status AdxlEngine::ExportToShareableHandle(void *addr, ShareableHandle &handle) {
    return adxl_export_shareable_handle(addr, handle.data, sizeof(handle.data));
}

Status AdxlEngine::FreeMem(void *ptr) {
    return adxl_free_mem(ptr);
}

Status AdxlEngine::GetCapability(FeatureType feature_type, int32_t &value) {
    return adxl_cxx::EngineBridge::GetCapability(feature_type, value);
}

} // namespace adxl
