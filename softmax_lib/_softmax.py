"""softmax and log_softmax: the public functions of the chapter "Softmax".

This file holds the checks and the layout; the numbers come from
``_kernel.py`` (one place for the shift, the tail correction and the
normaliser check). A small array is one kernel call over all its rows; an
array of at least ``tuning.min_bytes()`` goes to the blocked, threaded driver
in ``_fast.py``, which calls the same kernel on each block, so both give the
same bits. The softmax axis is moved last (a copy only when the slices are
not contiguous already), so every slice is summed pairwise: numpy sums a
strided axis sequentially, which costs hundreds of ulp on long slices.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from . import _fast, _kernel
from ._checks import as_float_array, check_axis, check_beta


def as_rows(arr: np.ndarray, axis: int) -> tuple[np.ndarray, tuple[int, ...] | None]:
    """``arr`` as a C-contiguous 2-D array, one row per slice along ``axis``.

    Returns the rows and, when the axis had to be moved (a copy), the moved
    shape that :func:`from_rows` needs to put it back.
    """
    n = arr.shape[axis]
    if axis == arr.ndim - 1 and arr.flags.c_contiguous:
        return arr.reshape(-1, n), None
    moved = np.moveaxis(arr, axis, -1)
    return np.ascontiguousarray(moved).reshape(-1, n), moved.shape


def from_rows(out: np.ndarray, shape: tuple[int, ...], moved: tuple[int, ...] | None,
              axis: int) -> np.ndarray:
    """Undo :func:`as_rows` on a result (a view, no copy)."""
    if moved is None:
        return out.reshape(shape)
    return np.moveaxis(out.reshape(moved), -1, axis)


def _softmax(x: ArrayLike, beta: float, axis: int, log: bool, caller: str) -> np.ndarray:
    """softmax or log_softmax; ``caller`` is the public function named in error messages."""
    arr = as_float_array(x)
    beta = check_beta(beta)
    axis = check_axis(arr, axis)
    _fast.check_threads()  # checked on every call, whatever the size
    if arr.size == 0:
        return np.empty_like(arr)
    if arr.nbytes < _fast.MIN_BYTES and axis == arr.ndim - 1 and arr.flags.c_contiguous:
        # small and contiguous: one kernel call, no reshaping
        token = _kernel.enter(_kernel.state_for_rows(_kernel.QUIET, arr.shape[-1])
                              if arr.ndim > 1 else _kernel.QUIET)
        try:
            out, s = _kernel.softmax_block(arr, None, beta, -1, log)
        finally:
            _kernel.leave(token)
        if s.size != 1 or not math.isfinite(s.item()):  # the one-row case inline
            _kernel.check_normaliser(s, arr, beta, axis, caller)
        return out
    rows, moved = as_rows(arr, axis)
    fast = _fast.applies(rows)
    # log-softmax of a copy (the axis moved) overwrites the copy: one array less in memory
    # (moving an axis of length 1 may copy nothing: then the input must stay untouched)
    own = moved is not None and not np.may_share_memory(rows, arr)
    out = rows if log and own and not fast else np.empty_like(rows)
    if fast:
        with _kernel.quiet():
            s = _fast.softmax_rows(rows, out, beta, log, _fast.num_threads())
    else:
        token = _kernel.enter(_kernel.state_for_rows(_kernel.QUIET, rows.shape[-1]))
        try:
            s = _kernel.softmax_block(rows, out, beta, -1, log)[1]
        finally:
            _kernel.leave(token)
    _kernel.check_normaliser(s, arr, beta, axis, caller)
    return from_rows(out, arr.shape, moved, axis)


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
        names the first offending slice. Also for a ``beta`` that is NaN,
        infinite or too large for a float. A finite ``beta`` too large for
        the dtype of ``x`` (above 3.4e38 for float32, 65504 for float16) is
        not an error: see Notes.
    TypeError
        If ``x`` is not numeric or ``beta`` is not a real number, or if
        ``x`` is a numpy masked array (masks are not read: fill the masked
        entries first, e.g. ``x.filled(-np.inf)``, which softmax gives
        probability 0). Only ``x`` itself is checked: a list holding masked
        arrays is converted by ``np.asarray``, which drops their masks.

    Notes
    -----
    The exponent is ``beta * (x - max x)`` for ``beta > 0`` and
    ``beta * (x - min x)`` for ``beta < 0``. This equals ``beta * x`` up to a
    constant per slice, which softmax ignores, and is never positive, so
    nothing overflows even where ``beta * x`` itself would. An entry that is
    ``-inf`` after scaling is a mask: its probability is exactly 0.

    Accuracy: in float64 every entry with ``|beta (x_j - x_ref)| <= 100`` is
    within 64 ulp of the exact value (tested against mpmath for ``|x|`` up to
    1e308 and ``beta`` in [-50, 50]), on every axis and memory layout: the
    slices are summed pairwise (a strided axis is first copied to be
    contiguous; numpy would sum it sequentially, hundreds of ulp off on long
    slices). The rounding of ``x_j - x_ref`` and of its
    product with ``beta`` perturbs the exponent, and ``exp`` multiplies that
    perturbation by ``|beta (x_j - x_ref)|``, so the error grows with the
    exponent. Entries beyond an exponent of -24 are therefore corrected with
    the rounding error of the exponent, computed exactly (TwoSum and Dekker's
    product). Far beyond -100 the rounding of the difference itself, and of
    ``exp`` near underflow, dominates again, and no bound is promised there.

    float32 and float16 keep their dtype, and ``beta`` is rounded to it. A
    ``beta`` beyond the dtype's range is applied as two factors, a power of
    two and the rest, so it never becomes infinite: an entry at the reference
    logit keeps the exponent 0 and every other entry gets its exact, very
    negative exponent, or ``-inf`` (probability 0) beyond the dtype's range.
    The tail correction is then skipped; the accuracy bound above is for
    float64.

    See Also
    --------
    log_softmax : its logarithm, computed directly.
    softmax_jacobian, softmax_vjp : its derivative, as a matrix and as a product.
    softmax_beta_grad : its derivative with respect to beta.
    softmax_lib.tuning : the thread count and block size of large arrays.

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
    return _softmax(x, beta, axis, False, "softmax")


def log_softmax(x: ArrayLike, beta: float = 1.0, axis: int = -1) -> np.ndarray:
    r"""Logarithm of :func:`softmax`, computed without taking ``log`` of a probability.

    .. math:: \log y_j = \beta x_j - \log \sum_k \exp(\beta x_k)

    Parameters and errors are those of :func:`softmax` (a numpy masked array
    is a TypeError there too).

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

    See Also
    --------
    softmax : the probabilities themselves.
    cross_entropy : the loss built on it.

    Examples
    --------
    >>> from softmax_lib import log_softmax
    >>> log_softmax([1000.0, 1.0])
    array([   0., -999.])
    """
    return _softmax(x, beta, axis, True, "log_softmax")
