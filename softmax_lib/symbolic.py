"""Symbolic derivations with sympy: the exact counterpart of the numeric code.

Symbols are *named* as in the prose, counting from 1 (``x_1, ..., x_n``,
``y_1, ..., y_n``, ``W_11``...), while Python indexing stays 0-based as in
numpy: ``logit_symbols(3)[0]`` is ``x_1``, and ``partial_in_y(0, 0, n)`` is the
derivative of the prose's y_1 with respect to x_1. Every helper that
returns a result "in the book's form" first checks that form against the
derivative sympy computes from the definition, and raises if they differ, so
a chapter that prints one of these results has also proved it for that n.

Examples
--------
>>> from softmax_lib import symbolic as S
>>> S.logit_symbols(3)
(x_1, x_2, x_3)
>>> S.partial_in_y(0, 0, n=3)
beta*y_1*(1 - y_1)
>>> S.partial_in_y(1, 0, n=3)
-beta*y_1*y_2
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

#: The inverse temperature β.
beta = sp.Symbol("beta", real=True)


def logit_symbols(n: int) -> tuple[sp.Symbol, ...]:
    """The logits ``x_1, ..., x_n`` as real symbols (named from 1, indexed from 0).

    >>> logit_symbols(2)
    (x_1, x_2)
    """
    _check_n(n)
    return sp.symbols(f"x_1:{n + 1}", real=True)


def output_symbols(n: int) -> tuple[sp.Symbol, ...]:
    """The probabilities ``y_1, ..., y_n`` as positive symbols (named from 1, indexed from 0)."""
    _check_n(n)
    return sp.symbols(f"y_1:{n + 1}", positive=True)


def softmax_exprs(n: int) -> list[sp.Expr]:
    r"""The softmax outputs :math:`y_j = e^{\beta x_j} / \sum_k e^{\beta x_k}` for n logits.

    >>> softmax_exprs(2)
    [exp(beta*x_1)/(exp(beta*x_1) + exp(beta*x_2)), exp(beta*x_2)/(exp(beta*x_1) + exp(beta*x_2))]
    """
    x = logit_symbols(n)
    denominator = sp.Add(*[sp.exp(beta * xk) for xk in x])
    return [sp.exp(beta * xj) / denominator for xj in x]


def partial_derivative(j: int, i: int, n: int) -> sp.Expr:
    r""":math:`\partial y_j / \partial x_i` differentiated by sympy from the definition, in terms of x."""
    _check_index(j, n, "j")
    _check_index(i, n, "i")
    return sp.diff(softmax_exprs(n)[j], logit_symbols(n)[i])


def book_partial(j: int, i: int, n: int) -> sp.Expr:
    r"""The book's two cases, in terms of y: :math:`\beta y_i(1-y_i)` if i = j, else :math:`-\beta y_j y_i`.

    This is the claimed form; :func:`partial_in_y` checks it.
    """
    _check_index(j, n, "j")
    _check_index(i, n, "i")
    y = output_symbols(n)
    if i == j:
        return beta * y[i] * (1 - y[i])
    return -beta * y[j] * y[i]


def in_terms_of_x(expr: sp.Expr, n: int) -> sp.Expr:
    """Replace every ``y_k`` in ``expr`` by its softmax expression in x."""
    return expr.subs(dict(zip(output_symbols(n), softmax_exprs(n))))


def equal(a: sp.Expr, b: sp.Expr) -> bool:
    """True when sympy proves ``a - b`` simplifies to zero."""
    return sp.simplify(sp.expand(a - b)) == 0


def partial_in_y(j: int, i: int, n: int) -> sp.Expr:
    r""":math:`\partial y_j / \partial x_i` in the book's form, checked against sympy's derivative."""
    claimed = book_partial(j, i, n)
    if not equal(partial_derivative(j, i, n), in_terms_of_x(claimed, n)):
        raise AssertionError(f"the book's form {claimed} differs from sympy's derivative")
    return claimed


def jacobian(n: int) -> sp.Matrix:
    """The n x n Jacobian ``J[j, i] = d y_j / d x_i`` differentiated by sympy, in terms of x."""
    return sp.Matrix(softmax_exprs(n)).jacobian(sp.Matrix(logit_symbols(n)))


def jacobian_in_y(n: int) -> sp.Matrix:
    r""":math:`J = \beta(\mathrm{diag}(y) - y y^\top)` for n outputs, checked entry by entry against :func:`jacobian`.

    >>> jacobian_in_y(2)
    Matrix([
    [beta*y_1*(1 - y_1),      -beta*y_1*y_2],
    [     -beta*y_1*y_2, beta*y_2*(1 - y_2)]])
    """
    J = sp.Matrix(n, n, lambda j, i: partial_in_y(int(j), int(i), n))
    y = sp.Matrix(output_symbols(n))
    compact = beta * (sp.diag(*y) - y * y.T)
    if not all(equal(a, b) for a, b in zip(J, compact)):
        raise AssertionError("beta*(diag(y) - y y^T) differs from the entries of the Jacobian")
    return J


@dataclass(frozen=True)
class LinearLayer:
    """Symbols of the linear layer ``x = W a + b`` that produces the logits, with the
    gradient ``dL_dx`` of a loss with respect to its output (entries named
    ``\\frac{\\partial L}{\\partial x_{k}}``, so they print as the prose writes them)."""

    W: sp.Matrix
    a: sp.Matrix
    b: sp.Matrix
    dL_dx: sp.Matrix

    @property
    def x(self) -> sp.Matrix:
        """The layer's output, the logits ``W a + b``."""
        return self.W * self.a + self.b


