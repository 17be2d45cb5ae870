"""Softmax with an inverse temperature, and its logarithm.

The book's chapter "Softmax" explains the ideas used here: the shift by the
largest logit, the inverse temperature ``beta`` and why log-softmax is
computed directly rather than as ``log(softmax(x))``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import _fast
from ._checks import as_float_array, check_axis, check_beta, first_bad_slice


def _reference_logit(x: np.ndarray, beta: float, axis: int) -> np.ndarray:
    """The per-slice logit the exponent is measured from: max for beta > 0, min for beta < 0."""
    if beta > 0:
        return np.max(x, axis=axis, keepdims=True)
    return np.min(x, axis=axis, keepdims=True)


def _shifted_logits(x: np.ndarray, beta: float, axis: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Return ``a = beta * (x - ref)``, every entry <= 0, and ``ref``.

    ``ref`` is the largest entry of each slice when beta > 0 and the smallest
    when beta < 0, so that the largest scaled logit becomes 0 and ``exp`` can
    neither overflow nor lose every entry to underflow.

    When |beta| < 1 the difference is formed from halves, ``2 beta (x/2 - ref/2)``:
    ``x - ref`` can overflow for finite x (1e308 - (-1e308)) although
    ``beta * (x - ref)`` is small, and halving is exact for every float that is
    not subnormal. When |beta| >= 1 such an overflow only happens where the
    exact result underflows to 0 anyway.

    beta == 0 gives ``x * 0`` (and ``ref`` None): zeros, or NaN where x is NaN or
    infinite, which the normaliser check then reports (0 * inf has no value).
    """
    if beta == 0.0:
        with np.errstate(invalid="ignore"):
            return np.multiply(x, 0.0), None
    ref = _reference_logit(x, beta, axis)
    with np.errstate(over="ignore", invalid="ignore"):
        if abs(beta) >= 1.0:
            a = np.subtract(x, ref)
            a *= beta
        else:
            a = np.multiply(x, 0.5)
            a -= ref * 0.5
            a *= 2.0 * beta
    return a, ref


#: Entries whose exponent lies below -TAIL get their rounding error corrected.
#: Two roundings (of x - ref and of its product with beta) each perturb the
#: exponent by up to |a| * u, and exp turns that into a relative error of up to
#: |a| * 2u: about |a| ulp. Up to |a| = 24 that stays well inside the 64-ulp
#: promise; further out :func:`tail_residual` supplies the lost bits.
TAIL = 24.0


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


def tail_residual(x: np.ndarray, ref: np.ndarray | None, a: np.ndarray, beta: float):
    """Where ``a`` is far into the tail, the exact exponent minus the computed one.

    The exact exponent is ``beta * (x - ref)``; ``a`` is its rounded value from
    :func:`_shifted_logits`. Returns ``(index, r)`` with ``r = exact - a`` for the
    entries with ``-inf < a < -TAIL`` (error-free transformations: TwoSum for the
    difference, Dekker's product for the multiplication), or None when no entry
    needs it. Since exp(a + r) = exp(a) (1 + r) to within r^2, multiplying those
    outputs by ``1 + r`` restores full relative accuracy.
    """
    if ref is None or a.dtype.itemsize not in (4, 8) or a.dtype.kind != "f":
        return None
    with np.errstate(invalid="ignore"):
        tail = (a < -TAIL) & (a > -np.inf)
    if not tail.any():
        return None
    index = np.nonzero(tail)
    xs = x[index]
    rs = np.broadcast_to(ref, x.shape)[index]
    b = beta
    if abs(beta) < 1.0:                  # the same halves _shifted_logits used
        xs, rs, b = xs * 0.5, rs * 0.5, 2.0 * beta
    with np.errstate(over="ignore", invalid="ignore"):
        d = xs - rs
        back = d - xs                    # TwoSum: d + e == xs - rs exactly
        e = (xs - (d - back)) + (-rs - back)
        bb = np.asarray(b, dtype=a.dtype)
        b_hi, b_lo = _split(bb.reshape(1))
        d_hi, d_lo = _split(d)
        ai = a[index]                    # Dekker: b * d == ai + p exactly (up to b_lo * d_lo)
        p = ((b_hi * d_hi - ai) + b_hi * d_lo + b_lo * d_hi) + b_lo * d_lo
        r = b * e + p
    r[~np.isfinite(r)] = 0.0             # only where exp(a) is 0 anyway
    return index, r


def _describe_slice(index: tuple[int, ...], axis: int, ndim: int) -> str:
    """``x[2, :]`` style name of the slice at ``index`` along ``axis``."""
    if ndim == 1:
        return "x"
    parts = [str(i) for i in index]
    parts.insert(axis, ":")
    return f"x[{', '.join(parts)}]"


def check_normaliser(s: np.ndarray, x: np.ndarray, beta: float, axis: int) -> None:
    """Raise ValueError if a slice's normaliser ``sum(exp(a))`` is not finite.

    A finite slice always has a normaliser >= 1 (its largest scaled logit
    contributes exp(0) = 1). NaN, an entry that is +inf after scaling by beta,
    an infinite entry with beta = 0 and a slice whose entries are all masked
    all make it NaN, so this one check over the per-slice sums catches every
    bad input without another pass over x.
    """
    ok = np.isfinite(s)
    if ok.all():
        return
    bad = ~np.squeeze(ok, axis=axis)
    index = first_bad_slice(bad) if bad.ndim else ()
    row = np.moveaxis(x, axis, -1)[index]
    name = _describe_slice(index, axis, x.ndim)
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
        else:
            reason = (f"has every entry masked (-inf after scaling by beta={beta}), "
                      "so no probability is left to share")
    if x.ndim == 1:
        raise ValueError(f"softmax: x {reason}")
    raise ValueError(f"softmax: slice {name} (index {index} of the slices along axis {axis}) {reason}")


