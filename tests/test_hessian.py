"""Second derivatives: log_sum_exp, softmax_hessian, softmax_second_directional, cross_entropy_hessian.

Every formula is checked against finite differences of the first-order
functions (which are themselves tested against finite differences of softmax),
and the identities of the chapter "Second derivatives" as hypothesis properties.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from softmax_lib import (cross_entropy, cross_entropy_grad, cross_entropy_hessian, log_sum_exp,
                         numerical_jacobian, softmax, softmax_hessian, softmax_jacobian,
                         softmax_second_directional)

sizes = st.integers(1, 7)
moderate = st.floats(-20, 20, allow_nan=False)
betas = st.floats(-4, 4, allow_nan=False)
nonzero_betas = betas.filter(lambda b: abs(b) > 1e-3)


def vectors(n, elements=moderate):
    return arrays(np.float64, n, elements=elements)


def _lse_direct(x, beta):
    """log sum exp in exact-ish arithmetic with math.fsum (for moderate inputs only)."""
    return math.log(math.fsum(math.exp(beta * xk) for xk in x)) / beta


# --------------------------------------------------------------------------- log_sum_exp


@pytest.mark.parametrize("beta", [1.0, 0.3, 2.5, -1.0, -0.4])
def test_log_sum_exp_matches_the_definition(beta):
    x = np.random.default_rng(0).normal(size=6)
    assert abs(float(log_sum_exp(x, beta=beta)) - _lse_direct(x, beta)) <= 1e-14 * 10


def test_log_sum_exp_gradient_is_softmax():
    x = np.random.default_rng(1).normal(size=5)
    for beta in (1.0, 1.7, -0.8):
        grad = numerical_jacobian(lambda z: log_sum_exp(z, beta=beta), x)
        np.testing.assert_allclose(grad, softmax(x, beta=beta), atol=1e-9)


def test_log_sum_exp_hessian_is_the_softmax_jacobian():
    x = np.random.default_rng(2).normal(size=4)
    for beta in (1.0, 2.0, -1.5):
        hess = numerical_jacobian(lambda z: softmax(z, beta=beta), x)  # Jacobian of the gradient
        np.testing.assert_allclose(hess, softmax_jacobian(x, beta=beta), atol=1e-8)
        # and directly: second differences of LSE itself
        eps = 1e-4
        n = x.size
        H = np.empty((n, n))
        for i in range(n):
            for k in range(n):
                ei, ek = np.eye(n)[i] * eps, np.eye(n)[k] * eps
                H[i, k] = (log_sum_exp(x + ei + ek, beta) - log_sum_exp(x + ei - ek, beta)
                           - log_sum_exp(x - ei + ek, beta) + log_sum_exp(x - ei - ek, beta)) / (4 * eps**2)
        np.testing.assert_allclose(H, softmax_jacobian(x, beta=beta), atol=1e-6)


def test_log_sum_exp_is_stable_and_keeps_dtype():
    assert float(log_sum_exp([1000.0, 1000.0])) == pytest.approx(1000 + math.log(2), rel=1e-15)
    assert float(log_sum_exp([-1000.0, -1000.0])) == pytest.approx(-1000 + math.log(2), rel=1e-15)
    assert float(log_sum_exp([1e308, -1e308], beta=0.5)) == 1e308
    assert float(log_sum_exp([0.0, -np.inf])) == 0.0  # a masked entry contributes nothing
    assert float(log_sum_exp([0.0, np.inf], beta=-1.0)) == 0.0
    assert log_sum_exp(np.zeros(3, dtype=np.float32)).dtype == np.float32
    assert log_sum_exp([1, 2, 3]).dtype == np.float64


def test_log_sum_exp_axis_and_shape():
    x = np.random.default_rng(3).normal(size=(3, 4, 5))
    for axis in (0, 1, 2, -1, -3):
        out = log_sum_exp(x, beta=1.3, axis=axis)
        expected = np.log(np.sum(np.exp(1.3 * x), axis=axis)) / 1.3
        np.testing.assert_allclose(out, expected, rtol=1e-13)
        assert out.shape == expected.shape
    assert log_sum_exp([1.0, 2.0]).shape == ()


@given(sizes.flatmap(vectors), nonzero_betas)
def test_log_sum_exp_is_a_soft_maximum(x, beta):
    lse = float(log_sum_exp(x, beta=beta))
    ref = x.max() if beta > 0 else x.min()
    tol = 1e-12 * max(1.0, abs(ref))
    if beta > 0:
        assert ref - tol <= lse <= ref + math.log(x.size) / beta + tol
    else:
        assert ref + math.log(x.size) / beta - tol <= lse <= ref + tol


@given(sizes.flatmap(vectors), nonzero_betas, st.floats(-50, 50))
def test_log_sum_exp_shifts_with_its_input(x, beta, c):
    np.testing.assert_allclose(log_sum_exp(x + c, beta=beta), log_sum_exp(x, beta=beta) + c,
                               rtol=1e-12, atol=1e-11)


@given(st.integers(2, 6).flatmap(lambda n: st.tuples(vectors(n), vectors(n))),
       st.floats(0.05, 4), st.floats(0, 1))
def test_log_sum_exp_is_convex(xs, beta, s):
    x1, x2 = xs
    mid = log_sum_exp(s * x1 + (1 - s) * x2, beta=beta)
    chord = s * log_sum_exp(x1, beta=beta) + (1 - s) * log_sum_exp(x2, beta=beta)
    assert mid <= chord + 1e-12 * (1 + abs(chord))


def test_log_sum_exp_refuses_beta_zero_with_a_named_error():
    with pytest.raises(ValueError, match="beta must be non-zero"):
        log_sum_exp([1.0, 2.0], beta=0.0)
    with pytest.raises(ValueError, match="beta"):
        log_sum_exp([1.0, 2.0], beta=np.nan)
    with pytest.raises(TypeError, match="beta"):
        log_sum_exp([1.0, 2.0], beta="1")


@pytest.mark.parametrize("x, message", [
    ([1.0, np.nan], "NaN at position 1"),
    ([1.0, np.inf], r"\+inf after scaling"),
    ([-np.inf, -np.inf], "every entry masked"),
])
def test_log_sum_exp_refuses_bad_logits(x, message):
    with pytest.raises(ValueError, match=message):
        log_sum_exp(x)


def test_log_sum_exp_refuses_empty_and_scalar_input():
    with pytest.raises(ValueError, match="empty axis"):
        log_sum_exp(np.zeros((2, 0)))
    with pytest.raises(ValueError, match="scalar"):
        log_sum_exp(3.0)
    with pytest.raises(TypeError):
        log_sum_exp(["a", "b"])


# --------------------------------------------------------------------------- softmax_hessian


@pytest.mark.parametrize("beta", [1.0, 2.0, -0.7])
def test_softmax_hessian_matches_finite_differences_of_the_jacobian(beta):
    x = np.random.default_rng(4).normal(size=5)
    fd = numerical_jacobian(lambda z: softmax_jacobian(z, beta=beta), x)  # fd[j, i, k]
    np.testing.assert_allclose(softmax_hessian(x, beta=beta), fd, atol=1e-8)


def test_softmax_hessian_matches_sympy():
    import sympy as sp

    from softmax_lib import symbolic as S

    n = 3
    xs = S.logit_symbols(n)
    ys = S.softmax_exprs(n)
    point = {S.beta: 1.3, xs[0]: 0.2, xs[1]: -0.5, xs[2]: 1.1}
    T = softmax_hessian([0.2, -0.5, 1.1], beta=1.3)
    for j in range(n):
        for i in range(n):
            for k in range(n):
                exact = float(sp.diff(ys[j], xs[i], xs[k]).subs(point))
                assert abs(T[j, i, k] - exact) <= 1e-14


@given(st.integers(1, 6).flatmap(vectors), betas)
def test_softmax_hessian_symmetries(x, beta):
    T = softmax_hessian(x, beta=beta)
    scale = beta * beta
    tol = 8 * np.finfo(float).eps * max(scale, 1e-300)
    np.testing.assert_allclose(T, np.swapaxes(T, 1, 2), rtol=0, atol=tol)  # each T[j] symmetric
    assert np.all(np.abs(T.sum(axis=0)) <= tol * x.size)  # sum_j y_j = 1 has no curvature
    assert np.all(np.abs(T.sum(axis=2)) <= tol * x.size)  # shifting x along 1 changes nothing


def test_softmax_hessian_refuses_batches_and_bad_input():
    with pytest.raises(ValueError, match=r"one-dimensional, got shape \(2, 3\)"):
        softmax_hessian(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        softmax_hessian([0.0, np.nan])
    with pytest.raises(ValueError, match="beta"):
        softmax_hessian([0.0, 1.0], beta=np.inf)


# --------------------------------------------------------------------------- directional


@pytest.mark.parametrize("seed", range(5))
def test_directional_agrees_with_the_contracted_tensor(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    x = rng.normal(scale=3, size=n)
    u, v = rng.normal(size=n), rng.normal(size=n)
    beta = float(rng.uniform(-3, 3))
    full = np.einsum("jik,i,k->j", softmax_hessian(x, beta=beta), u, v)
    fast = softmax_second_directional(x, u, v, beta=beta)
    largest = np.abs(full).max()
    assert np.abs(fast - full).max() <= 1e-12 * largest


@given(st.integers(1, 10).flatmap(lambda n: st.tuples(vectors(n), vectors(n, st.floats(-5, 5)),
                                                       vectors(n, st.floats(-5, 5)))), betas)
@settings(max_examples=60)
def test_directional_agrees_with_the_contracted_tensor_property(xuv, beta):
    x, u, v = xuv
    full = np.einsum("jik,i,k->j", softmax_hessian(x, beta=beta), u, v)
    fast = softmax_second_directional(x, u, v, beta=beta)
    largest = np.abs(full).max()
    bound = (1e-12 * largest + 64 * np.finfo(float).eps * beta * beta * (1 + np.abs(u).max()) * (1 + np.abs(v).max())
             + 1e-300)  # beta**2 can underflow
    assert np.abs(fast - full).max() <= bound


def test_directional_matches_finite_differences():
    rng = np.random.default_rng(7)
    x, u, v = rng.normal(size=(3, 6))
    beta, h = 1.4, 1e-4
    f = lambda s, r: softmax(x + s * u + r * v, beta=beta)  # noqa: E731
    fd = (f(h, h) - f(h, -h) - f(-h, h) + f(-h, -h)) / (4 * h * h)
    np.testing.assert_allclose(softmax_second_directional(x, u, v, beta=beta), fd, atol=1e-7)


@given(st.integers(1, 8).flatmap(lambda n: st.tuples(vectors(n), vectors(n, st.floats(-5, 5)),
                                                      vectors(n, st.floats(-5, 5)))), betas)
def test_directional_is_symmetric_and_sums_to_zero(xuv, beta):
    x, u, v = xuv
    a = softmax_second_directional(x, u, v, beta=beta)
    b = softmax_second_directional(x, v, u, beta=beta)
    np.testing.assert_array_equal(a, b)
    scale = beta * beta * (1 + np.abs(u).max()) * (1 + np.abs(v).max())
    assert abs(a.sum()) <= 32 * np.finfo(float).eps * scale * x.size


def test_directional_along_an_axis_equals_slice_by_slice():
    rng = np.random.default_rng(8)
    x, u, v = rng.normal(size=(3, 4, 5, 3))
    for axis in (0, 1, -1):
        out = softmax_second_directional(x, u, v, beta=0.9, axis=axis)
        xm, um, vm = (np.moveaxis(a, axis, -1) for a in (x, u, v))
        expected = np.empty_like(xm)
        for idx in np.ndindex(xm.shape[:-1]):
            expected[idx] = softmax_second_directional(xm[idx], um[idx], vm[idx], beta=0.9)
        np.testing.assert_allclose(np.moveaxis(out, axis, -1), expected, rtol=1e-13, atol=1e-15)


def test_directional_never_mutates_its_inputs():
    rng = np.random.default_rng(9)
    x, u, v = rng.normal(size=(3, 2, 4))
    copies = [a.copy() for a in (x, u, v)]
    softmax_second_directional(x, u, v, beta=2.0)
    cross_entropy_hessian(x, [0, 3])
    log_sum_exp(x)
    softmax_hessian(x[0])
    for a, c in zip((x, u, v), copies):
        np.testing.assert_array_equal(a, c)


def test_directional_refuses_bad_input():
    x = np.zeros(3)
    with pytest.raises(ValueError, match=r"u must have the shape of x, got \(2,\) and \(3,\)"):
        softmax_second_directional(x, np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match=r"v\[1\] = nan is not finite"):
        softmax_second_directional(x, np.zeros(3), [0.0, np.nan, 0.0])
    with pytest.raises(ValueError, match="inf is not finite"):
        softmax_second_directional(x, [np.inf, 0, 0], np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        softmax_second_directional([0.0, np.nan, 1.0], np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        softmax_second_directional(x, x, x, axis=2)
    with pytest.raises(TypeError, match="u must contain real numbers"):
        softmax_second_directional(x, ["a", "b", "c"], x)


# --------------------------------------------------------------------------- cross_entropy_hessian


@pytest.mark.parametrize("beta", [1.0, 0.5, -1.2])
def test_cross_entropy_hessian_matches_finite_differences(beta):
    rng = np.random.default_rng(10)
    x = rng.normal(size=4)
    t = rng.dirichlet(np.ones(4))
    fd = numerical_jacobian(lambda z: cross_entropy_grad(z, t, beta=beta), x)
    np.testing.assert_allclose(cross_entropy_hessian(x, t, beta=beta), fd, atol=1e-8)
    # second differences of the loss itself
    H = numerical_jacobian(lambda z: numerical_jacobian(lambda w: cross_entropy(w, t, beta=beta), z, eps=1e-4),
                           x, eps=1e-4)
    np.testing.assert_allclose(cross_entropy_hessian(x, t, beta=beta), H, atol=1e-6)


def test_cross_entropy_hessian_is_independent_of_the_target_and_batched():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(5, 3))
    h_index = cross_entropy_hessian(x, rng.integers(0, 3, size=5), beta=1.5)
    h_probs = cross_entropy_hessian(x, rng.dirichlet(np.ones(3), size=5), beta=1.5)
    np.testing.assert_array_equal(h_index, h_probs)
    assert h_index.shape == (5, 3, 3)
    for s in range(5):
        np.testing.assert_allclose(h_index[s], 1.5 * softmax_jacobian(x[s], beta=1.5), rtol=1e-14, atol=1e-17)


@given(st.integers(1, 7).flatmap(vectors), betas)
def test_cross_entropy_hessian_is_psd_with_null_direction_one(x, beta):
    H = cross_entropy_hessian(x, 0, beta=beta)
    scale = beta * beta
    tol = 16 * np.finfo(float).eps * max(scale, 1e-300) * x.size
    np.testing.assert_array_equal(H, H.T)
    assert np.all(np.abs(H @ np.ones(x.size)) <= tol)
    assert np.linalg.eigvalsh(H).min() >= -tol


@pytest.mark.parametrize("target, message", [
    (3, "class index 3, outside 0..2"),
    ([0.5, 0.2, 0.2], "sum to 1"),
    ([[0, 1]], "target must be"),
])
def test_cross_entropy_hessian_refuses_bad_targets(target, message):
    with pytest.raises(ValueError, match=message):
        cross_entropy_hessian([0.0, 1.0, 2.0], target)


def test_cross_entropy_hessian_refuses_bad_logits_and_beta():
    with pytest.raises(ValueError, match="NaN"):
        cross_entropy_hessian([0.0, np.nan], 0)
    with pytest.raises(ValueError, match="beta"):
        cross_entropy_hessian([0.0, 1.0], 0, beta=np.nan)
    with pytest.raises(ValueError, match="scalar"):
        cross_entropy_hessian(1.0, 0)


# --------------------------------------------------------------------------- symbolic helpers


def test_symbolic_second_partial_book_form_and_refusal():
    import sympy as sp

    from softmax_lib import symbolic as S

    assert S.second_partial_in_y(0, 1, 2, n=3) == 2 * S.beta**2 * sp.Mul(*S.output_symbols(3))
    assert S.equal_fast(sp.diff(S.log_sum_exp_expr(3), S.logit_symbols(3)[1]), S.softmax_exprs(3)[1])
    assert not S.equal_fast(S.second_partial(0, 0, 0, 2), S.in_terms_of_x(S.book_second_partial(0, 0, 1, 2), 2))
    with pytest.raises(IndexError, match="k=3"):
        S.second_partial(0, 0, 3, 3)
