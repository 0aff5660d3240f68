"""Descriptor batches in every accepted form: lists (packed by adxl._fastdesc, or in Python
as the fallback), N x 3 uint64 buffers used in place, three sequences; malformed ones."""
import array
import ctypes
import json
import os
import subprocess

import numpy as np
import pytest

import adxl
from adxl import _descs
from children import child_command, child_env

BLOCK, STRIDE, N = 64, 4096, 24
RECORD = np.dtype([("local", np.uint64), ("remote", np.uint64), ("len", np.uint64)])


@pytest.fixture
def rig():
    """A linked pair, a source with distinct bytes per block and a zeroed destination."""
    with adxl.Engine("127.0.0.1:0") as target, adxl.Engine("127.0.0.1") as initiator:
        src = np.frombuffer(os.urandom(N * STRIDE), dtype=np.uint8).copy()
        dst = np.zeros(N * STRIDE, dtype=np.uint8)
        region = target.register(dst)
        initiator.connect(target.name, timeout_ms=5000)
        yield target, initiator, src, dst, region


def triples(src, region, n=N):
    return [(src.ctypes.data + i * STRIDE, region.addr + i * STRIDE, BLOCK) for i in range(n)]


def blocks_arrived(src, dst, n=N):
    return all(np.array_equal(src[i * STRIDE:i * STRIDE + BLOCK], dst[i * STRIDE:i * STRIDE +
                                                                        BLOCK]) for i in range(n))


def nothing_arrived(dst):
    return not dst.any()


def forms(src, region):
    """(label, kwargs of a transfer call) for every accepted form of the same batch."""
    t = triples(src, region)
    locs, rems, lens = (list(c) for c in zip(*t))
    table = np.array(t, dtype=np.uint64)
    records = np.array(t, dtype=RECORD)
    return [
        ("list of tuples", {"descs": t}),
        ("list of TransferOpDesc", {"descs": [adxl.TransferOpDesc(*d) for d in t]}),
        ("tuple of lists", {"descs": tuple(list(d) for d in t)}),
        ("generator", {"descs": (d for d in t)}),
        ("Region as remote", {"descs": [(a, region, BLOCK) for a, _, _ in t[:1]] + t[1:]}),
        ("numpy ints", {"descs": [tuple(np.uint64(v) for v in d) for d in t]}),
        ("numpy (N, 3) uint64", {"descs": table}),
        ("numpy read-only", {"descs": np.frombuffer(table.tobytes(), np.uint64).reshape(-1, 3)}),
        ("structured array", {"descs": records}),
        ("array('Q')", {"descs": array.array("Q", table.ravel().tolist())}),
        ("memoryview", {"descs": memoryview(table)}),
        ("three lists", {"local_addrs": locs, "remote_addrs": rems, "lengths": lens}),
        ("three numpy arrays", {"local_addrs": np.array(locs, np.uint64),
                                "remote_addrs": np.array(rems, np.int64),
                                "lengths": np.array(lens, np.int32)}),
        ("three array('Q')", {"local_addrs": array.array("Q", locs),
                              "remote_addrs": array.array("Q", rems),
                              "lengths": array.array("Q", lens)}),
    ]


def test_fastdesc_in_use():
    # CTest sets ADXL_EXPECT_FASTDESC=1 when the build made adxl._fastdesc: the suite then
    # tests the compiled packer, not the fallback by accident.
    expected = os.environ.get("ADXL_EXPECT_FASTDESC") == "1"
    assert _descs.compiled() == expected, (
        "adxl._fastdesc in use: %s, expected: %s (ADXL_PYTHON_EXT_DIR=%s)" %
        (_descs.compiled(), expected, os.environ.get("ADXL_PYTHON_EXT_DIR")))


@pytest.mark.parametrize("call", ["sync", "async", "hixl_sync", "hixl_async"])
def test_every_form_moves_the_bytes(rig, call):
    target, initiator, src, dst, region = rig
    hixl = adxl.AdxlEngine()
    hixl._engine = initiator
    for label, kw in forms(src, region):
        dst[:] = 0
        if call == "sync":
            initiator.transfer_sync(target.name, "write", timeout_ms=5000, **kw)
        elif call == "async":
            initiator.transfer_async(target.name, "write", user_data=label, **kw).wait()
        elif call == "hixl_sync":
            assert hixl.transfer_sync(target.name, adxl.WRITE, kw.pop("descs", None), 5000,
                                      **kw) == adxl.Status.SUCCESS, label
        else:
            st, req = hixl.transfer_async(target.name, adxl.WRITE, kw.pop("descs", None),
                                          adxl.TransferArgs(5000, label), **kw)
            assert st == adxl.Status.SUCCESS, label
            req.wait()
        assert blocks_arrived(src, dst), label


