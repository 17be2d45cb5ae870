"""The blocked, threaded path (softmax_lib._fast) against the simple path: equal bits.

Both paths call the same kernel (softmax_lib._kernel), so they must agree to
the last bit, and these tests demand exactly that (``np.array_equal``). The
fast path is taken only for large arrays; the tests force it on small ones by
lowering ``_fast.MIN_BYTES`` to 0 and shrinking ``_fast.BLOCK_BYTES`` (with
monkeypatch) so that short rows, blocks of rows and rows split into column
blocks all occur on arrays of a few thousand entries. The reference is the
same public function with the fast path switched off.
"""

from __future__ import annotations

import numpy as np
import pytest

import softmax_lib
from softmax_lib import _fast, _kernel

FUNCTIONS = ["softmax", "log_softmax"]
BETAS = [1.0, 2.5, -1.0, -3.7, 0.3, -0.5, 0.0]
# (shape, block bytes): short rows (transposed in the cache), blocks of rows,
# rows longer than a block (column blocks), several leading axes, a 1-D array.
LAYOUTS = [
    ((37, 3), 256),
    ((61, 10), 512),
    ((23, 33), 1024),
    ((40, 150), 4096),
    ((5, 1500), 2048),
    ((3, 1037), 1024),
    ((2, 3, 300), 1024),
    ((3000,), 2048),
]


@pytest.fixture
def reference(monkeypatch):
    """Call a function with the fast path switched off (monkeypatch restores it at once)."""
    def call(fn, *args, **kwargs):
        with monkeypatch.context() as m:
            m.setattr(_fast, "MIN_BYTES", np.inf)
            return fn(*args, **kwargs)

    return call


def assert_same_bits(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want), np.max(np.abs(got - want))


def logits(shape, dtype, seed, scale=3.0, masked=0.0):
    """Random logits with a wide range, optionally a fraction of them masked."""
    rng = np.random.default_rng(seed)
    x = (scale * rng.standard_normal(shape)).astype(dtype)
    if masked:
        x[rng.random(shape) < masked] = -np.inf
        x.reshape(-1, shape[-1])[:, 0] = 0.0  # keep every slice alive
    return x


