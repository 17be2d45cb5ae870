"""The book outside the clone: `pip install ".[book]"` is all a chapter needs.

- Every module a chapter imports is the standard library's, or comes from a package
  that softmax_lib declares (its dependencies and its ``book`` extra, pyproject.toml).
- Every chapter's first cell installs softmax_lib from the repository that
  ``_config.yml`` names, where the import fails (Colab); tools/install_cell.py writes
  that cell, and nothing else in the repository spells the repository URL.
- The package and its ``book`` extra install into a fresh venv outside the
  repository, and one chapter, copied alone into an empty folder, runs there top to
  bottom in a kernel of that venv (isolated: no PYTHONPATH, no user site, not the
  clone's files). uv installs from its cache (``--offline``), which ``make`` filled
  when it installed the project's venv, at the versions of requirements.txt, so the
  test needs no network and takes a few seconds.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from packaging.requirements import Requirement

import install_cell  # tools/ is on pytest's pythonpath (pytest.ini)
from notebook_file import read

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
BIN = Path(sys.executable).parent
#: The chapter run outside the clone: one of the quickest, and it imports IPython.display too.
OUTSIDE_CHAPTER = ROOT / "book" / "03_case_i_equals_j.ipynb"
#: What the files of the repository may not contain (the URL lives in _config.yml only).
PLACEHOLDERS = ("REPOSITORY_URL", "yourusername", "your-username", "OWNER/REPO")
SKIP_DIRS = {".git", ".venv", "_build", "node_modules", ".pytest_cache", ".hypothesis",
             "__pycache__", ".ipynb_checkpoints"}


def _name(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


@functools.cache
def _providers() -> dict[str, list[str]]:
    return packages_distributions()


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def declared() -> set[str]:
    """The distributions `pip install ".[book]"` asks for by name."""
    project = _project()
    reqs = project["dependencies"] + project["optional-dependencies"]["book"]
    return {_name(Requirement(r).name) for r in reqs}


def chapter_imports(path: Path) -> set[str]:
    """The top-level modules a chapter's code cells import (magics read as IPython reads them)."""
    modules = set()
    for cell in read(path).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(TransformerManager().transform_cell(cell.source))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    return modules


def third_party(modules: set[str]) -> set[str]:
    return {m for m in modules if m not in sys.stdlib_module_names and m != "softmax_lib"}


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_the_book_extra_declares_every_import(path):
    providers = _providers()
    wanted = declared()
    undeclared = {m: providers.get(m, ["(not installed)"]) for m in sorted(third_party(chapter_imports(path)))
                  if not wanted & {_name(d) for d in providers.get(m, [])}}
    assert not undeclared, (f"{path.name} imports modules that pyproject.toml does not declare "
                            f"(module: distributions): {undeclared}; add them to the `book` extra")


def test_the_book_extra_asks_only_for_what_chapters_import():
    """A package no chapter imports any more (myst-nb once glue is gone) leaves the extra."""
    providers = _providers()
    imported = {_name(d) for p in CHAPTERS for m in third_party(chapter_imports(p))
                for d in providers.get(m, [])}
    extra = {_name(Requirement(r).name) for r in _project()["optional-dependencies"]["book"]}
    unused = extra - imported - {"ipykernel"}  # the kernel runs the chapters; none imports it
    assert not unused, f"no chapter imports {sorted(unused)}: drop it from the book extra (pyproject.toml)"


def test_install_cells_agree_with_config():
    url, branch = install_cell.repository()
    source = install_cell.cell_source(url, branch)
    differ = [p.name for p in CHAPTERS if not install_cell.is_current(read(p), source)]
    assert not differ, (f"the first cell of {differ} is not the install cell for {url}@{branch} "
                        f"(_config.yml): {install_cell.FIX}")


def test_the_install_cell_is_valid_ipython_and_a_valid_requirement():
    url, branch = install_cell.repository()
    python = TransformerManager().transform_cell(install_cell.cell_source(url, branch))
    compile(python, "install cell", "exec")
    assert "run_line_magic('pip', 'install --quiet" in python  # the %pip inside `except` is a magic
    req = Requirement(install_cell.requirement(url, branch))
    assert _name(req.name) == _name(_project()["name"]) and req.extras == {"book"}
    assert req.url == f"git+{url}@{branch}"


