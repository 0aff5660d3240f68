import ctypes
import mmap
import os
import signal
import socket
import subprocess
import threading
import time

import numpy as np
import pytest

import adxl
from children import child_command, child_env


@pytest.fixture
def pair():
    with adxl.Engine("127.0.0.1:0") as target, adxl.Engine("127.0.0.1:0") as initiator:
        yield target, initiator


def addr(obj):
    return adxl.buffer_address(obj)[0]


def test_version_and_capability():
    assert adxl.version()
    assert adxl.get_capability(adxl.Feature.AUTO_CONNECT) == 1
    assert adxl.get_capability(adxl.Feature.CLIENT_SERVER_COMM) == 1
    with pytest.raises(adxl.AdxlError) as e:
        adxl.get_capability(7)
    assert e.value.status == adxl.Status.PARAM_INVALID and e.value.name == "PARAM_INVALID"


def test_write_read_bytearray_mmap_numpy(pair):
    target, initiator = pair
    dst = bytearray(1 << 20)
    mm = mmap.mmap(-1, 1 << 16)
    arr = np.zeros(4096, dtype=np.int64)
    r_dst, r_mm, r_arr = target.register(dst), target.register(mm), target.register(arr)
    assert (r_dst.len, r_mm.len, r_arr.len) == (1 << 20, 1 << 16, arr.nbytes)
    initiator.connect(target.name, timeout_ms=5000)
    src = bytearray(os.urandom(8192))
    initiator.transfer_sync(target.name, "write", [(addr(src), r_dst.addr, 4096),
                                                   (addr(src) + 4096, r_dst.addr + 65536, 4096)])
    assert dst[:4096] == src[:4096] and dst[65536:65536 + 4096] == src[4096:]
    initiator.transfer_sync(target.name, adxl.WRITE, [(addr(src), r_mm, 8192)])
    assert mm[:8192] == bytes(src)
    values = np.arange(4096, dtype=np.int64)
    initiator.transfer_sync(target.name, "WRITE", [(values.ctypes.data, r_arr, values.nbytes)])
    assert np.array_equal(arr, values)
    back = np.zeros_like(values)
    initiator.transfer_sync(target.name, "read", [(back.ctypes.data, r_arr, back.nbytes)],
                            timeout_ms=5000)
    assert np.array_equal(back, values)
    r_dst.deregister()
    with pytest.raises(adxl.AdxlError) as e:
        initiator.transfer_sync(target.name, "write", [(addr(src), r_dst.addr, 4096)])
    assert e.value.status == adxl.Status.PARAM_INVALID


def test_raw_address_registration(pair):
    target, initiator = pair
    p = adxl.malloc_mem(1 << 16)
    try:
        region = target.register((p, 1 << 16))  # as with (tensor.data_ptr(), nbytes)
        initiator.connect(target.name)
        src = bytearray(b"z" * 100)
        initiator.transfer_sync(target.name, "write", [(addr(src), region.addr + 5, 100)])
        assert ctypes.string_at(p + 5, 100) == bytes(src)
        target.deregister(region)
    finally:
        adxl.free_mem(p)


def test_errors_carry_status(pair):
    target, initiator = pair
    src = bytearray(64)
    with pytest.raises(adxl.AdxlError) as e:
        initiator.transfer_sync(target.name, "write", [(addr(src), 4096, 64)])
    assert e.value.status == adxl.Status.NOT_CONNECTED == 103902
    assert e.value.name == "NOT_CONNECTED"
    with pytest.raises(ValueError):
        initiator.transfer_sync(target.name, "copy", [(addr(src), 4096, 64)])
    with pytest.raises(adxl.AdxlError) as e:
        initiator.connect("not a name")
    assert e.value.status == adxl.Status.PARAM_INVALID
    with pytest.raises(adxl.AdxlError) as e:
        adxl.Engine("bad name")
    assert e.value.status == adxl.Status.PARAM_INVALID
    with pytest.raises(adxl.AdxlError) as e:
        adxl.Engine("127.0.0.1:0", options={"NoSuchOption": "1"})
    assert e.value.status == adxl.Status.PARAM_INVALID
    with pytest.raises(ValueError):
        target.register(np.zeros((8, 8))[:, 0])  # not contiguous


