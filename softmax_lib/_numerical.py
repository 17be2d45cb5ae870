"""Finite differences, the independent check every derivation in the book is held to."""

from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.typing import ArrayLike

from ._checks import as_float_array, refuse_nan


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

    Raises
    ------
    ValueError
        If ``eps`` is not a positive finite number or is lost to rounding at
        some entry (``x + eps == x``: the quotient would be 0), if ``x`` holds
        NaN, or if ``f`` returns NaN at one of the points it is called at;
        the message names the entry.
    TypeError
        If ``x`` is not numeric, or is a numpy masked array.

    See Also
    --------
    softmax_jacobian : the exact Jacobian of softmax, which this checks.

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
    refuse_nan(x0, "x")
    eps = float(eps)
    lost = ((x0 + eps) == x0) | ((x0 - eps) == x0)
    if lost.any():
        where = tuple(int(i) for i in np.argwhere(lost)[0])
        at = f"[{', '.join(map(str, where))}]" if where else ""
        raise ValueError(
            f"eps={eps!r} is lost to rounding at x{at} = {x0[where]!r}: x + eps == x there, "
            "so the difference quotient would be 0; take a larger eps"
        )

    def call(point: np.ndarray, what: str) -> np.ndarray:
        value = np.asarray(f(point.reshape(x0.shape)), dtype=np.float64)
        refuse_nan(value, f"f({what})")
        return value

    flat = x0.reshape(-1)
    f0 = call(flat.copy(), "x")
    jac = np.empty(f0.shape + x0.shape)
    for q in range(flat.size):
        step = np.zeros_like(flat)
        step[q] = eps
        plus = call(flat + step, f"x + eps e_{q}")
        minus = call(flat - step, f"x - eps e_{q}")
        jac[(...,) + np.unravel_index(q, x0.shape)] = (plus - minus) / (2 * eps)
    return jac
