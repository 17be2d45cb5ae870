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
    "eq-case-ii": Entry("softmax", lambda w, i: S.partial_derivative(i["i"], i["i"], w.n)),
    # ---- 04 The case i != j
    "eq-case-ij": Entry("softmax", lambda w, i: S.partial_derivative(i["j"], i["i"], w.n),
                        "stated for i != j", where=lambda i: i["i"] != i["j"]),
    "eq-case-kronecker": Entry("softmax", lambda w, i: S.partial_derivative(i["j"], i["i"], w.n),
                               "both cases at once; delta_{ji} is the Kronecker delta"),
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
    "eq-ce-delta": Entry("cross_entropy", lambda w, i: sp.diff(_ce_in_y(w), _y(w)[i["k"]]),
                         "delta = dL/dy, in terms of y"),
    "eq-ce-log-softmax": Entry("softmax", lambda w, i: sp.log(_softmax(w)[i["k"]])),
    "eq-dy-dbeta": Entry("softmax", lambda w, i: sp.Matrix(_softmax(w)).diff(S.beta)),
    "eq-ce-dbeta": Entry("cross_entropy", lambda w, i: sp.diff(_ce_loss(w), S.beta), "t sums to 1"),
    "eq-ce-model": Entry("classifier", lambda w, i: w.values["W"] * w.values["a"] + w.values["b"]),
    "eq-ce-mean-loss": Entry("batch", lambda w, i: _mean_ce(w)),
    "eq-ce-grad-W": Entry("batch", lambda w, i: _grad(_mean_ce(w), w.values["W"])),
    "eq-ce-grad-b": Entry("batch", lambda w, i: _grad(_mean_ce(w), w.values["b"])),
    # ---- 08 Notes on the original derivation (appendix)
    "eq-notes-quotient-ii": Entry("softmax", lambda w, i: S.partial_derivative(i["j"], i["i"], w.n),
                                  "the quotient rule before simplifying, for i = j",
                                  where=lambda i: i["i"] == i["j"]),
    "eq-notes-quotient-ij": Entry("softmax", lambda w, i: S.partial_derivative(i["j"], i["i"], w.n),
                                  "the quotient rule before simplifying, for i != j",
                                  where=lambda i: i["i"] != i["j"]),
    # ---- 07 Making softmax fast
    "eq-online-merge": Entry("online", lambda w, i: w.values["d"],
                             "the merge rule; m_A, m_B and M are any references"),
}
