"""Run by test_fallback_warns_once_and_packs_the_same_bytes with ADXL_NO_FASTDESC=1:
imports adxl (the pure-Python packer), moves batches in several forms, and prints a JSON
report: the warnings about adxl._fastdesc, which forms moved their bytes, and a list batch
packed by the fallback."""
import ctypes
import json
import os
import warnings

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")  # every warning shown: "once" must come from adxl
    import numpy as np

    import adxl
    from adxl import _descs

    moved = []
    with adxl.Engine("127.0.0.1:0") as target, adxl.Engine("127.0.0.1") as initiator:
        src = np.frombuffer(os.urandom(8 * 4096), dtype=np.uint8).copy()
        dst = np.zeros_like(src)
        region = target.register(dst)
        initiator.connect(target.name, timeout_ms=5000)
        batch = [(src.ctypes.data + i * 4096, region.addr + i * 4096, 100) for i in range(8)]
        cols = [list(c) for c in zip(*batch)]
        hixl = adxl.AdxlEngine()
        hixl._engine = initiator
        for label, send in [
                ("list", lambda: initiator.transfer_sync(target.name, "write", batch)),
                ("table", lambda: initiator.transfer_sync(target.name, "write",
                                                          np.array(batch, np.uint64))),
                ("three lists", lambda: initiator.transfer_async(
                    target.name, "write", local_addrs=cols[0], remote_addrs=cols[1],
                    lengths=cols[2]).wait()),
                ("hixl", lambda: hixl.transfer_sync(target.name, adxl.WRITE, batch)),
        ]:
            dst[:] = 0
            send()
            if all(np.array_equal(src[i * 4096:i * 4096 + 100], dst[i * 4096:i * 4096 + 100])
                   for i in range(8)):
                moved.append(label)
        addr, n, keep = _descs.batch(batch)
        packed = ctypes.string_at(addr, n * 24).hex()

print(json.dumps({"compiled": _descs.compiled(), "moved": moved, "batch": batch,
                  "packed": packed,
                  "warnings": [str(w.message) for w in caught if "_fastdesc" in str(w.message)]}))
