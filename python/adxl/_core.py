"""The Pythonic layer: Engine, Region, Request, AdxlError."""
import ctypes
import enum
import itertools
import threading
import time
from collections import namedtuple

from ._descs import batch as _batch
from ._descs import op_table
from ._lib import ArgsC, ConnectStatusC, MemDescC, NotifyC, OptionC, ResultC, StatsC, lib


class Status(enum.IntEnum):
    """ADXL's status codes, with ADXL's numeric values."""
    SUCCESS = 0
    PARAM_INVALID = 103900
    TIMEOUT = 103901
    NOT_CONNECTED = 103902
    ALREADY_CONNECTED = 103903
    NOTIFY_FAILED = 103904
    UNSUPPORTED = 103905
    RESOURCE_EXHAUSTED = 203900
    FAILED = 503900


class TransferOp(enum.IntEnum):
    READ = 0
    WRITE = 1


class MemType(enum.IntEnum):
    MEM_DEVICE = 0
    MEM_HOST = 1


class TransferStatus(enum.IntEnum):
    WAITING = 0
    COMPLETED = 1
    TIMEOUT = 2
    FAILED = 3


class ConnectState(enum.IntEnum):
    NOT_CONNECT = 0
    CONNECT_PENDING = 1
    CONNECTING = 2
    CONNECTED = 3
    CONNECT_FAILED = 4
    DISCONNECT_PENDING = 5
    DISCONNECTING = 6


class Feature(enum.IntEnum):
    AUTO_CONNECT = 0
    CLIENT_SERVER_COMM = 1


READ, WRITE = TransferOp.READ, TransferOp.WRITE
_STATUSES = tuple(TransferStatus)  # indexed by the C value: no enum lookup per request
_OPS = {"read": 0, "write": 1, "READ": 0, "WRITE": 1, READ: 0, WRITE: 1}
_transfer_sync = lib.adxl_transfer_sync
_transfer_async = lib.adxl_transfer_async
_get_transfer_status = lib.adxl_get_transfer_status
_get_transfer_statuses = lib.adxl_get_transfer_statuses
Notify = namedtuple("Notify", "name msg")


def status_name(code):
    """ADXL's name of a status code ("SUCCESS", "TIMEOUT", ...)."""
    return lib.adxl_status_str(int(code)).decode()


class AdxlError(Exception):
    """A call that did not return SUCCESS: .status is the code, .name its name."""

    def __init__(self, status, what=""):
        self.status = int(status)
        self.name = status_name(self.status)
        super().__init__(f"{what}: {self.name} ({self.status})" if what else
                         f"{self.name} ({self.status})")


def check(status, what=""):
    if status != 0:
        raise AdxlError(status, what)


def version():
    return lib.adxl_version().decode()


def get_capability(feature):
    """The value of one feature (1: supported); callable before any engine exists."""
    value = ctypes.c_int32()
    check(lib.adxl_get_capability(int(feature), ctypes.byref(value)), "get_capability")
    return value.value


def buffer_address(obj):
    """(address, length, keepalive) of a C-contiguous buffer-protocol object."""
    view = memoryview(obj)
    if not view.c_contiguous:
        raise ValueError("adxl needs a contiguous buffer")
    view = view.cast("B")
    if view.nbytes == 0:
        raise ValueError("adxl needs a non-empty buffer")
    if not view.readonly:
        arr = (ctypes.c_char * view.nbytes).from_buffer(view)
        return ctypes.addressof(arr), view.nbytes, (view, arr)
    if isinstance(obj, bytes):
        return ctypes.cast(ctypes.c_char_p(obj), ctypes.c_void_p).value, len(obj), obj
    raise TypeError("read-only buffers other than bytes are not supported; pass (address, length)")


def _tensor_like(obj):
    """(address, nbytes, on a device) of a tensor-like object (torch.Tensor and alike:
    data_ptr(), nbytes or numel()*element_size(), device), or None for anything else."""
    data_ptr = getattr(obj, "data_ptr", None)
    if not callable(data_ptr):
        return None
    contiguous = getattr(obj, "is_contiguous", None)
    if callable(contiguous) and not contiguous():
        raise ValueError("a tensor must be contiguous to be registered (call .contiguous())")
    nbytes = getattr(obj, "nbytes", None)
    if nbytes is None:
        nbytes = obj.numel() * obj.element_size()
    device = getattr(obj, "device", None)
    kind = getattr(device, "type", device)
    on_device = kind is not None and str(kind).split(":")[0] not in ("cpu", "meta")
    return int(data_ptr()), int(nbytes), on_device


