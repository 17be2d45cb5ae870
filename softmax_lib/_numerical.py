"""Finite differences, the independent check every derivation in the book is held to."""

from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.typing import ArrayLike

from ._checks import as_float_array, reject_masked


def numerical_jacobian(
    f: Callable[[np.ndarray], ArrayLike], x: ArrayLike, eps: float = 1e-6
) -> np.ndarray:
    r"""Jacobian of ``f`` at ``x`` by central differences.

    .. math::

        \frac{\partial f_p}{\partial x_q} \approx
        \frac{f_p(x + h e_q) - f_p(x - h e_q)}{(x_q + h) - (x_q - h)},
        \qquad h = \texttt{eps}

    The denominator is the step actually taken, which is ``2 h`` unless
    ``x_q + h`` or ``x_q - h`` rounds. The truncation error is O(h^2) and the
    rounding error O(epsilon / h), with epsilon the machine epsilon, so steps
    near 1e-5 to 1e-6 are best in float64.

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
        If ``eps`` is not a positive finite number (a bool is refused) or is
        lost to rounding at some entry (``x + eps == x``: the quotient would
        be 0), if ``x`` holds NaN or an infinite value, or if ``f`` returns
        NaN at one of the points it is called at; the message names the entry.
    TypeError
        If ``x`` is not numeric, or if ``x`` or a value ``f`` returns is a
        numpy masked array.

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
    if (isinstance(eps, (bool, np.bool_)) or not isinstance(eps, (int, float, np.integer, np.floating))
            or not np.isfinite(eps) or not eps > 0):
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")
    x0 = as_float_array(x).astype(np.float64)
    _refuse(x0, "x", np.isnan, "NaN")
    _refuse(x0, "x", np.isinf, "infinite: no step around it is finite")
    eps = float(eps)
    # the step actually taken, entry by entry: (x + eps) - (x - eps) is exact, and differs
    # from 2 eps wherever x + eps or x - eps rounded
    steps = (x0 + eps) - (x0 - eps)
    lost = ((x0 + eps) == x0) | ((x0 - eps) == x0)
    if lost.any():
        where = tuple(int(i) for i in np.argwhere(lost)[0])
        at = f"[{', '.join(map(str, where))}]" if where else ""
        raise ValueError(
            f"eps={eps!r} is lost to rounding at x{at} = {x0[where]!r}: x + eps == x there, "
            "so the difference quotient would be 0; take a larger eps"
        )

    def call(point: np.ndarray, what: str) -> np.ndarray:
        value = f(point.reshape(x0.shape))
        reject_masked(value, f"f({what})")
        value = np.asarray(value, dtype=np.float64)
        _refuse(value, f"f({what})", np.isnan, "NaN")
        return value

    flat, steps = x0.reshape(-1), steps.reshape(-1)
    f0 = call(flat.copy(), "x")
    jac = np.empty(f0.shape + x0.shape)
    for q in range(flat.size):
        plus, minus = flat.copy(), flat.copy()
        plus[q] += eps
        minus[q] -= eps
        jac[(...,) + np.unravel_index(q, x0.shape)] = (
            call(plus, f"x + eps e_{q}") - call(minus, f"x - eps e_{q}")) / steps[q]
    return jac


def _refuse(arr: np.ndarray, name: str, test, what: str) -> None:
    """Raise ValueError naming ``name`` and the first position where ``test(arr)`` holds."""
    bad = test(arr)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        at = f"[{', '.join(map(str, where))}]" if where else ""
        raise ValueError(f"{name}{at} is {what}")
