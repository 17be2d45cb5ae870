"""One test per defect found by the review of issue 10 (each failed before the fix).

Accuracy on strided layouts, memory of the tail correction, re-entrancy, the
thread pool's lifecycle, masked arrays, intermediate overflow in the
derivatives and errors that name the offending argument.
"""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
import warnings
from fractions import Fraction

import numpy as np
import pytest

import softmax_lib as sl
from softmax_lib import _fast


def ulps(got: np.ndarray, exact: np.ndarray) -> float:
    """Largest error of ``got`` in units of the last place of the float64 ``exact``."""
    exact64 = exact.astype(np.float64)
    err = np.abs(got.astype(np.longdouble) - exact)
    return float(np.max(err / np.spacing(np.abs(exact64)).astype(np.longdouble)))


def longdouble_reference(x: np.ndarray, axis: int):
    """softmax and log_softmax in long double, summed pairwise over a contiguous axis."""
    xl = np.ascontiguousarray(np.moveaxis(x.astype(np.longdouble), axis, -1))
    a = xl - xl.max(axis=-1, keepdims=True)
    e = np.exp(a)
    s = e.sum(axis=-1, keepdims=True)
    y, logy = e / s, a - np.log(s)
    return np.moveaxis(y, -1, axis), np.moveaxis(logy, -1, axis)


# ---------------------------------------------------------------- accuracy on every layout

@pytest.mark.skipif(np.finfo(np.longdouble).nmant < 60, reason="needs an 80-bit long double")
@pytest.mark.parametrize("scale", [1.0, 10.0])
@pytest.mark.parametrize("layout", ["axis 0", "Fortran order"])
def test_strided_axis_within_64_ulp(layout, scale):
    # issue 10: 262 ulp (4 756 ulp with scale 10) for axis=0 of a (400 000, 2) array
    x = scale * np.random.default_rng(0).standard_normal((400_000, 2))
    if layout == "axis 0":
        axis = 0
    else:
        x, axis = np.asfortranarray(x.T), -1   # shape (2, 400 000), the last axis strided
    want_y, want_logy = longdouble_reference(x, axis)
    assert ulps(sl.softmax(x, axis=axis), want_y) <= 64
    assert ulps(sl.log_softmax(x, axis=axis), want_logy) <= 64


# ---------------------------------------------------------------- memory

@pytest.mark.parametrize("axis", [0, -1])
def test_tail_correction_memory_at_most_twice_the_input(axis):
    # issue 10: 13x the input for 100 * randn(8192, 1024), axis=0 (most entries in the tail)
    x = 100 * np.random.default_rng(1).standard_normal((2048, 1024))
    tracemalloc.start()
    try:
        y = sl.softmax(x, axis=axis)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= 2 * x.nbytes + y.nbytes, peak / x.nbytes


# ---------------------------------------------------------------- re-entrancy

@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("shape", [(3000, 5), (400, 40)])
def test_reentrant_call_does_not_corrupt_the_outer_one(fast, monkeypatch, shape, threads):
    # issue 10: a signal handler calling softmax during a large call corrupted one block
    fast(4096)
    monkeypatch.setenv(_fast.THREADS_ENV, threads)
    rng = np.random.default_rng(2)
    x, other = rng.standard_normal(shape), 5 * rng.standard_normal(shape)
    want = sl.softmax(x)
    real_exp, state = np.exp, {"depth": 0, "done": False}

    def exp_that_reenters(*args, **kwargs):
        if not state["done"] and state["depth"] == 0:
            state["done"] = True      # like a signal handler, once, in the middle of a block
            state["depth"] += 1
            try:
                sl.softmax(other)
                sl.log_softmax(other)
            finally:
                state["depth"] -= 1
        return real_exp(*args, **kwargs)

    monkeypatch.setattr(np, "exp", exp_that_reenters)
    got = sl.softmax(x)
    monkeypatch.setattr(np, "exp", real_exp)
    assert state["done"]
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------- the thread pool

