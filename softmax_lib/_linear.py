"""A linear layer y = W x + b and its gradients: chapter "The chain rule and a linear layer"."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._checks import as_float_array, refuse_nan


def _check_layer(x: np.ndarray, W: np.ndarray) -> None:
    if W.ndim != 2:
        raise ValueError(f"W must be a matrix of shape (m, n), got shape {W.shape}")
    if x.ndim not in (1, 2):
        raise ValueError(f"x must have shape (n,) or (batch, n), got shape {x.shape}")
    if x.shape[-1] != W.shape[1]:
        raise ValueError(
            f"x of shape {x.shape} does not fit W of shape {W.shape}: "
            f"x has {x.shape[-1]} entries per sample, W expects n = {W.shape[1]}"
        )


def linear(x: ArrayLike, W: ArrayLike, b: ArrayLike) -> np.ndarray:
    r"""The linear layer :math:`y = W x + b`.

    Parameters
    ----------
    x : array_like, shape (n,) or (batch, n)
        One input, or a batch of inputs as rows.
    W : array_like, shape (m, n)
        Weights.
    b : array_like, shape (m,)
        Bias.

    Returns
    -------
    numpy.ndarray, shape (m,) or (batch, m)
        For a batch, row ``s`` is ``W @ x[s] + b``, that is ``X W^T + b``.

    Raises
    ------
    ValueError
        If the shapes do not fit (the message names them), or an input holds
        NaN (the message names the input and the position).
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
    xx, WW, bb = as_float_array(x, "x"), as_float_array(W, "W"), as_float_array(b, "b")
    _check_layer(xx, WW)
    for arr, name in ((xx, "x"), (WW, "W"), (bb, "b")):
        refuse_nan(arr, name)
    if bb.shape != (WW.shape[0],):
        raise ValueError(f"b must have shape (m,) = ({WW.shape[0]},) to match W of shape {WW.shape}, got {bb.shape}")
    return xx @ WW.T + bb


def linear_backward(
    x: ArrayLike, W: ArrayLike, grad_y: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients of a scalar loss through :math:`y = W x + b`.

    With :math:`g = \partial L / \partial y` (``grad_y``), the upstream gradient:

    .. math::

        \frac{\partial L}{\partial W} = g\, x^\top, \qquad
        \frac{\partial L}{\partial b} = g, \qquad
        \frac{\partial L}{\partial x} = W^\top g

    For a batch (rows of ``X`` and of ``G = grad_y``) the loss is the sum of
    the per-sample losses: ``grad_W = G^T X``, ``grad_b`` is ``G`` summed over
    the batch, and ``grad_x = G W`` holds one row per sample.

    Parameters
    ----------
    x : array_like, shape (n,) or (batch, n)
        The layer's input.
    W : array_like, shape (m, n)
        The layer's weights.
    grad_y : array_like, shape (m,) or (batch, m)
        The upstream gradient, shaped like the layer's output.

    Returns
    -------
    grad_W : numpy.ndarray, shape (m, n)
    grad_b : numpy.ndarray, shape (m,)
    grad_x : numpy.ndarray, shaped like ``x``

    Raises
    ------
    ValueError
        If the shapes do not fit (the message names them), or an input holds
        NaN (the message names the input and the position).
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
    >>> gW, gb, gx = linear_backward([1.0, 2.0], [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [1.0, 0.0, -1.0])
    >>> gW
    array([[ 1.,  2.],
           [ 0.,  0.],
           [-1., -2.]])
    >>> gb
    array([ 1.,  0., -1.])
    >>> gx
    array([ 0., -1.])
    """
    xx, WW, gg = as_float_array(x, "x"), as_float_array(W, "W"), as_float_array(grad_y, "grad_y")
    _check_layer(xx, WW)
    for arr, name in ((xx, "x"), (WW, "W"), (gg, "grad_y")):
        refuse_nan(arr, name)
    expected = xx.shape[:-1] + (WW.shape[0],)
    if gg.shape != expected:
        raise ValueError(
            f"grad_y must have the shape of the layer's output {expected} "
            f"(x {xx.shape}, W {WW.shape}), got {gg.shape}"
        )
    if xx.ndim == 1:
        grad_W = np.outer(gg, xx)
        grad_b = gg.copy()
    else:
        grad_W = gg.T @ xx
        grad_b = gg.sum(axis=0)
    grad_x = gg @ WW
    return grad_W, grad_b, grad_x
