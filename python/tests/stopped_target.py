"""The target process of test_transfer_to_a_stopped_target_leaves_the_gil: over tcp,
registers a buffer, prints its engine name and the buffer's address, then waits on stdin
(the test stops and continues this process meanwhile) and exits."""
import sys

import adxl

with adxl.Engine("127.0.0.1:0", options={"Transport": "tcp", "PeerTimeoutMs": "600000"}) \
        as engine:
    cache = bytearray(1 << 16)
    region = engine.register(cache)
    print(engine.name, region.addr, flush=True)
    sys.stdin.readline()
