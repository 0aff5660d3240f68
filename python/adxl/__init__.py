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
