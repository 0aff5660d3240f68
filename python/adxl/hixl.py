"""The method names of HIXL's own Python binding: every call returns a status code
(0 is SUCCESS), and calls that produce something return (status, value). Code written
for that binding runs unchanged after `from adxl import AdxlEngine, ...`."""
import ctypes
from collections import namedtuple

from . import _core
from ._core import ConnectState, MemType, Status, TransferOp, TransferStatus
from ._lib import ArgsC, MemDescC, NotifyC, lib

MemDesc = namedtuple("MemDesc", "addr len")
TransferOpDesc = namedtuple("TransferOpDesc", "local_addr remote_addr len")
TransferArgs = namedtuple("TransferArgs", "timeout_in_millis user_data", defaults=(0, None))
NotifyDesc = namedtuple("NotifyDesc", "name notify_msg")

SUCCESS = Status.SUCCESS


class AdxlEngine:
    """HIXL-style engine: initialize(local_engine, options) -> status, and so on."""

    def __init__(self):
        self._engine = _core.Engine()

    def initialize(self, local_engine, options=None):
        return _status(lambda: self._engine.initialize(local_engine, options))

    def finalize(self):
        self._engine.finalize()

    def register_mem(self, mem_desc, mem_type=MemType.MEM_HOST):
        """mem_desc is a MemDesc (addr, len) or a buffer-protocol object."""
        out = []
        st = _status(lambda: out.append(self._engine.register(
            tuple(mem_desc) if isinstance(mem_desc, MemDesc) else mem_desc,
            mem_type=mem_type)))
        return st, (out[0] if out else None)

    def deregister_mem(self, mem_handle):
        return _status(lambda: self._engine.deregister(mem_handle))

    def connect(self, remote_engine, timeout_in_millis=1000):
        return _status(lambda: self._engine.connect(remote_engine, timeout_in_millis))

    def disconnect(self, remote_engine, timeout_in_millis=1000):
        return _status(lambda: self._engine.disconnect(remote_engine, timeout_in_millis))

    def connect_async(self, remote_engine, timeout_in_millis=1000):
        return _status(lambda: self._engine.connect_async(remote_engine, timeout_in_millis))

    def disconnect_async(self, remote_engine, timeout_in_millis=1000):
        return _status(lambda: self._engine.disconnect_async(remote_engine, timeout_in_millis))

    def get_async_connect_status(self, remote_engine):
        out = []
        st = _status(lambda: out.append(self._engine.connect_status(remote_engine)))
        return st, (out[0] if out else ConnectState.NOT_CONNECT)

    def transfer_sync(self, remote_engine, operation, op_descs=None, timeout_in_millis=1000, *,
                      local_addrs=None, remote_addrs=None, lengths=None):
        """op_descs: a list of TransferOpDesc (or tuples), an N x 3 uint64 buffer, or None
        with local_addrs, remote_addrs, lengths; a malformed batch is PARAM_INVALID."""
        return _status(lambda: self._engine.transfer_sync(
            remote_engine, operation, op_descs, timeout_in_millis, local_addrs=local_addrs,
            remote_addrs=remote_addrs, lengths=lengths))

    def transfer_async(self, remote_engine, operation, op_descs=None, optional_args=None, *,
                       local_addrs=None, remote_addrs=None, lengths=None):
        args = optional_args or TransferArgs()
        out = []
        st = _status(lambda: out.append(self._engine.transfer_async(
            remote_engine, operation, op_descs, timeout_ms=args.timeout_in_millis,
            user_data=args.user_data, local_addrs=local_addrs, remote_addrs=remote_addrs,
            lengths=lengths)))
        return st, (out[0] if out else None)

    def get_transfer_status(self, req):
        out = []
        st = _status(lambda: out.append(req.status()))
        return st, (out[0] if out else TransferStatus.FAILED)

    def get_transfer_statuses(self, max_count=64, skip_waiting=True):
        """Bulk: (status, [(user_data, TransferStatus)])."""
        out = []
        st = _status(lambda: out.extend(
            (r.user_data, s) for r, s in self._engine.finished_requests(max_count, skip_waiting)))
        return st, out

    def send_notify(self, remote_engine, notify, timeout_in_millis=1000):
        return _status(lambda: self._engine.send_notify(remote_engine, notify.name,
                                                        notify.notify_msg, timeout_in_millis))

    def get_notifies(self):
        out = []
        st = _status(lambda: out.extend(
            NotifyDesc(n.name, n.msg) for n in self._engine.get_notifies()))
        return st, out

    @staticmethod
    def malloc_mem(mem_type, size):
        out = []
        st = _status(lambda: out.append(_core.malloc_mem(size, mem_type)))
        return st, (out[0] if out else 0)

    @staticmethod
    def free_mem(ptr):
        return _status(lambda: _core.free_mem(ptr))

    @staticmethod
    def get_capability(feature):
        out = []
        st = _status(lambda: out.append(_core.get_capability(feature)))
        return st, (out[0] if out else 0)


def _status(fn):
    try:
        fn()
    except _core.AdxlError as e:
        return Status(e.status) if e.status in Status._value2member_map_ else e.status
    except (TypeError, ValueError):
        return Status.PARAM_INVALID
    return Status.SUCCESS
