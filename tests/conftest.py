"""Shared pytest settings: hypothesis profiles sized for a 2-core machine, one BLAS thread for
the chapters' kernels, and the `fast` fixture of the fast-path tests."""

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=150, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# The chapters multiply many small matrices (attention's tiles); OpenBLAS's threads
# only add overhead there and double the CPU time of the notebook runs, which the
# kernels started by nbval inherit from this process. Same as tools/execute_notebooks.py.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture
def fast(monkeypatch):
    """Force softmax_lib's blocked, threaded path on small arrays; returns a block-size setter."""
    from softmax_lib import _fast

    monkeypatch.setattr(_fast, "MIN_BYTES", 0)

    def set_block(nbytes: int) -> None:
        monkeypatch.setattr(_fast, "BLOCK_BYTES", nbytes)

    return set_block
