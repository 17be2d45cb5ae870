"""Fast kernels for softmax, log-softmax and the softmax VJP on large arrays.

The public functions in ``softmax.py`` and ``jacobian.py`` are the readable
reference. For a large C-contiguous array reduced over its last axis they call
the kernels here instead, which compute the same numbers (bit for bit: they
do the same floating-point operations in the same order; the tests demand at
most 2 ulp) with far less memory traffic. Chapter "Making softmax
fast" explains every idea used below.

* **Blocks.** The rows are cut into blocks of about :data:`BLOCK_BYTES`, so
  that all the steps of one block (max, shift, exp, sum, divide) run while the
  block sits in the core's cache: x is read from memory once and y written
  once, where the reference streams several whole temporaries.
* **Short rows** (at most :data:`SHORT_ROW` entries) are transposed inside the
  cache first, so that every ufunc runs over long contiguous columns instead
  of calling its inner loop once per tiny row.
* **Long rows** (more than one block) are cut into column blocks that follow
  the tree of numpy's pairwise summation, so the per-row sums are the same
  bits as ``np.sum`` over the whole row. The online-softmax merge rule
  (Milakov & Gimelshein 2018) would save one read of each long row but
  changes the rounding of the normaliser; ``_long_rows_softmax`` says why it
  is not used here.
* **Threads.** Blocks run on a thread pool (numpy's ufuncs release the GIL).
  The environment variable ``SOFTMAX_LIB_NUM_THREADS`` sets its size; the
  default is ``os.cpu_count()``. The blocks depend only on the shape and the
  dtype, never on the thread count, and each block is computed by one thread
  in a fixed order, so the result is the same bits for any thread count.

No kernel checks its input: each returns the per-row normaliser (or
``<g, y>`` for the VJP), which NaN, +inf after scaling and an all-masked row
all make non-finite, and the caller hands it to the same check as the
reference path. That costs no extra pass over the data.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: Arrays smaller than this many bytes take the simple path (no threads, no blocks):
#: below it the simple path's temporaries stay in the caches and blocking gains nothing.
MIN_BYTES = 1 << 22
#: Bytes of x per block: the blocks of x, y and at most one more (g for the VJP, the
#: exponentials for log-softmax) fit together in a 2 MB level-2 cache.
BLOCK_BYTES = 1 << 19
#: Rows of at most this many entries are transposed inside the cache (see module docstring).
SHORT_ROW = 32
#: The environment variable that sets the number of threads.
THREADS_ENV = "SOFTMAX_LIB_NUM_THREADS"

_PW_BLOCK = 128  # numpy's pairwise summation adds runs of at most 128 entries directly


def applies(x: np.ndarray, axis: int) -> bool:
    """Whether the fast kernels handle ``x`` reduced along ``axis``.

    Only large, C-contiguous float32/float64 arrays reduced over their last
    axis: there numpy's own reductions sum each row pairwise, which the
    kernels reproduce. Any other axis or layout takes the reference path.
    """
    return (
        x.nbytes >= MIN_BYTES
        and axis == x.ndim - 1
        and x.dtype in (np.float32, np.float64)
        and x.flags.c_contiguous
    )


def num_threads() -> int:
    """The thread count: ``$SOFTMAX_LIB_NUM_THREADS``, else the number of cores."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return os.cpu_count() or 1
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"{THREADS_ENV} must be a positive integer, got {value!r}")
    return count


# ---------------------------------------------------------------- the partition

def _rows_per_block(n: int, itemsize: int) -> int:
    return max(1, BLOCK_BYTES // (n * itemsize))


def _pairwise_tree(start: int, stop: int, leaf: int):
    """Split ``[start, stop)`` as numpy's pairwise sum does, down to leaves of at most ``leaf`` entries.

    numpy sums n > 128 entries as the sum of the first n2 and the last n - n2,
    with n2 = n // 2 rounded down to a multiple of 8. A leaf is a ``(start,
    stop)`` pair and a node a ``[left, right]`` list; ``np.sum`` over a leaf
    returns exactly the partial sum numpy forms for that subtree.
    """
    n = stop - start
    if n <= max(leaf, _PW_BLOCK):
        return (start, stop)
    n2 = n // 2
    n2 -= n2 % 8
    return [_pairwise_tree(start, start + n2, leaf), _pairwise_tree(start + n2, stop, leaf)]


def _leaves(tree):
    if isinstance(tree, tuple):
        yield tree
    else:
        yield from _leaves(tree[0])
        yield from _leaves(tree[1])


# ---------------------------------------------------------------- thread pool and scratch memory

_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()
_local = threading.local()


def _pool(threads: int) -> ThreadPoolExecutor:
    with _pools_lock:
        if threads not in _pools:
            _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="softmax_lib")
        return _pools[threads]


