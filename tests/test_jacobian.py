"""softmax_partial, softmax_jacobian and softmax_vjp."""

import numpy as np
import pytest

from softmax_lib import numerical_jacobian, softmax, softmax_jacobian, softmax_partial, softmax_vjp


def test_partial_two_cases():
    y = softmax([0.2, -1.0, 1.5])
    for beta in (1.0, 2.0, -0.5):
        assert softmax_partial(y, 1, 1, beta=beta) == pytest.approx(beta * y[1] * (1 - y[1]))
        assert softmax_partial(y, 2, 0, beta=beta) == pytest.approx(-beta * y[2] * y[0])
        assert softmax_partial(y, 0, 2, beta=beta) == pytest.approx(-beta * y[0] * y[2])


def test_partial_matches_finite_differences():
    x, beta = np.array([0.3, -0.8, 1.1, 0.0]), 1.7
    y = softmax(x, beta=beta)
    fd = numerical_jacobian(lambda v: softmax(v, beta=beta), x)
    for j in range(4):
        for i in range(4):
            assert softmax_partial(y, j, i, beta=beta) == pytest.approx(fd[j, i], abs=1e-9)


@pytest.mark.parametrize("j,i", [(3, 0), (0, 3), (-1, 0), (0, -1)])
def test_partial_index_out_of_range(j, i):
    with pytest.raises(IndexError, match="out of range"):
        softmax_partial([0.2, 0.3, 0.5], j, i)


def test_partial_bad_inputs():
    with pytest.raises(TypeError, match="integer index"):
        softmax_partial([0.5, 0.5], 0.0, 1)
    with pytest.raises(ValueError, match="one-dimensional"):
        softmax_partial([[0.5, 0.5]], 0, 0)
    with pytest.raises(ValueError, match=r"y\[1\] = nan"):
        softmax_partial([0.5, np.nan], 0, 0)
    with pytest.raises(ValueError, match="beta"):
        softmax_partial([0.5, 0.5], 0, 0, beta=np.inf)


def test_jacobian_formula_and_finite_differences():
    rng = np.random.default_rng(2)
    x = rng.normal(size=5)
    for beta in (1.0, 0.3, -2.0):
        J = softmax_jacobian(x, beta=beta)
        y = softmax(x, beta=beta)
        np.testing.assert_allclose(J, beta * (np.diag(y) - np.outer(y, y)), atol=1e-15)
        fd = numerical_jacobian(lambda v: softmax(v, beta=beta), x)
        np.testing.assert_allclose(J, fd, atol=1e-8)


def test_jacobian_orientation_rows_are_outputs():
    # J[j, i] = d y_j / d x_i: raising x_0 raises y_0 and lowers the others.
    J = softmax_jacobian([0.0, 1.0, 2.0])
    assert J[0, 0] > 0 and (J[1:, 0] < 0).all()


def test_jacobian_batch_shape():
    x = np.random.default_rng(3).normal(size=(2, 3, 4))
    J = softmax_jacobian(x)
    assert J.shape == (2, 3, 4, 4)
    np.testing.assert_allclose(J[1, 2], softmax_jacobian(x[1, 2]))


def test_jacobian_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        softmax_jacobian([0.0, np.nan])
    with pytest.raises(TypeError):
        softmax_jacobian(["a"])


def test_vjp_equals_g_transpose_J():
    rng = np.random.default_rng(4)
    x, g = rng.normal(size=(3, 6)), rng.normal(size=(3, 6))
    for beta in (1.0, 2.5, -1.0):
        y = softmax(x, beta=beta)
        J = softmax_jacobian(x, beta=beta)
        expected = np.einsum("bj,bji->bi", g, J)
        np.testing.assert_allclose(softmax_vjp(y, g, beta=beta), expected, atol=1e-14)


def test_vjp_other_axis():
    rng = np.random.default_rng(5)
    x, g = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    y0 = softmax(x, axis=0)
    got = softmax_vjp(y0, g, axis=0)
    expected = softmax_vjp(y0.T, g.T).T
    np.testing.assert_allclose(got, expected)


def test_vjp_shape_mismatch():
    with pytest.raises(ValueError, match=r"same shape.*\(3,\) and \(4,\)"):
        softmax_vjp(np.ones(3) / 3, np.ones(4))


def test_vjp_non_finite_raises():
    y = softmax(np.zeros((2, 3)))
    g = np.ones((2, 3))
    g[1, 2] = np.inf
    with pytest.raises(ValueError, match=r"index \(1,\)"):
        softmax_vjp(y, g)
    y[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"index \(0,\)"):
        softmax_vjp(y, np.ones((2, 3)))


def test_vjp_bad_beta_and_types():
    with pytest.raises(ValueError, match="beta"):
        softmax_vjp([0.5, 0.5], [1.0, 0.0], beta=np.nan)
    with pytest.raises(TypeError):
        softmax_vjp(["a"], [1.0])
    with pytest.raises(ValueError, match="empty axis"):
        softmax_vjp(np.zeros((2, 0)), np.zeros((2, 0)))
