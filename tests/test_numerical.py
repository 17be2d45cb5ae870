"""numerical_jacobian."""

import numpy as np
import pytest

from softmax_lib import numerical_jacobian


def test_shape_is_output_then_input():
    f = lambda X: np.array([X.sum(), (X ** 2).sum(), X[0, 1]])
    J = numerical_jacobian(f, np.ones((2, 3)))
    assert J.shape == (3, 2, 3)
    np.testing.assert_allclose(J[0], np.ones((2, 3)), atol=1e-9)
    np.testing.assert_allclose(J[1], 2 * np.ones((2, 3)), atol=1e-8)
    assert J[2, 0, 1] == pytest.approx(1.0) and J[2, 1, 1] == 0.0


def test_scalar_function_gives_gradient_shape():
    g = numerical_jacobian(lambda v: np.sin(v).sum(), np.array([0.1, 0.2]))
    np.testing.assert_allclose(g, np.cos([0.1, 0.2]), atol=1e-9)


def test_central_difference_error_is_second_order():
    f = lambda v: np.exp(v)
    x = np.array([0.5])
    e1 = abs(numerical_jacobian(f, x, eps=1e-2)[0, 0] - np.exp(0.5))
    e2 = abs(numerical_jacobian(f, x, eps=5e-3)[0, 0] - np.exp(0.5))
    assert 3.5 < e1 / e2 < 4.5


def test_does_not_modify_input():
    x = np.array([1.0, 2.0])
    numerical_jacobian(lambda v: v * 2, x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


@pytest.mark.parametrize("eps", [0, -1e-6, np.nan, np.inf, "1e-6"])
def test_bad_eps(eps):
    with pytest.raises(ValueError, match="eps"):
        numerical_jacobian(lambda v: v, np.ones(2), eps=eps)
