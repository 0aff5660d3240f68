#!/usr/bin/python3
"""bench/probes/python_descs.py: descriptor batches through C and through Python, in one run.

Two engines in one process linked over shm (Transport=shm); N blocks of 64 bytes 4 KiB
apart in mmap memory, written with one synchronous call per batch, for N in --shapes
(16, 1024, 16384). Each round measures, one after the other:
  C           build/bench/python_descs_c: adxl_transfer_sync in a C loop on a descriptor
              array built once (its own process, the same setup);
  ctypes      lib.adxl_transfer_sync called through ctypes on a ctypes array built once:
              the C call plus one ctypes call, the floor of any ctypes binding
              (information);
  numpy       Engine.transfer_sync(name, "write", table), table a numpy (N, 3) uint64
              array built once (used in place);
  tuples      Engine.transfer_sync(name, "write", [(local, remote, 64), ...]), the list
              built once and converted on every call;
  3 seqs      Engine.transfer_sync(name, "write", local_addrs=[...], remote_addrs=[...],
              lengths=[...]), three lists built once.
Also, each round: --async-count requests of one 64-byte WRITE posted with
transfer_async, then polled with finished_requests(256) until all have finished; in C the
same with adxl_transfer_async and adxl_get_transfer_statuses (python_descs_c async).
Every measurement calibrates a repetition count, then times that many back-to-back
batches for --seconds. --rounds rounds, interleaved; the median of each is printed, per
batch and per descriptor, with Python / C. Targets (issue 16): at 16384 descriptors numpy
<= 1.2 x C and tuples <= 2 x C; at 16, numpy <= 1.5 x C. --json prints the medians as JSON.

Runs from a build tree: --build (default ./build) gives libadxl.so, the compiled
adxl._fastdesc and python_descs_c.
"""
import argparse
import json
import mmap
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BLOCK, STRIDE = 64, 4096
FORMS = ("numpy", "tuples", "3 seqs")
TARGETS = {(16384, "numpy"): 1.2, (16384, "tuples"): 2.0, (16, "numpy"): 1.5}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--shapes", default="16,1024,16384")
    ap.add_argument("--seconds", type=float, default=0.5, help="per measurement")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--async-count", type=int, default=2000, help="0: no async rows")
    ap.add_argument("--json", action="store_true")
    return ap.parse_args()


def import_adxl(build):
    os.environ.setdefault("ADXL_LIBRARY", os.path.join(build, "libadxl.so"))
    os.environ.setdefault("ADXL_PYTHON_EXT_DIR", os.path.join(build, "python", "adxl"))
    os.environ.setdefault("ADXL_LOG_LEVEL", "none")
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import adxl
    return adxl


def timed(call, seconds):
    """Seconds per call: a repetition count calibrated on a tenth of `seconds`, then
    that many calls back to back."""
    call()  # warm
    reps, elapsed = 1, 0.0
    while elapsed < seconds / 10:
        reps *= 2
        t0 = time.perf_counter()
        for _ in range(reps):
            call()
        elapsed = time.perf_counter() - t0
    reps = int(reps * seconds / elapsed) + 1
    t0 = time.perf_counter()
    for _ in range(reps):
        call()
    return (time.perf_counter() - t0) / reps


