"""Every chapter's stored outputs were produced from its current code and the current softmax_lib.

nbval re-runs the chapters and compares their text outputs, but not their
figures. This test closes that gap: each notebook records a hash of its code
cells, the library and the pins it was executed with (tools/execute_notebooks.py),
and the hash must match what is there now. After changing softmax_lib or a
chapter, run `make notebooks`.
"""

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
import execute_notebooks as ex  # tools/ is on pytest's pythonpath (pytest.ini)

CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_outputs_come_from_current_code_and_library(path):
    nb = nbformat.read(path, as_version=4)
    assert ex.recorded_digest(nb) == ex.inputs_digest(nb, ex.shared_inputs_digest()), (
        f"{path.name} was executed with other code or another softmax_lib: run `make notebooks`"
    )


def test_stale_detection_sees_library_and_code_changes():
    nb = nbformat.read(CHAPTERS[0], as_version=4)
    shared = ex.shared_inputs_digest()
    base = ex.inputs_digest(nb, shared)
    assert ex.inputs_digest(nb, shared + "library changed") != base
    nb.cells[[c.cell_type for c in nb.cells].index("code")].source += "\n# edited"
    assert ex.inputs_digest(nb, shared) != base
