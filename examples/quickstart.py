"""adxl quickstart in Python: register a numpy array, write into it, read it back, notify."""
import numpy as np

import adxl

with adxl.Engine("127.0.0.1:0") as target, adxl.Engine("127.0.0.1") as initiator:
    cache = np.zeros(1 << 18, dtype=np.float32)  # 1 MiB the target exposes
    region = target.register(cache)

    initiator.connect(target.name, timeout_ms=1000)
    out = np.arange(1024, dtype=np.float32)
    initiator.transfer_sync(target.name, "write",
                            [(out.ctypes.data, region.addr + 4096, out.nbytes)])
    back = np.empty_like(out)
    initiator.transfer_sync(target.name, "read",
                            [(back.ctypes.data, region.addr + 4096, back.nbytes)])
    initiator.send_notify(target.name, "done", "quickstart")
    notes = target.get_notifies()

    ok = np.array_equal(out, back) and np.array_equal(cache[1024:2048], out) and \
        notes == [("done", "quickstart")]
    print(f"quickstart (Python): wrote and read back {out.nbytes} bytes via {target.name}: "
          f"{'ok' if ok else 'MISMATCH'}")
    raise SystemExit(0 if ok else 1)
