"""Benchmark softmax_lib against naive numpy, scipy.special and torch (CPU), on every size.

Run with ``make bench`` (or ``.venv/bin/python bench/bench.py``). A benchmark,
not a test: it prints times and ratios, draws them, and never fails on a slow
machine.

What is measured: ``softmax``, ``log_softmax`` and ``softmax_vjp`` over the
last axis, in float32 and float64, on sizes from 10 entries to 128 MB. The
peers are the two-line numpy version (below), ``scipy.special.softmax`` /
``log_softmax`` (scipy has no VJP) and torch on the CPU (``torch.softmax``,
``torch.log_softmax``, ``torch._softmax_backward_data``).

How: for each case every contender is timed once per round; the rounds
interleave the contenders (so a burst of load from elsewhere hits them all)
and each keeps its best time. A small case times a loop of calls long enough
to be read reliably. Every contender may use the same number of threads:
``$SOFTMAX_LIB_NUM_THREADS``, else the CPUs this process may run on, passed to
``torch.set_num_threads``. A ratio is softmax_lib's time over the peer's:
below 1 softmax_lib is faster. The goals (issue 10): at most 1 against
scipy, at most 2 against naive numpy, and from 1 MB up at most 2 against torch.

The figure goes to ``book/images/bench_ratios.svg`` (``--figure`` changes it);
the chapter "Making softmax fast" shows it.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

import numpy as np
import scipy.special

import softmax_lib
from softmax_lib import tuning

try:
    import torch
except ImportError:  # torch is optional
    torch = None

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIGURE = ROOT / "book" / "images" / "bench_ratios.svg"
OPS = ("softmax", "log_softmax", "softmax_vjp")
PEERS = ("naive", "scipy", "torch")
GOALS = {"naive": 2.0, "scipy": 1.0, "torch": 2.0}
TORCH_FROM = 1 << 20  # the torch goal applies from 1 MB up


def shapes(dtype) -> list[tuple[int, ...]]:
    """From 10 entries to 128 MB; rows of up to 1024 entries, plus a few of the issue's shapes."""
    top = (128 << 20) // (1024 * np.dtype(dtype).itemsize)
    return [(10,), (100,), (1000,), (100, 100), (64, 1024), (256, 1024), (256, 4096),
            (2048, 1024), (8192, 1024), (top, 1024)]


def naive_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def naive_log_softmax(x):
    a = x - x.max(-1, keepdims=True)
    return a - np.log(np.exp(a).sum(-1, keepdims=True))


def naive_vjp(y, g):
    return y * (g - (g * y).sum(-1, keepdims=True))


def contenders(op: str, x, y, g) -> dict:
    """The callables timed for one case (missing peers are left out)."""
    if op == "softmax":
        found = {"softmax_lib": lambda: softmax_lib.softmax(x), "naive": lambda: naive_softmax(x),
                 "scipy": lambda: scipy.special.softmax(x, axis=-1)}
    elif op == "log_softmax":
        found = {"softmax_lib": lambda: softmax_lib.log_softmax(x),
                 "naive": lambda: naive_log_softmax(x),
                 "scipy": lambda: scipy.special.log_softmax(x, axis=-1)}
    else:
        found = {"softmax_lib": lambda: softmax_lib.softmax_vjp(y, g), "naive": lambda: naive_vjp(y, g)}
    if torch is not None:
        tx, ty, tg = (torch.from_numpy(a) for a in (x, y, g))
        found["torch"] = {
            "softmax": lambda: torch.softmax(tx, dim=-1),
            "log_softmax": lambda: torch.log_softmax(tx, dim=-1),
            "softmax_vjp": lambda: torch._softmax_backward_data(tg, ty, -1, tx.dtype),
        }[op]
    return found


def best_of(funcs: dict, rounds: int) -> dict:
    """Best time per call of each contender over interleaved rounds."""
    for fn in funcs.values():  # warm up: page faults, thread pools, caches
        fn()
    start = time.perf_counter()
    funcs["softmax_lib"]()
    once = time.perf_counter() - start
    number = max(1, int(2e-3 / max(once, 1e-7)))  # loops of at least about 2 ms
    best = {name: float("inf") for name in funcs}
    for _ in range(rounds):
        for name, fn in funcs.items():
            start = time.perf_counter()
            for _ in range(number):
                fn()
            best[name] = min(best[name], (time.perf_counter() - start) / number)
    return best


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.0f} GB"  # pragma: no cover


def run(rounds: int, big_rounds: int) -> list[dict]:
    rows = []
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        for shape in shapes(dtype):
            x = rng.standard_normal(shape).astype(dtype)
            y = naive_softmax(x)
            g = rng.standard_normal(shape).astype(dtype)
            for op in OPS:
                r = big_rounds if x.nbytes >= (32 << 20) else rounds
                best = best_of(contenders(op, x, y, g), r)
                lib = best["softmax_lib"]
                row = {"op": op, "dtype": np.dtype(dtype).name, "shape": shape, "bytes": x.nbytes,
                       "lib": lib}
                for peer in PEERS:
                    row[peer] = lib / best[peer] if peer in best else None
                rows.append(row)
                print_row(row)
            del x, y, g
    return rows


