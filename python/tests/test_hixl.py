"""The `hixl` module: HIXL's binding names, keywords, defaults and return shapes over adxl."""
import ctypes
import socket
import threading

import pytest

import hixl


def listen(engine, options=None):
    """Initializes engine on a port the OS just handed out (retrying if someone took it)."""
    for _ in range(20):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            name = "127.0.0.1:%d" % s.getsockname()[1]
        if engine.initialize(name, options or {}) == hixl.SUCCESS:
            return name
    pytest.fail("no port to listen on")


def buffer(size, fill=0):
    buf = (ctypes.c_uint8 * size)(*([fill] * size))
    return buf, ctypes.addressof(buf)


def test_module_constants_and_enums():
    assert (hixl.SUCCESS, hixl.PARAM_INVALID, hixl.TIMEOUT, hixl.FAILED,
            hixl.RESOURCE_EXHAUSTED) == (0, 103900, 103901, 503900, 203900)
    assert hixl.OPTION_GLOBAL_RESOURCE_CONFIG == "GlobalResourceConfig"
    assert hixl.OPTION_ENABLE_USE_FABRIC_MEM == "EnableUseFabricMem"
    assert hixl.MEM_HOST is hixl.MemType.MEM_HOST and hixl.WRITE is hixl.TransferOp.WRITE
    assert hixl.CONNECTED is hixl.AsyncConnectStatus.CONNECTED
    assert hixl.CLIENT_SERVER_COMM == 1 and hixl.TransferStatus.COMPLETED == 1
    args = hixl.GetTransferStatusArgs()
    assert args.max_query_count == 0xFFFFFFFF and args.skip_waiting is False
    assert hixl.get_capability(hixl.AUTO_CONNECT) == (hixl.SUCCESS, hixl.FEATURE_SUPPORTED)
    assert hixl.get_capability(77) == (hixl.SUCCESS, hixl.FEATURE_NOT_SUPPORTED)


def test_before_initialize_and_bad_options():
    engine = hixl.Hixl()
    assert engine.connect("127.0.0.1:1") == hixl.FAILED
    assert engine.get_notifies() == (hixl.FAILED, [])
    assert engine.initialize("127.0.0.1", {"NoSuchKey": "1"}) == hixl.PARAM_INVALID
    assert engine.initialize("127.0.0.1", {hixl.OPTION_GLOBAL_RESOURCE_CONFIG:
                                           '{"comm_resource_config.protocol_desc":"ub_ctp:host"}'}
                             ) in (hixl.UNSUPPORTED,)
    assert engine.initialize("127.0.0.1") == hixl.SUCCESS
    assert engine.initialize("127.0.0.1") == hixl.SUCCESS  # again: nothing happens
    assert engine.connect("127.0.0.1:1", timeout_in_millis=0) == hixl.PARAM_INVALID
    engine.finalize()
    assert engine.connect("127.0.0.1:1") == hixl.FAILED


def test_transfers_notifies_and_async():
    target, initiator = hixl.Hixl(), hixl.Hixl()
    name = listen(target, {hixl.OPTION_BUFFER_POOL: "0:0"})
    assert initiator.initialize("127.0.0.1", {hixl.OPTION_AUTO_CONNECT: "0"}) == hixl.SUCCESS
    remote, remote_addr = buffer(1 << 16)
    local, local_addr = buffer(1 << 16, 7)
    st, handle = target.register_mem(hixl.MemDesc(remote_addr, len(remote)), hixl.MEM_HOST)
    assert st == hixl.SUCCESS and handle
    st, local_handle = initiator.register_mem(hixl.MemDesc(addr=local_addr, len=len(local)),
                                              hixl.MEM_HOST)
    assert st == hixl.SUCCESS

    assert initiator.connect_async(name, timeout_in_millis=5000) == hixl.SUCCESS
    state = hixl.CONNECT_PENDING
    while state in (hixl.CONNECT_PENDING, hixl.CONNECTING):
        st, state = initiator.get_async_connect_status(name)
        assert st == hixl.SUCCESS
    assert state == hixl.CONNECTED
    assert initiator.get_all_async_connect_status() == (hixl.SUCCESS, {name: hixl.CONNECTED})

    descs = [hixl.TransferOpDesc(local_addr, remote_addr + 4096, 4096)]
    assert initiator.transfer_sync(name, hixl.WRITE, descs) == hixl.SUCCESS
    assert bytes(remote[4096:8192]) == bytes([7] * 4096) and remote[8192] == 0

    reqs = {}
    for tag in (11, 12, 13):
        args = hixl.TransferArgs()
        args.user_data = tag
        st, req = initiator.transfer_async(name, hixl.READ, [hixl.TransferOpDesc(
            local_addr + tag * 1024, remote_addr + 4096, 1024)], args=args)
        assert st == hixl.SUCCESS and req
        reqs[tag] = req
    done = {}
    while len(done) < 3:
        st, results = initiator.get_all_transfer_status()
        assert st == hixl.SUCCESS
        for r in results:
            assert reqs[r.user_data] == r.req
            if r.status != hixl.TransferStatus.WAITING:
                done[r.user_data] = r.status
    assert set(done.values()) == {hixl.TransferStatus.COMPLETED}
    assert initiator.get_all_transfer_status(hixl.GetTransferStatusArgs(skip_waiting=True)) \
        [1] == []

    assert initiator.send_notify(name, hixl.NotifyDesc("kv", "ready"),
                                 timeout_in_millis=1000) == hixl.SUCCESS
    st, notes = target.get_notifies()
    assert st == hixl.SUCCESS and [(n.name, n.notify_msg) for n in notes] == [("kv", "ready")]

    assert initiator.disconnect(name) == hixl.SUCCESS
    assert initiator.transfer_sync(name, hixl.WRITE, descs) == hixl.NOT_CONNECTED
    assert initiator.deregister_mem(local_handle) == hixl.SUCCESS
    assert target.deregister_mem(handle) == hixl.SUCCESS
    assert target.deregister_mem(0) == hixl.PARAM_INVALID
    initiator.finalize()
    target.finalize()


def test_finalize_waits_for_calls_in_flight():
    engine = hixl.Hixl()
    assert engine.initialize("127.0.0.1") == hixl.SUCCESS
    # A connect to a port nobody listens on, finalized from another thread meanwhile.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        name = "127.0.0.1:%d" % held.getsockname()[1]
        out = []
        t = threading.Thread(target=lambda: out.append(engine.connect(name, 2000)))
        t.start()
        engine.finalize()
        t.join()
    assert out[0] in (hixl.FAILED, hixl.TIMEOUT)
    assert engine.connect(name) == hixl.FAILED
