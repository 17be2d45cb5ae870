"""Execute chapters in place, so that their stored outputs are those of a fresh run.

    .venv/bin/python tools/execute_notebooks.py book/02_softmax.ipynb [...]
    .venv/bin/python tools/execute_notebooks.py --stale book/*.ipynb

Each notebook runs top to bottom in a fresh kernel (working directory: the
notebook's folder); afterwards only stable metadata is kept (kernelspec,
language_info), so a re-run changes a notebook's file only where an output
really changed.

Every executed notebook records, in its metadata, a hash of what its outputs
depend on: its own code cells, the source of softmax_lib and the pinned
requirements. ``--stale`` executes only the notebooks whose recorded hash
differs from the current one: after editing one chapter, only that chapter
runs; after changing softmax_lib, all of them do. (jupyter-cache, which hashes
only the code cells, would miss the library change.)

Executing a chapter whose inputs did not change gives an identical file:
consecutive stream outputs are merged (how a kernel splits printed text into
messages depends on timing), and the outputs of timing cells (tagged
``nbval-ignore-output``, the only outputs that differ between runs) are kept
from the stored file when the chapter's inputs hash is the recorded one; they
are replaced whenever code, library or pins changed, or with
``--refresh-timings``. A notebook that is not valid JSON stops everything with
a message naming the file; so does a cell that raises.

Numbers quoted in the prose are inline expressions, ``{eval}`...``` in a
markdown cell (tools/inline_eval.py): they are evaluated in the kernel after
the last cell has run (the prose may quote a number computed further down, as
it could with glue), and their results are stored in that cell's metadata (``user_expressions``, as jupyterlab-myst stores
them). The expressions count in the inputs hash; an expression that raises stops
the run like a cell that raises.

The notebook's kernelspec is the one the venv's ``python3`` kernel reports, as
JupyterLab writes it when the chapter is opened, so opening and saving a
chapter without edits changes nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

import inline_eval
from notebook_file import CorruptNotebook, read, shown

ROOT = Path(__file__).resolve().parent.parent
# Kernels inherit this: OpenBLAS threads only slow the chapters' many small matrix
# products (measured: chapter 8 takes twice the CPU time with them). Same as tests/conftest.py.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
KEEP_NOTEBOOK_METADATA = ("kernelspec", "language_info")
KERNEL_NAME = "python3"


def venv_kernelspec() -> dict:
    """The kernelspec metadata of the venv's kernel, exactly as JupyterLab writes it on opening."""
    spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    return {"display_name": spec.display_name, "language": spec.language, "name": KERNEL_NAME}


KERNELSPEC = venv_kernelspec()
VOLATILE_TAG = "nbval-ignore-output"  # timing cells: their outputs differ from run to run
FIX = "run `make notebooks`"


class NotebookError(Exception):
    """A chapter that could not be read or executed; the message names the file."""


def shared_inputs_digest() -> str:
    """Hash of everything outside a notebook that its outputs depend on.

    The library's source and the pins of requirements.txt (its requirement lines:
    comments, such as uv's "# via" notes, do not change what is installed).
    """
    h = hashlib.sha256()
    for path in sorted((ROOT / "softmax_lib").rglob("*.py")):
        h.update(path.relative_to(ROOT).as_posix().encode())
        h.update(path.read_bytes())
    h.update(b"requirements.txt")
    h.update("\n".join(pins(ROOT / "requirements.txt")).encode())
    return h.hexdigest()


def pins(path: Path) -> list[str]:
    """The requirement lines of a requirements file, without comments or blank lines."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def inputs_digest(nb: nbformat.NotebookNode, shared: str) -> str:
    """Hash of a notebook's code cells together with the shared inputs."""
    h = hashlib.sha256(shared.encode())
    for cell in nb.cells:
        if cell.cell_type == "code":
            h.update(b"\0" + cell.source.encode())
        elif cell.cell_type == "markdown":
            for expr in inline_eval.expressions(cell.source):
                h.update(b"\1" + expr.encode())
    return h.hexdigest()


def recorded_digest(nb: nbformat.NotebookNode) -> str | None:
    return nb.metadata.get("softmax_book", {}).get("inputs_sha256")


def stale_reason(path: Path, shared: str) -> str | None:
    """Why a chapter's stored outputs are out of date (a message naming it), or None if current."""
    nb = read(path)
    recorded = recorded_digest(nb)
    if recorded is None:
        return f"{shown(path)}: never executed by tools/execute_notebooks.py (no inputs hash): {FIX}"
    if recorded != inputs_digest(nb, shared):
        return (f"{shown(path)}: its stored outputs come from other code cells, another softmax_lib "
                f"or other pins: {FIX}")
    gaps = inline_eval.missing(nb)
    if gaps:
        return f"{shown(path)}: inline expressions without a stored result ({{eval}}`{gaps[0]}`): {FIX}"
    return None


def is_current(path: Path, shared: str) -> bool:
    return stale_reason(path, shared) is None


