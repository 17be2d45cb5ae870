"""Second derivatives: log-sum-exp, the Hessian of softmax and of cross-entropy.

Chapter "Second derivatives". Log-sum-exp is the function whose gradient is
softmax, so its Hessian is the softmax Jacobian; softmax's own second
derivative is a third-order tensor, which :func:`softmax_second_directional`
contracts with two directions in O(n) without ever forming it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._checks import as_float_array, check_axis, check_beta
from ._losses import cross_entropy_grad
from ._softmax import log_softmax, softmax


def _sum_of_others(y: np.ndarray) -> np.ndarray:
    """``1 - y_i`` along the last axis, computed as the sum of the other entries.

    ``1 - y_i`` itself loses every digit when ``y_i`` is close to 1 (a confident
    prediction), while the sum of the other, small entries keeps full relative
    accuracy. Exclusive prefix plus suffix sums give it in O(n).
    """
    zero = np.zeros(y.shape[:-1] + (1,), dtype=y.dtype)
    before = np.cumsum(np.concatenate([zero, y[..., :-1]], axis=-1), axis=-1)
    after = np.cumsum(np.concatenate([zero, y[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return before + after


def _covariance(y: np.ndarray) -> np.ndarray:
    """``diag(y) - y y^T`` over the last axis, with the diagonal as ``y_i`` times the others' sum."""
    cov = np.multiply(y[..., :, None], y[..., None, :])
    cov *= -1.0
    diag = np.einsum("...ii->...i", cov)
    diag[...] = y * _sum_of_others(y)
    return cov


def log_sum_exp(x: ArrayLike, beta: float = 1.0, axis: int = -1) -> np.ndarray:
    r"""Log-sum-exp with an inverse temperature, the soft maximum of ``x`` along ``axis``.

    .. math:: \operatorname{LSE}_\beta(x) = \frac{1}{\beta} \log \sum_k \exp(\beta x_k)

    Its gradient is ``softmax(x, beta)`` and its Hessian is the softmax
    Jacobian (see :func:`softmax_lib.softmax_jacobian`).

    Parameters
    ----------
    x : array_like
        Logits; ``-inf`` entries (for ``beta > 0``; ``+inf`` for ``beta < 0``)
        contribute nothing, like masked logits in :func:`softmax`.
    beta : float, optional
        Inverse temperature, any finite real except 0. ``beta < 0`` gives a
        soft *minimum*.
    axis : int, optional
        The axis that is reduced (the last by default).

    Returns
    -------
    numpy.ndarray
        ``x.shape`` without ``axis`` (a 0-d array for 1-d input), in the dtype
        :func:`softmax` returns.

    Raises
    ------
    ValueError
        If ``beta`` is 0 or not finite, if the axis is empty, and for the bad
        logits :func:`softmax` refuses (NaN, an entry that is +inf after
        scaling by ``beta``, a slice with every entry masked).
    TypeError
        If ``x`` is not numeric or ``beta`` is not a real number.

    Notes
    -----
    At ``beta = 0`` the function is undefined and has no limit: for small
    ``beta`` it behaves like ``log(n) / beta + mean(x)``, which diverges. So
    ``beta = 0`` raises a ValueError rather than returning a value.

    The value is read off :func:`log_softmax` at the reference entry (the
    largest logit for ``beta > 0``, the smallest for ``beta < 0``): there
    ``log y_ref = -log sum_k exp(beta (x_k - x_ref))``, so
    ``LSE = x_ref - log(y_ref) / beta``. The stable shift of softmax is thus
    reused, not repeated. ``x_ref <= LSE <= x_ref + log(n) / beta`` for
    ``beta > 0``.

    See Also
    --------
    softmax_lib.softmax : the gradient of this function.
    softmax_lib.softmax_jacobian : its Hessian.

    Examples
    --------
    >>> import numpy as np
    >>> from softmax_lib import log_sum_exp
    >>> float(log_sum_exp([0.0, 0.0]))                  # log 2
    0.6931471805599453
    >>> float(log_sum_exp([1000.0, 1000.0]))            # no overflow
    1000.6931471805599
    >>> float(log_sum_exp([1.0, 2.0, 3.0], beta=100))   # close to max(x)
    3.0
    >>> float(log_sum_exp([1.0, 2.0, 3.0], beta=-100))  # close to min(x)
    1.0
    """
    arr = as_float_array(x)
    beta = check_beta(beta)
    axis = check_axis(arr, axis)
    if beta == 0.0:
        raise ValueError(
            "log_sum_exp: beta must be non-zero, got beta=0.0: (1/beta) log sum exp(beta x) "
            "behaves like log(n)/beta + mean(x) near 0 and has no limit there"
        )
    logy = log_softmax(arr, beta=beta, axis=axis)  # refuses NaN, +inf after scaling, all masked
    ref = np.argmax(arr, axis=axis) if beta > 0 else np.argmin(arr, axis=axis)
    ref = np.expand_dims(ref, axis)
    x_ref = np.take_along_axis(arr, ref, axis=axis)
    log_y_ref = np.take_along_axis(logy, ref, axis=axis)
    out = x_ref - log_y_ref / beta
    return np.squeeze(out, axis=axis).astype(logy.dtype, copy=False)


