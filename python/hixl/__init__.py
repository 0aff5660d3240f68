"""hixl: the Python module of CANN's HIXL, over adxl.

The names, keyword arguments, defaults and return shapes of HIXL's own binding: every
call returns a status code (SUCCESS is 0), and a call that produces something returns
(status, value). Code written for `import hixl` runs unchanged. A thin layer over
libadxl.so through ctypes (adxl's loader, adxl._lib), which releases the GIL in every
call. The Pythonic API is the `adxl` package.
"""
import ctypes
import threading

from adxl import ConnectState, Feature, MemType, Status, TransferOp, TransferStatus, _lib
from adxl._lib import lib

# Status codes, as plain integers (HIXL's values, which are adxl's).
SUCCESS, PARAM_INVALID, FAILED = int(Status.SUCCESS), int(Status.PARAM_INVALID), int(Status.FAILED)
globals().update({code.name: int(code) for code in Status})

# Option keys (adxl also takes each with an "adxl." prefix).
OPTION_ENABLE_USE_FABRIC_MEM = "EnableUseFabricMem"
OPTION_RDMA_TRAFFIC_CLASS = "RdmaTrafficClass"
OPTION_RDMA_SERVICE_LEVEL = "RdmaServiceLevel"
OPTION_BUFFER_POOL = "BufferPool"
OPTION_GLOBAL_RESOURCE_CONFIG = "GlobalResourceConfig"
OPTION_AUTO_CONNECT = "AutoConnect"
OPTION_LOCAL_COMM_RES = "LocalCommRes"

FEATURE_SUPPORTED = 1
FEATURE_NOT_SUPPORTED = 0

_DEFAULT_TIMEOUT_MS = 1000
_UINT32_MAX = 0xFFFFFFFF


# adxl's enums under HIXL's names: the same values, and the same classes as the adxl
# package uses.
AsyncConnectStatus = ConnectState
FeatureType = Feature


# As HIXL's binding exports them: every enum's values at module level, except
# TransferStatus's (their names are status codes' names).
for _enum in (MemType, TransferOp, AsyncConnectStatus, FeatureType):
    globals().update(_enum.__members__)


class MemDesc:
    def __init__(self, addr, len):  # noqa: A002 - HIXL's keyword name
        self.addr = addr
        self.len = len
        self.local_only = False


class TransferOpDesc:
    def __init__(self, local_addr, remote_addr, len):  # noqa: A002 - HIXL's keyword name
        self.local_addr = local_addr
        self.remote_addr = remote_addr
        self.len = len


class TransferArgs:
    """user_data: an integer (an address, a tag) handed back by get_all_transfer_status."""

    def __init__(self):
        self.user_data = 0


class GetTransferStatusArgs:
    def __init__(self, max_query_count=_UINT32_MAX, skip_waiting=False):
        self.max_query_count = max_query_count
        self.skip_waiting = skip_waiting


class TransferResult:
    def __init__(self):
        self.req = 0
        self.user_data = 0
        self._status = TransferStatus.WAITING

    @property
    def status(self):
        return self._status


class NotifyDesc:
    def __init__(self, name, notify_msg):
        self.name = name
        self.notify_msg = notify_msg


def get_capability(feature_type, /):
    """(status, FEATURE_SUPPORTED or FEATURE_NOT_SUPPORTED); unknown features too."""
    feature = int(feature_type)
    if feature not in FeatureType._value2member_map_:
        return SUCCESS, FEATURE_NOT_SUPPORTED
    value = ctypes.c_int32(FEATURE_NOT_SUPPORTED)
    return lib.adxl_get_capability(feature, ctypes.byref(value)), value.value


def _text(s):
    return s.encode() if isinstance(s, str) else bytes(s)


def _op_descs(op_descs):
    arr = (_lib.OpDescC * len(op_descs))()
    for i, d in enumerate(op_descs):
        arr[i].local_addr, arr[i].remote_addr, arr[i].len = d.local_addr, d.remote_addr, d.len
    return arr


