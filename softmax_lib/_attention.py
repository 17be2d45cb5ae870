"""Scaled dot-product attention, its backward pass, and the tiled (flash) algorithm.

The book's chapter "Softmax inside attention" derives everything here. One head:
``S = scale * Q K^T + M`` (``M`` the causal mask of 0 and -inf, when asked for),
``P = softmax(S)`` row by row, ``O = P V``. The full functions build the
``n_q x n_k`` matrix ``P``; the flash functions walk over blocks of queries and keys
with the online merge rule and never hold more than one ``block x block`` tile of it.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike

from ._checks import as_float_array
from ._softmax import softmax


# --------------------------------------------------------------------------- checks


def _check_scale(scale, d_k: int) -> float:
    """``scale`` as a float: 1/sqrt(d_k) for None, else a finite real number."""
    if scale is None:
        return 1.0 / float(np.sqrt(d_k))
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, numbers.Real):
        raise TypeError(
            f"scale must be None or a finite real number, got {scale!r} of type {type(scale).__name__}"
        )
    value = float(scale)
    if not np.isfinite(value):
        raise ValueError(f"scale must be a finite real number, got {scale!r}")
    return value


def _check_flag(causal) -> bool:
    if not isinstance(causal, (bool, np.bool_)):
        raise TypeError(f"causal must be True or False, got {causal!r}")
    return bool(causal)


def _check_block(block) -> int:
    if isinstance(block, (bool, np.bool_)) or not isinstance(block, (int, np.integer)):
        raise TypeError(f"block must be a positive integer, got {block!r}")
    if block < 1:
        raise ValueError(f"block must be a positive integer, got {block}")
    return int(block)


def _check_finite(arr: np.ndarray, name: str) -> None:
    """Raise ValueError naming the first NaN or infinite entry of ``arr``."""
    ok = np.isfinite(arr)
    if ok.all():
        return
    index = tuple(int(i) for i in np.argwhere(~ok)[0])
    value = arr[index]
    what = "NaN" if np.isnan(value) else f"the infinite value {value}"
    raise ValueError(f"{name} contains {what} at index {index}")


def _prepare(q, k, v, scale, causal, extra=()):
    """Check q, k, v (and the ``extra`` arrays: name, array, expected shape) and return them
    converted to one floating dtype, with the scale, the flag and the sizes."""
    q = as_float_array(q, "q")
    k = as_float_array(k, "k")
    v = as_float_array(v, "v")
    for name, arr in (("q", q), ("k", k), ("v", v)):
        if arr.ndim < 2:
            raise ValueError(
                f"{name} must have at least two dimensions (..., rows, features), got shape {arr.shape}"
            )
    lead = q.shape[:-2]
    n_q, d_k = q.shape[-2:]
    n_k, d_v = v.shape[-2:]
    if k.shape[:-2] != lead or v.shape[:-2] != lead:
        raise ValueError(
            "q, k and v must have the same leading dimensions, got shapes "
            f"{q.shape}, {k.shape} and {v.shape}"
        )
    if k.shape[-1] != d_k:
        raise ValueError(
            f"q and k must have the same last dimension d_k, got q {q.shape} and k {k.shape}"
        )
    if k.shape[-2] != n_k:
        raise ValueError(
            f"k and v must have the same number of rows n_k, got k {k.shape} and v {v.shape}"
        )
    if n_k == 0:
        raise ValueError(f"k has no rows (shape {k.shape}): softmax over no keys is undefined")
    if d_k == 0 and scale is None:
        raise ValueError(f"q has d_k = 0 (shape {q.shape}), so the default scale 1/sqrt(d_k) is undefined")
    beta = _check_scale(scale, d_k)
    causal = _check_flag(causal)
    arrays = [q, k, v]
    for name, arr, shape in extra:
        arr = as_float_array(arr, name)
        want = lead + shape
        if arr.shape != want:
            raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
        arrays.append(arr)
    dtype = np.result_type(*arrays)
    arrays = [a.astype(dtype, copy=False) for a in arrays]
    for name, arr in zip(["q", "k", "v"] + [e[0] for e in extra], arrays):
        _check_finite(arr, name)
    return arrays, beta, causal, (n_q, n_k, d_k, d_v)


def _scores(q: np.ndarray, k: np.ndarray, beta: float, causal: bool, row0: int = 0, col0: int = 0):
    """``beta q k^T`` with the causal mask (query row0 + i sees key col0 + j only when j <= i)."""
    s = np.matmul(q, np.swapaxes(k, -1, -2))
    s *= beta
    if causal:
        rows = np.arange(row0, row0 + q.shape[-2])[:, None]
        cols = np.arange(col0, col0 + k.shape[-2])[None, :]
        s[..., cols > rows] = -np.inf
    return s


def _probabilities(q, k, beta, causal):
    """P = softmax(S) row by row, from the library's softmax (a masked entry gets exactly 0)."""
    return softmax(_scores(q, k, beta, causal), beta=1.0, axis=-1)


