"""A linear layer x = W a + b and its gradients: chapter "The chain rule and a linear layer"."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import _kernel
from ._checks import as_float_array, refuse_nonfinite


def _check_layer(caller: str, a: np.ndarray, W: np.ndarray) -> None:
    if W.ndim != 2:
        raise ValueError(f"{caller}: W must be a matrix of shape (n, d), got shape {W.shape}")
    if a.ndim not in (1, 2):
        raise ValueError(f"{caller}: a must have shape (d,) or (N, d), got shape {a.shape}")
    if a.shape[-1] != W.shape[1]:
        raise ValueError(
            f"{caller}: a of shape {a.shape} does not fit W of shape {W.shape}: "
            f"a has {a.shape[-1]} entries per sample, W expects d = {W.shape[1]}"
        )


def _finite_result(caller: str, what: str, value: np.ndarray) -> np.ndarray:
    """``value``, computed from finite inputs inside ``quiet()``; non-finite means it overflowed."""
    if not np.isfinite(value).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
        raise ValueError(
            f"{caller}: {what} overflows {value.dtype} at index {where} although every input "
            "is finite; rescale the inputs"
        )
    return value


def linear(a: ArrayLike, W: ArrayLike, b: ArrayLike) -> np.ndarray:
    r"""The linear layer :math:`x = W a + b`, whose output ``x`` is the logits.

    Parameters
    ----------
    a : array_like, shape (d,) or (N, d)
        One input, or a batch of ``N`` inputs as rows.
    W : array_like, shape (n, d)
        Weights.
    b : array_like, shape (n,)
        Bias.

    Returns
    -------
    numpy.ndarray, shape (n,) or (N, n)
        For a batch, row ``s`` is ``W @ a[s] + b``, that is ``A W^T + b``.

    Raises
    ------
    ValueError
        If the shapes do not fit (the message names them), if an input holds
        NaN or an infinite value (the message names the input and the
        position), or if the result overflows although every input is
        finite.
    TypeError
        If an input is not numeric, or is a numpy masked array (fill the
        masked entries first).

    See Also
    --------
    linear_backward : its gradients.

    Examples
    --------
    >>> from softmax_lib import linear
    >>> linear([1.0, 2.0], [[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]], [0.0, 0.5, -1.0])
    array([1. , 3.5, 3. ])
    """
    aa, WW, bb = as_float_array(a, "a"), as_float_array(W, "W"), as_float_array(b, "b")
    _check_layer("linear", aa, WW)
    if bb.shape != (WW.shape[0],):
        raise ValueError(
            f"linear: b must have shape (n,) = ({WW.shape[0]},) to match W of shape {WW.shape}, "
            f"got {bb.shape}"
        )
    for arr, name in ((aa, "a"), (WW, "W"), (bb, "b")):
        refuse_nonfinite(arr, name, "linear")
    with _kernel.quiet():
        x = aa @ WW.T + bb
    return _finite_result("linear", "the output x = W a + b", x)


def linear_backward(
    a: ArrayLike, W: ArrayLike, grad: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients of a scalar loss through :math:`x = W a + b`.

    ``grad`` is :math:`\partial L / \partial x`, the gradient of the loss with
    respect to the layer's output ``x``:

    .. math::

        \frac{\partial L}{\partial W} = \frac{\partial L}{\partial x}\, a^\top, \qquad
        \frac{\partial L}{\partial b} = \frac{\partial L}{\partial x}, \qquad
        \frac{\partial L}{\partial a} = W^\top \frac{\partial L}{\partial x}

    For a batch (rows of ``A`` and of ``G = grad``) the loss is the sum of
    the per-sample losses: ``grad_W = G^T A``, ``grad_b`` is ``G`` summed over
    the batch, and ``grad_a = G W`` holds one row per sample.

    Parameters
    ----------
    a : array_like, shape (d,) or (N, d)
        The layer's input.
    W : array_like, shape (n, d)
        The layer's weights.
    grad : array_like, shape (n,) or (N, n)
        The gradient of the loss with respect to the layer's output ``x``,
        shaped like ``x``.

    Returns
    -------
    grad_W : numpy.ndarray, shape (n, d)
    grad_b : numpy.ndarray, shape (n,)
    grad_a : numpy.ndarray, shaped like ``a``

    Raises
    ------
    ValueError
        If the shapes do not fit (the message names them), if an input holds
        NaN or an infinite value (the message names the input and the
        position), or if a gradient overflows although every input is
        finite.
    TypeError
        If an input is not numeric, or is a numpy masked array (fill the
        masked entries first).

    See Also
    --------
    linear : the forward pass.
    numerical_jacobian : the finite-difference check.

    Examples
    --------
    >>> from softmax_lib import linear_backward
    >>> gW, gb, ga = linear_backward([1.0, 2.0], [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [1.0, 0.0, -1.0])
    >>> gW
    array([[ 1.,  2.],
           [ 0.,  0.],
           [-1., -2.]])
    >>> gb
    array([ 1.,  0., -1.])
    >>> ga
    array([ 0., -1.])
    """
    caller = "linear_backward"
    aa, WW, gg = as_float_array(a, "a"), as_float_array(W, "W"), as_float_array(grad, "grad")
    _check_layer(caller, aa, WW)
    expected = aa.shape[:-1] + (WW.shape[0],)
    if gg.shape != expected:
        raise ValueError(
            f"{caller}: grad must have the shape of the layer's output x, {expected} "
            f"(a {aa.shape}, W {WW.shape}), got {gg.shape}"
        )
    for arr, name in ((aa, "a"), (WW, "W"), (gg, "grad")):
        refuse_nonfinite(arr, name, caller)
    with _kernel.quiet():
        if aa.ndim == 1:
            grad_W = np.outer(gg, aa)
            grad_b = gg.copy()
        else:
            grad_W = gg.T @ aa
            grad_b = gg.sum(axis=0)
        grad_a = gg @ WW
    return (_finite_result(caller, "grad_W", grad_W), _finite_result(caller, "grad_b", grad_b),
            _finite_result(caller, "grad_a", grad_a))
