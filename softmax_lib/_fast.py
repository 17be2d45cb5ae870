"""The blocked, threaded driver for softmax, log-softmax and the softmax VJP on large arrays.

The numerics live in ``_kernel.py``; this module only decides which rows go
together and which thread computes them. It receives C-contiguous 2-D arrays
(one row per slice: ``_softmax.py`` and ``_jacobian.py`` move the softmax axis
last first) and calls the same kernel functions as the simple path, so the
results are the same bits. The chapter "Making softmax fast" explains every
idea used below.

* **Blocks.** The rows are cut into blocks of about :data:`BLOCK_BYTES`, so
  that all the steps of one block (max, shift, exp, sum, divide) run while the
  block sits in the core's cache: x is read from memory once and y written
  once, where one pass per step would stream whole temporaries.
* **Short rows** (at most :data:`SHORT_ROW` entries) are transposed inside the
  cache first, so that every ufunc runs over long contiguous columns instead
  of calling its inner loop once per tiny row.
* **Long rows** (more than one block) are cut into column blocks that follow
  the tree of numpy's pairwise summation, so the per-row sums are the same
  bits as ``np.sum`` over the whole row.
* **Threads.** Blocks run on one thread pool per process (numpy's ufuncs
  release the GIL). ``SOFTMAX_LIB_NUM_THREADS`` sets how many threads a call
  may use, at most :data:`MAX_THREADS_PER_CPU` per CPU; the default is the
  number of CPUs the process may run on, read on every call. A call uses at
  most one thread per unit of work (block or row). The pool grows to the
  largest count a call needed and never multiplies; a forked child starts a
  fresh one. Every call allocates its own temporaries, so a call
  made from a signal handler in the middle of another cannot disturb it. If
  the caller raises (an interrupt, say), the blocks not yet started are
  cancelled and the helpers stop after their current block.

The blocks depend only on the shape, the dtype and :data:`BLOCK_BYTES`,
never on the thread count, and each block is computed by one thread in a
fixed order, so the result is the same bits for any thread count. It is also
the simple path's bits for any block size, but for different reasons: rows
are independent, and a long row's column blocks follow numpy's own pairwise
tree, so its sum is numpy's whatever the block size.
"""

from __future__ import annotations

import os
import queue
import threading

import numpy as np

from . import _kernel

#: Arrays of at least this many bytes take the blocked, threaded path.
MIN_BYTES = 1 << 20
#: Bytes of x per block: the blocks of x, y and at most one more (g for the VJP, the
#: exponentials for log-softmax) fit together in a 2 MB level-2 cache.
BLOCK_BYTES = 1 << 19
#: Rows of at most this many entries are transposed inside the cache (see module docstring).
SHORT_ROW = 32
#: The environment variable that sets the number of threads.
THREADS_ENV = "SOFTMAX_LIB_NUM_THREADS"


def applies(x: np.ndarray) -> bool:
    """Whether the blocked, threaded path computes softmax of ``x`` (along any axis, in any layout)."""
    return x.nbytes >= MIN_BYTES and x.dtype.char in "fd"


# ---------------------------------------------------------------- the thread count

#: A thread count above this many threads per CPU is refused (more cannot run at once; a typo
#: such as 5000 would otherwise start thousands of threads that live as long as the process).
MAX_THREADS_PER_CPU = 4

_UNREAD = object()
_env_cache: tuple[object, int] = (_UNREAD, 0)  # (the variable's text or None, its value; 0 = unset)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # no affinity on this platform
        return os.cpu_count() or 1


# os.environ.get raises and catches a KeyError when the variable is unset, which costs
# as much as a ufunc call on a small array; CPython's mapping behind it is read directly.
_ENV_DATA = getattr(os.environ, "_data", None)
_ENV_KEY = os.environ.encodekey(THREADS_ENV) if hasattr(os.environ, "encodekey") else THREADS_ENV


def check_threads() -> int:
    """Check ``$SOFTMAX_LIB_NUM_THREADS``; return its value, or 0 when it is unset.

    Every public function calls this, whatever the size of its input, so a
    bad value is the same ValueError everywhere. It costs a dictionary
    lookup: the parsed value is kept until the variable's text changes. The
    limit, :data:`MAX_THREADS_PER_CPU` times the CPUs the process may run on,
    is therefore computed when a value is first read, not on every call.
    """
    global _env_cache
    raw = _ENV_DATA.get(_ENV_KEY) if _ENV_DATA is not None else os.environ.get(THREADS_ENV)
    cached = _env_cache
    if raw == cached[0]:
        return cached[1]
    raw_text = raw.decode() if isinstance(raw, bytes) else raw
    value = (raw_text or "").strip()
    count = 0
    if value:
        try:
            count = int(value)
        except ValueError:
            count = 0
        if count < 1:
            raise ValueError(f"{THREADS_ENV} must be a positive integer, got {value!r}")
        cpus = _cpus()
        if count > MAX_THREADS_PER_CPU * cpus:
            raise ValueError(
                f"{THREADS_ENV}={count} is more than {MAX_THREADS_PER_CPU} threads for each of the "
                f"{cpus} CPUs this process may run on; at most {MAX_THREADS_PER_CPU * cpus} are allowed"
            )
    _env_cache = (raw, count)
    return count


