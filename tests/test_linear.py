"""linear and linear_backward."""

import numpy as np
import pytest

from softmax_lib import linear, linear_backward, numerical_jacobian


def layer(seed: int):
    """Each test's own generator, and a layer drawn from it."""
    rng = np.random.default_rng(seed)
    return rng, rng.normal(size=(3, 4)), rng.normal(size=3)


def test_linear_single_and_batch():
    rng, W, b = layer(60)
    a = rng.normal(size=4)
    np.testing.assert_allclose(linear(a, W, b), W @ a + b)
    X = rng.normal(size=(5, 4))
    np.testing.assert_allclose(linear(X, W, b), np.stack([W @ r + b for r in X]))


def test_backward_single_sample_formulas():
    rng, W, b = layer(61)
    x, d = rng.normal(size=4), rng.normal(size=3)
    gW, gb, gx = linear_backward(x, W, d)
    np.testing.assert_allclose(gW, np.outer(d, x))
    assert gW.shape == W.shape
    np.testing.assert_allclose(gb, d)
    np.testing.assert_allclose(gx, W.T @ d)


def test_backward_batch_formulas():
    rng, W, b = layer(62)
    X, G = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    gW, gb, gX = linear_backward(X, W, G)
    np.testing.assert_allclose(gW, G.T @ X)
    np.testing.assert_allclose(gb, G.sum(axis=0))
    np.testing.assert_allclose(gX, G @ W)


def test_backward_matches_finite_differences_of_a_loss():
    rng, W, b = layer(63)
    X = rng.normal(size=(2, 4))
    loss = lambda W_, b_, X_: np.sum(np.tanh(linear(X_, W_, b_)))
    G = 1 - np.tanh(linear(X, W, b)) ** 2
    gW, gb, gX = linear_backward(X, W, G)
    np.testing.assert_allclose(gW, numerical_jacobian(lambda W_: loss(W_, b, X), W), atol=1e-8)
    np.testing.assert_allclose(gb, numerical_jacobian(lambda b_: loss(W, b_, X), b), atol=1e-8)
    np.testing.assert_allclose(gX, numerical_jacobian(lambda X_: loss(W, b, X_), X), atol=1e-8)


@pytest.mark.parametrize("a,Wm,bb,pattern", [
    (np.ones(5), np.ones((3, 4)), np.zeros(3), r"^linear: a of shape \(5,\) does not fit W of shape \(3, 4\)"),
    (np.ones(4), np.ones((3, 4)), np.ones(4), r"^linear: b must have shape \(n,\) = \(3,\).*got \(4,\)"),
    (np.ones(4), np.ones(4), np.zeros(3), r"^linear: W must be a matrix of shape \(n, d\)"),
    (np.ones((2, 2, 4)), np.ones((3, 4)), np.zeros(3), r"^linear: a must have shape \(d,\) or \(N, d\)"),
])
def test_linear_shape_errors(a, Wm, bb, pattern):
    with pytest.raises(ValueError, match=pattern):
        linear(a, Wm, bb)


def test_backward_shape_errors():
    rng, W, b = layer(64)
    with pytest.raises(ValueError, match=r"^linear_backward: grad must have the shape .*\(3,\).*got \(4,\)"):
        linear_backward(np.ones(4), W, np.ones(4))
    with pytest.raises(ValueError, match=r"\(2, 3\).*got \(3,\)"):
        linear_backward(np.ones((2, 4)), W, np.ones(3))
    with pytest.raises(ValueError, match="does not fit"):
        linear_backward(np.ones(3), W, np.ones(3))


def test_non_numeric():
    rng, W, b = layer(65)
    with pytest.raises(TypeError, match="W"):
        linear(np.ones(4), [["a"] * 4] * 3, b)
