"""ctypes declarations of libadxl's C API (include/adxl/adxl.h).

ctypes.CDLL releases the GIL around every foreign call, so a blocking adxl call in one
thread never stops other Python threads.
"""
import ctypes
import ctypes.util
import os

c_status = ctypes.c_uint32
c_engine_p = ctypes.c_void_p
NAME_MAX = 64
NOTIFY_MAX_LEN = 1024


class MemDescC(ctypes.Structure):
    _fields_ = [("addr", ctypes.c_size_t), ("len", ctypes.c_size_t)]


class OpDescC(ctypes.Structure):
    _fields_ = [("local_addr", ctypes.c_size_t), ("remote_addr", ctypes.c_size_t),
                ("len", ctypes.c_size_t)]


class OptionC(ctypes.Structure):
    _fields_ = [("key", ctypes.c_char_p), ("value", ctypes.c_char_p)]


class ArgsC(ctypes.Structure):
    _fields_ = [("timeout_ms", ctypes.c_int32), ("user_data", ctypes.c_void_p)]


class NotifyC(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * (NOTIFY_MAX_LEN + 1)),
                ("msg", ctypes.c_char * (NOTIFY_MAX_LEN + 1))]


class ConnectStatusC(ctypes.Structure):
    _fields_ = [("remote_engine", ctypes.c_char * NAME_MAX), ("state", ctypes.c_int),
                ("last_status", c_status)]


class ResultC(ctypes.Structure):
    _fields_ = [("req", ctypes.c_void_p), ("user_data", ctypes.c_void_p), ("status", ctypes.c_int)]


class StatsC(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in (
        "batches_direct", "batches_buffered", "bytes_written", "bytes_read", "frames_served",
        "frames_refused", "links_dropped", "bytes_mapped", "bytes_cma", "bytes_staged", "bytes_ucx",
        "bytes_device_staged", "bytes_device_mapped", "regions_registered", "regions_mirrored")]


def _candidates():
    env = os.environ.get("ADXL_LIBRARY")
    if env:
        yield env
    try:
        from . import _install  # written by `make install`
        yield _install.LIBRARY
    except ImportError:
        pass
    found = ctypes.util.find_library("adxl")
    if found:
        yield found
    yield "libadxl.so.0"


def _load():
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError("adxl: cannot load libadxl.so (set ADXL_LIBRARY): " + "; ".join(errors))


lib = _load()

_P = ctypes.POINTER
_sigs = {
    "adxl_status_str": (ctypes.c_char_p, [c_status]),
    "adxl_version": (ctypes.c_char_p, []),
    "adxl_engine_create": (c_status, [_P(c_engine_p)]),
    "adxl_engine_destroy": (None, [c_engine_p]),
    "adxl_initialize": (c_status, [c_engine_p, ctypes.c_char_p, _P(OptionC), ctypes.c_size_t]),
    "adxl_finalize": (None, [c_engine_p]),
    "adxl_local_engine": (ctypes.c_char_p, [c_engine_p]),
    "adxl_register_mem": (c_status, [c_engine_p, _P(MemDescC), ctypes.c_int,
                                     _P(ctypes.c_void_p)]),
    "adxl_deregister_mem": (c_status, [c_engine_p, ctypes.c_void_p]),
    "adxl_connect": (c_status, [c_engine_p, ctypes.c_char_p, ctypes.c_int32]),
    "adxl_disconnect": (c_status, [c_engine_p, ctypes.c_char_p, ctypes.c_int32]),
    # The hot calls take their pointers as plain addresses (c_void_p): the descriptor table
    # packed by adxl._descs, and per-thread out-parameters kept by adxl._core.
    "adxl_transfer_sync": (c_status, [c_engine_p, ctypes.c_char_p, ctypes.c_int,
                                      ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int32]),
    "adxl_transfer_async": (c_status, [c_engine_p, ctypes.c_char_p, ctypes.c_int,
                                       ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                                       ctypes.c_void_p]),
    "adxl_get_transfer_status": (c_status, [c_engine_p, ctypes.c_void_p, ctypes.c_void_p]),
    "adxl_get_transfer_statuses": (c_status, [c_engine_p, ctypes.c_void_p, ctypes.c_size_t,
                                              ctypes.c_uint32, ctypes.c_void_p]),
    "adxl_send_notify": (c_status, [c_engine_p, ctypes.c_char_p, ctypes.c_char_p,
                                    ctypes.c_char_p, ctypes.c_int32]),
    "adxl_get_notifies": (c_status, [c_engine_p, _P(NotifyC), ctypes.c_size_t,
                                     _P(ctypes.c_size_t)]),
    "adxl_malloc_mem": (c_status, [ctypes.c_int, ctypes.c_size_t, _P(ctypes.c_void_p)]),
    "adxl_free_mem": (c_status, [ctypes.c_void_p]),
    "adxl_get_stats": (c_status, [c_engine_p, _P(StatsC)]),
    "adxl_connect_async": (c_status, [c_engine_p, ctypes.c_char_p, ctypes.c_int32]),
    "adxl_disconnect_async": (c_status, [c_engine_p, ctypes.c_char_p, ctypes.c_int32]),
    "adxl_get_async_connect_status": (c_status, [c_engine_p, ctypes.c_char_p,
                                                 _P(ctypes.c_int)]),
    "adxl_get_async_connect_statuses": (c_status, [c_engine_p, _P(ConnectStatusC),
                                                   ctypes.c_size_t, _P(ctypes.c_size_t)]),
    "adxl_get_capability": (c_status, [ctypes.c_int, _P(ctypes.c_int32)]),
}
for _name, (_res, _args) in _sigs.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args