def num_threads() -> int:
    """The thread count: ``$SOFTMAX_LIB_NUM_THREADS``, else the CPUs this process may run on.

    The CPUs are read on every call (``os.sched_getaffinity``), so a later
    change of the process's affinity counts from the next call on. Only the
    blocked path asks, where a system call is negligible.
    """
    return check_threads() or _cpus()


# ---------------------------------------------------------------- one pool per process

class _Pool:
    """Daemon threads taking jobs from one queue; it grows to the largest count a call needed."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []

    def grow(self, count: int) -> None:
        while len(self.threads) < count:
            thread = threading.Thread(target=self._serve, daemon=True,
                                      name=f"softmax_lib_{len(self.threads)}")
            thread.start()
            self.threads.append(thread)

    def _serve(self) -> None:
        while True:
            self.jobs.get()()


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _helpers(count: int) -> _Pool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = _Pool()
        _pool.grow(count)
        return _pool


def _forget_pool_after_fork() -> None:
    """A forked child has none of its parent's threads: start a new pool when asked."""
    global _pool, _pool_lock, _env_cache
    _pool, _pool_lock = None, threading.Lock()
    _env_cache = (_UNREAD, 0)  # the child may run on other CPUs


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _run(task, units: list, threads: int, bufsize: int | None = None) -> None:
    """Call ``task(unit)`` for every unit, on ``threads`` threads; the caller works too.

    The units (row blocks or rows) are the partition of the work; which
    thread computes a unit does not change any result. Whoever is free takes
    the next unit, so a thread that the machine pauses holds up at most one.
    If any thread raises, no further unit starts; the caller waits for the
    helpers' current units to finish (they write into the output), then
    raises the first error. Helper jobs that start after the call has ended
    return at once. ``bufsize``, if given, is the ufunc buffer size while the
    tasks run (numpy 2 restores it when the ``errstate`` block ends).
    """
    state = {"next": 0, "cancelled": False, "closed": False, "active": 0, "error": None}
    cond = threading.Condition()

    def work() -> None:
        with np.errstate(all="ignore"):
            if bufsize is not None:
                np.setbufsize(bufsize)
            while True:
                with cond:
                    i = state["next"]
                    if state["cancelled"] or i >= len(units):
                        return
                    state["next"] = i + 1
                task(units[i])

    threads = min(threads, len(units))  # a helper without a unit would only wait
    if threads <= 1:
        work()
        return

    def helper() -> None:
        with cond:
            if state["closed"]:
                return
            state["active"] += 1
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            with cond:
                state["cancelled"] = True
                if state["error"] is None:
                    state["error"] = exc
        finally:
            with cond:
                state["active"] -= 1
                cond.notify_all()

    pool = _helpers(threads - 1)
    for _ in range(threads - 1):
        pool.jobs.put(helper)
    try:
        work()
    except BaseException:
        with cond:
            state["cancelled"] = True
        raise
    finally:
        with cond:
            state["closed"] = True
            while state["active"]:
                cond.wait()
    if state["error"] is not None:
        raise state["error"]


# ---------------------------------------------------------------- rows that fit in a block

