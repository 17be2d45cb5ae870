"""Every chapter passes nbval, here and on CPUs unlike ours (issue 14: portable outputs).

numpy picks its SIMD kernels for ``exp``, ``log``, ``power``… by CPU, and they
differ in the last bits, so a printed number can differ on a laptop, an AMD
Zen 2/3 server or a CI runner. numpy's own switch emulates such machines:

- ``NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR"``: no AVX-512;
- ``NPY_DISABLE_CPU_FEATURES="X86_V3 X86_V4 AVX512_ICL AVX512_SPR"``: baseline
  dispatch only (no AVX2 either).

For each setting, and natively (nothing disabled), one pytest subprocess runs
nbval over every chapter with that variable set (the kernels inherit it). This
file is the suite's nbval. Which settings run is chosen by ``BOOK_NBVAL_CPUS``
(names of SETTINGS, space-separated; default ``native``): `make test` runs the
native one, and `make test-portable` the two emulated ones at once (`.ci/run` runs
both targets, so CI runs all three). The emulated runs cost about 40 s of CPU: with
them, `make test` with the PDF check took 177 s on a fresh clone of this 2-core
machine, no margin under its 180 s (README, Timings). A setting that is not chosen
is reported as skipped, with the command that runs it.

Each subprocess starts one kernel for all the chapters
(tools/nbval_shared_kernel.py: a fresh namespace per chapter, nbval's comparison
unchanged), which halves the CPU it costs, and the emulated runs do not rasterise
the figures, whose pixels nbval never compares (only a figure's text line, which
they still produce). A failure names the chapter and cell and gives the command
that reproduces it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))

# setting id -> the value of NPY_DISABLE_CPU_FEATURES ("" disables nothing: this CPU, native)
SETTINGS = {
    "native": "",
    "no-avx512": "X86_V4 AVX512_ICL AVX512_SPR",
    "baseline-only": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
}
#: The settings this run checks (the others are skipped; see the module docstring).
CHOSEN = os.environ.get("BOOK_NBVAL_CPUS", "native").split()
#: Where each setting runs, for the message of a skipped one.
WHERE = {"native": "`make test`", "no-avx512": "`make test-portable`", "baseline-only": "`make test-portable`"}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def nbval_command(chapters: list[Path]) -> list[str]:
    """pytest running nbval over ``chapters`` in one shared kernel, without the suite's addopts."""
    return [sys.executable, "-m", "pytest", "-q", "-rf", "--color=no",
            "-o", "addopts=", "-p", "no:cacheprovider", "-p", "no:xdist",
            "-p", "nbval_shared_kernel", "--nbval",
            "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"),
            *[str(c.relative_to(ROOT)) for c in chapters]]