def _prepare(x: ArrayLike, beta: float, axis: int) -> tuple[np.ndarray, float, int]:
    arr = as_float_array(x)
    beta = check_beta(beta)
    axis = check_axis(arr, axis)
    return arr, beta, axis


def softmax(x: ArrayLike, beta: float = 1.0, axis: int = -1) -> np.ndarray:
    r"""Softmax of ``beta * x`` along ``axis``.

    .. math:: y_j = \frac{\exp(\beta x_j)}{\sum_k \exp(\beta x_k)}

    Parameters
    ----------
    x : array_like
        Logits. Integers, booleans and lists become float64; float32 stays
        float32 and float64 stays float64.
    beta : float, optional
        Inverse temperature, any finite real. ``beta = 0`` gives the uniform
        distribution; ``beta < 0`` favours the smallest entries.
    axis : int, optional
        The axis the probabilities are taken over (the last by default).

    Returns
    -------
    numpy.ndarray
        Probabilities of the same shape as ``x``; each slice along ``axis``
        sums to 1.

    Raises
    ------
    ValueError
        If a slice contains NaN, an entry that is +inf after scaling by
        ``beta``, only masked entries, or if the axis is empty. The message
        names the first offending slice. Also for a ``beta`` that is NaN or
        infinite.
    TypeError
        If ``x`` is not numeric or ``beta`` is not a real number.

    Notes
    -----
    The exponent is ``beta * (x - max x)`` for ``beta > 0`` and
    ``beta * (x - min x)`` for ``beta < 0``. This equals ``beta * x`` up to a
    constant per slice, which softmax ignores, and is never positive, so
    nothing overflows even where ``beta * x`` itself would. An entry that is
    ``-inf`` after scaling is a mask: its probability is exactly 0.

    Accuracy: in float64 every entry with ``|beta (x_j - x_ref)| <= 100`` is
    within 64 ulp of the exact value (tested against mpmath for ``|x|`` up to
    1e308 and ``beta`` in [-50, 50]). The rounding of ``x_j - x_ref`` and of its
    product with ``beta`` perturbs the exponent, and ``exp`` multiplies that
    perturbation by ``|beta (x_j - x_ref)|``, so the error grows with the
    exponent. Entries beyond an exponent of -24 are therefore corrected with
    the rounding error of the exponent, computed exactly (TwoSum and Dekker's
    product). Far beyond -100 the rounding of the difference itself, and of
    ``exp`` near underflow, dominates again, and no bound is promised there.

    Examples
    --------
    >>> import numpy as np
    >>> from softmax_lib import softmax
    >>> softmax([1.0, 2.0, 3.0])
    array([0.09003057, 0.24472847, 0.66524096])
    >>> softmax([1000.0, 1.0])          # no overflow
    array([1., 0.])
    >>> softmax([1.0, 2.0, 3.0], beta=0)
    array([0.33333333, 0.33333333, 0.33333333])
    >>> softmax([0.0, -np.inf, 0.0])    # -inf is a mask
    array([0.5, 0. , 0.5])
    """
    arr, beta, axis = _prepare(x, beta, axis)
    if _fast.applies(arr, axis):  # large arrays: the blocked, threaded kernel (same results)
        y, s = _fast.softmax(arr, beta)
        check_normaliser(s, arr, beta, axis)
        return y
    e, ref = _shifted_logits(arr, beta, axis)
    tail = tail_residual(arr, ref, e, beta)
    with np.errstate(invalid="ignore"):
        np.exp(e, out=e)
        s = np.sum(e, axis=axis, keepdims=True)
    check_normaliser(s, arr, beta, axis)
    e /= s
    if tail is not None:
        index, r = tail
        e[index] += e[index] * r
    return e


def log_softmax(x: ArrayLike, beta: float = 1.0, axis: int = -1) -> np.ndarray:
    r"""Logarithm of :func:`softmax`, computed without taking ``log`` of a probability.

    .. math:: \log y_j = \beta x_j - \log \sum_k \exp(\beta x_k)

    Parameters and errors are those of :func:`softmax`.

    Returns
    -------
    numpy.ndarray
        Log-probabilities of the same shape and dtype as ``softmax`` returns;
        masked entries are ``-inf``.

    Notes
    -----
    With ``a = beta (x - x_ref)`` (see :func:`softmax`), ``log y = a - log sum exp a``.
    The sum is at least 1, so its logarithm is well behaved, and a very
    negative ``a`` stays finite where ``log(softmax(x))`` would give
    ``log(0) = -inf``.

    Examples
    --------
    >>> from softmax_lib import log_softmax
    >>> log_softmax([1000.0, 1.0])
    array([   0., -999.])
    """
    arr, beta, axis = _prepare(x, beta, axis)
    if _fast.applies(arr, axis):
        logy, s = _fast.softmax(arr, beta, log=True)
        check_normaliser(s, arr, beta, axis)
        return logy
    a, _ = _shifted_logits(arr, beta, axis)
    with np.errstate(invalid="ignore"):
        s = np.sum(np.exp(a), axis=axis, keepdims=True)
    check_normaliser(s, arr, beta, axis)
    a -= np.log(s)
    return a