def pool_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("softmax_lib")]


def test_one_pool_for_every_thread_count(fast, monkeypatch):
    # issue 10: each SOFTMAX_LIB_NUM_THREADS value created its own pool (66 threads after 7 values)
    fast(1024)
    monkeypatch.setattr(_fast, "_cpus", lambda: 8)
    x = np.random.default_rng(3).standard_normal((64, 100))
    monkeypatch.setenv(_fast.THREADS_ENV, "8")
    sl.softmax(x)   # the pool has (at least) 7 helpers now
    before = len(pool_threads())
    for threads in range(2, 9):
        monkeypatch.setenv(_fast.THREADS_ENV, str(threads))
        sl.softmax(x)
    assert len(pool_threads()) == before


def test_caller_exception_cancels_the_remaining_blocks(fast, monkeypatch):
    # issue 10: when the caller raised mid-call, the helpers finished the abandoned call
    fast(1024)
    monkeypatch.setenv(_fast.THREADS_ENV, "2")
    x = np.random.default_rng(4).standard_normal((400, 100))   # about 300 blocks
    real_exp, main = np.exp, threading.get_ident()
    state = {"caller_calls": 0, "raised_at": None, "after": 0}

    def exp(*args, **kwargs):
        if threading.get_ident() == main:
            state["caller_calls"] += 1
            if state["caller_calls"] == 2:
                state["raised_at"] = time.perf_counter()
                raise KeyboardInterrupt
        else:
            if state["raised_at"] is not None:
                state["after"] += 1
            time.sleep(0.001)
        return real_exp(*args, **kwargs)

    sl.softmax(x[:8])  # start the pool's threads before the test
    monkeypatch.setattr(np, "exp", exp)
    with pytest.raises(KeyboardInterrupt):
        sl.softmax(x)
    time.sleep(0.5)
    monkeypatch.setattr(np, "exp", real_exp)
    assert state["after"] <= 2, state


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")   # fork() in a threaded process
def test_forked_child_gets_working_threads(fast, monkeypatch):
    # issue 10: a forked child inherited a pool without threads and silently worked alone
    fast(1024)
    monkeypatch.setenv(_fast.THREADS_ENV, "2")
    x = np.random.default_rng(5).standard_normal((200, 100))
    sl.softmax(x)  # the parent's pool exists now
    real_exp = np.exp
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report how many threads computed blocks
        status = 1
        try:
            seen = set()

            def exp(*args, **kwargs):
                seen.add(threading.get_ident())
                time.sleep(0.002)
                return real_exp(*args, **kwargs)

            np.exp = exp
            sl.softmax(x)
            os.write(write, str(len(seen)).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    report = os.read(read, 100).decode()
    os.close(read)
    assert status == 0 and int(report) >= 2, report


def test_thread_count_follows_the_cpu_affinity(monkeypatch):
    # issue 10: os.cpu_count() counted CPUs the process may not run on
    monkeypatch.delenv(_fast.THREADS_ENV, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert _fast.num_threads() == 1


@pytest.mark.parametrize("value", ["two", "0", "-3"])
def test_bad_thread_env_same_error_for_small_and_large(monkeypatch, value):
    # issue 10: only the fast path read the variable, so small arrays ignored a bad value
    monkeypatch.setenv(_fast.THREADS_ENV, value)
    with pytest.raises(ValueError, match=_fast.THREADS_ENV) as small:
        sl.softmax([1.0, 2.0])
    monkeypatch.setattr(_fast, "MIN_BYTES", 0)
    with pytest.raises(ValueError, match=_fast.THREADS_ENV) as large:
        sl.softmax(np.zeros((64, 64)))
    assert str(small.value) == str(large.value)


# ---------------------------------------------------------------- masked arrays

def masked(values, mask):
    return np.ma.array(np.asarray(values, dtype=float), mask=mask)


MASKED_CALLS = {
    "softmax": lambda: sl.softmax(masked([1.0, 2, 3], [0, 1, 0])),
    "log_softmax": lambda: sl.log_softmax(masked([1.0, 2, 3], [0, 1, 0])),
    "softmax_jacobian": lambda: sl.softmax_jacobian(masked([1.0, 2, 3], [0, 1, 0])),
    "softmax_partial": lambda: sl.softmax_partial(masked([0.2, 0.3, 0.5], [0, 1, 0]), 0, 1),
    "softmax_vjp y": lambda: sl.softmax_vjp(masked([0.2, 0.3, 0.5], [0, 1, 0]), [1.0, 0, 0]),
    "softmax_vjp grad": lambda: sl.softmax_vjp([0.2, 0.3, 0.5], masked([1.0, 0, 0], [0, 1, 0])),
    "softmax_beta_grad": lambda: sl.softmax_beta_grad(masked([1.0, 2, 3], [0, 1, 0])),
    "linear": lambda: sl.linear(masked([1.0, 2], [0, 1]), np.eye(2), [0.0, 0]),
    "linear_backward": lambda: sl.linear_backward([1.0, 2], masked(np.eye(2), np.eye(2)), [1.0, 0]),
    "cross_entropy": lambda: sl.cross_entropy(masked([1.0, 2, 3], [0, 1, 0]), 0),
    "cross_entropy target": lambda: sl.cross_entropy([1.0, 2, 3], masked([0.5, 0.5, 0], [0, 1, 0])),
    "cross_entropy_grad": lambda: sl.cross_entropy_grad(masked([1.0, 2, 3], [0, 1, 0]), 0),
    "numerical_jacobian": lambda: sl.numerical_jacobian(np.sin, masked([1.0, 2], [0, 1])),
}


@pytest.mark.parametrize("name", MASKED_CALLS)
def test_masked_arrays_are_refused(name):
    # issue 10: softmax of a masked array gave the masked entry 24%
    with pytest.raises(TypeError, match="masked"):
        MASKED_CALLS[name]()


# ---------------------------------------------------------------- intermediate overflow

def exact_vjp(y, g):
    y, g = [Fraction(v) for v in y], [Fraction(v) for v in g]
    dot = sum(a * b for a, b in zip(y, g))
    return np.array([float(a * (b - dot)) for a, b in zip(y, g)])


def test_vjp_has_no_intermediate_overflow():
    # issue 10: -inf (and a RuntimeWarning) where the exact answer is -3.06e307
    y, g = [0.9, 0.1], [1.7e308, -1.7e308]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = sl.softmax_vjp(y, g)
    want = exact_vjp(y, g)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=1e-14)
    batch = np.array([[0.5, 0.5], y, [0.25, 0.75]])
    grads = np.array([[1.0, 2.0], g, [3.0, -1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = sl.softmax_vjp(batch, grads)
    np.testing.assert_allclose(got[1], want, rtol=1e-14)
    np.testing.assert_array_equal(got[[0, 2]], sl.softmax_vjp(batch[[0, 2]], grads[[0, 2]]))


def test_beta_grad_has_no_intermediate_overflow():
    # issue 10: -inf (and a RuntimeWarning) where the exact answer is -1.06e307
    x = np.array([1.7e308, -1.7e308])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = sl.softmax_beta_grad(x, beta=1e-308)
    y = sl.softmax(x, beta=1e-308)
    yf, xf = [Fraction(v) for v in y], [Fraction(v) for v in x]
    mean = sum(a * b for a, b in zip(yf, xf))
    want = np.array([float(a * (b - mean)) for a, b in zip(yf, xf)])
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=1e-14)


# ---------------------------------------------------------------- named errors

@pytest.mark.parametrize("fn", [sl.softmax, sl.log_softmax, sl.softmax_beta_grad])
def test_huge_integer_beta_is_a_value_error_naming_beta(fn):
    # issue 10: beta=2**1100 raised OverflowError
    with pytest.raises(ValueError, match="beta"):
        fn([1.0, 2.0], beta=2**1100)


@pytest.mark.parametrize("where", ["a", "W", "b"])
def test_linear_refuses_nan(where):
    # issue 10: linear passed NaN through silently
    args = {"a": np.array([1.0, 2.0]), "W": np.eye(2), "b": np.zeros(2)}
    args[where].flat[1] = np.nan
    with pytest.raises(ValueError, match=rf"^linear: {where}\b.*NaN"):
        sl.linear(args["a"], args["W"], args["b"])


@pytest.mark.parametrize("where", ["a", "W", "grad"])
def test_linear_backward_refuses_nan(where):
    args = {"a": np.array([1.0, 2.0]), "W": np.eye(2), "grad": np.array([1.0, -1.0])}
    args[where].flat[1] = np.nan
    with pytest.raises(ValueError, match=rf"^linear_backward: {where}\b.*NaN"):
        sl.linear_backward(args["a"], args["W"], args["grad"])


def test_numerical_jacobian_refuses_nan():
    with pytest.raises(ValueError, match=r"^x\b.*NaN"):
        sl.numerical_jacobian(np.sin, [1.0, np.nan])
    with pytest.raises(ValueError, match="NaN"):
        sl.numerical_jacobian(lambda v: np.where(v < 1.0, np.nan, v), [1.0])   # f(x - eps) is NaN


def test_numerical_jacobian_refuses_a_step_lost_to_rounding():
    # issue 10: eps=1e-320 returned 0 because x + eps == x
    with pytest.raises(ValueError, match=r"eps.*x\[0\]"):
        sl.numerical_jacobian(np.sin, [1.0], eps=1e-320)
    with pytest.raises(ValueError, match="eps"):
        sl.numerical_jacobian(np.sin, [1e20, 0.0], eps=1e-6)   # lost for the first entry only


# ================================================================ the second review (reviews/lib.md)

# ---------------------------------------------------------------- 1. beta too large for the dtype

@pytest.mark.parametrize("dtype, beta", [(np.float32, 1e39), (np.float32, 1e300), (np.float16, 1e5)])
def test_beta_beyond_the_dtype_is_not_a_false_mask(dtype, beta):
    # review 1: beta cast to the dtype became inf, 0 * inf = NaN, reported as "every entry masked"
    x = np.array([1.0, 2.0], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(sl.softmax(x, beta=beta), [0.0, 1.0])
        np.testing.assert_array_equal(sl.softmax(x, beta=-beta), [1.0, 0.0])
        logy = sl.log_softmax(x, beta=beta)
        assert logy[1] == 0.0 and logy[0] == -np.inf   # exact: -beta, beyond the dtype's range
        np.testing.assert_array_equal(sl.softmax_beta_grad(x, beta=beta), [0.0, 0.0])
        np.testing.assert_array_equal(sl.softmax_jacobian(x, beta=beta), np.zeros((2, 2)))
        np.testing.assert_array_equal(sl.cross_entropy_grad(x, 1, beta=beta), [0.0, 0.0])
        assert sl.softmax(x, beta=beta).dtype == dtype


def test_beta_beyond_float32_keeps_subnormal_differences():
    # review 1: clamping beta to the float32 maximum would lose these; the exact exponent is -1.4
    tiny = np.float32(np.finfo(np.float32).smallest_subnormal)
    x = np.array([0.0, -tiny], np.float32)
    beta = 1e45
    want = 1.0 / (1.0 + np.exp(-beta * float(tiny)))
    np.testing.assert_allclose(sl.softmax(x, beta=beta)[0], want, rtol=1e-6)


def test_vjp_beta_beyond_float32_is_finite_or_a_named_error():
    # review 1: [-inf, inf] silently where the exact answer [-2.5e38, 2.5e38] is finite in float32
    y, g = np.array([0.5, 0.5], np.float32), np.array([1.0, 2.0], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = sl.softmax_vjp(y, g, beta=1e39)
        np.testing.assert_allclose(got, [-2.5e38, 2.5e38], rtol=1e-6)
        with pytest.raises(ValueError, match=r"softmax_vjp.*overflows float32"):
            sl.softmax_vjp(y, g, beta=1e40)   # exact 2.5e39: beyond float32


def test_partial_beta_beyond_float32():
    y = sl.softmax(np.array([1.0, 2.0], np.float32), beta=1e39)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sl.softmax_partial(y, 0, 0, beta=1e39) == 0.0
        assert sl.softmax_partial(y, 1, 0, beta=1e39) == 0.0


def test_jacobian_beta_beyond_float32_overflowing_is_named():
    with pytest.raises(ValueError, match=r"softmax_jacobian.*beta"):
        sl.softmax_jacobian(np.array([1.0, 1.0], np.float32), beta=1e39 * 1e1)


# ---------------------------------------------------------------- 2. memory on every path

def peak_over_input(call, x) -> float:
    """tracemalloc's peak during ``call()``, in units of ``x.nbytes``."""
    tracemalloc.start()
    try:
        call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / x.nbytes


# the budget: at most 2x the input, plus the output (here the output is the size of the input)
@pytest.mark.parametrize("axis", [0, -1])
@pytest.mark.parametrize("beta", [1.0, 0.3])
def test_simple_path_tail_correction_memory(axis, beta):
    # review 2: 6 to 8x the input on the simple path (the whole array's temporaries at once)
    x = 100 * np.random.default_rng(20).standard_normal((1024, 64))   # 512 KB, below MIN_BYTES
    assert not sl.tuning.uses_fast_path(x)
    assert peak_over_input(lambda: sl.softmax(x, beta=beta, axis=axis), x) <= 3.0
    assert peak_over_input(lambda: sl.log_softmax(x, beta=beta, axis=axis), x) <= 3.0


def test_simple_path_memory_with_the_fast_path_off():
    x = 100 * np.random.default_rng(21).standard_normal((512, 512))   # 2 MB
    with sl.tuning.settings(min_bytes=float("inf")):
        assert peak_over_input(lambda: sl.softmax(x), x) <= 3.0
        assert peak_over_input(lambda: sl.softmax(x, axis=0), x) <= 3.0


def test_beta_grad_memory():
    # review 2: 5 to 6x the input
    x = 10 * np.random.default_rng(22).standard_normal((256, 256))
    assert peak_over_input(lambda: sl.softmax_beta_grad(x, beta=0.7), x) <= 3.0


def test_cross_entropy_memory():
    # review 2: 4x the input (a dense one-hot target, t * logp, np.where)
    rng = np.random.default_rng(23)
    x = rng.standard_normal((512, 128))
    target = rng.integers(0, 128, 512)
    # the output of cross_entropy is one number per row; the budget is the log-probabilities
    # (the output of the softmax step) and one more array
    assert peak_over_input(lambda: sl.cross_entropy(x, target), x) <= 2.1
    assert peak_over_input(lambda: sl.cross_entropy_grad(x, target), x) <= 2.1
    t = sl.softmax(rng.standard_normal(x.shape))
    assert peak_over_input(lambda: sl.cross_entropy(x, t), x) <= 2.1


# ---------------------------------------------------------------- 3. linear: inf and overflow

@pytest.mark.parametrize("fn", ["linear", "linear_backward"])
@pytest.mark.parametrize("where", ["a", "W", "third"])
@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_linear_refuses_infinite_input(fn, where, value):
    # review 3: inf went through with a RuntimeWarning and came back NaN
    args = {"a": np.array([1.0, 2.0]), "W": np.eye(2), "third": np.array([0.5, -1.0])}
    args[where].flat[1] = value
    name = {"third": "b" if fn == "linear" else "grad"}.get(where, where)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=rf"^{fn}: {name}\b.*(inf|infinite)"):
            getattr(sl, fn)(args["a"], args["W"], args["third"])


def test_linear_overflow_is_a_named_error():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"^linear: .*overflow"):
            sl.linear([1e308, 1e308], [[1e308, 1.0]], [0.0])
        with pytest.raises(ValueError, match=r"^linear_backward: .*overflow"):
            sl.linear_backward([1e308, 1.0], [[1.0, 0.0]], [1e10])


# ---------------------------------------------------------------- 4. the VJP's careful path is re-checked

@pytest.mark.parametrize("y, g", [([1e300, -1e300], [1e10, 1e10]), ([1e300, 1e300], [1e10, 0.0])])
def test_vjp_with_y_not_a_probability_vector_is_named(y, g):
    # review 4: [nan, nan] or [-inf, -inf], silently
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"softmax_vjp: .*not a probability vector"):
            sl.softmax_vjp(y, g)
        with pytest.raises(ValueError, match=r"softmax_vjp: slice y\[1, :\].*not a probability"):
            sl.softmax_vjp([[0.5, 0.5], y], [[1.0, 2.0], g])


# ---------------------------------------------------------------- 5. numerical_jacobian's step

def test_numerical_jacobian_divides_by_the_step_taken():
    # review 5: 1.1102 instead of 1 (the step 1.5e-16 became 2.2e-16)
    np.testing.assert_allclose(sl.numerical_jacobian(lambda v: v, [1.0], eps=1.5e-16), [[1.0]])
    # 4 v is exact, so the quotient is exactly 4 whatever the steps round to
    np.testing.assert_array_equal(sl.numerical_jacobian(lambda v: 4 * v, [1.0, 1e3], eps=1e-13),
                                  4 * np.eye(2))


def test_numerical_jacobian_refuses_infinite_x_and_bool_eps():
    with pytest.raises(ValueError, match=r"x\[0\] is -?inf"):
        sl.numerical_jacobian(lambda v: v, [np.inf])
    with pytest.raises(ValueError, match=r"x\[1\] is -?inf"):
        sl.numerical_jacobian(lambda v: v, [0.0, -np.inf])
    with pytest.raises(ValueError, match="eps"):
        sl.numerical_jacobian(lambda v: v, [1.0], eps=True)


# ---------------------------------------------------------------- 6. masks by indirect routes

def test_numerical_jacobian_refuses_a_masked_value_of_f():
    # review 6: the mask of f's value was dropped
    with pytest.raises(TypeError, match="masked"):
        sl.numerical_jacobian(lambda v: np.ma.array(v, mask=[0, 1]), np.array([1.0, 2.0]))


# ---------------------------------------------------------------- 7. the thread count

def test_helpers_per_call_at_most_the_blocks(fast, monkeypatch):
    # review 7: a call queued threads - 1 helper jobs even for 2 blocks
    fast(1024)
    monkeypatch.setattr(_fast, "_cpus", lambda: 64)
    x = np.random.default_rng(24).standard_normal((2, 100))   # 2 rows: 2 units of work
    monkeypatch.setenv(_fast.THREADS_ENV, "64")
    before = len(pool_threads())
    sl.softmax(x)
    assert len(pool_threads()) <= max(before, 1)


def test_absurd_thread_count_is_refused(monkeypatch):
    # review 7: 5000 started 4999 threads that are never released
    monkeypatch.setenv(_fast.THREADS_ENV, "5000")
    with pytest.raises(ValueError, match=_fast.THREADS_ENV):
        sl.softmax([1.0, 2.0])


def test_default_thread_count_follows_a_later_affinity_change(monkeypatch):
    # review 7: the count was cached on the variable's text, so a later affinity change was missed
    monkeypatch.delenv(_fast.THREADS_ENV, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert _fast.num_threads() == 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert _fast.num_threads() == 1


# ---------------------------------------------------------------- 8. numpy without the context variable

@pytest.fixture
def no_contextvar(monkeypatch):
    """The library as on a numpy without ``_extobj_contextvar``: plain np.errstate."""
    from softmax_lib import _kernel
    monkeypatch.setattr(_kernel, "_EXTOBJ", None)


@pytest.mark.parametrize("shape", [(10,), (64, 300), (300, 7)])
def test_fallback_error_state_same_bits_and_callers_state(no_contextvar, monkeypatch, shape):
    x = 30 * np.random.default_rng(25).standard_normal(shape)
    g = np.random.default_rng(26).standard_normal(shape)
    with np.errstate(over="raise", under="warn"):
        before = np.geterr()
        simple = [sl.softmax(x, beta=0.7), sl.log_softmax(x, beta=0.7),
                  sl.softmax_vjp(sl.softmax(x), g, beta=0.7)]
        monkeypatch.setattr(_fast, "MIN_BYTES", 0)
        monkeypatch.setattr(_fast, "BLOCK_BYTES", 2048)
        monkeypatch.setenv(_fast.THREADS_ENV, "2")
        blocked = [sl.softmax(x, beta=0.7), sl.log_softmax(x, beta=0.7),
                   sl.softmax_vjp(sl.softmax(x), g, beta=0.7)]
        assert np.geterr() == before
    for got, want in zip(blocked, simple):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="NaN"):
        sl.softmax([1.0, np.nan])


def test_library_state_ignores_an_errcall_set_before_import():
    # review 8: QUIET and WATCH froze the import-time state, callback included
    import subprocess
    import sys
    code = ("import numpy as np; calls = []; np.seterrcall(lambda *a: calls.append(a)); "
            "np.seterr(all='call'); import softmax_lib as sl; np.seterr(all='ignore'); "
            "from softmax_lib import _kernel; t = _kernel.enter(_kernel.QUIET); "
            "cb = np.geterrcall(); _kernel.leave(t); assert cb is None, cb")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- 9. errors name the function called

@pytest.mark.parametrize("name, call", [
    ("log_softmax", lambda: sl.log_softmax([1.0, np.nan])),
    ("softmax_jacobian", lambda: sl.softmax_jacobian([1.0, np.nan])),
    ("softmax_beta_grad", lambda: sl.softmax_beta_grad([1.0, np.nan])),
    ("cross_entropy", lambda: sl.cross_entropy([1.0, np.nan], 0)),
    ("cross_entropy_grad", lambda: sl.cross_entropy_grad([1.0, np.nan], 0)),
    ("softmax", lambda: sl.softmax([1.0, np.nan])),
])
def test_errors_name_the_public_function(name, call):
    with pytest.raises(ValueError, match=rf"^{name}: "):
        call()


@pytest.mark.parametrize("shape, axis", [((5, 1), 0), ((1, 5), 0), ((3, 4), 0), ((2, 3, 4), 1)])
def test_log_softmax_never_overwrites_its_input(shape, axis):
    # the simple path's log-softmax reuses the copy it makes when the axis moves; never the input
    x = np.random.default_rng(27).standard_normal(shape)
    for arr in (x, np.asfortranarray(x)):
        keep = arr.copy()
        sl.log_softmax(arr, axis=axis)
        np.testing.assert_array_equal(arr, keep)


@pytest.mark.parametrize("shape, block", [((300, 7), 512), ((40, 150), 4096), ((3, 1037), 1024)])
def test_beta_beyond_float32_same_bits_on_the_blocked_path(fast, monkeypatch, shape, block):
    rng = np.random.default_rng(28)
    x = rng.integers(-3, 3, shape).astype(np.float32)   # ties: several entries at the maximum
    x[..., :2] = [1e-38, 1e-45]                          # and tiny differences the big beta magnifies
    g = rng.standard_normal(shape).astype(np.float32)
    with monkeypatch.context() as m:
        m.setattr(_fast, "MIN_BYTES", np.inf)
        want = [sl.softmax(x, beta=1e39), sl.log_softmax(x, beta=-1e39),
                sl.softmax_vjp(sl.softmax(x), g, beta=1e30)]
    fast(block)
    got = [sl.softmax(x, beta=1e39), sl.log_softmax(x, beta=-1e39),
           sl.softmax_vjp(sl.softmax(x), g, beta=1e30)]
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(got[0]).all()