def test_async_requests_and_bulk_status(pair):
    target, initiator = pair
    n, block = 32, 4096
    dst = bytearray(n * block)
    region = target.register(dst)
    initiator.connect(target.name)
    src = bytearray(os.urandom(n * block))
    reqs = [initiator.transfer_async(target.name, "write",
                                     [(addr(src) + i * block, region.addr + i * block, block)],
                                     user_data=("block", i)) for i in range(n)]
    reqs[0].wait()
    assert reqs[0].status() == adxl.TransferStatus.COMPLETED
    seen = {0}
    while len(seen) < n:
        for req, st in initiator.finished_requests(max_count=5):
            assert st == adxl.TransferStatus.COMPLETED and req.done
            seen.add(req.user_data[1])
        for req in reqs:
            if not req.done:
                req.wait()
                seen.add(req.user_data[1])
                break
    assert dst == src
    assert all(r.status() == adxl.TransferStatus.COMPLETED for r in reqs)


def test_notifies_and_config(pair):
    target, initiator = pair
    initiator.connect(target.name)
    initiator.send_notify(target.name, "kv_ready", "request 1")
    initiator.send_notify(target.name, b"kv_ready", b"request 2")
    assert target.get_notifies() == [("kv_ready", "request 1"), ("kv_ready", "request 2")]
    assert target.get_notifies() == []
    stats = initiator.stats()
    assert stats["batches_direct"] == 0 and "bytes_written" in stats


def test_connect_async_states(pair):
    target, initiator = pair
    assert initiator.connect_status(target.name) == adxl.ConnectState.NOT_CONNECT
    initiator.connect_async(target.name, timeout_ms=5000)
    while initiator.connect_status(target.name) in (adxl.ConnectState.CONNECT_PENDING,
                                                    adxl.ConnectState.CONNECTING):
        pass
    assert initiator.connect_status(target.name) == adxl.ConnectState.CONNECTED
    assert initiator.connect_statuses() == {target.name: adxl.ConnectState.CONNECTED}
    with pytest.raises(adxl.AdxlError) as e:
        initiator.connect_async(target.name)
    assert e.value.status == adxl.Status.ALREADY_CONNECTED
    initiator.disconnect_async(target.name)
    while initiator.connect_status(target.name) != adxl.ConnectState.NOT_CONNECT:
        pass


def test_hixl_binding_names():
    t, e = adxl.AdxlEngine(), adxl.AdxlEngine()
    assert t.initialize("127.0.0.1:0", {"adxl.BufferPool": "0:0"}) == adxl.Status.SUCCESS
    assert e.initialize("127.0.0.1", {}) == 0
    assert e.initialize("127.0.0.1", {}) == 0  # a second initialize is a no-op
    name = t._engine.name
    st, ptr = adxl.AdxlEngine.malloc_mem(adxl.MemType.MEM_HOST, 1 << 20)
    assert st == 0 and ptr
    st, handle = t.register_mem(adxl.MemDesc(ptr, 1 << 20), adxl.MemType.MEM_HOST)
    assert st == 0
    assert e.connect(name, 1000) == 0
    assert e.connect(name, 1000) == adxl.Status.ALREADY_CONNECTED
    src = bytearray(b"h" * (1 << 20))
    descs = [adxl.TransferOpDesc(addr(src), ptr, 1 << 20)]
    assert e.transfer_sync(name, adxl.TransferOp.WRITE, descs, 5000) == 0
    assert ctypes.string_at(ptr, 1 << 20) == bytes(src)
    st, req = e.transfer_async(name, adxl.TransferOp.READ, descs, adxl.TransferArgs(0, "u"))
    assert st == 0
    while True:
        st, status = e.get_transfer_status(req)
        assert st == 0
        if status != adxl.TransferStatus.WAITING:
            break
    assert status == adxl.TransferStatus.COMPLETED
    assert e.send_notify(name, adxl.NotifyDesc("n", "m"), 1000) == 0
    assert t.get_notifies() == (0, [adxl.NotifyDesc("n", "m")])
    assert e.transfer_sync(name, adxl.TransferOp.WRITE, descs, 0) == adxl.Status.PARAM_INVALID
    assert e.disconnect(name, 1000) == 0
    assert e.transfer_sync(name, 1, descs, 1000) == adxl.Status.NOT_CONNECTED
    assert adxl.AdxlEngine.get_capability(adxl.Feature.AUTO_CONNECT) == (0, 1)
    assert t.deregister_mem(handle) == 0
    assert adxl.AdxlEngine.free_mem(ptr) == 0
    e.finalize()
    t.finalize()
    assert e.connect(name, 1000) == adxl.Status.FAILED