def linear_layer(n: int, d: int) -> LinearLayer:
    """Symbols for a layer with d inputs and n outputs: W is n x d, a is d x 1, b and dL_dx are n x 1.

    Entries are named from 1, as in the prose: ``W_12`` is ``layer.W[0, 1]``.

    >>> layer = linear_layer(n=2, d=3)
    >>> layer.W.shape, layer.a.shape, layer.b.shape, layer.dL_dx.shape
    ((2, 3), (3, 1), (2, 1), (2, 1))
    >>> layer.x[0]
    W_11*a_1 + W_12*a_2 + W_13*a_3 + b_1
    >>> print(sp.latex(layer.dL_dx[0]))
    \\frac{\\partial L}{\\partial x_{1}}
    """
    _check_n(n)
    _check_n(d)
    return LinearLayer(
        W=sp.Matrix(n, d, lambda r, c: sp.Symbol(f"W_{r + 1}{c + 1}", real=True)),
        a=sp.Matrix(sp.symbols(f"a_1:{d + 1}", real=True)),
        b=sp.Matrix(sp.symbols(f"b_1:{n + 1}", real=True)),
        dL_dx=sp.Matrix([sp.Symbol(rf"\frac{{\partial L}}{{\partial x_{{{k}}}}}", real=True)
                         for k in range(1, n + 1)]),
    )


def linear_gradients(layer: LinearLayer) -> dict[str, sp.Matrix]:
    r"""dL/dW, dL/db and dL/da by the chain rule, entry by entry.

    For a loss L, :math:`\partial L/\partial \theta = \sum_k (\partial L/\partial x_k)\, \partial x_k / \partial \theta`
    for every input θ of the layer, which is the derivative of :math:`\langle \partial L/\partial x, x \rangle`
    with :math:`\partial L/\partial x` held fixed.
    Each returned matrix has the shape of the quantity it differentiates with respect to.

    >>> layer = linear_layer(n=2, d=3)
    >>> grads = linear_gradients(layer)
    >>> grads["W"] == layer.dL_dx * layer.a.T
    True
    >>> grads["a"] == layer.W.T * layer.dL_dx
    True
    """
    surrogate = (layer.dL_dx.T * layer.x)[0, 0]
    return {
        "W": layer.W.applyfunc(lambda w: sp.diff(surrogate, w)),
        "b": layer.b.applyfunc(lambda c: sp.diff(surrogate, c)),
        "a": layer.a.applyfunc(lambda c: sp.diff(surrogate, c)),
    }


