"""softmax against a high-precision reference computed with mpmath.

Inputs reach |x| = 1e308 and beta covers [-50, 50]. Every entry whose scaled
distance from the reference logit, |beta (x_j - x_ref)|, is at most 100 must be
within 64 ulp of the exact value; further out, the rounding of x_j - x_ref
(amplified by the exponent) dominates, as softmax's docstring says.
"""

import mpmath
import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from softmax_lib import log_softmax, softmax

PRECISION = 200  # bits, set with mpmath.workprec inside reference() only
ULPS = 64
BAND = 100


def reference(x, beta):
    """Exact-to-200-bits softmax and log-softmax, and the scaled exponents (as floats)."""
    with mpmath.workprec(PRECISION):
        xs = [mpmath.mpf(float(v)) for v in x]
        b = mpmath.mpf(float(beta))
        ref = max(xs) if beta >= 0 else min(xs)
        a = [b * (v - ref) for v in xs]
        total = mpmath.fsum(mpmath.exp(v) for v in a)
        y = [float(mpmath.exp(v) / total) for v in a]
        logy = [float(v - mpmath.log(total)) for v in a]
        log_n = float(mpmath.log(len(xs)))
        return y, logy, [float(v) for v in a], log_n


finite = st.floats(-1e308, 1e308, allow_nan=False, allow_infinity=False)


@given(st.integers(1, 6).flatmap(lambda n: arrays(np.float64, n, elements=finite)), st.floats(-50, 50))
@example(np.array([1e308, -1e308]), 3e-309)
@example(np.array([1e308, 1e308 * (1 - 2**-52)]), 1e-292)
@example(np.array([-0.01923914192547385, 9.114617689909547]), 10.40587831956789)  # 113 ulp off without the tail correction
@example(np.array([0.0, 100.0, -100.0]), 1.0)
@example(np.array([1.0, 2.0, 3.0]), 0.0)
def test_softmax_within_64_ulp_of_mpmath(x, beta):
    y, logy = softmax(x, beta=beta), log_softmax(x, beta=beta)
    ref_y, ref_logy, a, log_n = reference(x, beta)
    for j in range(x.size):
        if abs(a[j]) > BAND:
            continue
        exact = ref_y[j]
        assert abs(y[j] - exact) <= ULPS * np.spacing(exact), (j, y[j], exact)
        # log y_j = a_j - log S: an absolute error of a few ulp of the larger term
        exact_log = ref_logy[j]
        scale = max(abs(a[j]), log_n + 1, 1.0)
        assert abs(logy[j] - exact_log) <= ULPS * np.spacing(scale), (j, logy[j], exact_log)
