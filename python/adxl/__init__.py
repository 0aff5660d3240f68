"""adxl: one-sided batched READ/WRITE of registered memory between engines over TCP.

Pythonic API (raises AdxlError):
    with adxl.Engine("127.0.0.1:0") as target, adxl.Engine("127.0.0.1") as initiator:
        region = target.register(bytearray(1 << 20))
        initiator.connect(target.name)
        initiator.transfer_sync(target.name, "write", [(src_addr, region.addr, 4096)])

HIXL-binding API (returns status codes): adxl.AdxlEngine, see adxl.hixl.

A ctypes binding over libadxl.so: no compiler at import, and the GIL is released during
every C call, so blocking calls in threads overlap.
"""
import os as _os

# A build tree keeps the compiled adxl._fastdesc apart from these sources: this directory
# is searched for the package's modules too (the tests of `make test` set it).
if _os.environ.get("ADXL_PYTHON_EXT_DIR"):
    __path__.append(_os.environ["ADXL_PYTHON_EXT_DIR"])

from ._core import (READ, WRITE, AdxlError, ConnectState, Engine, Feature, MemType, Notify,
                    Region, Request, Status, TransferOp, TransferStatus, buffer_address,
                    free_mem, get_capability, malloc_mem, status_name, version)
from .hixl import AdxlEngine, MemDesc, NotifyDesc, TransferArgs, TransferOpDesc

__all__ = [
    "READ", "WRITE", "AdxlError", "ConnectState", "Engine", "Feature", "MemType", "Notify",
    "Region", "Request", "Status", "TransferOp", "TransferStatus", "buffer_address",
    "free_mem", "get_capability", "malloc_mem", "status_name", "version", "AdxlEngine",
    "MemDesc", "NotifyDesc", "TransferArgs", "TransferOpDesc",
]
