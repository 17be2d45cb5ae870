"""Cross-entropy on top of softmax, and its gradient: chapter "Backpropagation through softmax"."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import _kernel
from ._checks import as_float_array, check_axis, check_beta, reject_masked
from ._softmax import _softmax


def _target(target: ArrayLike, x: np.ndarray) -> tuple[np.ndarray, bool]:
    """The checked target and whether it holds class indices (intp, shape ``x.shape[:-1] + (1,)``).

    Indices are never expanded to one-hot vectors: the losses gather with them.
    """
    reject_masked(target, "target")
    t = np.asarray(target)
    n = x.shape[-1]
    if t.dtype.kind in "iu" and t.shape == x.shape[:-1]:
        if t.size and (t.min() < 0 or t.max() >= n):
            bad = np.argwhere((t < 0) | (t >= n))[0]
            where = f" at {tuple(int(i) for i in bad)}" if t.ndim else ""
            raise ValueError(f"target{where} is the class index {t[tuple(bad)]}, outside 0..{n - 1}")
        return t.astype(np.intp)[..., None], True
    if t.shape == x.shape:
        tt = as_float_array(t, "target")
        if not np.isfinite(tt).all() or (tt < 0).any():
            raise ValueError("target probabilities must be finite and non-negative")
        sums = tt.sum(axis=-1)
        if not np.allclose(sums, 1.0, rtol=0, atol=1e-6):
            bad = np.argwhere(~np.isclose(sums, 1.0, rtol=0, atol=1e-6))[0]
            raise ValueError(
                f"target probabilities must sum to 1 over the last axis; "
                f"the slice at {tuple(int(i) for i in bad)} sums to {sums[tuple(bad)]}"
            )
        return tt, False
    raise ValueError(
        f"target must be integer class indices of shape {x.shape[:-1]} or probability "
        f"vectors of shape {x.shape}, got dtype {t.dtype} and shape {t.shape}"
    )


def _check_logits(x: ArrayLike) -> np.ndarray:
    xx = as_float_array(x)
    check_axis(xx, -1)
    return xx


def cross_entropy(x: ArrayLike, target: ArrayLike, beta: float = 1.0) -> np.ndarray:
    r"""Cross-entropy of ``softmax(beta * x)`` against a target, per sample.

    .. math:: L = -\sum_k t_k \log y_k, \qquad y = \operatorname{softmax}(\beta x)

    Parameters
    ----------
    x : array_like, shape (..., n)
        Logits; classes along the last axis.
    target : array_like
        Integer class indices of shape ``x.shape[:-1]``, or probability
        vectors of the shape of ``x``.
    beta : float, optional
        Inverse temperature.

    Returns
    -------
    numpy.ndarray, shape ``x.shape[:-1]``
        One loss per sample (a 0-d array for a single sample).

    Raises
    ------
    ValueError
        For a target of the wrong shape, a class index out of range,
        probabilities that are negative or do not sum to 1, and the bad
        logits :func:`softmax` refuses.
    TypeError
        If ``x`` or ``target`` is not numeric, or is a numpy masked array (masks are not read: fill the masked entries
        first, e.g. ``x.filled(-np.inf)``, which softmax gives probability 0).

    Notes
    -----
    The loss is computed from :func:`log_softmax`, so it stays finite for
    extreme logits. Terms with ``t_k = 0`` are left out, so a masked logit
    (``-inf``) costs nothing unless the target puts mass on it.

    See Also
    --------
    cross_entropy_grad : its gradient.
    log_softmax : what it is computed from.

    Examples
    --------
    >>> from softmax_lib import cross_entropy
    >>> cross_entropy([[1000.0, -1000.0]], [1])
    array([2000.])
    >>> float(cross_entropy([0.0, 0.0], 0))       # log 2
    0.6931471805599453
    """
    xx = _check_logits(x)
    t, indices = _target(target, xx)
    logp = _softmax(xx, beta, -1, True, "cross_entropy")
    if indices:
        return -np.take_along_axis(logp, t, axis=-1)[..., 0]
    if t.dtype != logp.dtype:  # float64 probabilities for float32 logits: a float64 loss
        logp = logp.astype(np.result_type(logp, t))
    with _kernel.quiet():  # 0 * -inf for a masked logit with t_k = 0, set to 0 below
        np.multiply(logp, t, out=logp)
        np.copyto(logp, 0.0, where=t == 0)
    return -logp.sum(axis=-1)


def cross_entropy_grad(x: ArrayLike, target: ArrayLike, beta: float = 1.0) -> np.ndarray:
    r"""Gradient of :func:`cross_entropy` with respect to the logits.

    .. math:: \frac{\partial L}{\partial x} = \beta\,(y - t), \qquad y = \operatorname{softmax}(\beta x)

    Parameters and errors are those of :func:`cross_entropy` (a numpy masked
    array is a TypeError); class indices are read as one-hot vectors ``t``.

    Returns
    -------
    numpy.ndarray
        Of the shape of ``x``; each sample's gradient is that of its own loss.

    See Also
    --------
    cross_entropy : the loss.
    softmax_vjp : the general backward pass through softmax.

    Examples
    --------
    >>> from softmax_lib import cross_entropy_grad
    >>> cross_entropy_grad([0.0, 0.0], 1)
    array([ 0.5, -0.5])
    """
    xx = _check_logits(x)
    beta = check_beta(beta)
    t, indices = _target(target, xx)
    grad = _softmax(xx, beta, -1, False, "cross_entropy_grad")
    if indices:
        np.put_along_axis(grad, t, np.take_along_axis(grad, t, axis=-1) - 1.0, axis=-1)
    elif t.dtype == grad.dtype:
        np.subtract(grad, t, out=grad)
    else:  # float64 probabilities for float32 logits: a float64 gradient
        grad = grad - t
    with _kernel.quiet():  # scale(): beta is not cast to inf where it exceeds the dtype
        _kernel.scale(grad, beta)
    # |y - t| <= 1: only a beta beyond the dtype's range can overflow
    if not _kernel.beta_fits(beta, grad.dtype) and not np.isfinite(grad).all():
        raise ValueError(f"cross_entropy_grad: beta={beta} times y - t overflows {grad.dtype}")
    return grad