class Hixl:
    """One engine. Before initialize, and after finalize, every call is FAILED."""

    def __init__(self):
        self._engine = None
        # finalize waits for the calls in flight (the C engine must not be destroyed
        # under them) and turns new ones away.
        self._cv = threading.Condition()
        self._active = 0

    def __del__(self):
        self.finalize()

    def initialize(self, local_engine, options={}):  # noqa: B006 - HIXL's default, never changed
        with self._cv:
            if self._engine is not None:
                return SUCCESS
            engine = ctypes.c_void_p()
            st = lib.adxl_engine_create(ctypes.byref(engine))
            if st != SUCCESS:
                return st
            try:
                opts = (_lib.OptionC * len(options))(
                    *[(_text(k), _text(v)) for k, v in options.items()])
                st = lib.adxl_initialize(engine, _text(local_engine), opts, len(options))
            except (TypeError, AttributeError, UnicodeError):
                st = PARAM_INVALID
            if st != SUCCESS:
                lib.adxl_engine_destroy(engine)
                return st
            self._engine = engine
            return SUCCESS

    def finalize(self):
        with self._cv:
            engine, self._engine = self._engine, None
            while self._active:
                self._cv.wait()
        if engine is not None:
            lib.adxl_engine_destroy(engine)

    def _call(self, fn):
        with self._cv:
            engine = self._engine
            if engine is None:
                return FAILED
            self._active += 1
        try:
            return fn(engine)
        except (TypeError, AttributeError, ValueError, UnicodeError, ctypes.ArgumentError):
            return PARAM_INVALID
        finally:
            with self._cv:
                self._active -= 1
                self._cv.notify_all()

    def register_mem(self, mem_desc, mem_type, /):
        handle = ctypes.c_void_p()
        st = self._call(lambda e: lib.adxl_register_mem(
            e, ctypes.byref(_lib.MemDescC(mem_desc.addr, mem_desc.len)), int(mem_type),
            ctypes.byref(handle)))
        return st, (handle.value or 0)

    def deregister_mem(self, mem_handle, /):
        return self._call(lambda e: lib.adxl_deregister_mem(e, mem_handle))

    def connect(self, remote_engine, timeout_in_millis=_DEFAULT_TIMEOUT_MS):
        return self._call(lambda e: lib.adxl_connect(e, _text(remote_engine), timeout_in_millis))

    def disconnect(self, remote_engine, timeout_in_millis=_DEFAULT_TIMEOUT_MS):
        return self._call(
            lambda e: lib.adxl_disconnect(e, _text(remote_engine), timeout_in_millis))

    def connect_async(self, remote_engine, timeout_in_millis=_DEFAULT_TIMEOUT_MS):
        return self._call(
            lambda e: lib.adxl_connect_async(e, _text(remote_engine), timeout_in_millis))

    def disconnect_async(self, remote_engine, timeout_in_millis=_DEFAULT_TIMEOUT_MS):
        return self._call(
            lambda e: lib.adxl_disconnect_async(e, _text(remote_engine), timeout_in_millis))

    def get_async_connect_status(self, remote_engine, /):
        state = ctypes.c_int(AsyncConnectStatus.NOT_CONNECT)
        st = self._call(lambda e: lib.adxl_get_async_connect_status(
            e, _text(remote_engine), ctypes.byref(state)))
        return st, AsyncConnectStatus(state.value)

    def get_all_async_connect_status(self):
        found = {}

        def collect(e):
            count = ctypes.c_size_t()
            while True:  # the set may grow between the count and the copy
                buf = (_lib.ConnectStatusC * (count.value + 16))()
                st = lib.adxl_get_async_connect_statuses(e, buf, len(buf), ctypes.byref(count))
                if st != SUCCESS or count.value < len(buf):
                    break
            for s in buf[:count.value] if st == SUCCESS else ():
                found[s.remote_engine.decode()] = AsyncConnectStatus(s.state)
            return st

        st = self._call(collect)
        return st, (found if st == SUCCESS else {})

    def transfer_sync(self, remote_engine, op, op_descs, timeout_in_millis=_DEFAULT_TIMEOUT_MS):
        return self._call(lambda e: lib.adxl_transfer_sync(
            e, _text(remote_engine), int(op), _op_descs(op_descs), len(op_descs),
            timeout_in_millis))

    def transfer_async(self, remote_engine, op, op_descs, args=None):
        args = args if args is not None else TransferArgs()
        req = ctypes.c_void_p()
        st = self._call(lambda e: lib.adxl_transfer_async(
            e, _text(remote_engine), int(op), _op_descs(op_descs), len(op_descs),
            ctypes.byref(_lib.ArgsC(0, args.user_data or None)), ctypes.byref(req)))
        return st, (req.value or 0)

    def get_transfer_status(self, req, /):
        status = ctypes.c_int(TransferStatus.FAILED)
        st = self._call(lambda e: lib.adxl_get_transfer_status(e, req, ctypes.byref(status)))
        return st, TransferStatus(status.value)

    def get_all_transfer_status(self, args=None):
        args = args if args is not None else GetTransferStatusArgs()
        results = {}

        def collect(e):
            # As libadxl_cxx does: a full answer may have more behind it, so ask again with
            # room for more; waiting requests come back each time, so answers replace
            # earlier ones by request.
            flags = 1 if args.skip_waiting else 0
            want = min(args.max_query_count, 256)
            while want > 0:
                buf = (_lib.ResultC * want)()
                count = ctypes.c_size_t()
                st = lib.adxl_get_transfer_statuses(e, buf, want, flags, ctypes.byref(count))
                if st != SUCCESS:
                    return st
                for r in buf[:count.value]:
                    if r.req in results or len(results) < args.max_query_count:
                        results[r.req] = r
                if count.value < want or len(results) >= args.max_query_count:
                    return SUCCESS
                want = min(args.max_query_count, want * 2)
            return SUCCESS

        st = self._call(collect)
        out = []
        for r in results.values() if st == SUCCESS else ():
            t = TransferResult()
            t.req, t.user_data, t._status = r.req, r.user_data or 0, TransferStatus(r.status)
            out.append(t)
        return st, out

    def send_notify(self, remote_engine, notify, timeout_in_millis=_DEFAULT_TIMEOUT_MS):
        return self._call(lambda e: lib.adxl_send_notify(
            e, _text(remote_engine), _text(notify.name), _text(notify.notify_msg),
            timeout_in_millis))

    def get_notifies(self):
        out = []

        def collect(e):
            buf = (_lib.NotifyC * 16)()
            while True:
                count = ctypes.c_size_t()
                st = lib.adxl_get_notifies(e, buf, len(buf), ctypes.byref(count))
                if st != SUCCESS:
                    return st
                out.extend(NotifyDesc(n.name.decode(errors="replace"),
                                      n.msg.decode(errors="replace")) for n in buf[:count.value])
                if count.value < len(buf):
                    return SUCCESS

        st = self._call(collect)
        return st, out
