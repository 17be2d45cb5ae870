"""cross_entropy and cross_entropy_grad."""

import numpy as np
import pytest

from softmax_lib import cross_entropy, cross_entropy_grad, log_softmax, numerical_jacobian, softmax


def test_extreme_logits_stay_finite():
    assert cross_entropy([[1000.0, -1000.0]], [1]).tolist() == [2000.0]
    assert cross_entropy([[1000.0, -1000.0]], [0]).tolist() == [0.0]


def test_index_and_probability_targets_agree():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4, 3))
    idx = np.array([0, 2, 1, 2])
    onehot = np.eye(3)[idx]
    for beta in (1.0, 0.5, -2.0):
        np.testing.assert_allclose(cross_entropy(x, idx, beta=beta), cross_entropy(x, onehot, beta=beta))
        np.testing.assert_allclose(cross_entropy(x, idx, beta=beta),
                                   -log_softmax(x, beta=beta)[np.arange(4), idx])
        np.testing.assert_allclose(cross_entropy_grad(x, idx, beta=beta),
                                   beta * (softmax(x, beta=beta) - onehot))


def test_shapes():
    x = np.zeros((2, 5, 3))
    assert cross_entropy(x, np.zeros((2, 5), dtype=int)).shape == (2, 5)
    assert cross_entropy(np.zeros(3), 1).shape == ()
    assert cross_entropy_grad(x, np.zeros((2, 5), dtype=int)).shape == x.shape


def test_soft_target_and_gradient_match_finite_differences():
    rng = np.random.default_rng(8)
    x = rng.normal(size=4)
    t = softmax(rng.normal(size=4))
    beta = 1.3
    fd = numerical_jacobian(lambda v: cross_entropy(v, t, beta=beta), x)
    np.testing.assert_allclose(cross_entropy_grad(x, t, beta=beta), fd, atol=1e-8)
    np.testing.assert_allclose(cross_entropy_grad(x, t, beta=beta), beta * (softmax(x, beta=beta) - t))


def test_masked_logit_with_zero_target_costs_nothing():
    assert float(cross_entropy([0.0, -np.inf, 0.0], 0)) == pytest.approx(np.log(2))


@pytest.mark.parametrize("target,pattern", [
    (np.array([0, 3]), r"class index 3, outside 0..2"),
    (np.array([-1, 0]), r"class index -1"),
    (np.array([[0.5, 0.5, 0.5], [1.0, 0.0, 0.0]]), r"sum to 1.*\(0,\) sums to 1.5"),
    (np.array([[1.5, -0.5, 0.0], [1.0, 0.0, 0.0]]), r"non-negative"),
    (np.array([0.0, 1.0]), r"target must be integer class indices of shape \(2,\)"),
    (np.array([0, 1, 2]), r"target must be"),
])
@pytest.mark.parametrize("fn", [cross_entropy, cross_entropy_grad])
def test_bad_targets(fn, target, pattern):
    with pytest.raises(ValueError, match=pattern):
        fn(np.zeros((2, 3)), target)


@pytest.mark.parametrize("fn", [cross_entropy, cross_entropy_grad])
def test_bad_logits_and_beta(fn):
    with pytest.raises(ValueError, match="NaN"):
        fn([[0.0, np.nan]], [0])
    with pytest.raises(ValueError, match="beta"):
        fn([[0.0, 1.0]], [0], beta=np.inf)
    with pytest.raises(ValueError, match="empty axis"):
        fn(np.zeros((2, 0)), np.zeros(2, dtype=int))