def log_sum_exp_expr(n: int) -> sp.Expr:
    r""":math:`\operatorname{LSE}_\beta(x) = \frac{1}{\beta}\log\sum_k e^{\beta x_k}` for n logits.

    >>> log_sum_exp_expr(2)
    log(exp(beta*x_1) + exp(beta*x_2))/beta
    """
    x = logit_symbols(n)
    return sp.log(sp.Add(*[sp.exp(beta * xk) for xk in x])) / beta


def equal_fast(a: sp.Expr, b: sp.Expr) -> bool:
    """True when ``a - b`` over one common denominator has an expanded numerator of zero.

    Much faster than :func:`equal` for rational functions of exponentials (softmax
    and its derivatives); it can miss identities that need ``log`` or ``exp`` rules.

    >>> equal_fast(softmax_exprs(2)[0] + softmax_exprs(2)[1], 1)
    True
    """
    return sp.expand(sp.numer(sp.together(a - b))) == 0


def second_partial(j: int, i: int, k: int, n: int) -> sp.Expr:
    r""":math:`T_{jik} = \partial^2 y_j / \partial x_i \partial x_k` differentiated by sympy, in terms of x."""
    for idx, name in ((j, "j"), (i, "i"), (k, "k")):
        _check_index(idx, n, name)
    x = logit_symbols(n)
    return sp.diff(softmax_exprs(n)[j], x[i], x[k])


def book_second_partial(j: int, i: int, k: int, n: int) -> sp.Expr:
    r"""The book's closed form in y: :math:`\beta^2 y_j\left(([i=j]-y_i)([k=j]-y_k) - [i=k]\,y_i + y_i y_k\right)`.

    This is the claimed form; :func:`second_partial_in_y` checks it.
    """
    for idx, name in ((j, "j"), (i, "i"), (k, "k")):
        _check_index(idx, n, name)
    y = output_symbols(n)
    ij, kj, ik = (int(i == j), int(k == j), int(i == k))
    return beta**2 * y[j] * ((ij - y[i]) * (kj - y[k]) - ik * y[i] + y[i] * y[k])


def second_partial_in_y(j: int, i: int, k: int, n: int) -> sp.Expr:
    r""":math:`T_{jik}` in the book's form, checked against sympy's second derivative.

    >>> second_partial_in_y(0, 0, 0, n=2)
    beta**2*y_1*(y_1**2 - y_1 + (1 - y_1)**2)
    """
    claimed = book_second_partial(j, i, k, n)
    if not equal_fast(second_partial(j, i, k, n), in_terms_of_x(claimed, n)):
        raise AssertionError(f"the book's form {claimed} differs from sympy's second derivative")
    return claimed


def show(lhs: str, expr: sp.Expr) -> None:
    """Display one step of a derivation, ``lhs = expr``, typeset by the notebook.

    ``lhs`` is LaTeX; ``expr`` is a sympy expression, printed with its 1-based
    symbol names (``x_1``, ``y_1``), as the prose writes them.

    Examples
    --------
    >>> from softmax_lib import symbolic as S
    >>> S.show(r"y_1", S.softmax_exprs(2)[0])  # doctest: +ELLIPSIS
    <IPython.core.display.Math object>
    """
    from IPython.display import Math, display

    display(Math(lhs + " = " + sp.latex(expr)))


def _check_n(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"a size must be a positive integer, got {n!r}")


def _check_index(k: int, n: int, name: str) -> None:
    if not isinstance(k, (int, sp.Integer)) or isinstance(k, bool) or not 0 <= k < n:
        raise IndexError(f"{name}={k!r} is out of range for n={n}")
