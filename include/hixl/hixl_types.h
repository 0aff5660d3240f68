/*
 * Types, options and status codes of CANN's HIXL C++ API (namespace hixl), with CANN's
 * names, values and struct layouts. adxl's own C API (adxl/adxl.h) has the same numbers.
 */
#ifndef ADXL_HIXL_TYPES_H
#define ADXL_HIXL_TYPES_H

#include <adxl/ascend_string.h>

#include <cstddef>
#include <cstdint>

namespace hixl {

using Status = uint32_t;
using AscendString = ge::AscendString;
using TransferReq = void *;

/* Option keys; every key is accepted with and without the "adxl." prefix. */
constexpr const char OPTION_ENABLE_USE_FABRIC_MEM[] = "EnableUseFabricMem";
constexpr const char OPTION_RDMA_TRAFFIC_CLASS[] = "RdmaTrafficClass";
constexpr const char OPTION_RDMA_SERVICE_LEVEL[] = "RdmaServiceLevel";
constexpr const char OPTION_BUFFER_POOL[] = "BufferPool";
constexpr const char OPTION_GLOBAL_RESOURCE_CONFIG[] = "GlobalResourceConfig";
constexpr const char OPTION_AUTO_CONNECT[] = "AutoConnect";
constexpr const char OPTION_LOCAL_COMM_RES[] = "LocalCommRes";

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

struct TransferArgs {
    const void *user_data = nullptr; /* given back with the request by the bulk status */
    uint8_t reserved[120] = {};
};

/* The bulk GetTransferStatus: how many requests at most, and whether to leave out the
 * ones still in flight. */
struct GetTransferStatusArgs {
    uint32_t max_query_count = UINT32_MAX;
    bool skip_waiting = false;
    uint8_t reserved[123] = {};
};

struct TransferResult {
    TransferReq req = nullptr;
    const void *user_data = nullptr;
    TransferStatus status = TransferStatus::WAITING;
    uint8_t reserved[108] = {};
};

struct NotifyDesc {
    AscendString name;
    AscendString notify_msg;
};

enum class AsyncConnectStatus {
    NOT_CONNECT,
    CONNECT_PENDING,
    CONNECTING,
    CONNECTED,
    CONNECT_FAILED,
    DISCONNECT_PENDING,
    DISCONNECTING
};

} // namespace hixl

#endif