def merge_streams(outputs: list) -> list:
    """Consecutive stream outputs of the same name (stdout, stderr) merged into one.

    A kernel sends printed text in as many messages as its output buffer was
    flushed, which depends on timing; nbval compares the merged text anyway.
    """
    merged: list = []
    for out in outputs:
        prev = merged[-1] if merged else None
        if (out.get("output_type") == "stream" and prev is not None
                and prev.get("output_type") == "stream" and prev.get("name") == out.get("name")):
            prev["text"] = "".join(prev["text"]) + "".join(out["text"])
        else:
            merged.append(out)
    return merged


def normalise(nb: nbformat.NotebookNode, stored: nbformat.NotebookNode | None) -> None:
    """Make a freshly executed notebook independent of run-to-run accidents (in place).

    ``stored`` is the notebook as it was on disk, passed only when its recorded
    inputs hash equals the new one: then timing cells keep their stored outputs.
    """
    old_cells = {}
    if stored is not None:
        old_cells = {c.get("id"): c for c in stored.cells if c.cell_type == "code"}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        cell.outputs = merge_streams(cell.outputs)
        old = old_cells.get(cell.get("id"))
        if (VOLATILE_TAG in cell.metadata.get("tags", []) and old is not None
                and old.source == cell.source):
            cell.outputs = old.outputs
            cell.execution_count = old.execution_count


class InlineEvalClient(NotebookClient):
    """Runs the cells as usual; after the last one, evaluates every markdown cell's
    ``{eval}`` expressions in the kernel and stores their results in that cell's metadata.

    The end of the run, not the cell's place: like myst-nb's glue, which the
    expressions replaced, the prose may quote a number computed further down.
    """

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if cell_index == len(self.nb.cells) - 1:
            for k, md in enumerate(self.nb.cells):
                if md.cell_type == "markdown":
                    await self._evaluate(md, k)
        return cell

    async def _evaluate(self, cell, cell_index) -> None:
        exprs = inline_eval.expressions(cell.source)
        cell.metadata.pop(inline_eval.METADATA_KEY, None)
        if not exprs:
            return
        msg_id = self.kc.execute("", silent=True, store_history=False,
                                 user_expressions={str(k): e for k, e in enumerate(exprs)})
        reply = await self.async_wait_for_reply(msg_id, cell)
        results = reply["content"].get("user_expressions", {})
        stored = []
        for k, expr in enumerate(exprs):
            result = results.get(str(k), {"status": "error", "ename": "NoReply", "evalue": ""})
            if result.get("status") != "ok":
                raise CellExecutionError(
                    traceback="", ename=result.get("ename", "Error"),
                    evalue=f"the inline expression {{eval}}`{expr}` in markdown cell "
                           f"{cell.get('id', cell_index)} raised {result.get('ename')}: "
                           f"{result.get('evalue')}")
            stored.append({"expression": expr, "result": result})
        cell.metadata[inline_eval.METADATA_KEY] = stored


def execute(path: Path, shared: str, refresh_timings: bool = False) -> float:
    stored = read(path)
    nb = read(path)
    start = time.perf_counter()
    try:
        InlineEvalClient(
            nb,
            timeout=300,
            kernel_name=KERNEL_NAME,
            record_timing=False,
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    except CellExecutionError as err:
        raise NotebookError(f"{shown(path)}: a cell raised, so its outputs were not stored:\n{err}") from None
    elapsed = time.perf_counter() - start
    for index, cell in enumerate(nb.cells):  # e.g. a figure that fails to draw after its cell ran
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                raise NotebookError(f"{shown(path)}: cell {index} stored an error "
                                    f"({output.get('ename')}: {output.get('evalue')}); nothing was written")
    digest = inputs_digest(nb, shared)
    unchanged = recorded_digest(stored) == digest and not refresh_timings
    nb.metadata = {k: nb.metadata[k] for k in KEEP_NOTEBOOK_METADATA if k in nb.metadata}
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["softmax_book"] = {"inputs_sha256": digest}
    normalise(nb, stored if unchanged else None)
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--stale", action="store_true",
                        help="execute only notebooks whose code or library changed since their last run")
    parser.add_argument("--refresh-timings", action="store_true",
                        help="store new outputs of timing cells (nbval-ignore-output) even when "
                             "nothing they depend on changed")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="notebooks executed at once, each in its own kernel (default: the number of cores)")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (CorruptNotebook, NotebookError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    shared = shared_inputs_digest()
    todo = [p for p in args.notebooks if not (args.stale and is_current(p, shared))]
    for path in todo:  # a corrupt notebook stops everything before any kernel starts
        read(path)
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, min(args.jobs, len(todo) or 1))) as pool:
        runs = pool.map(execute, todo, [shared] * len(todo), [args.refresh_timings] * len(todo))
        for path, seconds in zip(todo, runs):
            print(f"{path}: executed in {seconds:.1f} s", flush=True)
    if args.stale:
        print(f"{len(todo)} of {len(args.notebooks)} notebooks were stale and re-executed")
    if todo:
        print(f"{len(todo)} notebooks executed in {time.perf_counter() - start:.1f} s of wall time, "
              f"{args.jobs} at a time")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