# --------------------------------------------------------------------------- full


def attention(q: ArrayLike, k: ArrayLike, v: ArrayLike, *, scale: float | None = None,
              causal: bool = False) -> np.ndarray:
    r"""Scaled dot-product attention of one head: ``softmax(scale * q k^T + M) v``, row by row.

    .. math::

        S = \beta Q K^\top + M, \qquad P = \operatorname{softmax}(S) \text{ (each row)},
        \qquad O = P V, \qquad \beta = 1/\sqrt{d_k} \text{ by default}

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_k)
        Queries Q, one per row.
    k : array_like, shape (..., n_k, d_k)
        Keys K; softmax runs over the n_k keys.
    v : array_like, shape (..., n_k, d_v)
        Values V, one per key. The leading dimensions ``...`` of q, k and v must be equal.
    scale : float or None, optional
        The inverse temperature :math:`\beta` that multiplies the scores; None means
        :math:`1/\sqrt{d_k}`. Any finite real is accepted.
    causal : bool, optional
        If True, query i sees only the keys j <= i (0-based), the top-left aligned mask of
        ``torch.nn.functional.scaled_dot_product_attention(is_causal=True)``: ``M`` is
        ``-inf`` above the main diagonal. Query 0 always sees key 0, so no row is left
        without a key; when n_q > n_k the queries i >= n_k see every key.

    Returns
    -------
    numpy.ndarray, shape (..., n_q, d_v)
        The output O.

    Raises
    ------
    ValueError
        If the shapes do not fit (the message shows them), n_k is 0, an entry is NaN or
        infinite (the message names the array and the index), or ``scale`` is not finite.
    TypeError
        If an input is not numeric, ``scale`` is not a real number or ``causal`` is not a bool.

    See Also
    --------
    attention_vjp : the backward pass.
    flash_attention : the same output, computed tile by tile without forming P.

    Examples
    --------
    >>> import numpy as np
    >>> from softmax_lib import attention
    >>> q = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> k = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> v = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> attention(q, k, v, scale=100.0)          # nearly hard attention: row i picks key i
    array([[1., 2.],
           [3., 4.]])
    >>> attention(q, k, v, causal=True)[0]       # row 0 sees key 0 only
    array([1., 2.])
    """
    (q, k, v), beta, causal, _ = _prepare(q, k, v, scale, causal)
    return np.matmul(_probabilities(q, k, beta, causal), v)