def _text_files():
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        for name in files:
            path = Path(folder) / name
            try:
                yield path, path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue  # images and other binary files


def test_the_repository_url_is_set_in_one_place():
    url, _ = install_cell.repository()
    elsewhere, placeholders = [], []
    for path, text in _text_files():
        rel = path.relative_to(ROOT).as_posix()
        if path.suffix == ".ipynb" and path.parent.name == "book":
            cells = json.loads(text)["cells"]
            text = json.dumps(cells[1:] if cells and cells[0].get("id") == install_cell.CELL_ID else cells)
        if url in text and rel != "_config.yml":
            elsewhere.append(rel)
        if path != Path(__file__) and any(p in text for p in PLACEHOLDERS):
            placeholders.append(rel)
    assert not elsewhere, f"{url} is written outside _config.yml (and the install cells) in {elsewhere}"
    assert not placeholders, f"a placeholder for the repository URL in {placeholders}"


def test_a_chapter_runs_alone_in_a_fresh_venv_outside_the_repository(tmp_path):
    assert not tmp_path.is_relative_to(ROOT)
    uv = BIN / "uv"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}

    def run(*args):
        done = subprocess.run([str(a) for a in args], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, (f"{' '.join(map(str, args))} failed: {done.stderr[-3000:]}\n"
                                      "(uv installs offline from its cache, which `make .venv/.installed` fills)")

    # The package's source, as `pip install .` of a clone sees it (setuptools writes its
    # build files next to the source, so it builds from this copy, never in the clone).
    source = tmp_path / "softmax-textbook"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "softmax_lib", source / "softmax_lib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    pins = tmp_path / "pins.txt"  # requirements.txt without its `-e .`
    pins.write_text("\n".join(line for line in (ROOT / "requirements.txt").read_text().splitlines()
                              if not line.startswith("-e")) + "\n")
    venv = tmp_path / "venv"
    run(uv, "venv", "--quiet", "--offline", "--python", sys.executable, venv)
    run(uv, "pip", "install", "--quiet", "--offline", "--python", venv / "bin" / "python",
        "--constraint", pins, f"{source}[book]")

    # The chapter, alone in an empty folder.
    folder = tmp_path / "chapter"
    folder.mkdir()
    shutil.copy(OUTSIDE_CHAPTER, folder)
    nb = nbformat.read(folder / OUTSIDE_CHAPTER.name, as_version=4)
    # Afterwards, in the same kernel: where softmax_lib came from, and every module any
    # chapter imports (so the other chapters' imports resolve in this venv too).
    everything = sorted(set().union(*(third_party(chapter_imports(p)) for p in CHAPTERS)))
    nb.cells.append(nbformat.v4.new_code_cell(
        f"import importlib, softmax_lib\nfor m in {everything!r}:\n    importlib.import_module(m)\n"
        "print(softmax_lib.__file__)"))

    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    kernels = tmp_path / "kernels"
    (kernels / "outside").mkdir(parents=True)
    (kernels / "outside" / "kernel.json").write_text(json.dumps({
        # -I: isolated, so PYTHON* variables, the user's site-packages and the working
        # folder add nothing; only the fresh venv provides modules.
        "argv": [str(venv / "bin" / "python"), "-I", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "outside", "language": "python"}))
    km = KernelManager(kernel_name="outside", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    try:
        NotebookClient(nb, km=km, timeout=300, resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        km.shutdown_kernel(now=True)

    first = nb.cells[0]
    if first.get("id") == install_cell.CELL_ID:
        assert first.outputs == [], "the install cell did something although softmax_lib is installed"
    where = Path(nb.cells[-1].outputs[0]["text"].strip())
    assert where.is_relative_to(venv), f"softmax_lib came from {where}, not from the fresh venv"
    assert sorted(p.name for p in folder.iterdir()) == [OUTSIDE_CHAPTER.name], "the chapter wrote files"