@pytest.mark.parametrize("shape, block", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_equals_reference(fast, reference, name, dtype, shape, block):
    fast(block)
    fn = getattr(softmax_lib, name)
    for seed, beta in enumerate(BETAS):
        # scale 30 puts many exponents far in the tail, where the reference corrects them
        for scale in (3.0, 30.0):
            x = logits(shape, dtype, seed, scale)
            assert_same_bits(fn(x, beta=beta), reference(fn, x, beta=beta))


@pytest.mark.parametrize("shape, block", LAYOUTS)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_masks_equal_reference(fast, reference, name, shape, block):
    fast(block)
    fn = getattr(softmax_lib, name)
    for beta in (2.0, 0.5):
        x = logits(shape, np.float64, 7, masked=0.3)
        assert_same_bits(fn(x, beta=beta), reference(fn, x, beta=beta))
        # for beta < 0 the masks are +inf entries
        assert_same_bits(fn(-x, beta=-beta), reference(fn, -x, beta=-beta))


@pytest.mark.parametrize("shape, block", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vjp_equals_reference(fast, reference, dtype, shape, block):
    fast(block)
    rng = np.random.default_rng(3)
    for beta in (1.0, -2.0, 0.5, 0.0):
        y = reference(softmax_lib.softmax, logits(shape, dtype, 4), beta=beta)
        g = rng.standard_normal(shape).astype(dtype)
        assert_same_bits(softmax_lib.softmax_vjp(y, g, beta=beta),
                           reference(softmax_lib.softmax_vjp, y, g, beta=beta))


@pytest.mark.parametrize("shape, block", [((301, 7), 512), ((64, 40), 2048), ((9, 1037), 1024)])
@pytest.mark.parametrize("name", FUNCTIONS + ["softmax_vjp"])
def test_same_bits_for_any_thread_count(fast, monkeypatch, name, shape, block):
    fast(block)
    monkeypatch.setattr(_fast, "_cpus", lambda: 8)   # 8 threads allowed on a machine with fewer CPUs
    x = logits(shape, np.float32, 11, scale=10.0)
    g = logits(shape, np.float32, 12)
    fn = getattr(softmax_lib, name)
    args = (softmax_lib.softmax(x), g) if name == "softmax_vjp" else (x,)
    results = []
    for threads in ("1", "2", "3", "8"):
        monkeypatch.setenv(_fast.THREADS_ENV, threads)
        results.append(fn(*args, beta=1.5).tobytes())
    assert len(set(results)) == 1


# ---------------------------------------------------------------- bad input, through the fast path

def bad_inputs(shape):
    """(description, x, beta) for every bad-input rule of softmax."""
    x = logits(shape, np.float64, 5)
    cases = []
    for what, value, beta in [("NaN", np.nan, 1.0), ("+inf", np.inf, 2.0),
                              ("-inf with beta < 0", -np.inf, -0.5), ("inf with beta 0", np.inf, 0.0)]:
        bad = x.copy()
        bad.reshape(-1, shape[-1])[-2, shape[-1] // 2] = value
        bad.reshape(-1, shape[-1])[-1, 0] = value  # a later slice too: the first one is named
        cases.append((what, bad, beta))
    masked = x.copy()
    masked.reshape(-1, shape[-1])[1, :] = -np.inf
    cases.append(("all masked", masked, 1.0))
    return cases


@pytest.mark.parametrize("shape, block", LAYOUTS[:-1])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_bad_input_same_error(fast, reference, name, shape, block):
    fast(block)
    fn = getattr(softmax_lib, name)
    for what, x, beta in bad_inputs(shape):
        with pytest.raises(ValueError) as expected:
            reference(fn, x, beta=beta)
        with pytest.raises(ValueError) as got:
            fn(x, beta=beta)
        assert str(got.value) == str(expected.value), what


@pytest.mark.parametrize("shape, block", [((61, 10), 512), ((40, 150), 4096), ((3, 1037), 1024)])
def test_vjp_bad_input_same_error(fast, reference, shape, block):
    fast(block)
    y = reference(softmax_lib.softmax, logits(shape, np.float64, 2))
    for value in (np.nan, np.inf):
        g = np.ones(shape)
        g.reshape(-1, shape[-1])[1, 3] = value
        with pytest.raises(ValueError) as expected:
            reference(softmax_lib.softmax_vjp, y, g)
        with pytest.raises(ValueError) as got:
            softmax_lib.softmax_vjp(y, g)
        assert str(got.value) == str(expected.value)


# ---------------------------------------------------------------- dispatch and pieces

def test_fast_path_taken_only_where_it_applies(monkeypatch):
    calls = []
    real = _fast.softmax_rows
    monkeypatch.setattr(_fast, "softmax_rows", lambda *a, **k: calls.append(1) or real(*a, **k))
    big = np.zeros((_fast.MIN_BYTES // 4096, 1024), np.float32)  # exactly MIN_BYTES
    softmax_lib.softmax(big[:2])  # small: the simple path, no threads
    assert calls == []
    softmax_lib.softmax(big)
    assert calls == [1]
    softmax_lib.softmax(big, axis=0)  # other axes are moved last, then blocked as well
    softmax_lib.softmax(np.asfortranarray(big))  # and so is a non-contiguous layout
    assert calls == [1, 1, 1]
    assert softmax_lib.tuning.uses_fast_path(big, axis=0)
    assert not softmax_lib.tuning.uses_fast_path(big[:2])


def test_no_import_cycle_and_a_self_contained_kernel():
    """Each private module imports in a fresh interpreter; _kernel imports nothing of the package."""
    import ast
    import pathlib
    import subprocess
    import sys

    package = pathlib.Path(softmax_lib.__file__).parent
    modules = sorted(p.stem for p in package.glob("_*.py") if p.stem != "__init__")
    code = "; ".join(f"import softmax_lib.{m}" for m in modules)
    for m in modules:  # importing any one module first must work (no cycle)
        subprocess.run([sys.executable, "-c", f"import softmax_lib.{m}; {code}"], check=True)
    tree = ast.parse((package / "_kernel.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0 and not (node.module or "").startswith("softmax_lib"), node.module
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("softmax_lib") for a in node.names)
    public = set(softmax_lib.__all__)
    assert not public & {p.stem for p in package.glob("*.py")}, "a module named like a function"


@pytest.mark.parametrize("axis", [0, 1, -3])
def test_any_axis(fast, reference, axis):
    fast(1024)
    x = logits((4, 50, 6), np.float64, 9)
    got = softmax_lib.softmax(x, beta=2.0, axis=axis)
    assert_same_bits(got, reference(softmax_lib.softmax, x, beta=2.0, axis=axis))


def test_float32_stays_float32(fast):
    fast(1024)
    x = logits((20, 300), np.float32, 1)
    assert softmax_lib.softmax(x).dtype == np.float32
    assert softmax_lib.log_softmax(x).dtype == np.float32
    assert softmax_lib.softmax_vjp(softmax_lib.softmax(x), x).dtype == np.float32


@pytest.mark.parametrize("n", list(range(1, 129)))
def test_transposed_row_sum_is_numpys_pairwise_sum(n):
    rng = np.random.default_rng(n)
    rows = (rng.standard_normal((5, n)) * rng.exponential(10.0, (5, n))).astype(np.float32)
    got = _kernel.row_sum(np.ascontiguousarray(rows.T), 0)
    np.testing.assert_array_equal(got.ravel(), np.sum(rows, axis=1))


def test_pairwise_tree_covers_the_row():
    tree = _kernel.pairwise_tree(0, 100_003, 4096)
    leaves = list(_kernel.leaves(tree))
    assert leaves[0][0] == 0 and leaves[-1][1] == 100_003
    assert all(a[1] == b[0] for a, b in zip(leaves, leaves[1:]))
    assert max(b - a for a, b in leaves) <= 4096


def test_thread_count_from_environment(monkeypatch):
    monkeypatch.setenv(_fast.THREADS_ENV, "3")
    assert _fast.num_threads() == 3
    monkeypatch.delenv(_fast.THREADS_ENV)
    assert _fast.num_threads() >= 1
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(_fast.THREADS_ENV, bad)
        with pytest.raises(ValueError, match=_fast.THREADS_ENV):
            _fast.num_threads()


@pytest.mark.parametrize("shape", [(10,), (64, 1024), (3, 300)])
def test_callers_error_state_and_buffer_size_untouched(fast, shape):
    """The kernel sets numpy's error state and buffer size itself; the caller's come back."""
    fast(2048)
    x = logits(shape, np.float64, 13)
    with np.errstate(over="raise", under="warn"):
        np.setbufsize(4096)
        try:
            before = (np.geterr(), np.getbufsize())
            y = softmax_lib.softmax(x)
            softmax_lib.log_softmax(x)
            softmax_lib.softmax_vjp(y, x)
            assert (np.geterr(), np.getbufsize()) == before
        finally:
            np.setbufsize(8192)
