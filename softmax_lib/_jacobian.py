"""The derivative of softmax: one partial, the full Jacobian, and the
vector-Jacobian product that backpropagation actually uses.

Chapters "The case i = j", "The case i ≠ j" and "The full Jacobian".
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from numpy.typing import ArrayLike

from . import _fast, _kernel
from ._checks import as_float_array, check_axis, check_beta
from ._softmax import _softmax, as_rows, from_rows


def _check_index(k, n: int, name: str) -> int:
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise TypeError(f"{name} must be an integer index, got {k!r}")
    if not 0 <= k < n:
        raise IndexError(f"{name}={k} is out of range for a softmax output of length {n}")
    return int(k)


def softmax_partial(y: ArrayLike, j: int, i: int, beta: float = 1.0) -> float:
    r"""The partial derivative :math:`\partial y_j / \partial x_i` from a softmax output.

    .. math::

        \frac{\partial y_j}{\partial x_i} =
        \begin{cases}
            \beta\, y_i (1 - y_i) & i = j \\
            -\beta\, y_j y_i      & i \neq j
        \end{cases}

    Parameters
    ----------
    y : array_like, shape (n,)
        The output ``softmax(x, beta)``.
    j : int
        Index of the output being differentiated, ``0 <= j < n``.
    i : int
        Index of the input it is differentiated with respect to, ``0 <= i < n``.
    beta : float, optional
        The inverse temperature ``y`` was computed with.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``y`` is not one-dimensional or holds a value that is not finite.
    IndexError
        If ``j`` or ``i`` is out of range.
    TypeError
        If ``y`` is not numeric or is a numpy masked array (masks are not read: fill the masked entries
        first, e.g. ``x.filled(-np.inf)``, which softmax gives probability 0).

    See Also
    --------
    softmax_jacobian : all the partials at once.

    Examples
    --------
    >>> from softmax_lib import softmax, softmax_partial
    >>> y = softmax([1.0, 2.0, 3.0])
    >>> round(softmax_partial(y, 2, 2), 6)     # beta * y_2 * (1 - y_2)
    0.222695
    >>> round(softmax_partial(y, 2, 0), 6)     # -beta * y_2 * y_0
    -0.059892
    """
    yy = as_float_array(y, "y")
    beta = check_beta(beta)
    if yy.ndim != 1:
        raise ValueError(f"y must be a one-dimensional softmax output, got shape {yy.shape}")
    if not np.isfinite(yy).all():
        bad = int(np.flatnonzero(~np.isfinite(yy))[0])
        raise ValueError(f"y[{bad}] = {yy[bad]} is not finite")
    j = _check_index(j, yy.size, "j")
    i = _check_index(i, yy.size, "i")
    # in Python floats: a float32 y would otherwise turn a beta beyond its range into inf
    yi, yj = float(yy[i]), float(yy[j])
    if i == j:
        return beta * yi * (1.0 - yi)
    return -beta * yj * yi


def softmax_jacobian(x: ArrayLike, beta: float = 1.0) -> np.ndarray:
    r"""The Jacobian of softmax over the last axis of ``x``.

    .. math::

        J_{ji} = \frac{\partial y_j}{\partial x_i}, \qquad
        J = \beta \left(\operatorname{diag}(y) - y y^\top\right),
        \quad y = \operatorname{softmax}(\beta x)

    Parameters
    ----------
    x : array_like, shape (..., n)
        Logits; leading axes are a batch.
    beta : float, optional
        Inverse temperature.

    Returns
    -------
    numpy.ndarray, shape (..., n, n)
        ``J[..., j, i]`` is the derivative of output ``j`` with respect to
        input ``i``.

    Raises
    ------
    ValueError, TypeError
        As :func:`softmax` (a numpy masked array is a TypeError).

    Notes
    -----
    Building J costs O(n^2) memory and time. To backpropagate, use
    :func:`softmax_vjp`, which costs O(n).

    See Also
    --------
    softmax_partial : one entry of J.
    softmax_vjp : the product ``grad @ J`` without building J.
    numerical_jacobian : the finite-difference check.

    Examples
    --------
    >>> from softmax_lib import softmax_jacobian
    >>> softmax_jacobian([0.0, 0.0])
    array([[ 0.25, -0.25],
           [-0.25,  0.25]])
    """
    y = _softmax(x, beta, -1, False, "softmax_jacobian")
    beta = float(beta)
    jac = np.multiply(y[..., :, None], y[..., None, :])
    diag = np.einsum("...ii->...i", jac)  # a writable view of the diagonal
    if _kernel.beta_fits(beta, jac.dtype):
        jac *= -beta
        diag += beta * y
        return jac
    # beta beyond float32 / float16: diag(y) - y y^T first, then beta as two exact factors
    # (scale); every entry is then at most |beta| / 4 ... |beta| in size, and may overflow
    with _kernel.quiet():
        np.negative(jac, out=jac)
        diag += y
        _kernel.scale(jac, beta)
    if not np.isfinite(jac).all():
        raise ValueError(f"softmax_jacobian: beta={beta} times diag(y) - y y^T overflows {jac.dtype}")
    return jac


def _careful_vjp(y: np.ndarray, g: np.ndarray, out: np.ndarray, beta: float,
                 other: tuple[int, ...], axis: int) -> None:
    """The VJP's slow path, taken when the cheap check found a non-finite value.

    ``y``, ``g`` and ``out`` are 2-D rows (one per slice; ``other`` is the
    shape of the other axes). A slice of y or g holding NaN or an infinite
    value is a ValueError naming the slice. Else ``g - <g, y>`` overflowed
    although every input is finite: those rows are computed again from
    ``g / 4`` and the result multiplied by 4 (both exact for every float that
    is not subnormal), which cannot overflow where the exact answer is finite
    (``|g - <g, y>| <= 2 max |g|`` for a probability vector y). A row that is
    still not finite is a ValueError naming the slice: y there is not a
    probability vector, or the exact result itself overflows the dtype.
    """
    bad = ~(np.isfinite(y).all(axis=1) & np.isfinite(g).all(axis=1))
    if bad.any():
        where = _kernel.describe_slice(other, int(np.flatnonzero(bad)[0]), axis, "y")
        raise ValueError(
            f"softmax_vjp: {where} of y or grad holds NaN or an infinite value, "
            "so <grad, y> is not finite"
        )
    rows = np.flatnonzero(~np.isfinite(out).all(axis=1))
    if not rows.size:
        return
    redo = _kernel.vjp_block(y[rows], g[rows] * 0.25, None, beta, -1)[0]
    redo *= 4.0
    out[rows] = redo
    still = rows[~np.isfinite(redo).all(axis=1)]
    if still.size:
        k = int(still[0])
        where = _kernel.describe_slice(other, k, axis, "y")
        yk = y[k]
        total = float(np.sum(yk, dtype=np.float64))
        if (yk < 0).any() or (yk > 1).any() or abs(total - 1.0) > 1e-3:
            raise ValueError(
                f"softmax_vjp: {where} is not a probability vector (entries in [0, 1] summing to "
                f"1; its sum is {total:.6g}), and beta * y * (grad - <grad, y>) is not finite there"
            )
        raise ValueError(
            f"softmax_vjp: beta * y * (grad - <grad, y>) overflows {out.dtype} at {where} "
            f"(beta={beta}): the exact result is beyond the dtype's range"
        )


def softmax_vjp(y: ArrayLike, grad: ArrayLike, beta: float = 1.0, axis: int = -1) -> np.ndarray:
    r"""Backpropagate through softmax: :math:`\partial L/\partial x` from the saved output and :math:`\partial L/\partial y`.

    .. math::

        \frac{\partial L}{\partial x} = g^\top J
        = \beta\, y \odot \left(g - \langle g, y \rangle\right),
        \qquad g = \frac{\partial L}{\partial y}

    Parameters
    ----------
    y : array_like
        The forward output ``softmax(x, beta, axis)``.
    grad : array_like
        The upstream gradient ``g``, of the same shape as ``y``.
    beta : float, optional
        The inverse temperature of the forward pass.
    axis : int, optional
        The softmax axis of the forward pass.

    Returns
    -------
    numpy.ndarray
        ``dL/dx``, of the shape of ``y``.

    Raises
    ------
    ValueError
        If the shapes differ, or a slice holds a value that is NaN or
        infinite (the message names the slice).
    TypeError
        If an input is not numeric, ``beta`` is not a real number, or an
        input is a numpy masked array (masks are not read: fill the masked entries
        first, e.g. ``x.filled(-np.inf)``, which softmax gives probability 0).

    Notes
    -----
    J is never built: the product takes O(n) time and memory per slice,
    where ``grad @ softmax_jacobian(x)`` takes O(n^2). A finite exact
    answer comes back finite: where ``g - <g, y>`` would overflow (``g``
    near the largest float), the slice is computed again from ``g / 4`` and
    the result multiplied by 4, both exact. Large arrays go through the
    blocked, threaded path, with the same bits.

    See Also
    --------
    softmax_jacobian : the matrix this multiplies by, built explicitly.
    cross_entropy_grad : the gradient of softmax followed by cross-entropy.

    Examples
    --------
    >>> from softmax_lib import softmax, softmax_vjp
    >>> y = softmax([1.0, 2.0, 3.0])
    >>> softmax_vjp(y, [0.0, 0.0, 1.0])       # the gradient of y_2 alone
    array([-0.05989202, -0.1628034 ,  0.22269543])
    """
    yy = as_float_array(y, "y")
    g = as_float_array(grad, "grad")
    beta = check_beta(beta)
    if yy.shape != g.shape:
        raise ValueError(f"y and grad must have the same shape, got {yy.shape} and {g.shape}")
    axis = check_axis(yy, axis, "y")
    _fast.check_threads()
    if g.dtype != yy.dtype:
        common = np.result_type(yy, g)
        yy, g = yy.astype(common, copy=False), g.astype(common, copy=False)
    if yy.size == 0:
        return np.zeros_like(yy)
    if (yy.nbytes < _fast.MIN_BYTES and axis == yy.ndim - 1 and yy.flags.c_contiguous
            and g.flags.c_contiguous):
        # small and contiguous: one kernel call, no reshaping; an overflow raises
        token = _kernel.enter(_kernel.state_for_rows(_kernel.WATCH, yy.shape[-1])
                              if yy.ndim > 1 else _kernel.WATCH)
        try:
            out, dot = _kernel.vjp_block(yy, g, None, beta, -1)
            if math.isfinite(dot.item() if dot.size == 1 else np.add.reduce(dot, axis=None)):
                return out
        except FloatingPointError:
            pass
        finally:
            _kernel.leave(token)
        n = yy.shape[-1]
        with _kernel.quiet():
            out = _kernel.vjp_block(yy, g, None, beta, -1)[0]
            _careful_vjp(yy.reshape(-1, n), g.reshape(-1, n), out.reshape(-1, n), beta,
                         yy.shape[:-1], axis)
        return out
    rows_y, moved = as_rows(yy, axis)
    rows_g, _ = as_rows(g, axis)
    out = np.empty_like(rows_y)
    with _kernel.quiet():
        if _fast.applies(rows_y):  # large arrays: blocked and threaded, the same bits
            check = _fast.vjp_rows(rows_y, rows_g, out, beta, _fast.num_threads())
        else:
            check = _kernel.vjp_check(_kernel.vjp_block(rows_y, rows_g, out, beta, -1)[0])
        if not math.isfinite(check):
            _careful_vjp(rows_y, rows_g, out, beta, yy.shape[:axis] + yy.shape[axis + 1:], axis)
    return from_rows(out, yy.shape, moved, axis)


def softmax_beta_grad(x: ArrayLike, beta: float = 1.0, axis: int = -1) -> np.ndarray:
    r"""The derivative of ``softmax(x, beta)`` with respect to the inverse temperature.

    .. math::

        \frac{\partial y}{\partial \beta} = y \odot \left(x - \langle y, x \rangle\right),
        \qquad y = \operatorname{softmax}(\beta x)

    Each output moves by how far its logit lies above the probability-weighted
    mean logit :math:`\langle y, x \rangle`; the entries of a slice sum to zero.

    Parameters
    ----------
    x : array_like
        Logits.
    beta : float, optional
        Inverse temperature.
    axis : int, optional
        The softmax axis.

    Returns
    -------
    numpy.ndarray
        ``dy/dbeta``, of the shape of ``x``.

    Raises
    ------
    ValueError, TypeError
        As :func:`softmax` (a numpy masked array is a TypeError).

    Notes
    -----
    Because y depends on x and beta only through ``beta * x``, the result
    equals ``softmax_jacobian(x, beta) @ x / beta`` for ``beta != 0``; this
    function costs O(n) per slice and also covers ``beta = 0``. A masked
    entry (``x_j = -inf`` with ``beta > 0``) has ``y_j = 0`` and derivative 0.
    It is computed from halves, ``2 y (x/2 - <y, x/2>)``, the same bits
    except for subnormals, so that a finite exact answer comes back finite
    even where ``x - <y, x>`` overflows.

    See Also
    --------
    softmax : the function differentiated.
    softmax_jacobian : the derivative with respect to x.

    Examples
    --------
    >>> from softmax_lib import softmax_beta_grad
    >>> softmax_beta_grad([0.0, 1.0])        # y = (0.269, 0.731), <y, x> = 0.731
    array([-0.19661193,  0.19661193])
    >>> softmax_beta_grad([1.0, 2.0, 3.0], beta=0.0)   # (x - mean x) / n at beta = 0
    array([-0.33333333,  0.        ,  0.33333333])
    """
    xx = as_float_array(x)
    y = _softmax(xx, beta, axis, False, "softmax_beta_grad")
    axis = check_axis(xx, axis)
    # From halves: y (x/2 - <y, x/2>) * 2 is y (x - <y, x>) to the last bit (halving is
    # exact), but x/2 - <y, x/2> cannot overflow where x - <y, x> would (1.7e308 - -1.5e308).
    # y_j x_j is 0 where y_j is 0, also for a masked x_j = -inf (0 * inf is NaN otherwise).
    # One array besides y and the output: x/2 is formed twice rather than kept.
    with _kernel.quiet():
        dead = y == 0
        out = np.multiply(xx, 0.5, dtype=y.dtype)
        np.multiply(out, y, out=out)
        np.copyto(out, 0.0, where=dead)
        mean = np.sum(out, axis=axis, keepdims=True)
        np.multiply(xx, 0.5, out=out, dtype=y.dtype)
        np.subtract(out, mean, out=out)
        np.multiply(out, y, out=out)
        np.copyto(out, 0.0, where=dead)
        out *= 2.0
    return out

