"""softmax_lib: softmax, its derivatives and the gradients around it.

The library behind the softmax textbook. Every chapter imports it; every
function is tested, with numpydoc docstrings whose examples run as doctests.
"""

from ._jacobian import softmax_beta_grad, softmax_jacobian, softmax_partial, softmax_vjp
from ._hessian import cross_entropy_hessian, log_sum_exp, softmax_hessian, softmax_second_directional
from ._linear import linear, linear_backward
from ._losses import cross_entropy, cross_entropy_grad
from ._numerical import numerical_jacobian
from ._softmax import log_softmax, softmax
from . import tuning  # a public module: the fast path's knobs (plotting and symbolic import on demand)

__all__ = [
    "softmax",
    "log_softmax",
    "softmax_partial",
    "softmax_jacobian",
    "softmax_vjp",
    "softmax_beta_grad",
    "linear",
    "linear_backward",
    "cross_entropy",
    "cross_entropy_grad",
    "numerical_jacobian",
    "log_sum_exp",
    "softmax_hessian",
    "softmax_second_directional",
    "cross_entropy_hessian",
]
__version__ = "0.1.0"
