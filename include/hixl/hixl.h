/*
 * hixl::Hixl: CANN's HIXL C++ engine, declared as CANN declares it, implemented in
 * libadxl_cxx over adxl's C API (adxl/adxl.h). HIXL is ADXL's engine with asynchronous
 * connect and disconnect, a user_data per async transfer and a bulk status query.
 *
 * Names are "ip:port", "ip", "[ipv6]:port" or "[ipv6]"; timeouts are in milliseconds.
 */
#ifndef ADXL_HIXL_H
#define ADXL_HIXL_H

#include <hixl/hixl_types.h>

#include <map>
#include <memory>
#include <vector>

namespace hixl {

class ADXL_CXX_API Hixl {
  public:
    Hixl();
    ~Hixl();

    Status Initialize(const AscendString &local_engine,
                      const std::map<AscendString, AscendString> &options);
    void Finalize();

    Status RegisterMem(const MemDesc &mem, MemType type, MemHandle &mem_handle);
    Status DeregisterMem(MemHandle mem_handle);

    Status Connect(const AscendString &remote_engine, int32_t timeout_in_millis = 1000);
    Status Disconnect(const AscendString &remote_engine, int32_t timeout_in_millis = 1000);
    /* Return at once; GetAsyncConnectStatus follows the operation. */
    Status ConnectAsync(const AscendString &remote_engine, int32_t timeout_in_millis = 1000);
    Status DisconnectAsync(const AscendString &remote_engine, int32_t timeout_in_millis = 1000);
    Status GetAsyncConnectStatus(const AscendString &remote_engine, AsyncConnectStatus &status);
    /* Every remote name with a link or an operation in progress. */
    Status GetAsyncConnectStatus(std::map<AscendString, AsyncConnectStatus> &statuses);

    Status TransferSync(const AscendString &remote_engine, TransferOp operation,
                        const std::vector<TransferOpDesc> &op_descs,
                        int32_t timeout_in_millis = 1000);
    Status TransferAsync(const AscendString &remote_engine, TransferOp operation,
                         const std::vector<TransferOpDesc> &op_descs,
                         const TransferArgs &optional_args, TransferReq &req);
    Status GetTransferStatus(const TransferReq &req, TransferStatus &status);
    /* This engine's async requests, each once in a final state (and then spent). */
    Status GetTransferStatus(const GetTransferStatusArgs &args,
                             std::vector<TransferResult> &results);

    Status SendNotify(const AscendString &remote_engine, const NotifyDesc &notify,
                      int32_t timeout_in_millis = 1000);
    Status GetNotifies(std::vector<NotifyDesc> &notifies);

    static Status GetCapability(FeatureType feature_type, int32_t &value);

  private:
    class HixlImpl;
    std::unique_ptr<HixlImpl> impl_;
};

} // namespace hixl

#endif