def attention_vjp(q: ArrayLike, k: ArrayLike, v: ArrayLike, grad_o: ArrayLike, *,
                  scale: float | None = None, causal: bool = False):
    r"""Backpropagate through :func:`attention`: ``(dq, dk, dv)`` from ``grad_o`` = dL/dO.

    .. math::

        dV = P^\top dO, \quad dP = dO\, V^\top, \quad
        dS = P \odot \left(dP - \operatorname{rowsum}(dP \odot P)\right), \quad
        dQ = \beta\, dS\, K, \quad dK = \beta\, dS^\top Q

    The formula for dS is the softmax vector-Jacobian product of each row (with
    :math:`\beta = 1`, since the scale sits inside S). P is recomputed from q and k.

    Parameters
    ----------
    q, k, v : array_like
        The inputs of the forward pass, shapes (..., n_q, d_k), (..., n_k, d_k), (..., n_k, d_v).
    grad_o : array_like, shape (..., n_q, d_v)
        The upstream gradient dO = dL/dO.
    scale, causal
        As in :func:`attention`.

    Returns
    -------
    tuple of numpy.ndarray
        ``(dq, dk, dv)``, of the shapes of q, k and v.

    Raises
    ------
    ValueError, TypeError
        As in :func:`attention`; also if ``grad_o`` has the wrong shape or a non-finite entry.

    See Also
    --------
    attention : the forward pass.
    flash_attention_vjp : the same gradients, tile by tile, from the stored log-sum-exp.

    Examples
    --------
    >>> import numpy as np
    >>> from softmax_lib import attention_vjp
    >>> q, k = np.zeros((1, 2)), np.zeros((3, 2))         # uniform attention over 3 keys
    >>> v, grad_o = np.eye(3)[:, :2], np.ones((1, 2))
    >>> dq, dk, dv = attention_vjp(q, k, v, grad_o)
    >>> dv                                                 # each key got 1/3 of the gradient
    array([[0.33333333, 0.33333333],
           [0.33333333, 0.33333333],
           [0.33333333, 0.33333333]])
    """
    n_q, d_v = np.shape(q)[-2] if np.ndim(q) >= 2 else 0, np.shape(v)[-1] if np.ndim(v) >= 2 else 0
    (q, k, v, do), beta, causal, _ = _prepare(q, k, v, scale, causal,
                                              extra=[("grad_o", grad_o, (n_q, d_v))])
    p = _probabilities(q, k, beta, causal)
    dv = np.matmul(np.swapaxes(p, -1, -2), do)
    dp = np.matmul(do, np.swapaxes(v, -1, -2))
    ds = dp - np.sum(dp * p, axis=-1, keepdims=True)
    ds *= p
    dq = np.matmul(ds, k)
    dq *= beta
    dk = np.matmul(np.swapaxes(ds, -1, -2), q)
    dk *= beta
    return dq, dk, dv


# --------------------------------------------------------------------------- tiled