def _rows_per_block(n: int, itemsize: int) -> int:
    return max(1, BLOCK_BYTES // (n * itemsize))


def _blocked_rows(kernel, inputs, out, threads):
    """Apply ``kernel(*input_blocks, out_block, ax)`` to blocks of rows; return its results.

    Short rows are transposed into temporaries inside the cache first (each
    call makes its own: nothing is shared with another call).
    """
    rows, n = out.shape
    step = _rows_per_block(n, out.itemsize)
    short = n <= SHORT_ROW
    starts = list(range(0, rows, step))
    results = [None] * len(starts)

    def task(k):
        r0 = starts[k]
        r1 = min(r0 + step, rows)
        if not short:
            results[k] = kernel(*(a[r0:r1] for a in inputs), out[r0:r1], -1)
            return
        cols = [np.ascontiguousarray(a[r0:r1].T) for a in inputs]
        ot = np.empty((n, r1 - r0), out.dtype)
        results[k] = kernel(*cols, ot, 0)
        np.copyto(out[r0:r1], ot.T)

    bufsize = None if short else _kernel.row_bufsize(n, blocked=True)  # transposed: no row value
    _run(task, list(range(len(starts))), threads, bufsize)
    return results


# ---------------------------------------------------------------- rows longer than a block

def _long_rows_softmax(x, out, beta, log, norm, threads):
    """Softmax of rows longer than a block, one row per task, in three sweeps.

    1. the row's reference logit (its max, or its min for beta < 0);
    2. ``exp(beta (x - x_ref))`` block by block, each block summed while it
       is in the cache, the sums added in the order of numpy's pairwise tree
       so that the normaliser is the simple path's to the last bit (for
       softmax the exponentials go straight into ``out``; log-softmax needs
       only their sum);
    3. the division by the normaliser (for log-softmax: ``a - log s``).

    The online merge rule (chapter "Attention") would fold sweeps 1 and 2
    into one, but each block would then sum its own ``exp(beta (x - m_block))``,
    and the rescaled sums round differently from the simple path.
    """
    rows, n = x.shape
    tree = _kernel.pairwise_tree(0, n, max(1, BLOCK_BYTES // x.itemsize))

    def total(xb, ob, ref, node):
        if isinstance(node, list):
            return total(xb, ob, ref, node[0]) + total(xb, ob, ref, node[1])
        a, b = node
        dest = np.empty((1, b - a), x.dtype) if log else ob[:, a:b]
        shifted = _kernel.shift(xb[:, a:b], ref, beta, out=dest)
        if log:
            e = np.exp(shifted, out=dest)
        else:  # the same tail correction as the simple path, before the sum
            e = _kernel.exp_corrected(xb[:, a:b], ref, shifted, beta, -1)
        return _kernel.row_sum(e, -1)

    def task(r):
        xb, ob = x[r:r + 1], out[r:r + 1]
        ref = _kernel.reference(xb, beta, -1) if beta != 0.0 else None
        s = total(xb, ob, ref, tree)  # NaN for NaN, +inf after scaling, or all masked
        if log:
            for a, b in _kernel.leaves(tree):
                o = _kernel.shift(xb[:, a:b], ref, beta, out=ob[:, a:b])
                np.subtract(o, np.log(s), out=o)
        else:
            np.divide(ob, s, out=ob)
        norm[r] = s[0]

    _run(task, list(range(rows)), threads)


def _long_rows_vjp(y, g, out, beta, threads) -> float:
    """The VJP of rows longer than a block: one sweep for <g, y>, one for the output."""
    rows, n = y.shape
    tree = _kernel.pairwise_tree(0, n, max(1, BLOCK_BYTES // y.itemsize))
    totals = [0.0] * rows

    def dot(yb, gb, node):
        if isinstance(node, list):
            return dot(yb, gb, node[0]) + dot(yb, gb, node[1])
        a, b = node
        return _kernel.row_sum(np.multiply(gb[:, a:b], yb[:, a:b]), -1)

    def task(r):
        yb, gb, ob = y[r:r + 1], g[r:r + 1], out[r:r + 1]
        d = dot(yb, gb, tree)
        check = 0.0
        for a, b in _kernel.leaves(tree):
            o = np.subtract(gb[:, a:b], d, out=ob[:, a:b])
            np.multiply(o, yb[:, a:b], out=o)
            if beta != 1.0:
                _kernel.scale(o, beta)
            check += float(np.add.reduce(o, axis=None))
        totals[r] = check

    _run(task, list(range(rows)), threads)
    return sum(totals)


# ---------------------------------------------------------------- entry points

def softmax_rows(x: np.ndarray, out: np.ndarray, beta: float, log: bool, threads: int) -> np.ndarray:
    """Softmax (or log-softmax) of each row of the C-contiguous 2-D ``x`` into ``out``.

    Returns the per-row normalisers ``sum exp(a)``, shape (rows, 1), for
    ``_kernel.check_normaliser``.
    """
    rows, n = x.shape
    if n * x.itemsize <= BLOCK_BYTES:
        def kernel(xb, ob, ax):
            return _kernel.softmax_block(xb, ob, beta, ax, log)[1]
        parts = _blocked_rows(kernel, [x], out, threads)
        if n <= SHORT_ROW:  # transposed blocks return one normaliser per column
            parts = [p.T for p in parts]
        return np.concatenate(parts, axis=0)
    norm = np.empty((rows, 1), x.dtype)
    _long_rows_softmax(x, out, beta, log, norm, threads)
    return norm


def vjp_rows(y: np.ndarray, g: np.ndarray, out: np.ndarray, beta: float, threads: int) -> float:
    """``beta * y * (g - <g, y>)`` for each row; returns the check sum of ``_kernel.vjp_block``."""
    if y.shape[1] * y.itemsize <= BLOCK_BYTES:
        def kernel(yb, gb, ob, ax):
            return _kernel.vjp_check(_kernel.vjp_block(yb, gb, ob, beta, ax)[0])
        return sum(_blocked_rows(kernel, [y, g], out, threads))
    return _long_rows_vjp(y, g, out, beta, threads)
