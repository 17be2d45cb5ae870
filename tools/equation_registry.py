"""What each labelled equation of the book must equal: read by tools/equations.py.

One entry per label. ``world`` names the meaning given to the symbols (see
``WORLDS`` in tools/equations.py); ``reference(world, idx)`` returns what the
equation's right-hand side must equal, computed by softmax_lib, for the 0-based
values ``idx`` of the equation's free indices (``idx["i"]``...). The two sides of
the equation themselves always come from the prose: this file only says what
they must agree with. ``where(idx)`` restricts the free indices to the side condition the prose states
(``i != j``), and ``sizes`` overrides the world's sizes. ``reference=None`` means the equation is checked only
side against side (for an identity whose subject the world already defines).

A new labelled equation fails the check until it is registered here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import sympy as sp

from softmax_lib import symbolic as S


@dataclass(frozen=True)
class Entry:
    world: str
    reference: Callable[[Any, dict], Any] | None
    note: str = ""
    sizes: dict | None = None  # e.g. {"n": 2} for a statement about two classes
    where: Callable[[dict], bool] | None = None  # the side condition stated in the prose


def _layer(w):
    return S.linear_layer(w.n, w.sizes["d"])


def _softmax(w):
    return S.softmax_exprs(w.n)


def _y(w):
    return S.output_symbols(w.n)


def _grad(f, variables):
    """The gradient of a scalar, shaped like the variables (a column or a matrix)."""
    return variables.applyfunc(lambda v: sp.diff(f, v))


def _ce_in_y(w):
    """Cross-entropy -sum_k t_k log y_k with y as symbols."""
    return -sum(tk * sp.log(yk) for tk, yk in zip(w.values["t"], _y(w)))


def _ce_of_logits(z, t, n):
    """Cross-entropy of softmax(beta z) against t, from the library's softmax expressions."""
    probs = [p.subs(dict(zip(S.logit_symbols(n), z)), simultaneous=True) for p in S.softmax_exprs(n)]
    return -sum(tk * sp.log(p) for tk, p in zip(t, probs))


def _ce_loss(w):
    return _ce_of_logits(list(w.values["x"]), w.values["t"], w.n)


def _mean_ce(w):
    """The mean cross-entropy of the batch world's classifier, rebuilt from softmax_lib."""
    W, b = w.values["W"], w.values["b"]
    N = len(w.values["a"])
    return sum(_ce_of_logits(list(W * a + b), t, w.n) for a, t in zip(w.values["a"], w.values["t"])) / N


def _row_softmax_of_scores(w):
    """P rebuilt from softmax_lib's softmax expressions, row by row, at S = beta Q K^T + M."""
    Q, K, M, beta = w.values["Q"], w.values["K"], w.values["M"], w.values["beta"]
    S_ = beta * Q * K.T + M
    n_k = S_.cols
    rows = []
    for r in range(S_.rows):
        probs = [p.subs(S.beta, 1).subs(dict(zip(S.logit_symbols(n_k), S_.row(r))), simultaneous=True)
                 for p in S.softmax_exprs(n_k)]
        rows.append(probs)
    return sp.Matrix(rows)


def _attention_loss(w, free=None):
    """L = sum dO . O for the attention world, through the whole head, or with P or S free."""
    V, dO = w.values["V"], w.values["dO"]
    if free == "P":
        P_ = w.values["P"]
    elif free == "S":
        S_ = w.values["S"]
        n_k = S_.cols
        P_ = sp.Matrix([[p.subs(S.beta, 1).subs(dict(zip(S.logit_symbols(n_k), S_.row(r))), simultaneous=True)
                         for p in S.softmax_exprs(n_k)] for r in range(S_.rows)])
    else:
        P_ = _row_softmax_of_scores(w)
    return sum(dO.multiply_elementwise(P_ * V))