class Shape:
    """The source and destination of one batch shape, and that batch in every form."""

    def __init__(self, adxl, np, target, n):
        self.n = n
        self.src, self.dst = mmap.mmap(-1, n * STRIDE), mmap.mmap(-1, n * STRIDE)
        self.src.write(bytes((i * 7 + 1) & 0xFF for i in range(256)) * (n * STRIDE // 256))
        self.region = target.register(self.dst)
        src_addr = adxl.buffer_address(self.src)[0]
        locals_ = [src_addr + i * STRIDE for i in range(n)]
        remotes = [self.region.addr + i * STRIDE for i in range(n)]
        lengths = [BLOCK] * n
        self.seqs = (locals_, remotes, lengths)
        self.tuples = list(zip(locals_, remotes, lengths))
        self.table = np.array(self.tuples, dtype=np.uint64)
        from adxl._lib import OpDescC
        self.c_array = (OpDescC * n)(*[OpDescC(*t) for t in self.tuples])

    def check(self):
        last = (self.n - 1) * STRIDE
        if self.dst[:BLOCK] != self.src[:BLOCK] or \
                self.dst[last:last + BLOCK] != self.src[last:last + BLOCK]:
            raise SystemExit("python_descs: the bytes did not arrive")

    def close(self):
        self.region.deregister()


def python_round(adxl, np, target, initiator, n, seconds):
    """{(n, form): seconds per batch} for ctypes and every Python form."""
    from adxl._lib import lib
    name, bname = target.name, target.name.encode()
    s = Shape(adxl, np, target, n)
    ptr, raw = initiator._ptr(), lib.adxl_transfer_sync

    def c_types():
        if raw(ptr, bname, 1, s.c_array, n, 5000):
            raise SystemExit("python_descs: ctypes transfer failed")

    loc, rem, lens = s.seqs
    calls = {
        "ctypes": c_types,
        "numpy": lambda: initiator.transfer_sync(name, "write", s.table, 5000),
        "tuples": lambda: initiator.transfer_sync(name, "write", s.tuples, 5000),
        "3 seqs": lambda: initiator.transfer_sync(name, "write", None, 5000, local_addrs=loc,
                                                  remote_addrs=rem, lengths=lens),
    }
    out = {}
    for form, call in calls.items():
        out[(n, form)] = timed(call, seconds)
        s.check()
    s.close()
    return out


def python_async_round(adxl, target, initiator, count, seconds):
    """{(count, "async"): seconds per request}: count posts, then bulk polls until done."""
    src, dst = mmap.mmap(-1, STRIDE), mmap.mmap(-1, STRIDE)
    region = target.register(dst)
    batch, name = [(adxl.buffer_address(src)[0], region.addr, BLOCK)], target.name

    def post_and_poll():
        for _ in range(count):
            initiator.transfer_async(name, "write", batch, 5000)
        done = 0
        while done < count:
            for req, st in initiator.finished_requests(256):
                if st is not adxl.TransferStatus.COMPLETED:
                    raise SystemExit("python_descs: an async request failed")
                done += 1

    out = {(count, "async"): timed(post_and_poll, seconds) / count}
    region.deregister()
    return out


def c_async_round(build, count, seconds):
    res = subprocess.run([os.path.join(build, "bench", "python_descs_c"), str(seconds), "async",
                          str(count)], check=True, capture_output=True, text=True)
    fields = dict(f.split("=") for f in res.stdout.split()[1:])
    return {(count, "C async"): float(fields["ns_per_request"]) * 1e-9}


def c_round(build, shapes, seconds):
    exe = os.path.join(build, "bench", "python_descs_c")
    res = subprocess.run([exe, str(seconds)] + [str(n) for n in shapes], check=True,
                         capture_output=True, text=True)
    out = {}
    for line in res.stdout.splitlines():
        fields = dict(f.split("=") for f in line.split())
        out[(int(fields["descs"]), "C")] = float(fields["ns_per_batch"]) * 1e-9
    return out


def main():
    args = parse_args()
    shapes = [int(x) for x in args.shapes.split(",")]
    adxl = import_adxl(args.build)
    import numpy as np
    import adxl._descs
    if not adxl._descs.compiled():
        print("python_descs: adxl._fastdesc is not in use: lists are converted in Python",
              file=sys.stderr)
    rounds = []
    with adxl.Engine("127.0.0.1:0", options={"Transport": "shm"}) as target, \
            adxl.Engine("127.0.0.1", options={"Transport": "shm"}) as initiator:
        initiator.connect(target.name, timeout_ms=5000)
        for _ in range(args.rounds):
            r = {}
            for n in shapes:  # C, then Python, shape by shape: paired under the same load
                r.update(c_round(args.build, [n], args.seconds))
                r.update(python_round(adxl, np, target, initiator, n, args.seconds))
            if args.async_count:
                r.update(c_async_round(args.build, args.async_count, args.seconds))
                r.update(python_async_round(adxl, target, initiator, args.async_count,
                                            args.seconds))
            rounds.append(r)
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    # Ratios within a round (C and Python back to back, under the same load), then the median.
    ratio = {(n, k): statistics.median(r[(n, k)] / r[(n, "C")] for r in rounds)
             for n in shapes for k in ("ctypes",) + FORMS}
    if args.async_count:
        ratio[(args.async_count, "async")] = statistics.median(
            r[(args.async_count, "async")] / r[(args.async_count, "C async")] for r in rounds)
    if args.json:
        print(json.dumps({"seconds_per_batch": {"%d %s" % k: v for k, v in med.items()},
                          "ratio_to_c": {"%d %s" % k: v for k, v in ratio.items()}}, indent=1))
        return
    cols = ("C", "ctypes") + FORMS
    print("descriptor batches of 64 B blocks 4 KiB apart (mmap), WRITE over shm, synchronous;"
          " two engines in one process")
    print("C: python_descs_c, adxl_transfer_sync in a C loop; ctypes: the same call through"
          " one ctypes call (information); median of %d rounds of %.2f s each; X / C: the"
          " median of the rounds' ratios" % (args.rounds, args.seconds))
    print("%s, %s, %d CPUs, Python %s, adxl._fastdesc %s" % (
        platform.node(), platform.machine(), os.cpu_count(), platform.python_version(),
        "in use" if adxl._descs.compiled() else "NOT in use"))
    print()
    head = "| descs | " + " | ".join("%s us/batch" % c for c in cols) + " | " + \
        " | ".join("%s / C" % f for f in ("ctypes",) + FORMS) + " |"
    print(head)
    print("|" + " ---: |" * (len(cols) * 2))
    for n in shapes:
        cells = ["%.1f (%.0f ns/desc)" % (med[(n, k)] * 1e6, med[(n, k)] * 1e9 / n)
                 for k in cols]
        ratios = ["%.2f x" % ratio[(n, k)] for k in ("ctypes",) + FORMS]
        print("| %d | %s | %s |" % (n, " | ".join(cells), " | ".join(ratios)))
    if args.async_count:
        k = args.async_count
        print()
        print("| async: %d requests of one 64 B WRITE, posted then polled in bulk | C ns/request"
              " | Python ns/request | Python / C |" % k)
        print("| --- | ---: | ---: | ---: |")
        print("| transfer_async + finished_requests(256) | %.0f | %.0f | %.2f x |" % (
            med[(k, "C async")] * 1e9, med[(k, "async")] * 1e9, ratio[(k, "async")]))
    print()
    for (n, form), limit in TARGETS.items():
        if (n, form) in ratio:
            print("target: %d descriptors, %s <= %.1f x C: %.2f x, %s" % (
                n, form, limit, ratio[(n, form)],
                "met" if ratio[(n, form)] <= limit else "NOT met"))


if __name__ == "__main__":
    main()
