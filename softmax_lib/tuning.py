"""The knobs of softmax_lib's blocked, threaded path, for experiments.

The chapter "Making softmax fast" measures how the block size, the thread
count and the size at which the fast path starts change the speed. It changes
them only through :func:`settings`, which restores them on exit, so an
experiment cannot leave the library in a different state.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import numpy as np

from . import _fast

#: The environment variable that sets the number of threads.
THREADS_ENV = _fast.THREADS_ENV


def block_bytes() -> int:
    """Bytes of input per block of the fast path."""
    return int(_fast.BLOCK_BYTES)


def min_bytes() -> float:
    """Arrays of at least this many bytes take the fast path."""
    return _fast.MIN_BYTES


def uses_fast_path(x: np.ndarray, axis: int = -1) -> bool:
    """Whether :func:`softmax_lib.softmax` of ``x`` along ``axis`` takes the blocked, threaded path.

    Every float32 or float64 array of at least :func:`min_bytes` bytes does,
    along any axis (``axis`` changes nothing) and in any layout (a strided
    axis is first copied to be contiguous). Smaller arrays are one call of the same kernel, so both
    paths give the same bits.
    """
    return _fast.applies(np.asarray(x))


@contextlib.contextmanager
def settings(*, threads: int | None = None, block_bytes: int | None = None,
             min_bytes: float | None = None) -> Iterator[None]:
    """Change the fast path's thread count, block size or threshold inside a ``with`` block.

    Parameters
    ----------
    threads : int, optional
        Threads to use (otherwise ``$SOFTMAX_LIB_NUM_THREADS``, else the CPUs
        the process may run on), at most 4 per CPU. A call uses at most one
        thread per block of work. The process keeps one pool of helper
        threads, grown to the largest count a call needed.
    block_bytes : int, optional
        Bytes of input per block.
    min_bytes : float, optional
        The size from which the fast path is taken; ``float("inf")`` turns it off.

    Notes
    -----
    The settings are process-wide, not per thread: ``threads`` sets the
    environment variable ``SOFTMAX_LIB_NUM_THREADS`` and the other two are
    module attributes. A call made from another thread while the ``with``
    block runs uses them too. Use it from one thread, for experiments.

    Examples
    --------
    >>> import numpy as np
    >>> from softmax_lib import softmax, tuning
    >>> x = np.zeros((4, 3))
    >>> with tuning.settings(min_bytes=0, threads=1):
    ...     tuning.uses_fast_path(x)
    True
    >>> tuning.uses_fast_path(x)
    False
    """
    saved = (_fast.BLOCK_BYTES, _fast.MIN_BYTES, os.environ.get(THREADS_ENV))
    try:
        if block_bytes is not None:
            _fast.BLOCK_BYTES = int(block_bytes)
        if min_bytes is not None:
            _fast.MIN_BYTES = min_bytes
        if threads is not None:
            os.environ[THREADS_ENV] = str(int(threads))
        yield
    finally:
        _fast.BLOCK_BYTES, _fast.MIN_BYTES = saved[0], saved[1]
        if saved[2] is None:
            os.environ.pop(THREADS_ENV, None)
        else:
            os.environ[THREADS_ENV] = saved[2]
