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


# The order in which pytest-xdist hands out test files (pytest.ini: --dist loadfile
# --no-loadscope-reorder): the long, CPU-heavy files first, so that the two workers stay busy
# to the end instead of one finishing the short files while the other starts the site test.
# (pytest collects the `tests` folder alphabetically whatever order pytest.ini's testpaths
# give, so the order is set here.) The site test builds the site first; the native nbval run
# (tests/test_portable_outputs.py) runs meanwhile; the PDF check prints the site once it is built.
LONG_FIRST = ["tests/test_site.py", "tests/test_portable_outputs.py", "tests/test_pdf.py",
              "tests/test_lab.py", "tests/test_outside.py", "tests/test_equation_sensitivity.py",
              "tests/test_equations.py", "tests/test_notebooks_current.py"]


def pytest_collection_modifyitems(session, config, items):
    rank = {name: k for k, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable
