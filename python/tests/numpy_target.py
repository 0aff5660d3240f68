"""The target process of test_two_processes_numpy: registers a numpy array, prints its
engine name, waits for the initiator's notify, checks the array, exits 0 when right."""
import sys

import numpy as np

import adxl

N = int(sys.argv[1])
with adxl.Engine("127.0.0.1:0") as engine:
    cache = np.zeros(N, dtype=np.float32)
    source = np.arange(N, dtype=np.float32) * -1.0  # what the initiator READs
    engine.register(cache)
    engine.register(source)
    print(engine.name, cache.ctypes.data, source.ctypes.data, flush=True)
    while True:
        notes = engine.get_notifies()
        if notes:
            break
        sys.stdin.readline()  # the initiator sends a line after each notify: no busy wait
    ok = notes[0] == adxl.Notify("done", "numpy") and np.array_equal(
        cache, np.arange(N, dtype=np.float32))
    print("ok" if ok else "mismatch", flush=True)
    sys.stdin.readline()  # stay up until the initiator has read `source`
    sys.exit(0 if ok else 1)
