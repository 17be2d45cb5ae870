"""softmax and log_softmax: values, dtypes, stability and every bad-input rule."""

import numpy as np
import pytest

from softmax_lib import log_softmax, softmax


def test_known_values():
    y = softmax([1.0, 2.0, 3.0])
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(y, e / e.sum(), rtol=1e-15)


def test_beta_scales_the_logits():
    x = np.array([0.3, -1.2, 2.0])
    np.testing.assert_allclose(softmax(x, beta=2.5), softmax(2.5 * x), rtol=1e-14)
    np.testing.assert_allclose(softmax(x, beta=-0.7), softmax(-0.7 * x), rtol=1e-14)


def test_axis_and_batch():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 4, 5))
    for axis in (0, 1, 2, -1, -2):
        y = softmax(x, axis=axis)
        assert y.shape == x.shape
        np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=1e-14)
        np.testing.assert_allclose(y, np.moveaxis(softmax(np.moveaxis(x, axis, -1)), -1, axis))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_dtypes_are_kept(dtype):
    x = np.array([1.0, 2.0, 3.0], dtype=dtype)
    assert softmax(x).dtype == dtype
    assert log_softmax(x).dtype == dtype


@pytest.mark.parametrize("x", [[1, 2, 3], np.array([1, 2, 3], dtype=np.int8),
                               np.array([1, 2, 3], dtype=np.uint16), [True, False, True], [0.5, 1.5]])
def test_ints_bools_and_lists_become_float64(x):
    assert softmax(x).dtype == np.float64
    assert log_softmax(x).dtype == np.float64


def test_float32_large_logits_do_not_overflow():
    y = softmax(np.array([100.0, 0.0], dtype=np.float32))   # exp(100) overflows float32
    assert np.isfinite(y).all() and y.dtype == np.float32
    assert y[0] == np.float32(1.0)


def test_stable_where_beta_times_x_overflows():
    x = np.array([1e308, 0.0, -1e308])
    y = softmax(x, beta=50.0)                 # beta * x is +-inf in float64
    np.testing.assert_array_equal(y, [1.0, 0.0, 0.0])
    y = softmax(x, beta=-50.0)
    np.testing.assert_array_equal(y, [0.0, 0.0, 1.0])


def test_tiny_beta_with_huge_range_is_not_lost_to_overflow():
    # x - max(x) overflows to -inf here, but beta * (x - max x) is only -0.4.
    x = np.array([1e308, -1e308])
    y = softmax(x, beta=3e-309)
    expected = 1 / (1 + np.exp(-0.6))          # beta * (x_1 - x_0) = -0.6
    np.testing.assert_allclose(y[0], expected, rtol=1e-12)


def test_beta_zero_is_uniform():
    np.testing.assert_array_equal(softmax([5.0, -3.0, 1e300, 7.0], beta=0), [0.25] * 4)


def test_negative_beta_favours_smallest():
    y = softmax([1.0, 5.0, -2.0], beta=-3.0)
    assert np.argmax(y) == 2


def test_masked_entries_are_exactly_zero():
    y = softmax([1.0, -np.inf, 2.0])
    assert y[1] == 0.0
    np.testing.assert_allclose(y[[0, 2]], softmax([1.0, 2.0]), rtol=1e-15)
    # with beta < 0, +inf becomes -inf after scaling: also a mask
    y = softmax([1.0, np.inf, 2.0], beta=-1.0)
    assert y[1] == 0.0
    assert log_softmax([1.0, -np.inf])[1] == -np.inf


def test_log_softmax_is_stable():
    np.testing.assert_array_equal(log_softmax([1000.0, 1.0]), [0.0, -999.0])
    x = np.array([0.5, -2.0, 3.0])
    np.testing.assert_allclose(log_softmax(x, beta=1.7), np.log(softmax(x, beta=1.7)), rtol=1e-14)


# --- bad input -------------------------------------------------------------

@pytest.mark.parametrize("fn", [softmax, log_softmax])
def test_nan_raises_naming_the_slice(fn):
    x = np.zeros((3, 4))
    x[2, 1] = np.nan
    x[1, 3] = np.nan
    with pytest.raises(ValueError, match=r"x\[1, :\].*NaN at position 3"):
        fn(x)
    with pytest.raises(ValueError, match=r"x\[:, 1\].*NaN at position 2"):
        fn(x, axis=0)


@pytest.mark.parametrize("fn", [softmax, log_softmax])
def test_plus_inf_after_scaling_raises(fn):
    with pytest.raises(ValueError, match=r"\+inf after scaling"):
        fn([[0.0, 1.0], [np.inf, 1.0]])
    with pytest.raises(ValueError, match=r"index \(1,\).*\+inf after scaling"):
        fn([[0.0, 1.0], [-np.inf, 1.0]], beta=-2.0)


@pytest.mark.parametrize("fn", [softmax, log_softmax])
def test_all_masked_slice_raises(fn):
    with pytest.raises(ValueError, match=r"index \(0,\).*every entry masked"):
        fn([[-np.inf, -np.inf], [0.0, 1.0]])


def test_infinite_entry_with_beta_zero_raises():
    with pytest.raises(ValueError, match="beta is 0"):
        softmax([1.0, -np.inf], beta=0.0)


@pytest.mark.parametrize("fn", [softmax, log_softmax])
def test_empty_axis_raises(fn):
    with pytest.raises(ValueError, match="empty axis"):
        fn(np.zeros((3, 0)))
    with pytest.raises(ValueError, match="empty axis"):
        fn([])


def test_empty_batch_is_fine():
    assert softmax(np.zeros((0, 3))).shape == (0, 3)


def test_scalar_input_raises():
    with pytest.raises(ValueError, match="at least one dimension"):
        softmax(3.0)


@pytest.mark.parametrize("bad", [["a", "b"], np.array([1 + 2j, 0j]), [object(), object()], [[1.0], [1.0, 2.0]]])
@pytest.mark.parametrize("fn", [softmax, log_softmax])
def test_non_numeric_raises_type_error(fn, bad):
    with pytest.raises(TypeError):
        fn(bad)


@pytest.mark.parametrize("beta", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("fn", [softmax, log_softmax])
def test_non_finite_beta_raises_value_error(fn, beta):
    with pytest.raises(ValueError, match="beta"):
        fn([1.0, 2.0], beta=beta)


@pytest.mark.parametrize("beta", ["1", None, [1.0], 1j, True])
@pytest.mark.parametrize("fn", [softmax, log_softmax])
def test_non_real_beta_raises_type_error(fn, beta):
    with pytest.raises(TypeError, match="beta"):
        fn([1.0, 2.0], beta=beta)


def test_numpy_scalar_beta_is_accepted():
    np.testing.assert_allclose(softmax([1.0, 2.0], beta=np.float32(2.0)), softmax([2.0, 4.0]))


@pytest.mark.parametrize("fn", [softmax, log_softmax])
def test_bad_axis(fn):
    with pytest.raises(ValueError, match="out of range"):
        fn(np.zeros((2, 3)), axis=2)
