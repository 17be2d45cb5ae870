"""Finite differences, the independent check every derivation in the book is held to."""

from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.typing import ArrayLike

from ._checks import as_float_array


def numerical_jacobian(
    f: Callable[[np.ndarray], ArrayLike], x: ArrayLike, eps: float = 1e-6
) -> np.ndarray:
    r"""Jacobian of ``f`` at ``x`` by central differences.

    .. math::

        \frac{\partial f_p}{\partial x_q} \approx
        \frac{f_p(x + \varepsilon e_q) - f_p(x - \varepsilon e_q)}{2 \varepsilon}

    The truncation error is O(eps^2) and the rounding error O(u / eps), with
    u the unit roundoff, so steps near 1e-5 to 1e-6 are best in float64.

    Parameters
    ----------
    f : callable
        Maps an array of the shape of ``x`` to an array (or a scalar).
    x : array_like
        The point; converted to float64.
    eps : float, optional
        The step, a positive finite number.

    Returns
    -------
    numpy.ndarray, shape ``f(x).shape + x.shape``
        Entry ``[p..., q...]`` approximates the derivative of ``f(x)[p...]``
        with respect to ``x[q...]``.

    Examples
    --------
    >>> import numpy as np
    >>> from softmax_lib import numerical_jacobian
    >>> J = numerical_jacobian(lambda v: v ** 2, np.array([1.0, 3.0]))
    >>> np.round(J, 6)
    array([[2., 0.],
           [0., 6.]])
    """
    if not (isinstance(eps, (int, float, np.floating)) and np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")
    x0 = as_float_array(x).astype(np.float64)
    f0 = np.asarray(f(x0.copy()), dtype=np.float64)
    jac = np.empty(f0.shape + x0.shape)
    flat = x0.reshape(-1)
    for q in range(flat.size):
        step = np.zeros_like(flat)
        step[q] = eps
        plus = np.asarray(f((flat + step).reshape(x0.shape)), dtype=np.float64)
        minus = np.asarray(f((flat - step).reshape(x0.shape)), dtype=np.float64)
        jac[(...,) + np.unravel_index(q, x0.shape)] = (plus - minus) / (2 * eps)
    return jac
