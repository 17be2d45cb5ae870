"""Reading a chapter's ``.ipynb`` file so that a broken one names itself.

A notebook damaged by a bad merge or a hand edit would otherwise stop
`make equations`, `make notebooks` or the tests with a bare ``JSONDecodeError``
that says neither which file nor what to do.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat


def shown(path: Path) -> str:
    """A path as a message shows it: relative to the working directory when inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class CorruptNotebook(ValueError):
    """A notebook file that is not valid JSON or not a notebook; the message names the file."""


def load_json(path: Path) -> dict:
    """The notebook's JSON as a dict, or :class:`CorruptNotebook` naming the file and position."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise CorruptNotebook(f"{shown(path)}: not a notebook (not UTF-8 text: {err.reason} "
                              f"at byte {err.start})") from None
    except json.JSONDecodeError as err:
        raise CorruptNotebook(f"{shown(path)}: not a notebook: invalid JSON at line {err.lineno}, "
                              f"column {err.colno} ({err.msg}). Restore it from git "
                              f"(git diff / git checkout) or fix it by hand") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise CorruptNotebook(f"{shown(path)}: not a notebook: the JSON has no list of cells")
    return nb


def read(path: Path) -> nbformat.NotebookNode:
    """The notebook as nbformat reads it (version 4), or :class:`CorruptNotebook` naming the file."""
    nb = load_json(path)
    try:
        node = nbformat.reads(json.dumps(nb), as_version=4)
        nbformat.validate(node)
    except Exception as err:  # nbformat raises ValidationError, KeyError, TypeError...
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CorruptNotebook(f"{shown(path)}: not a valid notebook (nbformat 4): {first_line}") from None
    return node