HEADER = (f"{'operation':<12} {'dtype':<8} {'shape':<14} {'size':>7} {'softmax_lib':>12} "
          f"{'/naive':>7} {'/scipy':>7} {'/torch':>7}")


def print_row(row: dict) -> None:
    cells = []
    for peer in PEERS:
        ratio = row[peer]
        if ratio is None:
            cells.append(f"{'-':>7}")
            continue
        goal = GOALS[peer] if (peer != "torch" or row["bytes"] >= TORCH_FROM) else None
        mark = "!" if goal is not None and ratio > goal else " "
        cells.append(f"{ratio:>6.2f}{mark}")
    t = row["lib"]
    time_text = f"{t * 1e6:.1f} us" if t < 1e-3 else f"{t * 1e3:.2f} ms"
    print(f"{row['op']:<12} {row['dtype']:<8} {str(row['shape']):<14} {human_bytes(row['bytes']):>7} "
          f"{time_text:>12} {' '.join(cells)}", flush=True)


def summary(rows: list[dict]) -> None:
    print("\nratios are softmax_lib's time over the peer's (best of interleaved rounds);",
          "'!' marks a ratio above the goal")
    for peer in PEERS:
        eligible = [r for r in rows if r[peer] is not None
                    and (peer != "torch" or r["bytes"] >= TORCH_FROM)]
        if not eligible:
            print(f"  {peer}: not measured")
            continue
        worst = max(eligible, key=lambda r: r[peer])
        scope = " (from 1 MB up)" if peer == "torch" else ""
        print(f"  worst against {peer}{scope}: {worst[peer]:.2f} ({worst['op']}, {worst['dtype']}, "
              f"{worst['shape']}); goal <= {GOALS[peer]:g}")


def draw(rows: list[dict], path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from softmax_lib import plotting

    plotting.use_book_style()
    fig, axes = plt.subplots(1, len(OPS), figsize=(11, 3.8), sharey=True, layout="constrained")
    styles = {"float64": ("-", "o"), "float32": ("--", "s")}
    names = {"naive": "numpy (two lines)", "scipy": "scipy", "torch": "torch"}
    for ax, op in zip(axes, OPS):
        for k, peer in enumerate(PEERS):
            for dtype, (ls, marker) in styles.items():
                pts = [(r["bytes"], r[peer]) for r in rows
                       if r["op"] == op and r["dtype"] == dtype and r[peer] is not None]
                if not pts:
                    continue
                xs, ys = zip(*sorted(pts))
                ax.plot(xs, ys, ls, color=plotting.COLORS[k], marker=marker, markersize=3.5,
                        markerfacecolor="none" if dtype == "float32" else plotting.COLORS[k],
                        label=f"{names[peer]}, {dtype}")
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.axhline(2.0, color="grey", linewidth=0.8, linestyle=":")
        ax.set_xscale("log")
        ax.set_yscale("log", base=2)
        ticks = [16, 1 << 10, 1 << 16, 1 << 22, 1 << 27]
        ax.set_xticks(ticks, [human_bytes(t) for t in ticks])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
            lambda v, _: f"{v:g}" if v >= 1 else f"1/{1 / v:g}"))
        ax.set_title(op)
        ax.set_xlabel("input size (bytes)")
    axes[0].set_ylabel("softmax_lib time / peer time")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=9, handlelength=3.5)
    fig.suptitle("softmax_lib's time over each peer's (below 1: softmax_lib is faster; "
                 "dotted: 2)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(fig)
    print(f"\nfigure: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds per case (default 7)")
    parser.add_argument("--big-rounds", type=int, default=3,
                        help="rounds for inputs of 32 MB and more (default 3)")
    parser.add_argument("--figure", type=pathlib.Path, default=FIGURE, help="where the SVG goes")
    parser.add_argument("--no-figure", action="store_true", help="print the table only")
    parser.add_argument("--save", type=pathlib.Path, help="also write the measurements as JSON")
    parser.add_argument("--replot", type=pathlib.Path,
                        help="draw the figure from a --save file, without measuring")
    args = parser.parse_args()
    if args.replot:
        rows = json.loads(args.replot.read_text())
        summary(rows)
        draw(rows, args.figure)
        return

    threads = softmax_lib._fast.num_threads()
    if torch is not None:
        torch.set_num_threads(threads)
    print(f"threads: {threads}   numpy {np.__version__}   scipy {scipy.__version__}   "
          f"torch {torch.__version__ if torch is not None else 'not installed'}   "
          f"fast path from {human_bytes(tuning.min_bytes())}\n")
    print(HEADER)
    print("-" * len(HEADER))
    rows = run(args.rounds, args.big_rounds)
    summary(rows)
    if args.save:
        args.save.write_text(json.dumps(rows, indent=1))
    if not args.no_figure:
        draw(rows, args.figure)


if __name__ == "__main__":
    main()
