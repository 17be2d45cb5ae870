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
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
KEEP_NOTEBOOK_METADATA = ("kernelspec", "language_info")
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def shared_inputs_digest() -> str:
    """Hash of everything outside a notebook that its outputs depend on."""
    h = hashlib.sha256()
    for path in sorted((ROOT / "softmax_lib").rglob("*.py")) + [ROOT / "requirements.txt"]:
        h.update(path.relative_to(ROOT).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def inputs_digest(nb: nbformat.NotebookNode, shared: str) -> str:
    """Hash of a notebook's code cells together with the shared inputs."""
    h = hashlib.sha256(shared.encode())
    for cell in nb.cells:
        if cell.cell_type == "code":
            h.update(b"\0" + cell.source.encode())
    return h.hexdigest()


def recorded_digest(nb: nbformat.NotebookNode) -> str | None:
    return nb.metadata.get("softmax_book", {}).get("inputs_sha256")


def execute(path: Path, shared: str) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    elapsed = time.perf_counter() - start
    nb.metadata = {k: nb.metadata[k] for k in KEEP_NOTEBOOK_METADATA if k in nb.metadata}
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["softmax_book"] = {"inputs_sha256": inputs_digest(nb, shared)}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--stale", action="store_true",
                        help="execute only notebooks whose code or library changed since their last run")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="notebooks executed at once, each in its own kernel (default: the number of cores)")
    args = parser.parse_args(argv)
    shared = shared_inputs_digest()
    todo = [p for p in args.notebooks if not (args.stale and is_current(p, shared))]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, min(args.jobs, len(todo) or 1))) as pool:
        for path, seconds in zip(todo, pool.map(execute, todo, [shared] * len(todo))):
            print(f"{path}: executed in {seconds:.1f} s", flush=True)
    if args.stale:
        print(f"{len(todo)} of {len(args.notebooks)} notebooks were stale and re-executed")
    if todo:
        print(f"{len(todo)} notebooks executed in {time.perf_counter() - start:.1f} s of wall time, "
              f"{args.jobs} at a time")
    return 0


def is_current(path: Path, shared: str) -> bool:
    nb = nbformat.read(path, as_version=4)
    return recorded_digest(nb) == inputs_digest(nb, shared)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
