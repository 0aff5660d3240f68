"""Descriptor batches as the packed adxl_transfer_op_desc_t table the C API takes.

A batch is given as a list of (local, remote, length) (tuples, TransferOpDesc, ...; an
address may be a Region), as an N x 3 uint64 buffer (used in place), or as three
equal-length integer sequences. Each form becomes (address, count, keepalive): the
table's address for the ctypes call, and what must stay alive until the call returns.

The compiled module adxl._fastdesc does the packing without a per-item Python loop; when it
cannot be imported, the Python code below does the same, with one warning.
"""
import ctypes
import operator
import os
import sys
import warnings

from ._lib import OpDescC

# The C API's adxl_transfer_op_desc_t is {uintptr_t, uintptr_t, size_t}: the tables built
# here are three native uint64 per descriptor, so that is the only layout this works on
# (x86-64, aarch64). Checked at import, also under python -O.
if ctypes.sizeof(OpDescC) != 24 or ctypes.alignment(OpDescC) != 8 or \
        [f.offset for f in (OpDescC.local_addr, OpDescC.remote_addr, OpDescC.len)] != [0, 8, 16]:
    raise ImportError("adxl: adxl_transfer_op_desc_t is not three 64-bit words here; the "
                      "package supports 64-bit platforms only")
FIELDS = ("local address", "remote address", "length")
_NATIVE_PREFIXES = ("@", "=", "<" if sys.byteorder == "little" else ">")


def _load_compiled():
    if os.environ.get("ADXL_NO_FASTDESC"):
        return None, "ADXL_NO_FASTDESC is set"
    try:
        from . import _fastdesc
    except ImportError as e:
        return None, str(e)
    return _fastdesc, None


_fast, _why_not = _load_compiled()
if _fast is None:
    warnings.warn("adxl: the compiled descriptor packer adxl._fastdesc is not in use (%s); "
                  "lists of descriptors are converted in Python, which is slower" % _why_not,
                  RuntimeWarning, stacklevel=2)


def compiled():
    """True when descriptor lists are packed by the compiled module adxl._fastdesc."""
    return _fast is not None


def _value(obj, row, field):
    try:
        v = operator.index(obj)
    except TypeError:
        addr = getattr(obj, "addr", None) if field < 2 else None
        if addr is None:
            raise TypeError("descriptor %d: the %s must be an integer, not %s"
                            % (row, FIELDS[field], type(obj).__name__)) from None
        v = operator.index(addr)
    if not 0 <= v < 1 << 64:
        raise ValueError("descriptor %d: the %s must be in 0 .. 2**64-1" % (row, FIELDS[field]))
    return v


def _words_result(words):
    arr = (ctypes.c_uint64 * max(1, len(words)))(*words)
    return ctypes.addressof(arr) if words else 0, len(words) // 3, arr


def pack_py(descs):
    """pack() in Python: [(local, remote, length), ...] into a table."""
    words = []
    for i, d in enumerate(list(descs)):  # a snapshot: an item's __index__ may change descs
        try:
            triple = tuple(d)
        except TypeError:
            triple = ()
        if len(triple) != 3:
            raise ValueError("descriptor %d: expected (local, remote, length), got %s"
                             % (i, type(d).__name__))
        words.extend(_value(v, i, f) for f, v in enumerate(triple))
    return _words_result(words)


def _native_code(fmt):
    if fmt[:1] in _NATIVE_PREFIXES:
        return fmt[1:]
    return None if fmt[:1] in ("<", ">", "!") else fmt


def _u64_record(fmt, itemsize):
    if itemsize != 24 or not (fmt.startswith("T{") and fmt.endswith("}")):
        return False
    parts = fmt[2:-1].split(":")
    if len(parts) != 7 or parts[-1] != "":
        return False
    return all(_native_code(code) in ("Q", "L") for code in parts[0:6:2])


def table_py(obj):
    """table() in Python: an N x 3 uint64 buffer, in place when writable (else copied)."""
    view = memoryview(obj)
    fmt, why = view.format, None
    if not view.c_contiguous:
        why = "it is not contiguous"
    elif _u64_record(fmt, view.itemsize):
        if view.ndim != 1:
            why = "a record table must be one-dimensional"
    elif not (view.itemsize == 8 and _native_code(fmt) in ("Q", "L")):
        why = "its items are not unsigned 64-bit integers"
    elif view.ndim == 2:
        if view.shape[1] != 3:
            why = "its second dimension is not 3"
    elif view.ndim != 1:
        why = "it has neither 1 nor 2 dimensions"
    elif view.shape[0] % 3:
        why = "its length is not a multiple of 3"
    if why:
        raise ValueError("a descriptor table must be a C-contiguous N x 3 uint64 buffer (numpy "
                         "(N, 3) uint64, a structured array of three uint64 fields, array('Q') "
                         "of 3N items): %s (format '%s', ndim %d, %d bytes)"
                         % (why, fmt, view.ndim, view.nbytes))
    count = view.nbytes // 24
    if count == 0:
        return 0, 0, view
    if view.readonly:
        copy = (ctypes.c_char * view.nbytes).from_buffer_copy(view)
        return ctypes.addressof(copy), count, copy
    raw = (ctypes.c_char * view.nbytes).from_buffer(view)
    return ctypes.addressof(raw), count, (view, raw)


def pack3_py(local_addrs, remote_addrs, lengths):
    """pack3() in Python: three equal-length integer sequences into a table."""
    cols = [list(c) for c in (local_addrs, remote_addrs, lengths)]  # snapshots, as in pack_py
    lens = [len(c) for c in cols]
    if lens[0] != lens[1] or lens[0] != lens[2]:
        raise ValueError("local_addrs, remote_addrs and lengths must have the same length "
                         "(got %d, %d, %d)" % tuple(lens))
    words = []
    for i, triple in enumerate(zip(*cols)):
        words.extend(_value(v, i, f) for f, v in enumerate(triple))
    return _words_result(words)


def batch_py(descs):
    """batch() in Python: a list or tuple is packed, a buffer used as a table, any other
    iterable packed."""
    if isinstance(descs, (list, tuple)):
        return pack_py(descs)
    try:
        view = memoryview(descs)
    except TypeError:
        return pack_py(descs)
    view.release()
    return table_py(descs)


if _fast is not None:
    batch, pack3 = _fast.batch, _fast.pack3
else:
    batch, pack3 = batch_py, pack3_py


def op_table(descs, local_addrs=None, remote_addrs=None, lengths=None):
    """(address, count, keepalive) of a batch given in any of the accepted forms."""
    if local_addrs is None and remote_addrs is None and lengths is None:
        if descs is None:
            raise ValueError("no descriptors: give descs or local_addrs/remote_addrs/lengths")
        return batch(descs)
    if descs is not None:
        raise ValueError("give either descs or local_addrs/remote_addrs/lengths, not both")
    if local_addrs is None or remote_addrs is None or lengths is None:
        raise ValueError("local_addrs, remote_addrs and lengths go together")
    return pack3(local_addrs, remote_addrs, lengths)