def flash_attention(q: ArrayLike, k: ArrayLike, v: ArrayLike, *, scale: float | None = None,
                    causal: bool = False, block: int = 128):
    r"""Attention computed tile by tile with the online merge rule: ``(o, lse)``, never forming P.

    For each block of query rows the keys are visited a block at a time. Each row keeps the
    running maximum m, the running sum :math:`\ell` of :math:`\exp(S_{ij} - m)` and the
    unnormalised output; a new tile with row maxima :math:`\tilde m` merges as

    .. math::

        m' = \max(m, \tilde m), \qquad
        \ell' = \ell\, e^{m - m'} + \operatorname{rowsum}\, e^{S_{\text{tile}} - m'}, \qquad
        O' = O\, e^{m - m'} + e^{S_{\text{tile}} - m'} V_{\text{tile}}

    and at the end :math:`O / \ell` is the output and :math:`m + \log \ell` the log-sum-exp.

    Parameters
    ----------
    q, k, v, scale, causal
        As in :func:`attention`.
    block : int, optional
        The tile size, in query rows and in keys. The extra memory is
        O((n_q + n_k) (d_k + d_v + block)): a ``block x block`` tile of scores, never the
        ``n_q x n_k`` matrix. Key blocks that a causal query block cannot see are skipped.

    Returns
    -------
    o : numpy.ndarray, shape (..., n_q, d_v)
        The output, equal to :func:`attention` up to rounding.
    lse : numpy.ndarray, shape (..., n_q)
        The log-sum-exp of each row of the scaled, masked scores S,
        :math:`\mathrm{lse}_i = \log \sum_j \exp(S_{ij}) = m_i + \log \ell_i`, so that
        ``P = exp(S - lse)``: all :func:`flash_attention_vjp` needs to rebuild P. For
        ``scale`` :math:`\beta > 0` it is :math:`\beta` times the soft maximum
        :math:`\mathrm{LSE}_\beta` of row i of the raw masked scores :math:`QK^\top + M`.

    Raises
    ------
    ValueError, TypeError
        As in :func:`attention`, and for a ``block`` that is not a positive integer.

    See Also
    --------
    attention : the direct computation.
    flash_attention_vjp : the backward pass from ``o`` and ``lse``.

    Examples
    --------
    >>> import numpy as np
    >>> from softmax_lib import attention, flash_attention
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.normal(size=(5, 4)), rng.normal(size=(7, 4)), rng.normal(size=(7, 3))
    >>> o, lse = flash_attention(q, k, v, block=2)
    >>> bool(np.allclose(o, attention(q, k, v), rtol=0, atol=1e-14)), lse.shape
    (True, (5,))
    """
    block = _check_block(block)
    (q, k, v), beta, causal, (n_q, n_k, d_k, d_v) = _prepare(q, k, v, scale, causal)
    lead = q.shape[:-2]
    o = np.empty(lead + (n_q, d_v), dtype=q.dtype)
    lse = np.empty(lead + (n_q,), dtype=q.dtype)
    for r0 in range(0, n_q, block):
        r1 = min(r0 + block, n_q)
        qi = q[..., r0:r1, :]
        m = np.full(lead + (r1 - r0, 1), -np.inf, dtype=q.dtype)
        ell = np.zeros_like(m)
        acc = np.zeros(lead + (r1 - r0, d_v), dtype=q.dtype)
        stop = min(n_k, r1) if causal else n_k     # keys beyond the last row's index are masked
        for c0 in range(0, stop, block):
            c1 = min(c0 + block, stop)
            s = _scores(qi, k[..., c0:c1, :], beta, causal, r0, c0)
            m_new = np.maximum(m, np.max(s, axis=-1, keepdims=True))  # finite: key 0 is in block 0
            rescale = np.exp(m - m_new)
            s -= m_new
            np.exp(s, out=s)                       # the tile of exp(S - m'), masked entries 0
            ell *= rescale
            ell += np.sum(s, axis=-1, keepdims=True)
            acc *= rescale
            acc += np.matmul(s, v[..., c0:c1, :])
            m = m_new
        np.divide(acc, ell, out=o[..., r0:r1, :])
        lse[..., r0:r1] = (m + np.log(ell))[..., 0]
    return o, lse


