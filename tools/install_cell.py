"""The first cell of every chapter: install the book's package where it is missing.

    .venv/bin/python tools/install_cell.py book/*.ipynb          # write the cells (`make notebooks` does)
    .venv/bin/python tools/install_cell.py --check book/*.ipynb  # list the chapters whose cell differs
    .venv/bin/python tools/install_cell.py --print-url           # the repository URL of _config.yml

A chapter opened on a hosted service (Colab) or copied alone into a folder has no
clone around it, so its first cell installs ``softmax_lib`` with the ``book``
extra (everything a chapter imports) from the book's repository when the import
fails, and does nothing where the package is already installed (a clone's
``.venv``, Binder, ``pip install ".[book]"``). A notebook cannot read
``_config.yml`` when it is copied alone, so the repository URL and branch
(``repository: url, branch``, the one setting a maintainer who publishes the
book changes) are written into the cell by this script; tests/test_outside.py
fails when a chapter's cell and ``_config.yml`` disagree. The cell is removed
from the site and the PDF (tag ``remove-cell``); nbval runs it like any other.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import yaml

from notebook_file import read, shown

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "_config.yml"
CELL_ID = "install"
METADATA = {"tags": ["remove-cell"]}
FIX = "run `make notebooks`"


def repository(config: Path = CONFIG) -> tuple[str, str]:
    """The book's repository URL and branch, as ``_config.yml`` sets them."""
    settings = yaml.safe_load(config.read_text(encoding="utf-8")).get("repository") or {}
    url, branch = settings.get("url"), settings.get("branch", "main")
    if not url:
        raise SystemExit(f"{shown(config)}: no `repository: url:` setting")
    return str(url).rstrip("/"), str(branch)


def requirement(url: str, branch: str) -> str:
    """What pip installs: the package with the chapters' extra, from the repository."""
    return f"softmax_lib[book] @ git+{url}@{branch}"


def cell_source(url: str, branch: str) -> str:
    return (
        "# Where softmax_lib is missing (Colab, a chapter copied alone), install it; elsewhere nothing happens.\n"
        "try:\n"
        "    import softmax_lib\n"
        "except ImportError:\n"
        f'    %pip install --quiet "{requirement(url, branch)}"'
    )


def is_current(nb: nbformat.NotebookNode, source: str) -> bool:
    first = nb.cells[0] if nb.cells else None
    return (first is not None and first.get("id") == CELL_ID and first.cell_type == "code"
            and first.source == source and first.metadata == METADATA)


def update(nb: nbformat.NotebookNode, source: str) -> bool:
    """Make the notebook's first cell the install cell; True when something changed."""
    if is_current(nb, source):
        return False
    if nb.cells and nb.cells[0].get("id") == CELL_ID:
        nb.cells[0].source = source  # keep its stored execution count and (empty) outputs
        nb.cells[0].metadata = nbformat.from_dict(METADATA)
        nb.cells[0].cell_type = "code"
    else:
        if any(c.get("id") == CELL_ID for c in nb.cells):
            raise SystemExit(f"a cell other than the first has the id {CELL_ID!r}")
        cell = nbformat.v4.new_code_cell(source, metadata=nbformat.from_dict(METADATA))
        cell.id = CELL_ID
        nb.cells.insert(0, cell)
    return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 naming the chapters whose cell differs")
    parser.add_argument("--print-url", action="store_true", help="print the repository URL and exit")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    url, branch = repository()
    if args.print_url:
        print(url)
        return 0
    source = cell_source(url, branch)
    differ = []
    for path in args.notebooks:
        nb = read(path)
        if args.check:
            if not is_current(nb, source):
                differ.append(shown(path))
        elif update(nb, source):
            nbformat.write(nb, path)
            print(f"{shown(path)}: install cell written")
    if differ:
        print(f"The install cell differs from _config.yml ({url}@{branch}) in: "
              f"{', '.join(differ)}; {FIX}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