def _addr_len(obj, length=None):
    if isinstance(obj, tuple):
        addr, length = obj
        return int(addr), int(length), None
    if isinstance(obj, int):
        if length is None:
            raise TypeError("a raw address needs a length")
        return obj, int(length), None
    if isinstance(obj, Region):
        return obj.addr, obj.len, obj
    addr, n, keep = buffer_address(obj)
    return addr, n, keep


def _op(op):
    try:
        return _OPS[op]
    except (KeyError, TypeError):
        pass
    if isinstance(op, str):
        try:
            return TransferOp[op.upper()]
        except KeyError:
            raise ValueError(f"op must be 'read' or 'write', not {op!r}") from None
    return TransferOp(op)


class _Scratch(threading.local):
    """Each thread's out-parameters of the hot calls, made once and passed by address, so
    that posting and polling requests builds no ctypes objects."""

    def __init__(self):
        self.args = ArgsC()
        self.args_addr = ctypes.addressof(self.args)
        raw = memoryview(self.args).cast("B")
        self.args_timeout, self.args_user_data = raw.cast("i"), raw.cast("Q")
        self.handle = ctypes.c_void_p()
        self.handle_addr = ctypes.addressof(self.handle)
        self.status = ctypes.c_int()
        self.status_addr = ctypes.addressof(self.status)


_scratch = _Scratch()
_ARGS_TIMEOUT, _ARGS_USER_DATA = ArgsC.timeout_ms.offset // 4, ArgsC.user_data.offset // 8


class _Results:
    """A reusable adxl_transfer_result_t array for finished_requests, read through flat
    integer views (no per-entry ctypes struct)."""
    WORD_USER_DATA = ResultC.user_data.offset // 8
    INT_STATUS = ResultC.status.offset // 4
    STRIDE = ctypes.sizeof(ResultC)

    def __init__(self, capacity):
        self.capacity = capacity
        self.arr = (ResultC * capacity)()
        self.addr = ctypes.addressof(self.arr)
        raw = memoryview(self.arr).cast("B")
        self.words, self.ints = raw.cast("Q"), raw.cast("i")
        self.count = ctypes.c_size_t()
        self.count_addr = ctypes.addressof(self.count)


if ResultC.user_data.offset % 8 or ResultC.status.offset % 4 or _Results.STRIDE % 8 or \
        ArgsC.timeout_ms.offset % 4 or ArgsC.user_data.offset % 8:
    raise ImportError("adxl: unexpected layout of adxl_transfer_result_t/adxl_transfer_args_t")


def _options(options):
    items = list((options or {}).items())
    arr = (OptionC * max(1, len(items)))()
    for i, (k, v) in enumerate(items):
        if isinstance(v, bool):
            v = "1" if v else "0"
        arr[i] = OptionC(str(k).encode(), str(v).encode())
    return arr, len(items)


