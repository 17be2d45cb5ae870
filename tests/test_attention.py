"""attention, attention_vjp, flash_attention and flash_attention_vjp."""

import time
import tracemalloc

import numpy as np
import pytest

from softmax_lib import (attention, attention_vjp, flash_attention, flash_attention_vjp,
                         numerical_jacobian)


def naive_attention(q, k, v, beta, causal):
    """The textbook formula with explicit exponentials (independent of the library)."""
    s = beta * q @ np.swapaxes(k, -1, -2)
    if causal:
        n_q, n_k = s.shape[-2:]
        s = np.where(np.arange(n_k)[None, :] <= np.arange(n_q)[:, None], s, -np.inf)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)) @ v, s


def inputs(rng, lead, n_q, n_k, d_k, d_v):
    return (rng.normal(size=lead + (n_q, d_k)), rng.normal(size=lead + (n_k, d_k)),
            rng.normal(size=lead + (n_k, d_v)), rng.normal(size=lead + (n_q, d_v)))


SHAPES = [((), 5, 5, 3, 2), ((), 7, 4, 3, 5), ((), 3, 8, 4, 2), ((2,), 6, 6, 4, 3), ((2, 3), 4, 5, 2, 2)]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_attention_matches_formula(shape, causal):
    rng = np.random.default_rng(0)
    q, k, v, _ = inputs(rng, *shape)
    beta = 1 / np.sqrt(q.shape[-1])
    np.testing.assert_allclose(attention(q, k, v, causal=causal),
                               naive_attention(q, k, v, beta, causal)[0], rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(attention(q, k, v, scale=0.7, causal=causal),
                               naive_attention(q, k, v, 0.7, causal)[0], rtol=1e-13, atol=1e-14)


def test_causal_is_top_left_aligned():
    # Row i (0-based) depends on keys 0..i only; rows i >= n_k see every key.
    rng = np.random.default_rng(1)
    q, k, v, _ = inputs(rng, (), 6, 4, 3, 2)
    o = attention(q, k, v, causal=True)
    k2, v2 = k.copy(), v.copy()
    k2[2:], v2[2:] = rng.normal(size=(2, 3)), rng.normal(size=(2, 2))
    o2 = attention(q, k2, v2, causal=True)
    np.testing.assert_array_equal(o[:2], o2[:2])
    assert not np.allclose(o[2:], o2[2:])
    np.testing.assert_allclose(o[0], v[0], rtol=1e-15)                  # row 0 sees key 0 alone
    np.testing.assert_allclose(o[4:], attention(q, k, v)[4:], rtol=1e-14)


@pytest.mark.parametrize("scale", [None, 0.4, -1.3])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", [((), 4, 3, 2, 3), ((), 3, 5, 3, 2)])
def test_vjp_matches_finite_differences(shape, causal, scale):
    rng = np.random.default_rng(2)
    q, k, v, do = inputs(rng, *shape)
    dq, dk, dv = attention_vjp(q, k, v, do, scale=scale, causal=causal)

    def loss_of(name):
        args = {"q": q, "k": k, "v": v}

        def loss(x):
            return np.sum(do * attention(**{**args, name: x}, scale=scale, causal=causal))
        return loss

    for name, x, got in (("q", q, dq), ("k", k, dk), ("v", v, dv)):
        np.testing.assert_allclose(got, numerical_jacobian(loss_of(name), x), atol=1e-8)


def test_vjp_masked_keys_get_nothing():
    # Only row 0 has an upstream gradient; with the causal mask it sees key 0 alone.
    rng = np.random.default_rng(3)
    q, k, v, do = inputs(rng, (), 5, 5, 3, 2)
    do[1:] = 0.0
    dq, dk, dv = attention_vjp(q, k, v, do, causal=True)
    assert np.all(dk[1:] == 0.0) and np.all(dv[1:] == 0.0)
    assert np.all(dk[0] == 0.0)            # P_11 = 1 exactly: softmax of one entry has no slope
    np.testing.assert_array_equal(dv[0], do[0])


@pytest.mark.parametrize("block", [1, 2, 3, 7, 128])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_flash_matches_full(shape, causal, block):
    rng = np.random.default_rng(4)
    q, k, v, do = inputs(rng, *shape)
    q *= 3.0                                # scores spread over a wide range
    o, lse = flash_attention(q, k, v, causal=causal, block=block)
    o_full = attention(q, k, v, causal=causal)
    assert np.max(np.abs(o - o_full)) <= 1e-12 * np.max(np.abs(o_full))
    s = naive_attention(q, k, v, 1 / np.sqrt(q.shape[-1]), causal)[1]
    top = s.max(axis=-1)
    np.testing.assert_allclose(lse, top + np.log(np.exp(s - top[..., None]).sum(axis=-1)), rtol=1e-13)
    tiled = flash_attention_vjp(q, k, v, o, lse, do, causal=causal, block=block)
    for a, b in zip(tiled, attention_vjp(q, k, v, do, causal=causal)):
        assert a.shape == b.shape
        assert np.max(np.abs(a - b)) <= 1e-12 * np.max(np.abs(b))


def test_flash_large_scores_do_not_overflow():
    rng = np.random.default_rng(5)
    q, k, v, do = inputs(rng, (), 9, 11, 4, 3)
    o, lse = flash_attention(q, k, v, scale=300.0, block=4)
    assert np.all(np.isfinite(o)) and np.all(np.isfinite(lse))
    np.testing.assert_allclose(o, attention(q, k, v, scale=300.0), rtol=0, atol=1e-12)


def test_float32_stays_float32():
    rng = np.random.default_rng(6)
    q, k, v, do = (a.astype(np.float32) for a in inputs(rng, (), 4, 4, 3, 2))
    assert attention(q, k, v).dtype == np.float32
    o, lse = flash_attention(q, k, v, block=2)
    assert o.dtype == lse.dtype == np.float32
    assert all(g.dtype == np.float32 for g in flash_attention_vjp(q, k, v, o, lse, do, block=2))
    assert all(g.dtype == np.float32 for g in attention_vjp(q, k, v, do))


def test_inputs_are_not_mutated():
    rng = np.random.default_rng(7)
    arrays = inputs(rng, (2,), 5, 6, 3, 2)
    copies = [a.copy() for a in arrays]
    q, k, v, do = arrays
    attention(q, k, v, causal=True)
    attention_vjp(q, k, v, do, causal=True)
    o, lse = flash_attention(q, k, v, causal=True, block=2)
    o0, lse0 = o.copy(), lse.copy()
    flash_attention_vjp(q, k, v, o, lse, do, causal=True, block=2)
    for a, b in zip(arrays + (o, lse), copies + [o0, lse0]):
        np.testing.assert_array_equal(a, b)


def test_bad_shapes():
    q, k, v = np.zeros((3, 4)), np.zeros((5, 4)), np.zeros((5, 2))
    with pytest.raises(ValueError, match="at least two dimensions"):
        attention(np.zeros(4), k, v)
    with pytest.raises(ValueError, match="same last dimension d_k"):
        attention(q, np.zeros((5, 3)), v)
    with pytest.raises(ValueError, match="same number of rows n_k"):
        attention(q, k, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="same leading dimensions"):
        attention(np.zeros((2, 3, 4)), np.zeros((3, 5, 4)), np.zeros((3, 5, 2)))
    with pytest.raises(ValueError, match="no rows"):
        attention(q, np.zeros((0, 4)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match=r"grad_o must have shape \(3, 2\)"):
        attention_vjp(q, k, v, np.zeros((3, 3)))
    o, lse = flash_attention(q, k, v)
    with pytest.raises(ValueError, match=r"lse must have shape \(3,\)"):
        flash_attention_vjp(q, k, v, o, lse[:2], np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"o must have shape"):
        flash_attention_vjp(q, k, v, o.T, lse, np.zeros((3, 2)))


def test_non_finite_inputs_are_named():
    q, k, v = np.zeros((3, 4)), np.zeros((5, 4)), np.zeros((5, 2))
    bad = q.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"q contains NaN at index \(1, 2\)"):
        attention(bad, k, v)
    bad = v.copy()
    bad[4, 0] = np.inf
    with pytest.raises(ValueError, match=r"v contains the infinite value inf at index \(4, 0\)"):
        flash_attention(q, k, bad)
    o, lse = flash_attention(q, k, v)
    with pytest.raises(ValueError, match="lse contains NaN"):
        flash_attention_vjp(q, k, v, o, np.full(3, np.nan), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="grad_o contains NaN"):
        attention_vjp(q, k, v, np.full((3, 2), np.nan))


@pytest.mark.parametrize("func", [attention, flash_attention])
def test_bad_scale_causal_block(func):
    q, k, v = np.zeros((3, 4)), np.zeros((5, 4)), np.zeros((5, 2))
    for scale in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="scale must be a finite real"):
            func(q, k, v, scale=scale)
    for scale in ("1", True, 1j):
        with pytest.raises(TypeError, match="scale"):
            func(q, k, v, scale=scale)
    with pytest.raises(TypeError, match="causal"):
        func(q, k, v, causal=1)
    with pytest.raises(ValueError, match="d_k = 0"):
        func(np.zeros((3, 0)), np.zeros((5, 0)), v)