REGISTRY: dict[str, Entry] = {
    # ---- 01 The chain rule and a linear layer
    "eq-linear-layer": Entry("linear", lambda w, i: _layer(w).x,
                             "the layer's definition (logits x = W a + b) and the shapes of W, a and b"),
    "eq-linear-grad-W": Entry("linear", lambda w, i: S.linear_gradients(_layer(w))["W"]),
    "eq-linear-grad-b": Entry("linear", lambda w, i: S.linear_gradients(_layer(w))["b"]),
    "eq-linear-grad-a": Entry("linear", lambda w, i: S.linear_gradients(_layer(w))["a"]),
    # ---- 02 Softmax
    "eq-softmax-def": Entry("softmax", lambda w, i: _softmax(w)[i["j"]], "the definition"),
    "eq-softmax-sum": Entry("softmax", lambda w, i: sp.Integer(1)),
    "eq-softmax-shift": Entry("softmax", lambda w, i: _softmax(w)[i["j"]], "c is any real constant"),
    "eq-softmax-stable": Entry("softmax", lambda w, i: _softmax(w)[i["j"]], "c is any real constant"),
    "eq-softmax-temperature": Entry("softmax", lambda w, i: _softmax(w)[i["j"]], "tau = 1/beta"),
    "eq-log-softmax": Entry("softmax", lambda w, i: sp.log(_softmax(w)[i["j"]])),
    "eq-softmax-sigmoid": Entry("softmax", lambda w, i: _softmax(w)[0], "two classes", sizes={"n": 2}),
    # ---- 03 The case i = j
    "eq-normaliser-derivative": Entry(
        "softmax", lambda w, i: sp.diff(sum(sp.exp(S.beta * xk) for xk in S.logit_symbols(w.n)),
                                        S.logit_symbols(w.n)[i["i"]]),
        "the derivative of Z = sum_k exp(beta x_k), differentiated by sympy"),
    "eq-case-ii": Entry("softmax", lambda w, i: S.partial_derivative(i["i"], i["i"], w.n)),
    # ---- 04 The case i != j
    "eq-case-ij": Entry("softmax", lambda w, i: S.partial_derivative(i["j"], i["i"], w.n),
                        "stated for i != j", where=lambda i: i["i"] != i["j"]),
    "eq-case-combined": Entry("softmax", lambda w, i: S.partial_derivative(i["j"], i["i"], w.n),
                              "both cases at once; [i = j] is the Iverson bracket"),
    # ---- 05 The full Jacobian
    "eq-jacobian": Entry("softmax", lambda w, i: S.jacobian(w.n), "sympy's Jacobian of softmax"),
    "eq-jacobian-quadratic-form": Entry(
        "softmax", lambda w, i: (w.values["v"].T * S.jacobian(w.n) * w.values["v"])[0, 0],
        "v is any real vector"),
    "eq-vjp": Entry("softmax", lambda w, i: _grad((w.values["g"].T * sp.Matrix(_softmax(w)))[0, 0],
                                                   w.values["x"]), "the gradient of L = <g, y>"),
    # ---- 06 Backpropagation through softmax
    "eq-ce-loss": Entry("cross_entropy", lambda w, i: _ce_loss(w), "t sums to 1"),
    "eq-ce-grad": Entry("cross_entropy", lambda w, i: _grad(_ce_loss(w), w.values["x"])),
    "eq-ce-upstream": Entry("cross_entropy", lambda w, i: sp.diff(_ce_in_y(w), _y(w)[i["k"]]),
                            "the upstream gradient g = dL/dy, in terms of y"),
    "eq-ce-log-softmax": Entry("softmax", lambda w, i: sp.log(_softmax(w)[i["k"]])),
    "eq-dy-dbeta": Entry("softmax", lambda w, i: sp.Matrix(_softmax(w)).diff(S.beta)),
    "eq-ce-dbeta": Entry("cross_entropy", lambda w, i: sp.diff(_ce_loss(w), S.beta), "t sums to 1"),
    "eq-ce-model": Entry("classifier", lambda w, i: w.values["W"] * w.values["a"] + w.values["b"]),
    "eq-ce-mean-loss": Entry("batch", lambda w, i: _mean_ce(w)),
    "eq-ce-grad-W": Entry("batch", lambda w, i: _grad(_mean_ce(w), w.values["W"])),
    "eq-ce-grad-b": Entry("batch", lambda w, i: _grad(_mean_ce(w), w.values["b"])),
    # ---- 07 Second derivatives
    "eq-lse-grad": Entry("softmax", lambda w, i: _softmax(w)[i["i"]], "the gradient of log-sum-exp"),
    "eq-lse-hessian": Entry("softmax", lambda w, i: sp.hessian(S.log_sum_exp_expr(w.n), w.values["x"]),
                            "sympy's Hessian of log-sum-exp"),
    "eq-softmax-second": Entry("softmax", lambda w, i: S.second_partial(i["j"], i["i"], i["k"], w.n),
                               "T_jik, sympy's second derivative of softmax"),
    "eq-softmax-second-directional": Entry(
        "softmax", lambda w, i: sum(S.second_partial(i["j"], p, q, w.n) * w.values["u"][p] * w.values["v"][q]
                                    for p in range(w.n) for q in range(w.n)),
        "T contracted with the directions u and v"),
    "eq-ce-hessian": Entry("cross_entropy", lambda w, i: sp.hessian(_ce_loss(w), w.values["x"]),
                           "t sums to 1"),
    "eq-ce-hessian-quadratic": Entry(
        "cross_entropy",
        lambda w, i: (w.values["v"].T * sp.hessian(_ce_loss(w), w.values["x"]) * w.values["v"])[0, 0],
        "v is any real vector; t sums to 1"),
    "eq-regression-hessian": Entry(
        "batch", lambda w, i: sp.diff(_mean_ce(w), w.values["W"][i["j"], i["p"]], w.values["W"][i["k"], i["q"]]),
        "second derivatives of the mean loss in the weights; small sizes keep the check fast",
        sizes={"N": 1, "d": 2, "n": 2}),
    # ---- Appendix: notes on the original derivation
    "eq-notes-quotient-ii": Entry("softmax", lambda w, i: S.partial_derivative(i["j"], i["i"], w.n),
                                  "the quotient rule before simplifying, for i = j",
                                  where=lambda i: i["i"] == i["j"]),
    "eq-notes-quotient-ij": Entry("softmax", lambda w, i: S.partial_derivative(i["j"], i["i"], w.n),
                                  "the quotient rule before simplifying, for i != j",
                                  where=lambda i: i["i"] != i["j"]),
    # ---- 08 Attention
    "eq-attention-scores": Entry("attention", lambda w, i: w.values["beta"] * w.values["Q"] * w.values["K"].T
                                 + w.values["M"], "the scores, scaled and masked"),
    "eq-attention-output": Entry("attention", lambda w, i: _row_softmax_of_scores(w) * w.values["V"],
                                 "P is the softmax of each row of S"),
    "eq-attention-dV": Entry("attention", lambda w, i: _grad(_attention_loss(w), w.values["V"])),
    "eq-attention-dP": Entry("attention", lambda w, i: _grad(_attention_loss(w, "P"), w.values["P"]),
                             "P as a free variable"),
    "eq-attention-dS": Entry("attention", lambda w, i: _grad(_attention_loss(w, "S"), w.values["S"]),
                             "S as a free variable: the softmax VJP of each row"),
    "eq-attention-dQ": Entry("attention", lambda w, i: _grad(_attention_loss(w), w.values["Q"])),
    "eq-attention-dK": Entry("attention", lambda w, i: _grad(_attention_loss(w), w.values["K"])),
    "eq-flash-identity": Entry("attention", lambda w, i: (w.values["dO"].multiply_elementwise(
        _row_softmax_of_scores(w) * w.values["V"])) * sp.ones(w.sizes["d_v"], 1),
        "the row sums of dO . O, from softmax_lib's softmax"),
    "eq-online-merge": Entry("online", lambda w, i: w.values["ell"],
                             "the merge rule; m_A, m_B and m are any references"),
    "eq-online-lse": Entry("online", lambda w, i: sp.log(sum(sp.exp(S.beta * xk) for xk in w.values["x"])) / S.beta,
                           "LSE_beta of the row (chapter 2) from the pair (m, ell)"),
}