def softmax_hessian(x: ArrayLike, beta: float = 1.0) -> np.ndarray:
    r"""The second derivative of softmax, a tensor ``T[j, i, k]`` of shape (n, n, n).

    .. math::

        T_{jik} = \frac{\partial^2 y_j}{\partial x_i \partial x_k}
        = \beta^2 y_j \left( ([i=j] - y_i)([k=j] - y_k) - [i=k]\, y_i + y_i y_k \right)

    For each output ``j``, ``T[j]`` is the (symmetric) Hessian of ``y_j``:
    ``beta**2 * y_j * (outer(e_j - y, e_j - y) - (diag(y) - outer(y, y)))``.

    Parameters
    ----------
    x : array_like, shape (n,)
        One vector of logits.
    beta : float, optional
        Inverse temperature.

    Returns
    -------
    numpy.ndarray, shape (n, n, n)

    Raises
    ------
    ValueError
        If ``x`` is not one-dimensional, and for the bad logits
        :func:`softmax` refuses.
    TypeError
        As :func:`softmax`.

    Notes
    -----
    ``1 - y_i`` is computed as the sum of the other probabilities, so that
    entries keep their relative accuracy when one output is close to 1.
    The tensor costs O(n^3) time and memory. To apply it to two directions,
    use :func:`softmax_second_directional`, which costs O(n).

    See Also
    --------
    softmax_second_directional : ``T`` contracted with two vectors, in O(n).
    softmax_lib.softmax_jacobian : the first derivative.

    Examples
    --------
    >>> from softmax_lib import softmax_hessian
    >>> import numpy as np
    >>> T = softmax_hessian([0.0, 1.0])
    >>> T.shape
    (2, 2, 2)
    >>> np.round(T[0], 6)          # the Hessian of y_1 (the sigmoid's second derivative)
    array([[ 0.090858, -0.090858],
           [-0.090858,  0.090858]])
    >>> bool(np.all(softmax_hessian([0.0, 0.0]) == 0))   # an inflection point at x_1 = x_2
    True
    """
    arr = as_float_array(x)
    if arr.ndim != 1:
        raise ValueError(f"softmax_hessian: x must be one-dimensional, got shape {arr.shape}")
    y = softmax(arr, beta=beta)
    beta = float(beta)
    c = -np.broadcast_to(y, (y.size, y.size)).copy()  # c[j, i] = [i = j] - y_i
    np.fill_diagonal(c, _sum_of_others(y))
    T = c[:, :, None] * c[:, None, :]
    T -= _covariance(y)[None, :, :]
    T *= (beta * beta) * y[:, None, None]
    return T


