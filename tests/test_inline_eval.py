"""Computed numbers in the prose ({eval} with stored results): tools/inline_eval.py and
tools/execute_notebooks.py, on a tiny notebook in a temporary folder."""

from __future__ import annotations

import nbformat

import execute_notebooks as ex
import inline_eval

EXPR = "f\"{quoted['x']:.2f}\""


def _notebook(path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("quoted = {}"),
        # quoted before the code that computes it, as glue allowed
        nbformat.v4.new_markdown_cell(f"The value is {{eval}}`{EXPR}`, twice: {{eval}}`{EXPR}`."),
        nbformat.v4.new_code_cell("quoted['x'] = 2 / 3"),
        nbformat.v4.new_markdown_cell("No expression here."),
    ]
    for k, cell in enumerate(nb.cells):
        cell.id = f"cell-{k}"
    nb.metadata["kernelspec"] = ex.KERNELSPEC
    nbformat.write(nb, path)


def test_plain_text_removes_a_strings_quotes():
    assert inline_eval.plain_text({"status": "ok", "data": {"text/plain": "'0.67'"}}) == "0.67"
    assert inline_eval.plain_text({"status": "ok", "data": {"text/plain": "42"}}) == "42"
    assert inline_eval.plain_text({"status": "error", "ename": "KeyError"}) is None


def test_execution_stores_the_results_and_a_missing_one_is_stale(tmp_path):
    path = tmp_path / "tiny.ipynb"
    _notebook(path)
    shared = ex.shared_inputs_digest()
    assert inline_eval.missing(nbformat.read(path, as_version=4)) == [EXPR, EXPR]
    ex.execute(path, shared)
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[1].metadata[inline_eval.METADATA_KEY] == [
        {"expression": EXPR, "result": {"status": "ok", "data": {"text/plain": "'0.67'"}, "metadata": {}}},
    ] * 2
    assert inline_eval.METADATA_KEY not in nb.cells[3].metadata
    assert nb.metadata["kernelspec"] == ex.KERNELSPEC
    assert ex.stale_reason(path, shared) is None
    executed = path.read_bytes()
    # an expression edited in the prose makes the chapter stale (it counts in the inputs hash)
    nb.cells[1].source = nb.cells[1].source.replace(":.2f", ":.3f")
    nbformat.write(nb, path)
    assert "other code cells" in ex.stale_reason(path, shared)
    # results removed (a hand edit, a bad merge): stale, naming the expression
    path.write_bytes(executed)
    nb = nbformat.read(path, as_version=4)
    del nb.cells[1].metadata[inline_eval.METADATA_KEY]
    nbformat.write(nb, path)
    assert EXPR in ex.stale_reason(path, shared)


def test_the_kernelspec_is_the_one_the_venv_kernel_reports():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(ex.KERNEL_NAME)
    assert ex.KERNELSPEC == {"display_name": spec.display_name, "language": spec.language,
                             "name": ex.KERNEL_NAME}
