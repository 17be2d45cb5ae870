"""Computed numbers in the prose: ``{eval}`expr``` with its result stored in the notebook.

A chapter's markdown quotes a number computed by its code as an inline
expression, e.g. ``within {eval}`f"{glued['ch3_fd_bound']:.0e}"```, where
``glued`` is a dict the chapter's code cells fill. The result of each
expression is stored in the markdown cell's metadata, in the format
jupyterlab-myst reads and writes::

    "user_expressions": [{"expression": "...",
                          "result": {"status": "ok", "data": {"text/plain": "'1e-09'"},
                                     "metadata": {}}}]

so the same file reads right everywhere:

- in JupyterLab, jupyterlab-myst shows the stored result as soon as the chapter
  opens (and re-evaluates it when the learner runs the markdown cell);
- on the site and in the PDF, this module, loaded as a Sphinx extension
  (``_config.yml``: ``local_extensions``), replaces myst-nb's ``eval`` role (which
  needs a kernel at build time) by one that prints the stored result; a missing
  result is a warning, so the ``-W`` build fails and says which chapter to run;
- ``tools/execute_notebooks.py`` evaluates the expressions in the kernel once the
  chapter's last cell has run (so, as with glue, the prose may quote a number
  computed further down), so the stored results are those of a fresh run, and
  counts them in the chapter's inputs hash, so a changed expression makes the
  chapter stale. (A learner who runs such a markdown cell before the code that
  computes its number sees jupyterlab-myst's inline error until that code has run.)

The number is printed as ``text/plain`` with the quotes of a string removed,
as jupyterlab-myst and myst-nb both do.
"""

from __future__ import annotations

import re
from pathlib import Path

EVAL_ROLE = re.compile(r"\{eval\}`([^`]+)`")
METADATA_KEY = "user_expressions"  # jupyterlab-myst's key


def expressions(markdown: str) -> list[str]:
    """The ``{eval}`` expressions of a markdown source, in order (repeats kept)."""
    return EVAL_ROLE.findall(markdown)


def plain_text(result: dict) -> str | None:
    """What a reader sees for a stored result: its text/plain, quotes of a string removed."""
    if result.get("status") != "ok":
        return None
    text = result.get("data", {}).get("text/plain")
    if text is None:
        return None
    return re.sub(r"^([\"'])(.*)\1$", r"\2", text, flags=re.S)


def stored(cell: dict) -> dict[str, str]:
    """A markdown cell's stored results: expression -> the text a reader sees (ok results only)."""
    out = {}
    for entry in cell.get("metadata", {}).get(METADATA_KEY, []) or []:
        text = plain_text(entry.get("result", {}))
        if text is not None and "expression" in entry:
            out[entry["expression"]] = text
    return out


def missing(nb: dict) -> list[str]:
    """The expressions of a notebook's markdown cells that have no stored (ok) result."""
    gaps = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        have = stored(cell)
        gaps += [e for e in expressions(source) if e not in have]
    return gaps


# --------------------------------------------------------------------------- Sphinx


def _results(env, docname: str) -> dict[str, set[str]]:
    """Every stored result of a document (cached per build), expression -> texts."""
    cache = env.temp_data.setdefault("inline_eval", {})
    if docname not in cache:
        import json

        results: dict[str, set[str]] = {}
        path = Path(env.doc2path(docname))
        if path.suffix == ".ipynb":
            nb = json.loads(path.read_text(encoding="utf-8"))
            for cell in nb.get("cells", []):
                if cell.get("cell_type") == "markdown":
                    for expr, text in stored(cell).items():
                        results.setdefault(expr, set()).add(text)
        cache[docname] = results
    return cache[docname]


def eval_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    from docutils import nodes

    env = inliner.document.settings.env
    found = _results(env, env.docname).get(text, set())
    if len(found) != 1:
        why = ("has no stored result" if not found
               else f"has different stored results in different cells: {sorted(found)}")
        msg = inliner.reporter.warning(
            f"{{eval}}`{text}` {why}: run `make notebooks` (tools/execute_notebooks.py stores "
            f"the results of inline expressions)", line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    return [nodes.inline(rawtext, next(iter(found)), classes=["inline-eval"])], []


def _register(app) -> None:
    # After every extension's setup, so this role replaces myst-nb's kernel-bound one.
    app.add_role("eval", eval_role, override=True)


def setup(app):
    app.connect("builder-inited", _register)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
