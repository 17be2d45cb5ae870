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

from softmax_lib import symbolic as S


@dataclass(frozen=True)
class Entry:
    world: str
    reference: Callable[[Any, dict], Any] | None
    note: str = ""
    sizes: dict | None = None  # e.g. {"n": 2} for a statement about two classes
    where: Callable[[dict], bool] | None = None  # the side condition stated in the prose


def _layer(w):
    return S.linear_layer(w.m, w.n)


REGISTRY: dict[str, Entry] = {
    # ---- 01 The chain rule and a linear layer
    "eq-linear-layer": Entry("linear", lambda w, i: _layer(w).y,
                             "the layer's definition and the shapes of W, x and b"),
    "eq-linear-grad-W": Entry("linear", lambda w, i: S.linear_gradients(_layer(w))["W"]),
    "eq-linear-grad-b": Entry("linear", lambda w, i: S.linear_gradients(_layer(w))["b"]),
    "eq-linear-grad-x": Entry("linear", lambda w, i: S.linear_gradients(_layer(w))["x"]),
}