def test_two_processes_numpy():
    n = 1 << 18
    child = subprocess.Popen(child_command("numpy_target.py", n), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=child_env())
    try:
        name, cache_addr, source_addr = child.stdout.readline().split()
        values = np.arange(n, dtype=np.float32)
        with adxl.Engine("127.0.0.1") as engine:
            engine.connect(name, timeout_ms=10000)
            half = values.nbytes // 2  # two descriptors, to cross the 256 KiB rule both ways
            engine.transfer_sync(name, "write", [(values.ctypes.data, int(cache_addr), half),
                                                 (values.ctypes.data + half,
                                                  int(cache_addr) + half, half)],
                                 timeout_ms=10000)
            engine.send_notify(name, "done", "numpy", timeout_ms=10000)
            child.stdin.write("\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "ok"
            back = np.empty(n, dtype=np.float32)
            engine.transfer_sync(name, "read", [(back.ctypes.data, int(source_addr),
                                                 back.nbytes)], timeout_ms=10000)
            assert np.array_equal(back, values * -1.0)
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_threads_overlap_and_gil_released(pair):
    target, initiator = pair
    nthreads, block = 4, 1 << 16
    dst = bytearray(nthreads * block * 8)
    region = target.register(dst)
    initiator.connect(target.name)
    src = bytearray(os.urandom(len(dst)))
    errors = []

    def worker(k):
        try:
            for j in range(8):
                off = (k * 8 + j) * block
                initiator.transfer_sync(target.name, "write",
                                        [(addr(src) + off, region.addr + off, block)])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    # A connect that blocks in C until the main thread ends it: if the GIL were held
    # during the call, nothing below could run and the test would hang.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    silent = "127.0.0.1:%d" % listener.getsockname()[1]
    blocked = []
    blocker = threading.Thread(target=lambda: blocked.append(
        pytest.raises(adxl.AdxlError, initiator.connect, silent, 60000)))
    blocker.start()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and dst == src
    conn, _ = listener.accept()  # the blocked connect's handshake; ending it fails it
    conn.close()
    listener.close()
    blocker.join()
    assert blocked and blocked[0].value.status == adxl.Status.FAILED


def wait_stopped(pid, seconds=30):
    """True once /proc says the process is stopped (state T), within seconds."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] in ("T", "t"):
                return True
        time.sleep(0.001)
    return False


def test_transfer_to_a_stopped_target_leaves_the_gil():
    """One thread blocks in transfer_sync to a target process that is stopped (SIGSTOP)
    while another thread completes transfers to a live target: the blocked call holds no
    GIL. Nothing is timed: the blocked transfer can only end after SIGCONT, which is sent
    once the other thread's transfers are done."""
    child = subprocess.Popen(child_command("stopped_target.py"), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=child_env())
    tcp = {"Transport": "tcp", "PeerTimeoutMs": "600000"}
    try:
        name, remote_addr = child.stdout.readline().split()
        with adxl.Engine("127.0.0.1:0", options=tcp) as live, \
                adxl.Engine("127.0.0.1", options=tcp) as initiator:
            initiator.connect(name, timeout_ms=10000)
            initiator.connect(live.name, timeout_ms=10000)
            dst = bytearray(1 << 16)
            region = live.register(dst)
            src = bytearray(os.urandom(1 << 16))
            os.kill(child.pid, signal.SIGSTOP)
            # kill() returns before the signal has taken effect: a transfer sent now could
            # still be served. Wait until the kernel reports the process stopped.
            assert wait_stopped(child.pid)
            entering, outcome = threading.Event(), []

            def blocked():
                entering.set()
                try:
                    initiator.transfer_sync(name, "write", [(addr(src), int(remote_addr),
                                                             len(src))], timeout_ms=600000)
                    outcome.append("done")
                except Exception as e:  # pragma: no cover - reported below
                    outcome.append(e)

            blocker = threading.Thread(target=blocked)
            blocker.start()
            entering.wait()
            for k in range(16):  # the other thread: this one
                off = k * 4096
                initiator.transfer_sync(live.name, "write", [(addr(src) + off,
                                                              region.addr + off, 4096)])
            assert dst == src
            assert blocker.is_alive() and not outcome  # still held by the stopped target
            os.kill(child.pid, signal.SIGCONT)
            blocker.join()
            assert outcome == ["done"]
            back = bytearray(len(src))
            initiator.transfer_sync(name, "read", [(addr(back), int(remote_addr), len(back))],
                                    timeout_ms=10000)
            assert back == src
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGCONT)
            child.kill()
            child.wait()
