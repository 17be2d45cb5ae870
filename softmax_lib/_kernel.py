"""The numerics of softmax on a block of rows: the one place they are written.

Both ways of computing softmax call the functions here: the simple path
(``_softmax.py``, one call over a whole small array) and the blocked,
threaded path (``_fast.py``, one call per block of rows). Each function
works row by row (entries never influence another row) and a row's sum is
numpy's pairwise sum of that row, whatever the block, so the two paths agree
bit for bit by construction.

This module imports nothing from the package. It holds:

* :func:`reference` and :func:`shift`: the exponent ``a = beta (x - x_ref)``,
  never positive (the halves trick for ``|beta| < 1``);
* :func:`scale`: multiplication by beta, also for a beta beyond float32's
  or float16's range (never cast to inf);
* :func:`tail_residual` and :func:`exp_corrected`: the exponent's rounding
  error, computed exactly (TwoSum and Dekker's product), for entries far in
  the tail, a piece of :data:`CHUNK_BYTES` at a time;
* :func:`softmax_block` and :func:`vjp_block`: a whole block;
* :func:`row_sum`: numpy's pairwise row sum, also for a transposed block;
* :func:`check_normaliser`: the one check that turns NaN, +inf after scaling
  and all-masked slices into a ValueError naming the function called and the
  slice (:func:`describe_slice`);
* :func:`quiet` (a context manager), :func:`enter` and :func:`leave` (the same
  without one, for the hot paths): numpy's floating-point warnings off
  (``QUIET``), or overflow and invalid operations raising (``WATCH``);
  :func:`row_bufsize`, the one rule for numpy's ufunc buffer size.

A block holds its rows along its last axis (``ax = -1``; any number of
leading axes, so a 1-D array is one row), or is a transposed 2-D block
(``ax = 0``: entries along axis 0, one row per column).
"""

from __future__ import annotations

import math

import numpy as np

_max = np.maximum.reduce
_min = np.minimum.reduce
_add = np.add.reduce

#: Entries whose exponent lies below -TAIL get their rounding error corrected.
#: Two roundings (of x - ref and of its product with beta) each perturb the
#: exponent by up to |a| u, and exp turns that into a relative error of up to
#: about |a| ulp. Up to |a| = 24 that stays well inside the 64-ulp promise;
#: further out :func:`tail_residual` supplies the lost bits.
TAIL = 24.0

#: numpy's pairwise summation adds runs of at most 128 entries directly.
PAIRWISE_BLOCK = 128

# ---------------------------------------------------------------- warnings off, cheaply

#: numpy's floating-point modes inside the library: warnings off (the results are checked
#: instead), or overflow and invalid operations raising (the VJP's cheap overflow check).
QUIET_MODES = {"all": "ignore"}
WATCH_MODES = {"all": "ignore", "over": "raise", "invalid": "raise"}

try:  # numpy 2 keeps the floating-point error state in a context variable
    from numpy._core._ufunc_config import _extobj_contextvar as _EXTOBJ
except (ImportError, AttributeError):  # pragma: no cover - another numpy layout
    _EXTOBJ = None


def _library_state(modes: dict):
    """numpy's error state with ``modes``, the default buffer size and no callback.

    Built once, at import, from numpy's defaults rather than from whatever
    state the importing code had set: a buffer size or an ``np.seterrcall``
    callback of that moment is not carried into the library's calls. (The
    modes are "ignore" and "raise" only, so no callback would be called
    anyway.) On exit the caller's own state, whatever it is then, comes back.
    """
    if _EXTOBJ is None:  # pragma: no cover
        return object()  # a marker: enter() uses np.errstate(**modes) instead
    with np.errstate(call=None, **modes):
        np.setbufsize(8192)
        return _EXTOBJ.get()


#: The two states :func:`enter` sets (see :func:`_library_state`).
QUIET = _library_state(QUIET_MODES)
WATCH = _library_state(WATCH_MODES)


