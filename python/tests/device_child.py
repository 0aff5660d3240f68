"""Device memory from Python, in a child process whose engines load the CUDA double
(tests/doubles/): a tensor-like object on a device registers as device memory and moves
like any other; on the CPU it registers as host memory. Prints "ok" at the end."""
import ctypes
import os
import sys

import adxl

KIB = 1024
cuda = ctypes.CDLL(os.environ["ADXL_CUDA_LIBRARY"])
ctx = ctypes.c_void_p()
dev = ctypes.c_int()
assert cuda.cuInit(0) == 0
assert cuda.cuDeviceGet(ctypes.byref(dev), 0) == 0
assert cuda.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev) == 0
assert cuda.cuCtxSetCurrent(ctx) == 0


class Device:
    def __init__(self, kind):
        self.type = kind


class FakeTensor:
    """What the engine asks of a tensor: data_ptr(), numel(), element_size(), device."""

    def __init__(self, ptr, numel, element_size, kind):
        self._ptr, self._numel, self._size = ptr, numel, element_size
        self.device = Device(kind)

    def data_ptr(self):
        return self._ptr

    def numel(self):
        return self._numel

    def element_size(self):
        return self._size

    def is_contiguous(self):
        return True


size = 64 * KIB
target = adxl.Engine("127.0.0.1:0")
initiator = adxl.Engine("127.0.0.1:0")
dst = bytearray(size)
target.register(dst)
initiator.connect(target.name, 5000)

dptr = adxl.malloc_mem(size, adxl.MemType.MEM_DEVICE)
pattern = bytes((i * 7 + 3) % 251 for i in range(size))
assert cuda.cuMemcpyHtoD_v2(ctypes.c_ulonglong(dptr), pattern, ctypes.c_size_t(size)) == 0
region = initiator.register(FakeTensor(dptr, size // 2, 2, "cuda:0"))
assert (region.addr, region.len) == (dptr, size)
dst_addr = ctypes.addressof((ctypes.c_char * size).from_buffer(dst))
before = initiator.stats()["bytes_device_staged"]
initiator.transfer_sync(target.name, "write", [(dptr, dst_addr, size)], 5000)
assert bytes(dst) == pattern, "device bytes did not arrive"
assert initiator.stats()["bytes_device_staged"] - before == size

# A CPU tensor is host memory; a device pointer claimed as host memory is refused.
host = (ctypes.c_char * size)()
cpu_region = initiator.register(FakeTensor(ctypes.addressof(host), size, 1, "cpu"))
assert cpu_region.len == size
try:
    initiator.register((dptr, size), mem_type=adxl.MemType.MEM_HOST)
except adxl.AdxlError as e:
    assert e.status == adxl.Status.PARAM_INVALID
else:
    sys.exit("a device pointer registered as host memory was accepted")
region.deregister()
cpu_region.deregister()
adxl.free_mem(dptr)
initiator.destroy()
target.destroy()
print("ok")
