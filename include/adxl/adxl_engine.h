/*
 * adxl::AdxlEngine: CANN's ADXL C++ engine, declared as CANN declares it, implemented in
 * libadxl_cxx over adxl's C API (adxl/adxl.h). Build with `pkg-config --cflags --libs
 * adxl-cxx` or CMake's find_package(adxl) and target adxl::adxl_cxx.
 *
 * local_engine and remote names are "ip:port", "ip", "[ipv6]:port" or "[ipv6]": with a
 * port the engine listens there, without one it only connects out. Every call returns a
 * Status; the timeouts are in milliseconds. docs/BEHAVIOUR.md has what each option does.
 */
#ifndef ADXL_ADXL_ENGINE_H
#define ADXL_ADXL_ENGINE_H

#include <adxl/adxl_types.h>

#include <map>
#include <memory>
#include <vector>

namespace adxl {

class ADXL_CXX_API AdxlEngine {
  public:
    AdxlEngine();
    ~AdxlEngine();

    /* Must come first; a second call on an initialized engine is a no-op. */
    Status Initialize(const AscendString &local_engine,
                      const std::map<AscendString, AscendString> &options);
    void Finalize();

    Status RegisterMem(const MemDesc &mem, MemType type, MemHandle &mem_handle);
    Status DeregisterMem(MemHandle mem_handle);

    Status Connect(const AscendString &remote_engine, int32_t timeout_in_millis = 1000);
    Status Disconnect(const AscendString &remote_engine, int32_t timeout_in_millis = 1000);

    /* One batch: every descriptor moves in operation's direction, or the call fails. */
    Status TransferSync(const AscendString &remote_engine, TransferOp operation,
                        const std::vector<TransferOpDesc> &op_descs,
                        int32_t timeout_in_millis = 1000);
    Status TransferAsync(const AscendString &remote_engine, TransferOp operation,
                         const std::vector<TransferOpDesc> &op_descs,
                         const TransferArgs &optional_args, TransferReq &req);
    /* Once a final status (COMPLETED, TIMEOUT, FAILED) is reported, req is spent. */
    Status GetTransferStatus(const TransferReq &req, TransferStatus &status);

    Status SendNotify(const AscendString &remote_engine, const NotifyDesc &notify,
                      int32_t timeout_in_millis = 1000);
    /* Hands over every notify received so far and forgets them. */
    Status GetNotifies(std::vector<NotifyDesc> &notifies);

    /* Page-aligned memory suited to registration (MEM_HOST; MEM_DEVICE needs a device). */
    static Status MallocMem(MemType type, size_t size, void **ptr);
    /* A handle that lets another process map addr's memory: UNSUPPORTED here, where no
     * fabric memory exists; PARAM_INVALID for an address MallocMem did not return. */
    static Status ExportToShareableHandle(void *addr, ShareableHandle &handle);
    static Status FreeMem(void *ptr);
    /* value is FEATURE_SUPPORTED or FEATURE_NOT_SUPPORTED (also for unknown features). */
    static Status GetCapability(FeatureType feature_type, int32_t &value);

  private:
    class AdxlEngineImpl;
    std::unique_ptr<AdxlEngineImpl> impl_;
};

} // namespace adxl

#endif