def start(setting: str, chapters: list[Path]) -> subprocess.Popen:
    # The emulated runs check what nbval compares, the printed outputs: they skip drawing the
    # figures' pixels, which nbval never compares (tools/nbval_shared_kernel.py); the native run
    # draws every figure.
    env = dict(os.environ, NPY_DISABLE_CPU_FEATURES=setting,
               NBVAL_FIGURE_PIXELS="skip" if setting else "draw",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "tools"),
                                                        os.environ.get("PYTHONPATH")])))
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.Popen(nbval_command(chapters), cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def verdict(setting: str, returncode: int, output: str) -> str | None:
    """None if every cell passed; otherwise a message naming the failed cells and the fix."""
    output = ANSI.sub("", output)
    dispatch = re.search(r"numpy SIMD dispatch in the shared kernel: (.*)", output)
    if returncode == 0 and dispatch:
        leaked = set(dispatch.group(1).split()) & set(setting.split())
        if leaked:
            return (f"NPY_DISABLE_CPU_FEATURES={setting!r} did not reach the kernels: "
                    f"numpy still dispatches to {sorted(leaked)}")
        return None
    failed = re.findall(r"^FAILED (\S+\.ipynb::Cell \d+)", output, re.M)
    chapters = sorted({f.split("::")[0] for f in failed})
    rerun = " ".join(chapters) if chapters else "book/*.ipynb"
    head = (f"under NPY_DISABLE_CPU_FEATURES=\"{setting}\", "
            + (f"{len(failed)} cells differ from their stored outputs: {', '.join(failed)}"
               if failed else f"the nbval run failed (exit status {returncode})"))
    return (f"{head}\n"
            f"Print numbers so that they stay the same on every CPU (README, Adding a chapter), "
            f"re-execute with `make notebooks`, and check with:\n"
            f"  NPY_DISABLE_CPU_FEATURES=\"{setting}\" .venv/bin/python -m pytest -n 0 {rerun}\n"
            f"--- nbval's report (last 6000 characters) ---\n{output[-6000:]}")


@pytest.fixture(scope="module")
def runs() -> dict[str, subprocess.Popen]:
    """The runs BOOK_NBVAL_CPUS chooses, started at once (each is one process and one kernel).

    The native run is the suite's nbval over the chapters: the stored outputs were made by
    `make notebooks`, one fresh kernel per chapter (tests/test_notebooks_current.py proves
    they come from the current code), and this re-runs them all and compares.
    """
    unknown = set(CHOSEN) - set(SETTINGS)
    if not CHOSEN:
        pytest.fail(f"BOOK_NBVAL_CPUS is set but empty: name one or more of {list(SETTINGS)}")
    if unknown:
        pytest.fail(f"BOOK_NBVAL_CPUS names no setting {sorted(unknown)}; the settings: {list(SETTINGS)}")
    procs = {name: start(setting, CHAPTERS) for name, setting in SETTINGS.items() if name in CHOSEN}
    yield procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize("name", SETTINGS)
def test_chapters_pass_nbval_on_other_cpus(runs, name):
    if name not in runs:
        pytest.skip(f"{name} runs in {WHERE[name]} (.ci/run runs `make test`, then `make test-portable`), "
                    f"or: BOOK_NBVAL_CPUS={name} .venv/bin/python -m pytest -n 0 tests/test_portable_outputs.py")
    output, _ = runs[name].communicate()
    problem = verdict(SETTINGS[name], runs[name].returncode, output)
    if problem:
        pytest.fail(problem, pytrace=False)


def test_verdict_names_the_failed_cells():
    report = ("....F..\n=========================== short test summary info ====\n"
              "FAILED book/05_jacobian.ipynb::Cell 3 - Notebook cell execution failed\n"
              "FAILED book/01_chain_rule.ipynb::Cell 7 - Notebook cell execution failed\n"
              "2 failed, 30 passed in 9.1s\n")
    message = verdict(SETTINGS["no-avx512"], 1, report)
    assert message.startswith('under NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR", '
                              "2 cells differ from their stored outputs: "
                              "book/05_jacobian.ipynb::Cell 3, book/01_chain_rule.ipynb::Cell 7")
    assert ("-m pytest -n 0 book/01_chain_rule.ipynb book/05_jacobian.ipynb" in message)
    ok = "39 passed\nnumpy SIMD dispatch in the shared kernel: X86_V3\n"
    assert verdict(SETTINGS["no-avx512"], 0, ok) is None
    assert "did not reach" in verdict(SETTINGS["baseline-only"], 0, ok)
    assert "exit status 4" in verdict(SETTINGS["no-avx512"], 4, "ERROR: usage")


def _notebook(path: Path, *sources_and_outputs: tuple[str, str]) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    for k, (source, printed) in enumerate(sources_and_outputs, start=1):
        cell = nbformat.v4.new_code_cell(source, execution_count=k, id=f"c{k}")
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
        nb.cells.append(cell)
    nbformat.write(nb, path)


def test_the_shared_kernel_starts_each_notebook_afresh(tmp_path):
    """A notebook that uses a name another one defined fails, as it would in its own kernel."""
    (tmp_path / "sub").mkdir()
    _notebook(tmp_path / "a.ipynb", ("import numpy as np\nleak = 1\nnp.set_printoptions(precision=2)\n"
                                     "print(np.array([1/3]))", "[0.33]\n"))
    _notebook(tmp_path / "sub" / "b.ipynb",
              ("import os, numpy as np\nprint(os.path.basename(os.getcwd()), np.array([1/3]))",
               "sub [0.33333333]\n"),
              ("print(leak)", "1\n"))
    cmd = nbval_command([]) + [str(tmp_path / "a.ipynb"), str(tmp_path / "sub" / "b.ipynb")]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tools"))
    env.pop("PYTEST_XDIST_WORKER", None)
    run = subprocess.run(cmd, cwd=tmp_path, env=env, text=True, capture_output=True)
    # a.ipynb passes; b.ipynb's first cell sees its own folder and numpy's default print
    # options; its second cell fails: `leak` was a.ipynb's.
    assert re.search(r"^1 failed, 2 passed", run.stdout, re.M), run.stdout[-3000:]
    assert re.search(r"Input:\s*print\(leak\)", run.stdout) and "NameError" in run.stdout


def test_ci_runs_the_emulated_cpus_too():
    """`make test` leaves the emulated runs to `make test-portable`: CI must run both."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line.strip() for line in ci.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert "make test" in commands and "make test-portable" in commands, (
        ".ci/run must run `make test` and `make test-portable` (the emulated-CPU nbval runs)")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    target = re.search(r"^test-portable:.*\n\t(.*)$", makefile, re.M)
    assert target and all(name in target.group(1) for name in SETTINGS if name != "native"), (
        "make test-portable must choose every emulated setting through BOOK_NBVAL_CPUS")