def bad_batches(src, region):
    """(label, kwargs, words the ValueError must contain) of malformed batches."""
    t = triples(src, region, 4)
    table = np.array(t, dtype=np.uint64)
    locs, rems, lens = (list(c) for c in zip(*t))
    return [
        ("4 columns", {"descs": np.zeros((4, 4), np.uint64)}, "second dimension is not 3"),
        ("int64", {"descs": table.astype(np.int64)}, "not unsigned 64-bit"),
        ("uint32", {"descs": table.astype(np.uint32)}, "not unsigned 64-bit"),
        ("float", {"descs": table.astype(np.float64)}, "not unsigned 64-bit"),
        ("big-endian", {"descs": table.astype(">u8")}, "not unsigned 64-bit"),
        ("non-contiguous", {"descs": np.repeat(table, 2, axis=0)[::2]}, "not contiguous"),
        ("column slice", {"descs": np.zeros((4, 6), np.uint64)[:, :3]}, "not contiguous"),
        ("3-D", {"descs": table.reshape(2, 2, 3)}, "neither 1 nor 2 dimensions"),
        ("array('Q') of 3N+1", {"descs": array.array("Q", table.ravel().tolist() + [1])},
         "multiple of 3"),
        ("2-D records", {"descs": np.zeros((2, 2), RECORD)}, "one-dimensional"),
        ("two-field records", {"descs": np.zeros(4, [("a", np.uint64), ("b", np.uint64)])},
         "not unsigned 64-bit"),
        ("bytes", {"descs": b"\0" * 48}, "not unsigned 64-bit"),
        ("a pair", {"descs": t[:3] + [t[3][:2]]}, "descriptor 3: expected (local, remote, length)"),
        ("negative", {"descs": t[:2] + [(-1, t[2][1], BLOCK)] + t[3:]},
         "descriptor 2: the local address must be in 0 .. 2**64-1"),
        ("too large", {"descs": t[:3] + [(t[3][0], 1 << 64, BLOCK)]},
         "descriptor 3: the remote address"),
        ("unequal lengths", {"local_addrs": locs, "remote_addrs": rems[:3], "lengths": lens},
         "same length (got 4, 3, 4)"),
        ("negative in int64 column", {"local_addrs": np.array(locs[:3] + [-5], np.int64),
                                      "remote_addrs": rems, "lengths": lens},
         "descriptor 3: the local address"),
        ("two of three", {"local_addrs": locs, "remote_addrs": rems}, "go together"),
        ("both forms", {"descs": t, "local_addrs": locs, "remote_addrs": rems, "lengths": lens},
         "not both"),
        ("none", {}, "no descriptors"),
    ]


def test_malformed_batches_are_value_errors_and_send_nothing(rig):
    target, initiator, src, dst, region = rig
    hixl = adxl.AdxlEngine()
    hixl._engine = initiator
    for label, kw, words in bad_batches(src, region):
        for call in (initiator.transfer_sync, initiator.transfer_async):
            with pytest.raises(ValueError) as e:
                call(target.name, "write", **kw)
            assert words in str(e.value), (label, str(e.value))
        descs = kw.pop("descs", None)
        assert hixl.transfer_sync(target.name, adxl.WRITE, descs, 1000, **kw) == \
            adxl.Status.PARAM_INVALID, label
        assert hixl.transfer_async(target.name, adxl.WRITE, descs, None, **kw) == \
            (adxl.Status.PARAM_INVALID, None), label
    assert nothing_arrived(dst)
    assert initiator.stats()["bytes_written"] == 0
    assert not initiator._requests  # no Request left behind by a refused post
    with pytest.raises(TypeError, match="descriptor 1: the length must be an integer"):
        initiator.transfer_sync(target.name, "write", [(1, 2, 3), (1, 2, "64")])
    with pytest.raises(TypeError, match="descriptor 0: the local address must be an integer"):
        initiator.transfer_sync(target.name, "write", [(object(), 2, 3)])
    assert nothing_arrived(dst)