@pytest.mark.parametrize("block", [0, -3])
def test_bad_block_value(block):
    q = np.zeros((3, 4))
    with pytest.raises(ValueError, match="block must be a positive integer"):
        flash_attention(q, q, q, block=block)


@pytest.mark.parametrize("block", [2.0, True, "8"])
def test_bad_block_type(block):
    q = np.zeros((3, 4))
    with pytest.raises(TypeError, match="block must be a positive integer"):
        flash_attention(q, q, q, block=block)
    o, lse = flash_attention(q, q, q)
    with pytest.raises(TypeError, match="block must be a positive integer"):
        flash_attention_vjp(q, q, q, o, lse, q, block=block)


def peak_extra_bytes(func, *args, **kwargs):
    """Peak memory allocated while ``func`` runs (tracemalloc; numpy reports to it)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = func(*args, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - base, result


def test_flash_memory_is_far_below_the_matrix():
    # n_q = n_k = 4096, d_k = 64, float64: P alone would take 128 MiB. The tiled passes
    # must stay below an eighth of it (their outputs included); the full pass must not.
    n, d = 4096, 64
    rng = np.random.default_rng(8)
    q, k, v, do = (rng.normal(size=(n, d)) for _ in range(4))
    p_bytes = n * n * 8
    start = time.perf_counter()
    fwd, (o, lse) = peak_extra_bytes(flash_attention, q, k, v)
    bwd, _ = peak_extra_bytes(flash_attention_vjp, q, k, v, o, lse, do)
    elapsed = time.perf_counter() - start
    assert fwd <= p_bytes / 8, fwd / p_bytes
    assert bwd <= p_bytes / 8, bwd / p_bytes
    assert elapsed < 30.0                    # a few seconds on a quiet machine
    small = 1024                             # the full pass, at a size cheap enough to run
    full, _ = peak_extra_bytes(attention, q[:small], k[:small], v[:small])
    assert full >= small * small * 8


def test_flash_memory_grows_linearly():
    # Doubling n doubles the tiled pass's peak (the outputs and one tile), it does not quadruple it.
    rng = np.random.default_rng(9)
    peaks = []
    for n in (512, 1024):
        q, k, v = (rng.normal(size=(n, 16)) for _ in range(3))
        peaks.append(peak_extra_bytes(flash_attention, q, k, v, block=64)[0])
    assert peaks[1] < 2.5 * peaks[0]
