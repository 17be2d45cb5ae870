"""Tests for the functions chapter 6 ("Backpropagation through softmax") adds to softmax_lib."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import softmax_lib as sl

finite = st.floats(-20.0, 20.0, allow_nan=False)
betas = st.floats(-5.0, 5.0, allow_nan=False)


def dy_dbeta_fd(x, beta, axis=-1):
    """dy/dbeta by central differences, shaped like x."""
    jac = sl.numerical_jacobian(lambda b: sl.softmax(x, beta=float(b[0]), axis=axis), np.array([beta]))
    return jac[..., 0]


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(1, 6), elements=finite), betas)
def test_beta_grad_matches_finite_differences(x, beta):
    np.testing.assert_allclose(sl.softmax_beta_grad(x, beta=beta), dy_dbeta_fd(x, beta), atol=1e-7, rtol=1e-5)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(1, 6), elements=finite), betas)
def test_beta_grad_sums_to_zero(x, beta):
    g = sl.softmax_beta_grad(x, beta=beta)
    assert abs(g.sum()) < 1e-12 * max(1.0, np.abs(x).max())


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.integers(2, 6), elements=finite), betas.filter(lambda b: abs(b) > 1e-3))
def test_beta_grad_is_jacobian_times_x_over_beta(x, beta):
    # y depends on (x, beta) only through beta * x
    expected = sl.softmax_jacobian(x, beta=beta) @ x / beta
    np.testing.assert_allclose(sl.softmax_beta_grad(x, beta=beta), expected, atol=1e-10, rtol=1e-5)


def test_beta_zero_is_centred_logits_over_n():
    x = np.array([3.0, -1.0, 0.5, 2.0])
    np.testing.assert_allclose(sl.softmax_beta_grad(x, beta=0.0), (x - x.mean()) / x.size, rtol=1e-5, atol=1e-8)


def test_batch_and_axis():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(4, 5))
    rows = np.stack([sl.softmax_beta_grad(r, beta=1.5) for r in X])
    np.testing.assert_allclose(sl.softmax_beta_grad(X, beta=1.5), rows, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(sl.softmax_beta_grad(X, beta=1.5, axis=0), sl.softmax_beta_grad(X.T, beta=1.5).T, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(sl.softmax_beta_grad(X, beta=1.5, axis=0), dy_dbeta_fd(X, 1.5, axis=0), atol=1e-7, rtol=1e-5)


def test_masked_entry_has_zero_derivative():
    g = sl.softmax_beta_grad([0.0, -np.inf, 1.0], beta=2.0)
    assert np.all(np.isfinite(g)) and g[1] == 0.0
    np.testing.assert_allclose(g[[0, 2]], sl.softmax_beta_grad([0.0, 1.0], beta=2.0), rtol=1e-5, atol=1e-8)


def test_float32_stays_float32():
    assert sl.softmax_beta_grad(np.array([1.0, 2.0], dtype=np.float32)).dtype == np.float32


def test_bad_input_is_refused_like_softmax():
    with pytest.raises(ValueError, match="NaN"):
        sl.softmax_beta_grad([0.0, np.nan])
    with pytest.raises(ValueError, match="beta"):
        sl.softmax_beta_grad([0.0, 1.0], beta=np.inf)
    with pytest.raises(TypeError):
        sl.softmax_beta_grad(["a", "b"])


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.integers(2, 6), elements=finite), st.floats(0.1, 5.0), st.data())
def test_cross_entropy_beta_gradient(x, beta, data):
    # dL/dbeta = <y - t, x> for L = cross_entropy(x, t, beta), the chapter's result
    t = data.draw(st.integers(0, x.size - 1))
    y = sl.softmax(x, beta=beta)
    onehot = np.eye(x.size)[t]
    fd = sl.numerical_jacobian(lambda b: sl.cross_entropy(x, t, beta=float(b[0])), np.array([beta]))[0]
    assert np.isclose(np.dot(y - onehot, x), fd, atol=1e-6)
    # ... which is <dL/dy, dy/dbeta> with dL/dy = -t / y
    assert np.isclose(np.dot(-onehot / y, sl.softmax_beta_grad(x, beta=beta)), fd, atol=1e-6)
