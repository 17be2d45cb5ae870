"""Property-based tests (hypothesis) of the identities the book proves."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from softmax_lib import (linear, linear_backward, numerical_jacobian, softmax, softmax_jacobian,
                         softmax_vjp)

sizes = st.integers(1, 8)
moderate = st.floats(-30, 30, allow_nan=False)
betas = st.floats(-5, 5, allow_nan=False)


def vectors(n, elements=moderate):
    return arrays(np.float64, n, elements=elements)


@given(sizes.flatmap(lambda n: vectors(n, st.floats(-1e300, 1e300))), st.floats(-50, 50))
def test_outputs_are_probabilities(x, beta):
    y = softmax(x, beta=beta)
    assert np.all(y >= 0) and np.all(y <= 1)
    assert abs(y.sum() - 1.0) <= 8 * np.finfo(float).eps * x.size


@given(sizes.flatmap(vectors), betas, st.floats(-100, 100))
def test_shift_invariance(x, beta, c):
    np.testing.assert_allclose(softmax(x + c, beta=beta), softmax(x, beta=beta), rtol=1e-9, atol=1e-12)


@given(sizes.flatmap(vectors), betas)
def test_jacobian_symmetric_rows_sum_to_zero(x, beta):
    J = softmax_jacobian(x, beta=beta)
    tol = 4 * np.finfo(float).eps * max(abs(beta), 1.0)
    np.testing.assert_array_equal(J, J.T)
    assert np.all(np.abs(J.sum(axis=1)) <= tol)
    assert np.all(np.abs(J.sum(axis=0)) <= tol)


@given(sizes.flatmap(vectors), st.floats(0, 5))
def test_jacobian_positive_semidefinite_for_positive_beta(x, beta):
    eig = np.linalg.eigvalsh(softmax_jacobian(x, beta=beta))
    assert eig.min() >= -1e-14 * max(beta, 1.0)
    assert eig.max() <= beta * softmax(x, beta=beta).max() + 1e-14 * max(beta, 1.0)


@given(sizes.flatmap(lambda n: st.tuples(vectors(n), vectors(n, st.floats(-10, 10)))), betas)
def test_vjp_equals_g_transpose_J(xg, beta):
    x, g = xg
    y = softmax(x, beta=beta)
    expected = g @ softmax_jacobian(x, beta=beta)
    np.testing.assert_allclose(softmax_vjp(y, g, beta=beta), expected, atol=1e-12 * (1 + np.abs(g).max()) * max(1, abs(beta)))


@given(sizes.flatmap(lambda n: vectors(n, st.floats(-5, 5))), st.floats(-3, 3))
def test_jacobian_equals_finite_differences(x, beta):
    fd = numerical_jacobian(lambda v: softmax(v, beta=beta), x)
    np.testing.assert_allclose(softmax_jacobian(x, beta=beta), fd, atol=1e-7)


@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 3), st.integers(0, 2**32 - 1))
def test_linear_backward_equals_finite_differences(m, n, batch, seed):
    rng = np.random.default_rng(seed)
    shape = (n,) if batch == 0 else (batch, n)
    x, W, b = rng.normal(size=shape), rng.normal(size=(m, n)), rng.normal(size=m)
    weights = rng.normal(size=shape[:-1] + (m,))          # L = sum(weights * y), so dL/dy = weights
    loss = lambda x_, W_, b_: np.sum(weights * linear(x_, W_, b_))
    gW, gb, gx = linear_backward(x, W, weights)
    np.testing.assert_allclose(gW, numerical_jacobian(lambda W_: loss(x, W_, b), W), atol=1e-7)
    np.testing.assert_allclose(gb, numerical_jacobian(lambda b_: loss(x, W, b_), b), atol=1e-7)
    np.testing.assert_allclose(gx, numerical_jacobian(lambda x_: loss(x_, W, b), x), atol=1e-7)
