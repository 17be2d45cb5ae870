"""One-off conversion of the chapters' markup to what JupyterLab renders too (issue 13).

    .venv/bin/python tools/jupyterlab_markup.py book/*.ipynb

Two constructs of the chapters did not read right in JupyterLab (jupyterlab-myst):
myst-nb's glue, and links to other chapters written with ``{doc}``.

Links: jupyterlab-myst turns ``{doc}`02_softmax``` into a link to the file
``02_softmax``, which does not exist. A Markdown link to the file,
``[](02_softmax.ipynb)``, opens the chapter in JupyterLab (showing its file
name) and is the same cross-reference on the site and in the PDF (showing the
chapter's title); ``{doc}`Chapter 7 <07_hessian>``` becomes
``[Chapter 7](07_hessian.ipynb)``.

Glue:

JupyterLab (jupyterlab-myst) cannot render myst-nb's ``{glue:text}`` role: it
showed the key instead of the number. The chapters now quote computed numbers
with ``{eval}`` (tools/inline_eval.py), which JupyterLab, the site and the PDF
all render from the result stored in the markdown cell. This script changes
sources and metadata only, keeping every cell id:

- code: ``from myst_nb import glue`` becomes ``quoted = {}``, and each
  ``glue(KEY, VALUE, display=False)`` becomes ``quoted[KEY] = VALUE``;
- markdown: ``{glue:text}`key:fmt``` becomes ``{eval}`f"{quoted['key']:fmt}"```
  (``{glue:text}`key``` becomes ``{eval}`f"{quoted['key']}"```, str() like glue);
- each converted markdown cell gets the results of its expressions, computed from
  the value its glue call stored, so the site builds before the chapter is
  re-executed (tools/execute_notebooks.py then stores the kernel's own results);
- the notebook's kernelspec becomes the venv kernel's (execute_notebooks.KERNELSPEC).

Anything it does not recognise (another glue role, a glue call it cannot
rewrite) stops it with the chapter and the cell named, before any file is written.
A chapter without glue or {doc} only gets its kernelspec fixed; running it twice changes nothing.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import nbformat

import inline_eval
from execute_notebooks import KERNELSPEC

NAME = "quoted"
DOC_ROLE = re.compile(r"\{doc\}`(?:([^`<]*?)\s*<([^`>]+)>|([^`<>]+))`")
GLUE_ROLE = re.compile(r"\{glue(?::(\w+))?\}`([^`]*)`")
IMPORT = re.compile(r"^from myst_nb import glue[ \t]*$", re.M)


class Unconvertible(Exception):
    pass


def _offsets(source: str) -> list[int]:
    starts, pos = [], 0
    for line in source.splitlines(keepends=True):
        starts.append(pos)
        pos += len(line)
    starts.append(pos)
    return starts


def convert_code(source: str, where: str) -> str:
    """The code cell with glue calls rewritten as assignments into ``quoted``."""
    if "glue" not in source:
        return source
    source = IMPORT.sub(f"{NAME} = {{}}  # numbers the prose quotes with {{eval}}", source)
    if "glue" not in source:
        return source
    tree = ast.parse(source)
    starts = _offsets(source)
    edits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "glue":
            edits.append(node)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)
             and isinstance(n.value.func, ast.Name) and n.value.func.id == "glue"]
    if len(calls) != len(edits):
        raise Unconvertible(f"{where}: `glue` is used other than as a statement glue(key, value, display=False)")
    replacements = []
    for stmt in calls:
        call = stmt.value
        kw = {k.arg: k.value for k in call.keywords}
        if (len(call.args) != 2 or set(kw) != {"display"} or not isinstance(kw["display"], ast.Constant)
                or kw["display"].value is not False):
            raise Unconvertible(f"{where}: a glue call other than glue(key, value, display=False): "
                                f"{ast.get_source_segment(source, stmt)}")
        key = ast.get_source_segment(source, call.args[0])
        value = ast.get_source_segment(source, call.args[1])
        start = starts[stmt.lineno - 1] + stmt.col_offset
        end = starts[stmt.end_lineno - 1] + stmt.end_col_offset
        replacements.append((start, end, f"{NAME}[{key}] = {value}"))
    for start, end, text in sorted(replacements, reverse=True):
        source = source[:start] + text + source[end:]
    ast.parse(source)
    return source


def glued_values(nb) -> dict[str, object]:
    """key -> the value each glue call stored (from its stored output), read back as a literal."""
    values = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            text = out.get("data", {}).get("application/papermill.record/text/plain")
            if name is not None and text is not None:
                values[name] = ast.literal_eval(text)
    return values


def convert_markdown(source: str, where: str) -> tuple[str, list[tuple[str, str, str]]]:
    """The markdown with glue roles as {eval}; and (expression, key, format) for each."""
    found = []

    def one(m: re.Match) -> str:
        kind, content = m.group(1), m.group(2)
        if kind != "text":
            raise Unconvertible(f"{where}: {m.group(0)} (only {{glue:text}} is converted)")
        key, _, fmt = content.partition(":")
        expr = f"f\"{{{NAME}['{key}']{':' + fmt if fmt else ''}}}\""
        found.append((expr, key, fmt))
        return f"{{eval}}`{expr}`"

    return GLUE_ROLE.sub(one, source), found


def convert_doc_links(source: str, folder: Path, where: str) -> str:
    """``{doc}`` roles as Markdown links to the chapter's file."""

    def one(m: re.Match) -> str:
        text, target = (m.group(1), m.group(2)) if m.group(2) else ("", m.group(3))
        target = target.strip()
        files = [folder / f"{target}{suffix}" for suffix in (".ipynb", ".md")]
        found = [f for f in files if f.exists()]
        if not found:
            raise Unconvertible(f"{where}: {m.group(0)} names no chapter in {folder}")
        return f"[{text}]({found[0].name})"

    return DOC_ROLE.sub(one, source)