def flash_attention_vjp(q: ArrayLike, k: ArrayLike, v: ArrayLike, o: ArrayLike, lse: ArrayLike,
                        grad_o: ArrayLike, *, scale: float | None = None, causal: bool = False,
                        block: int = 128):
    r"""The backward pass of :func:`flash_attention`, tile by tile: ``(dq, dk, dv)``.

    Each tile of P is recomputed from q, k and the stored log-sum-exp,
    :math:`P_{\text{tile}} = \exp(S_{\text{tile}} - \mathrm{lse})`, and the row sums
    :math:`\operatorname{rowsum}(dP \odot P)` of the softmax VJP are replaced by
    :math:`D = \operatorname{rowsum}(dO \odot O)`, which equals them and needs no P:

    .. math::

        dV \mathrel{+}= P_{\text{tile}}^\top dO, \quad
        dS_{\text{tile}} = P_{\text{tile}} \odot (dO\, V_{\text{tile}}^\top - D), \quad
        dQ \mathrel{+}= \beta\, dS_{\text{tile}} K_{\text{tile}}, \quad
        dK \mathrel{+}= \beta\, dS_{\text{tile}}^\top Q

    Parameters
    ----------
    q, k, v, scale, causal, block
        As in :func:`flash_attention`.
    o : array_like, shape (..., n_q, d_v)
        The output of the forward pass.
    lse : array_like, shape (..., n_q)
        The log-sum-exp returned by :func:`flash_attention`.
    grad_o : array_like, shape (..., n_q, d_v)
        The upstream gradient dO.

    Returns
    -------
    tuple of numpy.ndarray
        ``(dq, dk, dv)``, of the shapes of q, k and v; equal to :func:`attention_vjp` up to
        rounding. Extra memory O((n_q + n_k) (d_k + d_v + block)).

    Raises
    ------
    ValueError, TypeError
        As in :func:`flash_attention`, and if o, lse or grad_o have the wrong shape or a
        non-finite entry.

    See Also
    --------
    attention_vjp : the direct backward pass.
    flash_attention : the forward pass that returns ``o`` and ``lse``.

    Examples
    --------
    >>> import numpy as np
    >>> from softmax_lib import attention_vjp, flash_attention, flash_attention_vjp
    >>> rng = np.random.default_rng(1)
    >>> q, k, v = rng.normal(size=(6, 4)), rng.normal(size=(6, 4)), rng.normal(size=(6, 2))
    >>> grad_o = rng.normal(size=(6, 2))
    >>> o, lse = flash_attention(q, k, v, causal=True, block=4)
    >>> tiled = flash_attention_vjp(q, k, v, o, lse, grad_o, causal=True, block=4)
    >>> full = attention_vjp(q, k, v, grad_o, causal=True)
    >>> [bool(np.allclose(a, b, rtol=0, atol=1e-14)) for a, b in zip(tiled, full)]
    [True, True, True]
    """
    block = _check_block(block)
    n_q = np.shape(q)[-2] if np.ndim(q) >= 2 else 0
    d_v = np.shape(v)[-1] if np.ndim(v) >= 2 else 0
    (q, k, v, o, lse, do), beta, causal, (n_q, n_k, d_k, d_v) = _prepare(
        q, k, v, scale, causal,
        extra=[("o", o, (n_q, d_v)), ("lse", lse, (n_q,)), ("grad_o", grad_o, (n_q, d_v))])
    lead = q.shape[:-2]
    D = np.sum(do * o, axis=-1, keepdims=True)     # rowsum(dO . O) = rowsum(dP . P), per query
    lse = lse[..., None]
    dq = np.zeros(lead + (n_q, d_k), dtype=q.dtype)
    dk = np.zeros(lead + (n_k, d_k), dtype=q.dtype)
    dv = np.zeros(lead + (n_k, d_v), dtype=q.dtype)
    for c0 in range(0, n_k, block):
        c1 = min(c0 + block, n_k)
        kj, vj = k[..., c0:c1, :], v[..., c0:c1, :]
        first = c0 if causal else 0                  # earlier queries cannot see these keys
        for r0 in range(first - first % block, n_q, block):
            r1 = min(r0 + block, n_q)
            p = _scores(q[..., r0:r1, :], kj, beta, causal, r0, c0)
            p -= lse[..., r0:r1, :]
            np.exp(p, out=p)                         # the tile of P, masked entries 0
            doi = do[..., r0:r1, :]
            dv[..., c0:c1, :] += np.matmul(np.swapaxes(p, -1, -2), doi)
            ds = np.matmul(doi, np.swapaxes(vj, -1, -2))
            ds -= D[..., r0:r1, :]
            ds *= p
            ds *= beta
            dq[..., r0:r1, :] += np.matmul(ds, kj)
            dk[..., c0:c1, :] += np.matmul(np.swapaxes(ds, -1, -2), q[..., r0:r1, :])
    return dq, dk, dv
