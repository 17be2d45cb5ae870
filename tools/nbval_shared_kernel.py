"""pytest plugin: nbval with one kernel for all the notebooks of a run.

    python -m pytest -p nbval_shared_kernel --nbval book/*.ipynb   (tools/ on PYTHONPATH)

nbval starts a fresh kernel for every notebook. Starting a kernel and
importing numpy, sympy, matplotlib and softmax_lib costs about as much CPU as
running a chapter's cells, so the portability check (tests/test_portable_outputs.py),
which re-runs every chapter under two emulated CPUs, keeps one kernel per run
instead. Each notebook still starts from a clean state: before its first cell
the kernel's namespace is emptied (``%reset -f``), its working directory is
the notebook's folder, figures are closed, and matplotlib's rcParams, numpy's
print options and error state and the warning filters are put back as they
were when the kernel started. The cells are then run and compared by nbval
itself, unchanged. (`make notebooks` executes each chapter in a kernel of its own,
and tests/test_notebooks_current.py proves the stored outputs come from that.)

With ``NBVAL_FIGURE_PIXELS=skip`` in the environment, figures are not rasterised:
nbval compares a figure's ``text/plain`` line but never its PNG, so a run that
checks only what nbval compares (the emulated-CPU runs) saves Agg's drawing, about
a third of a run's CPU (28.9 s against 20.3 s for all chapters, measured side by side
with tools/nbval_shared_kernel.py's command in tests/test_portable_outputs.py).

The kernel's numpy reports which SIMD targets it dispatches to; the plugin
prints them at the end, so a run shows that NPY_DISABLE_CPU_FEATURES reached it.
"""

from __future__ import annotations

import os
from queue import Empty

import nbval.plugin as nbval_plugin
from nbval.kernel import RunningKernel

_state: dict = {"kernel": None, "dispatch": None}

SNAPSHOT = """\
import sys as _sys, warnings as _warnings
import numpy as _np, matplotlib as _mpl, matplotlib.pyplot as _plt
_sys._nbval_shared_kernel = {
    "rc": _mpl.rcParams.copy(), "print": _np.get_printoptions(), "err": _np.geterr(),
    "warnings": list(_warnings.filters),
}
try:  # numpy 2's record of the SIMD targets it dispatches to on this CPU
    from numpy._core._multiarray_umath import __cpu_dispatch__ as _dispatch, __cpu_features__ as _features
    print(" ".join(f for f in _dispatch if _features.get(f)) or "baseline only")
    del _dispatch, _features
except ImportError:
    print("unknown")
del _sys, _warnings, _np, _mpl, _plt
"""

# nbval never compares a figure's pixels (only its text/plain line, "<Figure size … with 1 Axes>"),
# so a run that only checks the printed outputs on an emulated CPU need not draw them: the
# inline backend's PNG formatters get a fixed 1x1 PNG instead, which skips Agg's rasterising.
# (IPython binds these functions when the formats are set, so they are replaced beforehand.)
NO_PIXELS = """\
import IPython.core.pylabtools as _pt
# Default arguments, not globals: the %reset -f before each notebook empties the namespace.
def _png(fig, *args, base64=False, _data=__import__("base64").b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="),
        **kwargs):
    return __import__("base64").b64encode(_data).decode("ascii") if base64 else _data
def _retina(fig, base64=False, _png=_png, **kwargs):
    return _png(fig, base64=base64), {"width": 1, "height": 1}
_pt.print_figure, _pt.retina_figure = _png, _retina
del _pt, _png, _retina
"""

RESET = """\
%reset -f
import os as _os, sys as _sys, warnings as _warnings
import numpy as _np, matplotlib as _mpl, matplotlib.pyplot as _plt
_os.chdir({cwd!r})
_plt.close("all")
_saved = _sys._nbval_shared_kernel
with _warnings.catch_warnings():
    _warnings.simplefilter("ignore")
    _mpl.rcParams.update(_saved["rc"])
_np.set_printoptions(**_saved["print"])
_np.seterr(**_saved["err"])
_warnings.filters[:] = _saved["warnings"]
del _os, _sys, _warnings, _np, _mpl, _plt, _saved
"""


def _run(kernel: RunningKernel, code: str, timeout: float = 120) -> str:
    """Execute code in the kernel; return what it printed, raise if it failed."""
    msg_id = kernel.execute_cell_input(code, allow_stdin=False)
    printed, error = [], None
    while True:
        try:
            msg = kernel.get_message("iopub", timeout=timeout)
        except Empty:
            raise RuntimeError("the shared kernel did not answer while being reset") from None
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            printed.append(content["text"])
        elif kind == "error":
            error = f"{content['ename']}: {content['evalue']}"
        elif kind == "status" and content["execution_state"] == "idle":
            break
    kernel.await_reply(msg_id, timeout=timeout)
    if error:
        raise RuntimeError(f"resetting the shared kernel failed: {error}")
    return "".join(printed).strip()


def _setup(self) -> None:
    kernel = _state["kernel"]
    if kernel is None or not kernel.is_alive():
        name = self.nb.metadata.get("kernelspec", {}).get("name", "python")
        kernel = RunningKernel(name, cwd=str(self.fspath.dirname),
                               startup_timeout=self.config.option.nbval_kernel_startup_timeout)
        _state["kernel"] = kernel
        _state["dispatch"] = _run(kernel, SNAPSHOT)
        if os.environ.get("NBVAL_FIGURE_PIXELS") == "skip":
            _run(kernel, NO_PIXELS)
    _run(kernel, RESET.format(cwd=str(self.fspath.dirname)))
    self.kernel = kernel
    self.setup_sanitize_files()


def _teardown(self) -> None:
    """The kernel outlives the notebook; pytest_unconfigure stops it."""


def pytest_configure(config) -> None:
    nbval_plugin.IPyNbFile.setup = _setup
    nbval_plugin.IPyNbFile.teardown = _teardown


def pytest_terminal_summary(terminalreporter) -> None:
    if _state["dispatch"] is not None:
        terminalreporter.write_line(f"numpy SIMD dispatch in the shared kernel: {_state['dispatch']}")


def pytest_unconfigure(config) -> None:
    kernel = _state["kernel"]
    if kernel is not None and kernel.is_alive():
        kernel.stop()