def enter(state) -> object:
    """Set numpy's error state to ``QUIET`` or ``WATCH`` without a context manager; returns a token.

    The hot paths call ``token = enter(QUIET)`` and, in a ``finally``,
    ``leave(token)``: setting numpy's context variable directly costs about
    0.15 us, ``np.errstate`` about 1 us, a quarter of a call on a 10-entry
    array. Re-entrant and thread-safe: each call keeps its own token. Without
    the context variable (another numpy layout) it falls back on
    ``np.errstate``, which numpy 2 also keeps per thread and per context.
    """
    if _EXTOBJ is None:
        ctx = np.errstate(**(WATCH_MODES if state is WATCH else QUIET_MODES))
        ctx.__enter__()
        return ctx
    return _EXTOBJ.set(state)


def leave(token) -> None:
    """Restore the error state that :func:`enter` replaced."""
    if _EXTOBJ is None:
        token.__exit__(None, None, None)
    else:
        _EXTOBJ.reset(token)


class _Quiet:
    """``with quiet():`` is :func:`enter` (QUIET) and :func:`leave` as a context manager."""

    __slots__ = ("token",)

    def __enter__(self):
        self.token = enter(QUIET)

    def __exit__(self, *exc):
        leave(self.token)


def quiet() -> _Quiet:
    """A context manager in which numpy's floating-point warnings are off."""
    return _Quiet()


#: Rows shorter than this keep numpy's default ufunc buffer (see :func:`row_bufsize`).
_SHORT_FOR_BUFFER = 256
_ROW_STATES: dict[tuple[int, int], object] = {}


def row_bufsize(n: int, blocked: bool = False) -> int | None:
    """The ufunc buffer size (elements) for rows of ``n`` entries, or None for numpy's default.

    An operation such as ``x - ref``, with ``ref`` one value per row, is up to
    a third slower when rows are shorter than numpy's ufunc buffer (8192
    elements by default): numpy then copies ``ref``, repeated, into a buffer
    to run its inner loop over several rows at once. With a buffer no longer
    than a row it runs one row at a time, straight from memory. numpy wants a
    multiple of 16; the buffer size changes no result.

    The one rule for both paths, with one difference measured side by side
    (best of 15 to 21 interleaved rounds, float64): on a whole array (the
    simple path) rows shorter than 256 entries keep the default, as a short
    buffer made (200, 48) and (400, 64) about a fifth slower; on the cache-
    sized blocks of the fast path (``blocked``) a buffer of one row is about
    8% faster also for rows of 100 to 200 entries ((8192, 100), (8192, 160),
    (4096, 200)).
    """
    if not (16 if blocked else _SHORT_FOR_BUFFER) <= n < 8192:
        return None
    return n - n % 16


def state_for_rows(state, n: int):
    """``state`` (QUIET or WATCH) with the ufunc buffer of :func:`row_bufsize` for rows of ``n``."""
    if _EXTOBJ is None or not _SHORT_FOR_BUFFER <= n < 8192:
        return state  # (the same test as row_bufsize, inline: this runs on every small call)
    key = (id(state), n - n % 16)
    found = _ROW_STATES.get(key)
    if found is None:
        token = _EXTOBJ.set(state)
        np.setbufsize(key[1])  # reset(token) below undoes this too
        found = _ROW_STATES[key] = _EXTOBJ.get()
        _EXTOBJ.reset(token)
    return found


# ---------------------------------------------------------------- beta in the array's dtype

# float16 and float32: (largest finite value, largest power of two). A Python float beta
# beyond the largest value would become inf when numpy casts it to the array's dtype.
_NARROW = {np.dtype(t): (float(np.finfo(t).max), 2.0 ** (np.finfo(t).maxexp - 1))
           for t in (np.float16, np.float32)}


def beta_fits(beta: float, dtype: np.dtype) -> bool:
    """Whether ``beta`` is finite in ``dtype`` (always for float64 and wider)."""
    limits = _NARROW.get(dtype)
    return limits is None or -limits[0] <= beta <= limits[0]


def scale(out: np.ndarray, beta: float) -> np.ndarray:
    """``out *= beta`` in place, also for a ``beta`` too large for ``out``'s dtype.

    numpy would cast such a beta to inf (and 0 * inf is NaN). It is applied as
    two factors instead, a power of two ``p`` (exact, unless the product
    overflows, and then so does the exact one) and ``beta / p``; where that
    still exceeds the dtype it is clamped, which changes nothing: every
    nonzero entry, even the smallest subnormal, times ``p`` times the
    largest float exceeds the dtype's range (float32: 2^-149 2^127 3.4e38 ~
    8e31; float16: 2^-24 2^15 65504 = 128, and exp(-128) is 0 in float16),
    so the product overflows either way.
    """
    limits = _NARROW.get(out.dtype)
    if limits is None or -limits[0] <= beta <= limits[0]:
        return np.multiply(out, beta, out=out)
    largest, p = limits
    np.multiply(out, p, out=out)
    return np.multiply(out, math.copysign(min(abs(beta) / p, largest), beta), out=out)


# ---------------------------------------------------------------- the exponent

def reference(x: np.ndarray, beta: float, ax: int) -> np.ndarray:
    """The per-row reference logit: max for beta > 0, min for beta < 0 (kept as an axis)."""
    if beta > 0:
        return _max(x, ax, None, None, True)
    return _min(x, ax, None, None, True)


def shift(x: np.ndarray, ref: np.ndarray, beta: float, out: np.ndarray | None) -> np.ndarray:
    """``out = beta * (x - ref)``: every entry <= 0, or NaN for bad input (a new array if out is None).

    ``ref`` is the largest entry of each row when beta > 0 and the smallest
    when beta < 0, so the largest scaled logit becomes 0 and ``exp`` can
    neither overflow nor lose every entry to underflow.

    When ``|beta| < 1`` the difference is formed from halves,
    ``2 beta (x/2 - ref/2)``: ``x - ref`` can overflow for finite x
    (1e308 - (-1e308)) although ``beta (x - ref)`` is small, and halving is
    exact for every float that is not subnormal. When ``|beta| >= 1`` such an
    overflow only happens where the exact result underflows to 0 anyway.

    ``beta == 0`` gives ``x * 0``: zeros, or NaN where x is NaN or infinite,
    which the normaliser check then reports (0 * inf has no value).
    """
    if beta == 0.0:
        return np.multiply(x, 0.0, out=out)
    if beta >= 1.0 or beta <= -1.0:
        out = np.subtract(x, ref, out=out)
        if beta != 1.0:  # multiplying by 1 changes no bit
            scale(out, beta)  # a beta beyond float32 / float16 is not cast to inf
    else:
        out = np.multiply(x, 0.5, out=out)
        np.subtract(out, ref * 0.5, out=out)
        np.multiply(out, 2.0 * beta, out=out)
    return out


