"""Every chapter's stored outputs were produced from its current code and the current softmax_lib.

nbval re-runs the chapters and compares their text outputs, but not their
figures. This test closes that gap: each notebook records a hash of its code
cells, the library and the pins it was executed with (tools/execute_notebooks.py),
and the hash must match what is there now. A stale chapter fails here by name,
with the command that fixes it (`make notebooks`); nothing in the tests
re-executes a chapter, so `make test` leaves the tree as it found it.

The other tests check the machinery on copies in a temporary folder: a stale
or corrupt chapter is named, and executing an unchanged notebook twice gives
the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

import equations  # tools/ is on pytest's pythonpath (pytest.ini)
import execute_notebooks as ex
from notebook_file import CorruptNotebook

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_outputs_come_from_current_code_and_library(path):
    reason = ex.stale_reason(path, ex.shared_inputs_digest())
    if reason:
        pytest.fail(reason, pytrace=False)


def _code_cell(nb) -> int:
    return [c.cell_type for c in nb.cells].index("code")


def test_stale_detection_sees_library_and_code_changes():
    nb = ex.read(CHAPTERS[0])
    shared = ex.shared_inputs_digest()
    base = ex.inputs_digest(nb, shared)
    assert ex.inputs_digest(nb, shared + "library changed") != base
    nb.cells[_code_cell(nb)].source += "\n# edited"
    assert ex.inputs_digest(nb, shared) != base


def test_a_stale_chapter_is_named_with_the_command_that_fixes_it(tmp_path):
    original = CHAPTERS[0]
    before = original.read_bytes()
    copy = tmp_path / original.name
    shared = ex.shared_inputs_digest()
    nb = ex.read(original)
    nb.metadata["softmax_book"] = {"inputs_sha256": ex.inputs_digest(nb, shared)}
    nbformat.write(nb, copy)
    assert ex.stale_reason(copy, shared) is None  # current, as executed

    nb.cells[_code_cell(nb)].source += "\nx_changed = 1"
    nbformat.write(nb, copy)
    reason = ex.stale_reason(copy, shared)
    assert reason is not None and copy.name in reason and "run `make notebooks`" in reason

    del nb.metadata["softmax_book"]
    nbformat.write(nb, copy)
    assert "never executed" in ex.stale_reason(copy, shared)
    assert original.read_bytes() == before  # the chapter itself was only read


def test_pins_ignore_comments(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("numpy==2.2.6 ; python_full_version < '3.11'\n    # via\n    #   scipy\n-e .\n")
    assert ex.pins(req) == ["numpy==2.2.6 ; python_full_version < '3.11'", "-e ."]


@pytest.fixture
def corrupt_chapter(tmp_path) -> Path:
    path = tmp_path / "01_broken.ipynb"
    text = CHAPTERS[0].read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")  # a file cut in the middle
    return path


def test_a_corrupt_notebook_is_named_by_the_staleness_check(corrupt_chapter):
    with pytest.raises(CorruptNotebook, match=r"01_broken\.ipynb: not a notebook: invalid JSON at line \d+"):
        ex.stale_reason(corrupt_chapter, ex.shared_inputs_digest())


def test_a_corrupt_notebook_is_named_by_make_notebooks(corrupt_chapter, capsys):
    assert ex.main(["--stale", str(corrupt_chapter)]) == 1
    err = capsys.readouterr().err
    assert "01_broken.ipynb: not a notebook: invalid JSON" in err and err.startswith("error: ")
    assert "Traceback" not in err


def test_a_corrupt_notebook_is_named_by_the_equation_check(corrupt_chapter):
    with pytest.raises(CorruptNotebook, match=r"01_broken\.ipynb: not a notebook"):
        equations.markdown_sources(corrupt_chapter)


def test_a_notebook_without_cells_is_named(tmp_path):
    path = tmp_path / "empty.ipynb"
    path.write_text(json.dumps({"nbformat": 4}))
    with pytest.raises(CorruptNotebook, match=r"empty\.ipynb: not a notebook: the JSON has no list of cells"):
        ex.read(path)


def _stream(name: str, text: str) -> dict:
    return nbformat.v4.new_output("stream", name=name, text=text)


def test_consecutive_streams_of_one_name_are_merged():
    outs = [_stream("stdout", "a\n"), _stream("stdout", "b\n"), _stream("stderr", "w\n"),
            _stream("stdout", "c\n"), nbformat.v4.new_output("execute_result", data={"text/plain": "1"},
                                                             execution_count=1),
            _stream("stdout", "d\n")]
    merged = ex.merge_streams(outs)
    assert [(o.output_type, o.get("name"), o.get("text")) for o in merged] == [
        ("stream", "stdout", "a\nb\n"), ("stream", "stderr", "w\n"), ("stream", "stdout", "c\n"),
        ("execute_result", None, None), ("stream", "stdout", "d\n")]


TIMING = "import time\nprint(time.perf_counter_ns())"


def _tiny_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import sys, time\nprint('a', flush=True)\ntime.sleep(0.2)\nprint('b')"),
        nbformat.v4.new_code_cell(TIMING, metadata={"tags": ["nbval-ignore-output"]}),
        nbformat.v4.new_code_cell("6 * 7"),
    ]
    for k, cell in enumerate(nb.cells):
        cell.id = f"cell-{k}"
    nb.metadata["kernelspec"] = ex.KERNELSPEC
    nbformat.write(nb, path)


def test_executing_an_unchanged_notebook_twice_gives_the_same_bytes(tmp_path):
    """Streams split by flushing are merged; a timing cell keeps its outputs while nothing changed."""
    path = tmp_path / "tiny.ipynb"
    _tiny_notebook(path)
    shared = ex.shared_inputs_digest()
    ex.execute(path, shared)
    first = path.read_bytes()
    nb = ex.read(path)
    assert [o.text for o in nb.cells[0].outputs] == ["a\nb\n"]  # one output, not two
    ex.execute(path, shared)
    assert path.read_bytes() == first

    # When the code changes, the timing cell is measured again.
    nb = ex.read(path)
    nb.cells[2].source = "6 * 9"
    nbformat.write(nb, path)
    ex.execute(path, shared)
    again = ex.read(path)
    assert again.cells[1].outputs != nb.cells[1].outputs
    assert again.cells[2].outputs[0].data["text/plain"] == "54"
