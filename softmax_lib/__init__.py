"""softmax_lib: softmax, its derivatives and the gradients around it.

The library behind the softmax textbook. Every chapter imports it; every
function is tested, with numpydoc docstrings whose examples run as doctests.
This file only re-exports the public API. Where things live:

==================  =====================================================
``_softmax.py``     softmax, log_softmax: checks and layout (chapter "Softmax")
``_kernel.py``      the numerics of a block of rows, the one copy: shift,
                    tail correction, sums, normaliser check (imports nothing
                    from the package)
``_fast.py``        the blocked, threaded driver for large arrays (same kernel)
``_jacobian.py``    softmax_partial, softmax_jacobian, softmax_vjp,
                    softmax_beta_grad (chapters 3 to 5)
``_linear.py``      linear, linear_backward: x = W a + b (chapter "The chain rule")
``_losses.py``      cross_entropy, cross_entropy_grad (chapter "Backpropagation")
``_numerical.py``   numerical_jacobian, the finite-difference check
``_checks.py``      input checks shared by every public function
``tuning.py``       public: the fast path's knobs, for chapter 9's experiments
``symbolic.py``     public: sympy derivations
``plotting.py``     public: the book's figure style
==================  =====================================================

Masked arrays (``numpy.ma``) are refused with a TypeError by every function:
the arithmetic would silently drop the mask. Fill the masked entries first.
What is checked is each array argument itself, and the value ``f`` returns
in ``numerical_jacobian``; a list holding masked arrays is converted by
``np.asarray`` first, which drops their masks, and is not detected.
"""

from ._attention import attention, attention_vjp, flash_attention, flash_attention_vjp
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
    "attention",
    "attention_vjp",
    "flash_attention",
    "flash_attention_vjp",
]
__version__ = "0.1.0"
