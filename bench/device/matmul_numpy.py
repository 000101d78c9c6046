#!/usr/bin/env python3
"""f32 matmul GFLOP/s of numpy (its BLAS) at square sizes.

    matmul_numpy.py [-r RUNS] [-q] [SIZE ...]     (default sizes 1024 2048)

For each size: two warm-up products, then RUNS timed ones (C = A @ B into a
preallocated C, float32, random in [-1, 1)); prints one line per size:

    numpy SIZE best GFLOPS median GFLOPS runs R

GFLOP/s = 2 n^3 / seconds / 1e9. Unless -q, first prints (as lines
starting with '#') numpy's version and its BLAS: threadpoolctl's view
(library, version, architecture, threads) where installed, else
numpy.show_config().
"""
import argparse
import contextlib
import io
import statistics
import sys
import time

import numpy as np


def blas_info():
    lines = ["# numpy %s, python %s" % (np.__version__, sys.version.split()[0])]
    try:
        import threadpoolctl

        for p in threadpoolctl.threadpool_info():
            lines.append(
                "# blas: %s %s, architecture %s, %s threads (%s), %s"
                % (p.get("internal_api"), p.get("version"), p.get("architecture"),
                   p.get("num_threads"), p.get("threading_layer"), p.get("filepath"))
            )
    except ImportError:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            np.show_config()
        lines += ["# " + l for l in buf.getvalue().splitlines() if l.strip()]
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-r", type=int, default=7, help="timed runs per size")
    ap.add_argument("-q", action="store_true", help="no version/BLAS lines")
    ap.add_argument("sizes", type=int, nargs="*", default=[1024, 2048])
    args = ap.parse_args()
    if not args.q:
        print("\n".join(blas_info()), flush=True)
    if args.r <= 0:
        return
    rng = np.random.default_rng(1)
    for n in args.sizes:
        a = (rng.random((n, n), dtype=np.float32) * 2 - 1)
        b = (rng.random((n, n), dtype=np.float32) * 2 - 1)
        c = np.empty((n, n), dtype=np.float32)
        for _ in range(2):
            np.matmul(a, b, out=c)
        gf = []
        for _ in range(args.r):
            t = time.perf_counter()
            np.matmul(a, b, out=c)
            gf.append(2.0 * n**3 / (time.perf_counter() - t) / 1e9)
        print("numpy %d best %.2f median %.2f runs %d" % (n, max(gf), statistics.median(gf), args.r), flush=True)


if __name__ == "__main__":
    main()