def test_a_table_is_used_in_place(rig):
    target, initiator, src, dst, region = rig
    table = np.array(triples(src, region), dtype=np.uint64)
    for packer in (_descs.batch, _descs.table_py):
        addr, n, keep = packer(table)
        assert (addr, n) == (table.ctypes.data, N)
    # Editing the table between calls changes what the next call moves: no stale copy.
    initiator.transfer_sync(target.name, "write", table)
    table[:, 2] = 0
    table[0, 2] = STRIDE
    dst[:] = 0
    initiator.transfer_sync(target.name, "write", table[:1])
    assert np.array_equal(src[:STRIDE], dst[:STRIDE]) and not dst[STRIDE:].any()


def test_compiled_and_python_packers_agree(rig):
    _, _, src, _, region = rig
    t = triples(src, region)
    expected = np.array(t, dtype=np.uint64).tobytes()
    inputs = [t, [adxl.TransferOpDesc(*d) for d in t], [(a, region, n) for a, _, n in t[:1]],
              [[np.uint64(v) for v in d] for d in t]]
    packers = [_descs.batch_py] + ([_descs._fast.batch] if _descs.compiled() else [])
    for packer in packers:
        addr, n, keep = packer(t)
        assert n == N and ctypes.string_at(addr, n * 24) == expected
        for batch in inputs:
            addr, n, keep = packer(batch)
            assert ctypes.string_at(addr, n * 24) == np.array(
                [[int(getattr(v, "addr", v)) for v in d] for d in batch], np.uint64).tobytes()
        cols = [list(c) for c in zip(*t)]
        pack3 = _descs.pack3 if packer is not _descs.batch_py else _descs.pack3_py
        for columns in (cols, [np.array(c, np.uint64) for c in cols],
                        [array.array("q", c) for c in cols]):
            addr, n, keep = pack3(*columns)
            assert n == N and ctypes.string_at(addr, n * 24) == expected


def test_fallback_warns_once_and_packs_the_same_bytes(rig):
    _, _, src, _, region = rig
    child = subprocess.run(child_command("fallback_child.py"),
                           env=child_env(ADXL_NO_FASTDESC="1"), capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout)
    assert report["compiled"] is False
    assert len(report["warnings"]) == 1 and "adxl._fastdesc" in report["warnings"][0]
    assert report["moved"] == ["list", "table", "three lists", "hixl"]
    # The child's packed lists are the bytes the packer of this process makes.
    addr, n, keep = _descs.batch(report["batch"])
    assert bytes.fromhex(report["packed"]) == ctypes.string_at(addr, n * 24)


def test_many_async_requests_and_bulk_polling(rig):
    target, initiator, src, dst, region = rig
    count = 2000
    reqs = [initiator.transfer_async(target.name, "write", [triples(src, region)[i % N]],
                                     user_data=i) for i in range(count)]
    reported = []
    while len(reported) < count:  # each finished request is reported exactly once
        for req, st in initiator.finished_requests(max_count=300):
            assert st is adxl.TransferStatus.COMPLETED and req.done
            reported.append(req.user_data)
    assert sorted(reported) == list(range(count))
    assert blocks_arrived(src, dst)
    assert not initiator._requests  # every finished request was let go
    assert all(r.status() is adxl.TransferStatus.COMPLETED for r in reqs)


def test_a_list_changed_by_index_while_packed():
    """An address's __index__ may run any Python code; one that empties the list being
    packed must not make the packer read freed items."""
    batch = []

    class Shrinking:
        def __index__(self):
            batch.clear()
            return 4096

    # The Python packer works on a snapshot taken first; the compiled one notices.
    for packer, pack3 in [(_descs.batch_py, _descs.pack3_py)] + (
            [(_descs._fast.batch, _descs._fast.pack3)] if _descs.compiled() else []):
        compiled = packer is not _descs.batch_py
        batch[:] = [(Shrinking(), 8192, 64)] + [(1, 2, 3)] * 1000
        if compiled:
            with pytest.raises(ValueError, match="changed while being packed"):
                packer(batch)
        else:
            addr, n, keep = packer(batch)
            assert n == 1001 and ctypes.string_at(addr + 24, 24) == \
                array.array("Q", [1, 2, 3]).tobytes()
        batch[:] = [Shrinking()] + [1] * 1000
        if compiled:
            with pytest.raises(ValueError, match="changed while being packed"):
                pack3(batch, [2] * 1001, [3] * 1001)
        else:
            assert pack3(batch, [2] * 1001, [3] * 1001)[1] == 1001
