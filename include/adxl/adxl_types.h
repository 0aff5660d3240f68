/*
 * Types, options and status codes of CANN's ADXL C++ API (namespace adxl), with CANN's
 * names, values and struct layouts. adxl's own C API (adxl/adxl.h) has the same numbers.
 */
#ifndef ADXL_ADXL_TYPES_H
#define ADXL_ADXL_TYPES_H

#include <adxl/ascend_string.h>

#include <cstddef>
#include <cstdint>

/* CANN's header also brings in AscendCL (acl/acl_rt.h) for aclrtMemFabricHandle; adxl
 * declares that handle's layout itself below, so no AscendCL is needed to build. */

namespace adxl {

using Status = uint32_t;
using AscendString = ge::AscendString;
using TransferReq = void *;

/* Option keys; every key is accepted with and without the "adxl." prefix. */
constexpr const char OPTION_RDMA_TRAFFIC_CLASS[] = "adxl.RdmaTrafficClass";
constexpr const char OPTION_RDMA_SERVICE_LEVEL[] = "adxl.RdmaServiceLevel";
constexpr const char OPTION_BUFFER_POOL[] = "adxl.BufferPool";
constexpr const char OPTION_LOCAL_COMM_RES[] = "adxl.LocalCommRes";
constexpr const char OPTION_AUTO_CONNECT[] = "AutoConnect";

constexpr Status SUCCESS = 0U;
constexpr Status PARAM_INVALID = 103900U;
constexpr Status TIMEOUT = 103901U;
constexpr Status NOT_CONNECTED = 103902U;
constexpr Status ALREADY_CONNECTED = 103903U;
constexpr Status NOTIFY_FAILED = 103904U;
constexpr Status UNSUPPORTED = 103905U;
constexpr Status FAILED = 503900U;
constexpr Status RESOURCE_EXHAUSTED = 203900U;

/* Values are fixed: new features are only ever appended. */
enum FeatureType : int32_t {
    AUTO_CONNECT = 0,
    CLIENT_SERVER_COMM = 1,
};

constexpr int32_t FEATURE_SUPPORTED = 1;
constexpr int32_t FEATURE_NOT_SUPPORTED = 0;

using MemHandle = void *;

/* The 128 opaque bytes of AscendCL's aclrtMemFabricHandle. */
struct ShareableHandle {
    uint8_t data[128];
};

enum MemType { MEM_DEVICE, MEM_HOST };

enum TransferOp { READ, WRITE };

struct MemDesc {
    uintptr_t addr;
    size_t len;
    bool local_only = false; /* registered for this engine's own use, not offered to peers */
    uint8_t reserved[127] = {};
};

struct TransferOpDesc {
    uintptr_t local_addr;
    uintptr_t remote_addr;
    size_t len;
};

/* Scoped enumerators that share their names with the Status constants, as in CANN. */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#endif
enum class TransferStatus { WAITING, COMPLETED, TIMEOUT, FAILED };
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

/* ADXL's TransferAsync takes no arguments yet: the bytes are kept for later ones. */
struct TransferArgs {
    uint8_t reserved[128] = {};
};

struct NotifyDesc {
    AscendString name;
    AscendString notify_msg;
};

} // namespace adxl

#endif
