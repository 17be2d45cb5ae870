"""Benchmark softmax_lib against scipy.special.softmax and torch (CPU).

Run with ``make bench`` (or ``.venv/bin/python bench/bench.py``). A benchmark,
not a test: it prints times, ratios and bandwidths, and never fails on a slow
machine.

Method: for each case every contender is timed once per round, the rounds
interleave the contenders (so a burst of load from elsewhere hits them all),
and each keeps its best time over the rounds. Every contender uses the same
number of threads: ``$SOFTMAX_LIB_NUM_THREADS``, else the number of cores,
passed to ``torch.set_num_threads``. Bandwidth is the bytes each call must
move (inputs read once, output written once) over its time, next to the
bandwidth of ``np.copyto`` of a large array measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import scipy.special

import softmax_lib
from softmax_lib import _fast

try:
    import torch
except ImportError:  # torch is optional
    torch = None

# Targets of issue 6: softmax_lib's time over the other's time.
TARGETS = {("softmax", "scipy"): 0.6, ("softmax", "torch"): 1.25, ("softmax_vjp", "torch"): 1.3}

SHAPES = [
    ((4096, 4096), np.float32),
    ((4096, 4096), np.float64),
    ((1_000_000, 10), np.float64),
    ((16, 2**20), np.float32),
]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def best_of(contenders: dict, rounds: int) -> dict:
    """Best time of each contender over interleaved rounds."""
    for fn in contenders.values():  # warm up: page faults, thread pools, caches
        fn()
    best = {name: float("inf") for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            best[name] = min(best[name], timed(fn))
    return best


def copy_bandwidth(rounds: int) -> float:
    """Bytes per second of ``np.copyto`` over 256 MB (read once, written once)."""
    src = np.ones(2**25)
    dst = np.empty_like(src)
    t = best_of({"copy": lambda: np.copyto(dst, src)}, rounds)["copy"]
    return 2 * src.nbytes / t


def cases(rng):
    """(operation, label, bytes moved, {contender: callable}) for every case."""
    for shape, dtype in SHAPES:
        label = f"{shape} {np.dtype(dtype).name}"
        x = rng.standard_normal(shape).astype(dtype)
        y = softmax_lib.softmax(x)
        g = rng.standard_normal(shape).astype(dtype)
        fwd = {
            "softmax_lib": lambda x=x: softmax_lib.softmax(x),
            "scipy": lambda x=x: scipy.special.softmax(x, axis=-1),
        }
        bwd = {"softmax_lib": lambda y=y, g=g: softmax_lib.softmax_vjp(y, g)}
        if torch is not None:
            tx, ty, tg = (torch.from_numpy(a) for a in (x, y, g))
            fwd["torch"] = lambda tx=tx: torch.softmax(tx, dim=-1)
            bwd["torch"] = lambda ty=ty, tg=tg, dt=tx.dtype: torch._softmax_backward_data(tg, ty, -1, dt)
        yield "softmax", label, 2 * x.nbytes, fwd
        yield "softmax_vjp", label, 3 * x.nbytes, bwd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds per case (default 15)")
    args = parser.parse_args()

    threads = _fast.num_threads()
    if torch is not None:
        torch.set_num_threads(threads)
    print(f"threads: {threads}   numpy {np.__version__}   scipy {scipy.__version__}   "
          f"torch {torch.__version__ if torch is not None else 'not installed'}")
    copy = copy_bandwidth(args.rounds)
    print(f"memory copy (np.copyto, 256 MB): {copy / 1e9:.1f} GB/s\n")

    header = (f"{'operation':<12} {'shape':<24} {'softmax_lib':>11} {'scipy':>9} {'torch':>9} "
              f"{'lib/scipy':>9} {'lib/torch':>9} {'lib GB/s':>9} {'of copy':>8}")
    print(header)
    print("-" * len(header))
    missed = []
    rng = np.random.default_rng(0)
    for op, label, nbytes, contenders in cases(rng):
        best = best_of(contenders, args.rounds)
        lib = best["softmax_lib"]
        cells = []
        for other in ("scipy", "torch"):
            if other in best:
                ratio = lib / best[other]
                target = TARGETS.get((op, other))
                mark = "" if target is None else ("  " if ratio <= target else " !")
                if target is not None and ratio > target:
                    missed.append(f"{op} {label}: {ratio:.2f}x {other} (target <= {target}x)")
                cells.append(f"{ratio:>7.2f}{mark}")
            else:
                cells.append(f"{'-':>9}")
        times = [f"{best[name] * 1e3:>8.1f}m" if name in best else f"{'-':>9}"
                 for name in ("scipy", "torch")]
        gbs = nbytes / lib
        print(f"{op:<12} {label:<24} {lib * 1e3:>10.1f}m {times[0]} {times[1]} "
              f"{cells[0]} {cells[1]} {gbs / 1e9:>9.1f} {gbs / copy:>8.2f}")
    print("\ntimes are the best of", args.rounds, "interleaved rounds, in ms (m);",
          "ratios are softmax_lib's time over the other's;")
    print("targets: softmax <= 0.6x scipy and <= 1.25x torch; softmax_vjp <= 1.3x torch",
          "('!' marks a miss).")
    if missed:
        print("missed (the machine may be busy; rerun to compare):")
        for line in missed:
            print("  " + line)
    else:
        print("every target met.")


if __name__ == "__main__":
    main()
