// Bytes into and out of memory the way Ascend clients move them: device memory (from
// aclrtMalloc) only through aclrtMemcpy, never by the CPU (adxl's AscendCL double maps it
// PROT_NONE, so a CPU access faults), host memory directly.
#ifndef ADXL_TESTS_COMPAT_ACL_BYTES_H
#define ADXL_TESTS_COMPAT_ACL_BYTES_H

#include <acl/acl.h>

#include "compat_common.h"

#include <cstring>
#include <vector>

inline void put_bytes(bool on_device, void *dst, const std::vector<uint8_t> &src) {
    if (on_device)
        EXPECT_OK(aclrtMemcpy(dst, src.size(), src.data(), src.size(), ACL_MEMCPY_HOST_TO_DEVICE));
    else
        std::memcpy(dst, src.data(), src.size());
}

inline std::vector<uint8_t> get_bytes(bool on_device, const void *src, size_t len) {
    std::vector<uint8_t> bytes(len);
    if (on_device)
        EXPECT_OK(aclrtMemcpy(bytes.data(), len, src, len, ACL_MEMCPY_DEVICE_TO_HOST));
    else
        std::memcpy(bytes.data(), src, len);
    return bytes;
}

#endif