def convert(path: Path) -> bool:
    nb = nbformat.read(path, as_version=4)
    before = nbformat.writes(nb)
    values = glued_values(nb)
    for k, cell in enumerate(nb.cells):
        where = f"{path}: cell {k} ({cell.get('id')})"
        if cell.cell_type == "code":
            cell.source = convert_code(cell.source, where)
        if cell.cell_type == "markdown":
            cell.source = convert_doc_links(cell.source, path.parent, where)
        if cell.cell_type == "markdown" and "{glue" in cell.source:
            cell.source, found = convert_markdown(cell.source, where)
            results = []
            for expr, key, fmt in found:
                if key not in values:
                    raise Unconvertible(f"{where}: no stored glue output for {key!r}")
                shown = format(values[key], fmt)
                results.append({"expression": expr,
                                "result": {"status": "ok", "data": {"text/plain": repr(shown)},
                                           "metadata": {}}})
            cell.metadata[inline_eval.METADATA_KEY] = results
    leftover = [c.id for c in nb.cells if re.search(r"\bglue\b", c.source)]
    if leftover:
        raise Unconvertible(f"{path}: cells still mention glue after the conversion: {leftover}")
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    after = nbformat.writes(nb)
    if after != before:
        path.write_text(after + ("" if after.endswith("\n") else "\n"), encoding="utf-8")
        return True
    return False


def main(paths: list[str]) -> int:
    try:
        for p in paths:  # check every chapter converts before writing any
            nb = nbformat.read(p, as_version=4)
            for k, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    convert_code(cell.source, f"{p}: cell {k}")
                elif cell.cell_type == "markdown":
                    convert_markdown(cell.source, f"{p}: cell {k}")
                    convert_doc_links(cell.source, Path(p).parent, f"{p}: cell {k}")
        for p in paths:
            print(f"{p}: {'converted' if convert(Path(p)) else 'unchanged'}")
    except Unconvertible as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