def _centred(w: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
    """``w - <y, w>`` along ``axis``: the deviation from the mean under y."""
    return w - np.sum(y * w, axis=axis, keepdims=True)


def softmax_second_directional(x: ArrayLike, u: ArrayLike, v: ArrayLike, beta: float = 1.0,
                               axis: int = -1) -> np.ndarray:
    r"""The second directional derivative of softmax, :math:`D^2 y[u, v]`, in O(n) per slice.

    .. math::

        D^2 y[u, v]_j = \sum_{i,k} T_{jik} u_i v_k
        = \beta^2 y_j \left(\tilde u_j \tilde v_j - \langle y, \tilde u \odot \tilde v \rangle\right),
        \qquad \tilde u = u - \langle y, u \rangle \mathbf{1},\;
        \tilde v = v - \langle y, v \rangle \mathbf{1}

    Parameters
    ----------
    x : array_like
        Logits.
    u, v : array_like
        The two directions, of the shape of ``x``.
    beta : float, optional
        Inverse temperature.
    axis : int, optional
        The softmax axis.

    Returns
    -------
    numpy.ndarray
        Of the shape of ``x``: the derivative of ``softmax(x + s u + r v)``
        with respect to ``s`` and ``r`` at ``s = r = 0``, slice by slice.

    Raises
    ------
    ValueError
        If ``u`` or ``v`` does not have the shape of ``x`` or holds NaN or an
        infinite value, and for the bad logits :func:`softmax` refuses.
    TypeError
        If an input is not numeric or ``beta`` is not a real number.

    Notes
    -----
    Read as statistics of the categorical distribution ``y``: ``<y, u>`` is
    the mean of u, ``<y, u~ * v~>`` the covariance of u and v, and the result
    is a third cumulant. The tensor of :func:`softmax_hessian` is never built.

    Accuracy: in float64 the result agrees with contracting
    :func:`softmax_hessian` with ``u`` and ``v`` to within ``1e-12`` of its
    largest entry (tested for ``|x| <= 20``, ``|beta| <= 4``). Where every entry
    is far smaller than ``beta**2 * max|u~| * max|v~|`` (two nearly equal
    classes at a tiny ``beta``, say), both sides lose digits to cancellation
    and the agreement is absolute, a few ulp of that scale, instead.

    See Also
    --------
    softmax_hessian : the full tensor, O(n^3).
    softmax_lib.softmax_vjp : the first-order counterpart.

    Examples
    --------
    >>> import numpy as np
    >>> from softmax_lib import softmax_second_directional
    >>> x = np.array([0.0, 1.0, 2.0])
    >>> d2 = softmax_second_directional(x, [1.0, 0.0, 0.0], [0.0, 0.0, 1.0])
    >>> np.round(d2, 6)
    array([-0.049108,  0.029315,  0.019793])
    >>> float(abs(d2.sum())) < 1e-15                  # probabilities keep summing to 1
    True
    """
    arr = as_float_array(x)
    uu = as_float_array(u, "u")
    vv = as_float_array(v, "v")
    for name, w in (("u", uu), ("v", vv)):
        if w.shape != arr.shape:
            raise ValueError(
                f"softmax_second_directional: {name} must have the shape of x, "
                f"got {w.shape} and {arr.shape}"
            )
        if not np.isfinite(w).all():
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(w))[0])
            raise ValueError(
                f"softmax_second_directional: {name}{list(bad)} = {w[bad]} is not finite"
            )
    beta = check_beta(beta)
    axis = check_axis(arr, axis)
    y = softmax(arr, beta=beta, axis=axis)
    with np.errstate(invalid="ignore"):  # 0 * inf cannot occur: u, v are finite, y in [0, 1]
        uc = _centred(uu, y, axis)
        vc = _centred(vv, y, axis)
        w = uc * vc
        out = _centred(w, y, axis)
    out *= y
    out *= beta * beta
    return out.astype(y.dtype, copy=False)


def cross_entropy_hessian(x: ArrayLike, target: ArrayLike, beta: float = 1.0) -> np.ndarray:
    r"""The Hessian of :func:`softmax_lib.cross_entropy` with respect to the logits.

    .. math::

        \frac{\partial^2 L}{\partial x_i \partial x_k} = \beta^2 \left([i=k]\, y_i - y_i y_k\right),
        \qquad \nabla^2_x L = \beta^2 \left(\operatorname{diag}(y) - y y^\top\right)

    It does not depend on the target: ``target`` is validated (the same rules
    as :func:`softmax_lib.cross_entropy`) and otherwise unused.

    Parameters
    ----------
    x : array_like, shape (..., n)
        Logits; classes along the last axis, leading axes a batch.
    target : array_like
        Integer class indices of shape ``x.shape[:-1]``, or probability
        vectors of the shape of ``x``.
    beta : float, optional
        Inverse temperature.

    Returns
    -------
    numpy.ndarray, shape (..., n, n)
        One symmetric positive semidefinite matrix per sample; its rows and
        columns sum to zero (the null direction is the all-ones vector).

    Raises
    ------
    ValueError, TypeError
        As :func:`softmax_lib.cross_entropy`.

    See Also
    --------
    softmax_lib.cross_entropy_grad : the gradient, ``beta (y - t)``.
    softmax_lib.softmax_jacobian : equal to this Hessian divided by ``beta``.

    Examples
    --------
    >>> from softmax_lib import cross_entropy_hessian
    >>> cross_entropy_hessian([0.0, 0.0], 1)
    array([[ 0.25, -0.25],
           [-0.25,  0.25]])
    >>> cross_entropy_hessian([0.0, 0.0], 0, beta=2.0)
    array([[ 1., -1.],
           [-1.,  1.]])
    """
    xx = as_float_array(x)
    check_axis(xx, -1)
    cross_entropy_grad(xx, target, beta=beta)  # validates target, beta and the logits alike
    beta = float(beta)
    H = _covariance(softmax(xx, beta=beta, axis=-1))
    H *= beta * beta
    return H