def _scratch(slot: int, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A per-thread buffer, reused across calls (fresh pages would cost page faults)."""
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    size = int(np.prod(shape))
    key = (slot, np.dtype(dtype))
    buf = buffers.get(key)
    if buf is None or buf.size < size:
        buf = buffers[key] = np.empty(size, dtype)
    return buf[:size].reshape(shape)


def _ufunc_bufsize(n: int) -> int:
    """The ufunc buffer size (in elements) for blocks of rows of ``n`` entries.

    An operation such as ``xb - ref``, with ``ref`` one value per row, is
    about 3 times slower when rows are shorter than numpy's ufunc buffer
    (8192 elements by default): numpy then copies ``ref``, repeated, into a
    buffer to run its inner loop over several rows at once. With a buffer no
    longer than a row it runs one row at a time, straight from memory.
    numpy wants a multiple of 16; the buffer size changes no result.
    """
    return min(np.getbufsize(), max(16, n - n % 16))


def _run(task, units: list, threads: int, bufsize: int | None = None) -> None:
    """Call ``task(unit)`` for every unit, on ``threads`` threads.

    The units (row blocks or rows) are the partition of the work; which
    thread computes a unit does not change any result. The calling thread
    works too, taking units from the same queue as ``threads - 1`` pool
    threads: on a busy machine a pool thread may start late, and then the
    caller simply does more of the work instead of waiting for it.
    ``bufsize``, if given, is the ufunc buffer size while the tasks run.
    """
    def work(chunks, lock):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if bufsize is not None:
                np.setbufsize(bufsize)  # for this thread; leaving errstate restores it
            while True:
                with lock:
                    chunk = next(chunks, None)
                if chunk is None:
                    return
                for unit in chunk:
                    task(unit)

    if threads == 1 or len(units) == 1:
        work(iter([units]), threading.Lock())
        return
    # One unit per chunk: whoever is free takes the next block, so a thread that
    # the machine pauses holds up at most one block.
    chunks = iter([[unit] for unit in units])
    lock = threading.Lock()
    helpers = [_pool(threads - 1).submit(work, chunks, lock) for _ in range(threads - 1)]
    work(chunks, lock)
    for helper in helpers:
        if not helper.cancel():  # a helper that never started has nothing left to do
            helper.result()


# ---------------------------------------------------------------- per-block steps
# Every step reduces along ``ax``: 1 for a block of rows, 0 for a transposed block.

def _row_sum(e: np.ndarray, ax: int) -> np.ndarray:
    """``np.sum(e, axis=ax, keepdims=True)``, for ax = 0 in the order numpy sums a row.

    For ax = 1 this is ``np.sum`` itself. For a transposed block (ax = 0,
    n <= 128 rows) it repeats numpy's pairwise summation of one row with
    whole-column operations: fewer than 8 entries are added in turn; else 8
    accumulators take every 8th entry, are added as a tree, then the rest.
    """
    if ax == 1:
        return np.add.reduce(e, axis=1, keepdims=True)  # np.sum, minus its Python wrapper
    n = e.shape[0]
    assert n <= _PW_BLOCK, "numpy splits longer rows in two before summing"
    total = np.zeros((1,) + e.shape[1:], e.dtype)
    if n < 8:
        for i in range(n):
            total += e[i]
        return total
    acc = e[:8].copy()
    stop = n - n % 8
    for i in range(8, stop, 8):
        acc += e[i:i + 8]
    np.add(acc[0::2], acc[1::2], out=acc[0::2])  # r0 + r1, r2 + r3, r4 + r5, r6 + r7
    np.add(acc[0::4], acc[2::4], out=acc[0::4])  # (r0 + r1) + (r2 + r3), (r4 + r5) + (r6 + r7)
    acc[0] += acc[4]
    for i in range(stop, n):
        acc[0] += e[i]
    total += acc[0]
    return total


def _reference(xb: np.ndarray, beta: float, ax: int) -> np.ndarray:
    """The per-row reference logit: max for beta > 0, min for beta < 0, 0 for beta = 0."""
    if beta == 0.0:
        return np.zeros((1, 1), xb.dtype)
    if beta > 0:
        return np.maximum.reduce(xb, axis=ax, keepdims=True)
    return np.minimum.reduce(xb, axis=ax, keepdims=True)


def _shift(xb: np.ndarray, ref: np.ndarray, beta: float, out: np.ndarray) -> np.ndarray:
    """``out = beta * (xb - ref)`` exactly as ``softmax._shifted_logits`` forms it."""
    if beta == 0.0:
        return np.multiply(xb, 0.0, out=out)
    if abs(beta) >= 1.0:
        np.subtract(xb, ref, out=out)
        if beta != 1.0:  # multiplying by 1 changes no bit
            out *= beta
    else:  # halves, so that xb - ref cannot overflow (see _shifted_logits)
        np.multiply(xb, 0.5, out=out)
        out -= ref * 0.5
        out *= 2.0 * beta
    return out


def _tail(xb, ref, a, beta):
    """The reference's correction of exponents far in the tail (``softmax.tail_residual``).

    Most blocks have no exponent below -TAIL; one ``min`` over the block (in
    the cache) finds that out faster than the reference's full test.
    """
    from ._softmax import TAIL, tail_residual  # here: softmax.py imports this module

    if beta == 0.0 or np.minimum.reduce(a, axis=None) >= -TAIL:
        return None
    return tail_residual(xb, ref, a, beta)


def _correct_tail(y, tail):
    if tail is not None:
        index, r = tail
        y[index] += y[index] * r


def _softmax_block(xb, ob, beta, ax, log):
    """Softmax (or log-softmax) of one block into ``ob``; returns its normalisers."""
    ref = _reference(xb, beta, ax)
    a = _shift(xb, ref, beta, out=ob)
    if log:
        e = np.exp(a, out=_scratch(1, a.shape, a.dtype))
        s = _row_sum(e, ax)
        a -= np.log(s)
    else:
        tail = _tail(xb, ref, a, beta)
        np.exp(a, out=a)
        s = _row_sum(a, ax)
        a /= s
        _correct_tail(a, tail)
    return s


def _vjp_block(yb, gb, ob, beta, ax):
    """``ob = beta * y * (g - <g, y>)`` for one block; returns ``<g, y>`` per row.

    The products ``g * y`` go into ``ob`` itself, which the next line
    overwrites: a separate scratch block would be a fourth block competing
    for the cache, and measurably slower.
    """
    dot = _row_sum(np.multiply(gb, yb, out=ob), ax)
    np.subtract(gb, dot, out=ob)
    ob *= yb
    if beta != 1.0:
        ob *= beta
    return dot


# ---------------------------------------------------------------- rows that fit in a block

def _blocked_rows(kernel, inputs, out, per_row, threads):
    """Apply ``kernel(*input_blocks, out_block, ax)`` to blocks of rows.

    ``per_row[r]`` receives the kernel's per-row result (normaliser or dot).
    Short rows are transposed into scratch buffers inside the cache first.
    """
    rows, n = out.shape
    step = _rows_per_block(n, out.itemsize)
    short = n <= SHORT_ROW

    def task(r0):
        r1 = min(r0 + step, rows)
        if not short:
            per_row[r0:r1] = kernel(*(a[r0:r1] for a in inputs), out[r0:r1], 1)
            return
        cols = []
        for slot, a in enumerate(inputs, start=2):
            t = _scratch(slot, (n, r1 - r0), a.dtype)
            np.copyto(t, a[r0:r1].T)
            cols.append(t)
        ot = _scratch(0, (n, r1 - r0), out.dtype)
        per_row[r0:r1] = kernel(*cols, ot, 0).T
        np.copyto(out[r0:r1], ot.T)

    bufsize = None if short else _ufunc_bufsize(n)  # transposed blocks broadcast no row value
    _run(task, list(range(0, rows, step)), threads, bufsize)


# ---------------------------------------------------------------- rows longer than a block

def _long_rows_softmax(x, out, beta, log, norm, threads):
    """Softmax of rows longer than a block, one row per task, in three sweeps.

    1. the row's reference logit M (its max, or its min for beta < 0);
    2. ``exp(beta (x - M))`` block by block, each block summed while it is
       in the cache, the sums added in the order of numpy's pairwise tree so
       that the normaliser is the reference's to the last bit (for softmax the
       exponentials go straight into ``out``; log-softmax needs only their sum);
    3. the division by the normaliser (for log-softmax: ``beta (x - M) - log s``).

    The online merge rule would fold sweeps 1 and 2 into one, but each block
    would then sum its own ``exp(beta (x - m_block))``, and the rescaled sums
    round differently: up to 3 ulp away from the reference in y (see the
    chapter "Making softmax fast").
    """
    rows, n = x.shape
    tree = _pairwise_tree(0, n, BLOCK_BYTES // x.itemsize)

    def total(xb, ob, ref, node, tails):
        if isinstance(node, list):
            return total(xb, ob, ref, node[0], tails) + total(xb, ob, ref, node[1], tails)
        a, b = node
        dest = _scratch(1, (1, b - a), x.dtype) if log else ob[:, a:b]
        shifted = _shift(xb[:, a:b], ref, beta, out=dest)
        if not log:
            tails.append((a, b, _tail(xb[:, a:b], ref, shifted, beta)))
        e = np.exp(shifted, out=dest)
        return np.add.reduce(e, axis=1, keepdims=True)

    def task(r):
        xb, ob = x[r:r + 1], out[r:r + 1]
        ref = _reference(xb, beta, 1)
        tails = []
        s = total(xb, ob, ref, tree, tails)  # NaN for NaN, +inf after scaling, or all masked
        if log:
            _shift(xb, ref, beta, out=ob)
            ob -= np.log(s)
        else:
            ob /= s
            for a, b, tail in tails:
                _correct_tail(ob[:, a:b], tail)
        norm[r] = s[0]

    _run(task, list(range(rows)), threads)


def _long_rows_vjp(y, g, out, beta, dots, threads):
    """The VJP of rows longer than a block: one pass for <g, y>, one for the output."""
    rows, n = y.shape
    tree = _pairwise_tree(0, n, BLOCK_BYTES // y.itemsize)

    def dot(yb, gb, node):
        if isinstance(node, list):
            return dot(yb, gb, node[0]) + dot(yb, gb, node[1])
        a, b = node
        prod = np.multiply(gb[:, a:b], yb[:, a:b], out=_scratch(1, (1, b - a), y.dtype))
        return np.add.reduce(prod, axis=1, keepdims=True)

    def task(r):
        yb, gb, ob = y[r:r + 1], g[r:r + 1], out[r:r + 1]
        total = dot(yb, gb, tree)
        for a, b in _leaves(tree):
            o = np.subtract(gb[:, a:b], total, out=ob[:, a:b])
            o *= yb[:, a:b]
            if beta != 1.0:
                o *= beta
        dots[r] = total[0]

    _run(task, list(range(rows)), threads)


# ---------------------------------------------------------------- entry points

def _as_rows(x: np.ndarray) -> np.ndarray:
    return x.reshape(-1, x.shape[-1])


def softmax(x: np.ndarray, beta: float, log: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Softmax (or log-softmax) of ``beta * x`` over the last axis.

    Returns ``(y, s)``: the result and the per-row normalisers ``sum exp(a)``
    with the last axis kept, for ``softmax.check_normaliser``.
    """
    rows = _as_rows(x)
    out = np.empty_like(x)
    norm = np.empty((rows.shape[0], 1), x.dtype)
    threads = num_threads()
    if x.shape[-1] * x.itemsize <= BLOCK_BYTES:
        def kernel(xb, ob, ax):
            return _softmax_block(xb, ob, beta, ax, log)
        _blocked_rows(kernel, [rows], _as_rows(out), norm, threads)
    else:
        _long_rows_softmax(rows, _as_rows(out), beta, log, norm, threads)
    return out, norm.reshape(x.shape[:-1] + (1,))


def softmax_vjp(y: np.ndarray, g: np.ndarray, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """``beta * y * (g - <g, y>)`` over the last axis; returns ``(dx, <g, y>)``."""
    rows_y, rows_g = _as_rows(y), _as_rows(g)
    out = np.empty_like(y)
    dots = np.empty((rows_y.shape[0], 1), y.dtype)
    threads = num_threads()
    if y.shape[-1] * y.itemsize <= BLOCK_BYTES:
        def kernel(yb, gb, ob, ax):
            return _vjp_block(yb, gb, ob, beta, ax)
        _blocked_rows(kernel, [rows_y, rows_g], _as_rows(out), dots, threads)
    else:
        _long_rows_vjp(rows_y, rows_g, _as_rows(out), beta, dots, threads)
    return out, dots.reshape(y.shape[:-1] + (1,))
