"""Symbolic derivations with sympy: the exact counterpart of the numeric code.

Indices are 0-based, as in numpy: ``x_0, ..., x_{n-1}``. Every helper that
returns a result "in the book's form" first checks that form against the
derivative sympy computes from the definition, and raises if they differ, so
a chapter that prints one of these results has also proved it for that n.

Examples
--------
>>> from softmax_lib import symbolic as S
>>> S.partial_in_y(0, 0, n=3)
beta*y_0*(1 - y_0)
>>> S.partial_in_y(1, 0, n=3)
-beta*y_0*y_1
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

#: The inverse temperature β.
beta = sp.Symbol("beta", real=True)


def logit_symbols(n: int) -> tuple[sp.Symbol, ...]:
    """The logits ``x_0, ..., x_{n-1}`` as real symbols."""
    _check_n(n)
    return sp.symbols(f"x_0:{n}", real=True)


def output_symbols(n: int) -> tuple[sp.Symbol, ...]:
    """The probabilities ``y_0, ..., y_{n-1}`` as positive symbols."""
    _check_n(n)
    return sp.symbols(f"y_0:{n}", positive=True)


def softmax_exprs(n: int) -> list[sp.Expr]:
    r"""The softmax outputs :math:`y_j = e^{\beta x_j} / \sum_k e^{\beta x_k}` for n logits.

    >>> softmax_exprs(2)
    [exp(beta*x_0)/(exp(beta*x_0) + exp(beta*x_1)), exp(beta*x_1)/(exp(beta*x_0) + exp(beta*x_1))]
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
    [beta*y_0*(1 - y_0),      -beta*y_0*y_1],
    [     -beta*y_0*y_1, beta*y_1*(1 - y_1)]])
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
    upstream gradient ``g = dL/dx`` arriving at its output."""

    W: sp.Matrix
    a: sp.Matrix
    b: sp.Matrix
    g: sp.Matrix

    @property
    def x(self) -> sp.Matrix:
        """The layer's output, the logits ``W a + b``."""
        return self.W * self.a + self.b


def linear_layer(n: int, d: int) -> LinearLayer:
    """Symbols for a layer with d inputs and n outputs: W is n x d, a is d x 1, b and g are n x 1.

    >>> layer = linear_layer(n=2, d=3)
    >>> layer.W.shape, layer.a.shape, layer.b.shape, layer.g.shape
    ((2, 3), (3, 1), (2, 1), (2, 1))
    >>> layer.x[0]
    W_00*a_0 + W_01*a_1 + W_02*a_2 + b_0
    """
    _check_n(n)
    _check_n(d)
    return LinearLayer(
        W=sp.Matrix(n, d, lambda r, c: sp.Symbol(f"W_{r}{c}", real=True)),
        a=sp.Matrix(sp.symbols(f"a_0:{d}", real=True)),
        b=sp.Matrix(sp.symbols(f"b_0:{n}", real=True)),
        g=sp.Matrix(sp.symbols(f"g_0:{n}", real=True)),
    )


def linear_gradients(layer: LinearLayer) -> dict[str, sp.Matrix]:
    r"""dL/dW, dL/db and dL/da by the chain rule, entry by entry.

    For a loss L, :math:`\partial L/\partial \theta = \sum_k g_k\, \partial x_k / \partial \theta`
    for every input θ of the layer, which is the derivative of :math:`g^\top x` with g held fixed.
    Each returned matrix has the shape of the quantity it differentiates with respect to.

    >>> layer = linear_layer(n=2, d=3)
    >>> grads = linear_gradients(layer)
    >>> grads["W"] == layer.g * layer.a.T
    True
    >>> grads["a"] == layer.W.T * layer.g
    True
    """
    surrogate = (layer.g.T * layer.x)[0, 0]
    return {
        "W": layer.W.applyfunc(lambda w: sp.diff(surrogate, w)),
        "b": layer.b.applyfunc(lambda c: sp.diff(surrogate, c)),
        "a": layer.a.applyfunc(lambda c: sp.diff(surrogate, c)),
    }


def _check_n(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"a size must be a positive integer, got {n!r}")


def _check_index(k: int, n: int, name: str) -> None:
    if not isinstance(k, (int, sp.Integer)) or isinstance(k, bool) or not 0 <= k < n:
        raise IndexError(f"{name}={k!r} is out of range for n={n}")