class Region:
    """Memory registered with an engine: .addr, .len, .handle; deregister() ends it."""

    def __init__(self, engine, addr, length, handle, keepalive):
        self.engine, self.addr, self.len, self.handle = engine, addr, length, handle
        self._keepalive = keepalive

    def deregister(self):
        if self.handle is not None:
            self.engine.deregister(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deregister()


class Request:
    """An async transfer: status() polls, wait() blocks (without holding the GIL)."""
    __slots__ = ("engine", "_handle", "user_data", "_token", "_final")

    def __init__(self, engine, handle, user_data, token):
        self.engine, self._handle, self.user_data, self._token = engine, handle, user_data, token
        self._final = None

    @property
    def done(self):
        return self._final is not None

    def status(self):
        """TransferStatus; a final one is kept (the C handle is released then)."""
        if self._final is not None:
            return self._final
        scratch = _scratch
        rc = _get_transfer_status(self.engine._ptr(), self._handle, scratch.status_addr)
        if rc != 0:
            if self._final is not None:  # finished_requests() got it meanwhile
                return self._final
            raise AdxlError(rc, "get_transfer_status")
        st = _STATUSES[scratch.status.value]
        if st is not TransferStatus.WAITING:
            self.engine._finished(self, st)
        return st

    def wait(self, timeout=None):
        """Waits for a final state; raises AdxlError unless COMPLETED. timeout in seconds
        (None: until the request's own timeout or completion); TimeoutError if exceeded."""
        end = None if timeout is None else time.monotonic() + timeout
        pause = 0.0001
        while (st := self.status()) == TransferStatus.WAITING:
            if end is not None and time.monotonic() >= end:
                raise TimeoutError("request still waiting")
            time.sleep(pause)
            pause = min(pause * 2, 0.005)
        if st == TransferStatus.TIMEOUT:
            raise AdxlError(Status.TIMEOUT, "transfer")
        if st == TransferStatus.FAILED:
            raise AdxlError(Status.FAILED, "transfer")
        return st


class Engine:
    """An adxl engine. Engine("10.0.0.1:26000", options={"BufferPool": "4:8"}); with no
    name it is created uninitialized (call initialize). Use it as a context manager."""

    def __init__(self, local_engine=None, options=None):
        ptr = ctypes.c_void_p()
        check(lib.adxl_engine_create(ctypes.byref(ptr)), "engine_create")
        self._engine = ptr
        self._lock = threading.Lock()
        self._requests = {}  # user_data token -> Request, until its final state is seen
        self._tokens = itertools.count(1)
        self._results = _Results(64)  # finished_requests' array, reused under _lock
        if local_engine is not None:
            try:
                self.initialize(local_engine, options)
            except BaseException:
                self.destroy()
                raise

    def _ptr(self):
        if self._engine is None:
            raise AdxlError(Status.FAILED, "engine was destroyed")
        return self._engine

    def initialize(self, local_engine, options=None):
        arr, n = _options(options)
        check(lib.adxl_initialize(self._ptr(), local_engine.encode(), arr, n), "initialize")

    def finalize(self):
        if self._engine is not None:
            lib.adxl_finalize(self._engine)
            self._requests.clear()

    def destroy(self):
        if self._engine is not None:
            lib.adxl_engine_destroy(self._engine)
            self._engine = None
            self._requests.clear()

    close = destroy

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.destroy()

    def __del__(self):
        try:
            self.destroy()
        except Exception:
            pass

    @property
    def name(self):
        """The name peers connect to, with the real port."""
        n = lib.adxl_local_engine(self._ptr())
        return n.decode() if n else None

    local_engine = name

    def register(self, obj, length=None, mem_type=None):
        """Registers a buffer-protocol object (bytearray, mmap, numpy array, ...), a
        tensor-like object (data_ptr(), nbytes or numel()*element_size(), device: a tensor
        on a device is device memory), or a raw (address, length) such as
        (tensor.data_ptr(), nbytes). mem_type (MemType) overrides the kind; by default
        everything but a device tensor is host memory. Returns a Region."""
        tensor = _tensor_like(obj)
        if tensor is not None:
            addr, n, on_device = tensor
            keep = obj
            if mem_type is None:
                mem_type = MemType.MEM_DEVICE if on_device else MemType.MEM_HOST
        else:
            addr, n, keep = _addr_len(obj, length)
        if mem_type is None:
            mem_type = MemType.MEM_HOST
        handle = ctypes.c_void_p()
        desc = MemDescC(addr, n)
        check(lib.adxl_register_mem(self._ptr(), ctypes.byref(desc), int(mem_type),
                                    ctypes.byref(handle)), "register_mem")
        return Region(self, addr, n, handle.value, keep)

    def deregister(self, region):
        handle = region.handle if isinstance(region, Region) else region
        check(lib.adxl_deregister_mem(self._ptr(), handle), "deregister_mem")
        if isinstance(region, Region):
            region.handle = None

    def connect(self, remote, timeout_ms=1000):
        check(lib.adxl_connect(self._ptr(), remote.encode(), timeout_ms), f"connect {remote}")

    def disconnect(self, remote, timeout_ms=1000):
        check(lib.adxl_disconnect(self._ptr(), remote.encode(), timeout_ms),
              f"disconnect {remote}")

    def connect_async(self, remote, timeout_ms=1000):
        check(lib.adxl_connect_async(self._ptr(), remote.encode(), timeout_ms),
              f"connect_async {remote}")

    def disconnect_async(self, remote, timeout_ms=1000):
        check(lib.adxl_disconnect_async(self._ptr(), remote.encode(), timeout_ms),
              f"disconnect_async {remote}")

    def connect_status(self, remote):
        s = ctypes.c_int()
        check(lib.adxl_get_async_connect_status(self._ptr(), remote.encode(), ctypes.byref(s)),
              "get_async_connect_status")
        return ConnectState(s.value)

    def connect_statuses(self):
        """{remote name: ConnectState} for every linked or async-connected name."""
        n = ctypes.c_size_t()
        check(lib.adxl_get_async_connect_statuses(self._ptr(), None, 0, ctypes.byref(n)),
              "get_async_connect_statuses")
        cap = n.value + 8
        arr = (ConnectStatusC * cap)()
        check(lib.adxl_get_async_connect_statuses(self._ptr(), arr, cap, ctypes.byref(n)),
              "get_async_connect_statuses")
        return {arr[i].remote_engine.decode(): ConnectState(arr[i].state) for i in range(n.value)}

    def _batch_call(self, op, descs, local_addrs, remote_addrs, lengths):
        """(engine, op code, table address, count, keepalive) of a transfer call: the
        common case without helper calls (this overhead is what a small batch pays)."""
        if descs is not None and local_addrs is None and remote_addrs is None and \
                lengths is None:
            addr, n, keep = _batch(descs)
        else:
            addr, n, keep = op_table(descs, local_addrs, remote_addrs, lengths)
        code = _OPS.get(op)
        engine = self._engine
        if code is None or engine is None:
            code, engine = _op(op), self._ptr()
        return engine, code, addr, n, keep

    def transfer_sync(self, remote, op, descs=None, timeout_ms=1000, *, local_addrs=None,
                      remote_addrs=None, lengths=None):
        """Moves a batch; op is "read"/"write" or READ/WRITE. descs is a list of
        (local, remote, length) (an address may be a Region) or an N x 3 uint64 buffer
        (numpy (N, 3) uint64, array('Q'), ...: used in place); or give three equal-length
        integer sequences local_addrs, remote_addrs, lengths instead."""
        engine, code, addr, n, keep = self._batch_call(op, descs, local_addrs, remote_addrs,
                                                       lengths)
        # keep (the table's owner) lives until this returns, so through the call
        rc = _transfer_sync(engine, remote.encode(), code, addr, n, timeout_ms)
        if rc:
            raise AdxlError(rc, "transfer_sync")

    def transfer_async(self, remote, op, descs=None, timeout_ms=0, user_data=None, *,
                       local_addrs=None, remote_addrs=None, lengths=None):
        """Starts a batch (descs as for transfer_sync); returns a Request (its user_data is
        any Python object)."""
        engine, code, addr, n, keep = self._batch_call(op, descs, local_addrs, remote_addrs,
                                                       lengths)
        token = next(self._tokens)
        # Known before the C call: finished_requests in another thread may report it first.
        req = self._requests[token] = Request(self, None, user_data, token)
        scratch = _scratch
        scratch.args_timeout[_ARGS_TIMEOUT] = timeout_ms
        scratch.args_user_data[_ARGS_USER_DATA] = token
        rc = _transfer_async(engine, remote.encode(), code, addr, n, scratch.args_addr,
                             scratch.handle_addr)
        if rc:
            self._requests.pop(token, None)
            raise AdxlError(rc, "transfer_async")
        req._handle = scratch.handle.value
        return req

    def _finished(self, req, status):
        req._final = status
        self._requests.pop(req._token, None)

    def finished_requests(self, max_count=64, skip_waiting=True):
        """HIXL's bulk status: [(Request, TransferStatus)] of up to max_count requests,
        finished ones (then released) and, unless skip_waiting, waiting ones too."""
        with self._lock:
            res = self._results
            if res.capacity < max_count:
                res = self._results = _Results(max_count)
            check(_get_transfer_statuses(self._ptr(), res.addr, max_count,
                                         1 if skip_waiting else 0, res.count_addr),
                  "get_transfer_statuses")
            words, ints, requests = res.words, res.ints, self._requests
            word, status, stride_words = _Results.WORD_USER_DATA, _Results.INT_STATUS, \
                _Results.STRIDE // 8
            waiting = TransferStatus.WAITING
            out = []
            for i in range(res.count.value):
                token = words[i * stride_words + word]
                req = requests.get(token)
                if req is None:
                    continue
                st = _STATUSES[ints[i * stride_words * 2 + status]]
                if st is not waiting:
                    req._final = st
                    requests.pop(token, None)
                out.append((req, st))
            return out

    def send_notify(self, remote, name, msg, timeout_ms=1000):
        if isinstance(name, str):
            name = name.encode()
        if isinstance(msg, str):
            msg = msg.encode()
        check(lib.adxl_send_notify(self._ptr(), remote.encode(), name, msg, timeout_ms),
              "send_notify")

    def get_notifies(self, max_count=None):
        """[Notify(name, msg)] received so far (all of them, or up to max_count)."""
        n = ctypes.c_size_t()
        if max_count is None:
            check(lib.adxl_get_notifies(self._ptr(), None, 0, ctypes.byref(n)), "get_notifies")
            max_count = n.value + 16
        arr = (NotifyC * max(1, max_count))()
        check(lib.adxl_get_notifies(self._ptr(), arr, max_count, ctypes.byref(n)),
              "get_notifies")
        return [Notify(arr[i].name.decode(), arr[i].msg.decode()) for i in range(n.value)]

    def stats(self):
        s = StatsC()
        check(lib.adxl_get_stats(self._ptr(), ctypes.byref(s)), "get_stats")
        return {f: getattr(s, f) for f, _ in StatsC._fields_}


def malloc_mem(size, mem_type=MemType.MEM_HOST):
    """Page-aligned zeroed host memory: returns its address (free it with free_mem)."""
    p = ctypes.c_void_p()
    check(lib.adxl_malloc_mem(int(mem_type), size, ctypes.byref(p)), "malloc_mem")
    return p.value


def free_mem(addr):
    check(lib.adxl_free_mem(addr), "free_mem")