def _split(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split floats into a high part with half the significand bits and an exact remainder.

    Clearing the low bits through an integer view is exact for every finite
    value, large ones included (Veltkamp's ``C * v`` trick would overflow).
    """
    info = np.finfo(v.dtype)
    int_type = {8: np.int64, 4: np.int32}[v.dtype.itemsize]
    low_bits = (info.nmant + 2) // 2
    hi = (v.view(int_type) & int_type(~((1 << low_bits) - 1))).view(v.dtype)
    return hi, v - hi


def tail_residual(x: np.ndarray, ref: np.ndarray, a: np.ndarray, beta: float):
    """Where ``a`` is far into the tail, the exact exponent minus the computed one.

    The exact exponent is ``beta * (x - ref)``; ``a`` is its rounded value from
    :func:`shift`. The residual ``r = exact - a`` is computed for the entries
    with ``-inf < a < -TAIL`` by error-free transformations: TwoSum for the
    difference, Dekker's product for the multiplication. Since
    ``exp(a + r) = exp(a) (1 + r)`` to within ``r^2``, multiplying those
    outputs by ``1 + r`` (:func:`correct_tail`) restores full relative accuracy.

    Returns None when no entry needs it. When few entries do, ``(index, r)``
    for those entries only (gathered); when many do, ``(None, r)`` with ``r``
    for the whole block, 0 outside the tail (no gathering, which would cost
    more than the arithmetic). Both do the same operations on each tail
    entry, so the choice changes no bit. The temporaries are a few arrays the
    size of the block (or of its tail).
    """
    if beta == 0.0 or a.dtype.itemsize not in (4, 8) or not beta_fits(beta, a.dtype):
        return None  # (a beta beyond float32's range: no correction, see softmax's Notes)
    tail = a < -TAIL
    tail &= a > -np.inf
    count = np.count_nonzero(tail)
    if count == 0:
        return None
    halves = abs(beta) < 1.0  # the same halves shift() used
    b, rref = (2.0 * beta, ref * 0.5) if halves else (beta, ref)
    dense = 4 * count >= a.size
    if dense:
        index = None
        xs, rs, at = (x * 0.5 if halves else x), np.broadcast_to(rref, x.shape), a
    else:
        index = np.nonzero(tail)
        del tail
        xs, rs, at = x[index], np.broadcast_to(rref, x.shape)[index], a[index]
        if halves:
            xs *= 0.5
    d = xs - rs
    back = d - xs  # TwoSum: d + e == xs - rs exactly
    e = d - back
    np.subtract(xs, e, out=e)
    back += rs
    e -= back  # (xs - (d - back)) + (-rs - back)
    del back
    b_hi, b_lo = _split(np.asarray(b, dtype=a.dtype).reshape(1))
    d_hi, d_lo = _split(d)  # Dekker: b * d == a + p exactly (up to b_lo * d_lo)
    del d
    p = b_hi * d_hi
    p -= at
    p += b_hi * d_lo
    d_hi *= b_lo
    p += d_hi
    d_lo *= b_lo
    p += d_lo
    del d_hi, d_lo
    e *= b
    e += p
    keep = np.isfinite(e)  # a non-finite residual only where exp(a) is 0 anyway
    if dense:
        keep &= tail
    np.copyto(e, 0.0, where=~keep)
    return index, e


#: The tail correction works on pieces of about this many bytes (its temporaries are a
#: few arrays of a piece's size, not of the whole array).
CHUNK_BYTES = 1 << 16


def _pieces(x: np.ndarray, ref: np.ndarray, a: np.ndarray, ax: int):
    """``(x, ref, a)`` cut into row (or column) pieces of about :data:`CHUNK_BYTES`; views of ``a``."""
    if a.nbytes <= CHUNK_BYTES or ax == 0:  # ax = 0: a transposed block of the fast path
        yield x, ref, a
        return
    n = a.shape[-1]
    x2, a2, r2 = x.reshape(-1, n), a.reshape(-1, n), ref.reshape(-1, 1)
    step = CHUNK_BYTES // (n * a.itemsize)
    if step >= 1:
        for r0 in range(0, a2.shape[0], step):
            yield x2[r0:r0 + step], r2[r0:r0 + step], a2[r0:r0 + step]
        return
    width = CHUNK_BYTES // a.itemsize
    for r in range(a2.shape[0]):
        for c0 in range(0, n, width):
            yield x2[r:r + 1, c0:c0 + width], r2[r:r + 1], a2[r:r + 1, c0:c0 + width]


def exp_corrected(x: np.ndarray, ref: np.ndarray, a: np.ndarray, beta: float, ax: int) -> np.ndarray:
    """``a = exp(a)`` in place, its tail entries multiplied by ``1 + r`` (:func:`tail_residual`).

    Piece by piece, so the temporaries stay small; every operation is per
    entry, so the pieces change no bit. The correction comes before the sum,
    so the normaliser includes it.
    """
    # the one tail test (False for NaN, which the normaliser check reports)
    if beta == 0.0 or not _min(a, None) < -TAIL:
        return np.exp(a, out=a)
    for xp, rp, ap in _pieces(x, ref, a, ax):
        tail = tail_residual(xp, rp, ap, beta)
        np.exp(ap, out=ap)
        correct_tail(ap, tail)
    return a


def correct_tail(y: np.ndarray, tail) -> None:
    """Multiply the tail entries of ``y`` by ``1 + r`` (see :func:`tail_residual`)."""
    if tail is not None:
        index, r = tail
        if index is None:
            r *= y
            y += r
        else:
            y[index] += y[index] * r


# ---------------------------------------------------------------- sums

def row_sum(e: np.ndarray, ax: int) -> np.ndarray:
    """``np.sum(e, axis=ax, keepdims=True)``, for ax = 0 in the order numpy sums a row.

    For ax = -1 this is numpy's pairwise sum of each row. For a transposed
    block (ax = 0, at most 128 entries per row) it repeats numpy's pairwise
    summation of one row with whole-column operations: fewer than 8 entries
    are added in turn; else 8 accumulators take every 8th entry, are added as
    a tree, then the rest.
    """
    if ax:
        return _add(e, -1, None, None, True)
    n = e.shape[0]
    assert n <= PAIRWISE_BLOCK, "numpy splits longer rows in two before summing"
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


def pairwise_tree(start: int, stop: int, leaf: int):
    """Split ``[start, stop)`` as numpy's pairwise sum does, down to leaves of at most ``leaf`` entries.

    numpy sums n > 128 entries as the sum of the first n2 and the last n - n2,
    with n2 = n // 2 rounded down to a multiple of 8. A leaf is a ``(start,
    stop)`` pair and a node a ``[left, right]`` list; the sum over a leaf is
    exactly the partial sum numpy forms for that subtree.
    """
    n = stop - start
    if n <= max(leaf, PAIRWISE_BLOCK):
        return (start, stop)
    n2 = n // 2
    n2 -= n2 % 8
    return [pairwise_tree(start, start + n2, leaf), pairwise_tree(start + n2, stop, leaf)]


def leaves(tree):
    """The leaves of :func:`pairwise_tree`, left to right."""
    if isinstance(tree, tuple):
        yield tree
    else:
        yield from leaves(tree[0])
        yield from leaves(tree[1])


# ---------------------------------------------------------------- whole blocks

def softmax_block(x: np.ndarray, out: np.ndarray | None, beta: float, ax: int,
                  log: bool) -> tuple[np.ndarray, np.ndarray]:
    """Softmax (or log-softmax) of the rows of ``x`` into ``out``; returns it and the normalisers.

    ``out`` may be None (a new array).

    ``s = sum exp(a)`` per row, with ``a = beta (x - x_ref)`` from :func:`shift`.
    Softmax is ``exp(a) / s`` (tail entries corrected by :func:`tail_residual`),
    log-softmax ``a - log s``. Every finite row has ``s >= 1``; NaN, +inf
    after scaling and an all-masked row make ``s`` NaN, which
    :func:`check_normaliser` reports. Call it inside :func:`quiet`.
    """
    # The common case beta = 1 is written out: on a small array every Python call counts.
    if beta == 1.0:
        ref = _max(x, ax, None, None, True)
        a = np.subtract(x, ref, out=out)
    else:
        ref = reference(x, beta, ax) if beta != 0.0 else None
        a = shift(x, ref, beta, out)
    if log:  # x is not read after the shift: out may be x itself
        e = np.exp(a)
        s = _add(e, -1, None, None, True) if ax else row_sum(e, 0)
        del e
        np.subtract(a, np.log(s), out=a)
        return a, s
    exp_corrected(x, ref, a, beta, ax)
    s = _add(a, -1, None, None, True) if ax else row_sum(a, 0)
    np.divide(a, s, out=a)
    return a, s


def vjp_block(y: np.ndarray, g: np.ndarray, out: np.ndarray | None, beta: float,
              ax: int) -> tuple[np.ndarray, np.ndarray]:
    """``out = beta * y * (g - <g, y>)`` per row; returns it and ``<g, y>`` per row.

    ``out`` may be None (a new array). The products ``g * y`` go into ``out``
    itself, which the next step overwrites. NaN or an infinite value in a row
    of y or g makes its ``<g, y>`` non-finite (``inf * 0`` is NaN); an
    overflow of ``g - <g, y>`` (or of the product with beta) is the caller's
    to detect (the ``WATCH`` state of :func:`enter`, or the sum of the
    output, :func:`vjp_check`).
    """
    out = np.multiply(g, y, out=out)
    dot = _add(out, -1, None, None, True) if ax else row_sum(out, 0)
    np.subtract(g, dot, out=out)
    np.multiply(out, y, out=out)
    if beta != 1.0:
        scale(out, beta)
    return out, dot


def vjp_check(out: np.ndarray) -> float:
    """The sum of a VJP block: finite exactly when every output is finite and the sum did not overflow.

    NaN or an infinite value in a row of y or g makes that output row NaN or
    infinite, and so does an overflow of ``g - <g, y>``; a non-finite sum
    sends the caller to its careful path.
    """
    return float(_add(out, axis=None))


# ---------------------------------------------------------------- the normaliser check

def describe_slice(other: tuple[int, ...], k: int, axis: int, name: str = "x") -> str:
    """Name slice number ``k`` (in C order of the ``other`` axes) along ``axis``: ``slice x[2, :] (...)``.

    For a 1-D array, where the only slice is the whole array, just ``name``.
    """
    if not other:
        return name
    index = tuple(int(i) for i in np.unravel_index(k, other))
    parts = [str(i) for i in index]
    parts.insert(axis, ":")
    return (f"slice {name}[{', '.join(parts)}] (index {index} of the slices along axis {axis})")


def check_normaliser(s: np.ndarray, x: np.ndarray, beta: float, axis: int,
                     caller: str = "softmax") -> None:
    """Raise ValueError, naming ``caller`` and the slice, if a normaliser ``sum(exp(a))`` is not finite.

    ``s`` holds one normaliser per slice of ``x`` along ``axis``, in C order
    of the other axes (any shape with that many entries). A finite slice
    always has a normaliser >= 1 (its largest scaled logit contributes
    exp(0) = 1). NaN, an entry that is +inf after scaling by beta, an
    infinite entry with beta = 0 and a slice whose entries are all masked all
    make it NaN, so this one check over the per-slice sums catches every bad
    input without another pass over x: the sum of the normalisers is finite
    exactly when each is (each is at most the slice's length).
    """
    if s.size == 1:
        if math.isfinite(s.item()):
            return
    elif math.isfinite(_add(s, axis=None)):
        return
    other = x.shape[:axis] + x.shape[axis + 1:]
    k = int(np.flatnonzero(~np.isfinite(s.reshape(-1)))[0])
    row = np.moveaxis(x, axis, -1).reshape(-1, x.shape[axis])[k]
    nan = np.flatnonzero(np.isnan(row))
    if nan.size:
        reason = f"contains NaN at position {nan[0]}"
    elif beta == 0.0:
        pos = np.flatnonzero(np.isinf(row))[0]
        reason = (f"has the infinite entry {row[pos]} at position {pos} while beta is 0, "
                  "and beta * x is then undefined")
    else:
        plus = np.flatnonzero(np.isinf(row) & (np.sign(row) == np.sign(beta)))
        if plus.size:
            reason = (f"has the entry {row[plus[0]]} at position {plus[0]}, which is +inf "
                      f"after scaling by beta={beta}")
        elif np.all(np.isinf(row)):
            reason = (f"has every entry masked (-inf after scaling by beta={beta}), "
                      "so no probability is left to share")
        else:  # not reachable from finite input; said plainly rather than guessed
            reason = f"has a normaliser that is not finite (beta={beta}, dtype {x.dtype})"
    raise ValueError(f"{caller}: {describe_slice(other, k, axis)} {reason}")
