"""Glossary links that the site and JupyterLab both follow (issue 13).

Each term of ``book/glossary.md`` is linked once in the book, at its first use in
prose, reading the chapters in the order of ``_toc.yml``, with an ordinary
Markdown link to the glossary file and the term's anchor::

    [logits](glossary.md#term-logit)

The anchor is the one Sphinx gives the term (``term-`` and the term, spaces as
hyphens, case kept: ``#term-Iverson-bracket``). The same link then reads right in
both places:

- **JupyterLab**: jupyterlab-myst renders it as a link to the file. A click runs
  JupyterLab's ``rendermime:handle-local-link``, which opens a Markdown file with
  its default viewer for links, the Markdown Preview, and jupyterlab-myst renders
  that preview too (the glossary directive included), so the learner lands on the
  rendered glossary, at its top (jupyterlab-myst's preview ignores the anchor).
  The ``{term}`` role, which this replaces, rendered as a link to ``#`` there.
- **The site**: myst-parser reads the link as a reference to a section of another
  document, and would warn that ``term-logit`` is no section. This module,
  loaded as a Sphinx extension (``_config.yml``: ``local_extensions``), turns every
  link to a ``term-…`` anchor of a document that holds a glossary into the
  reference the ``{term}`` role makes (before myst-parser resolves links), so the
  site's HTML is what ``{term}`` gave. An anchor that no term of that glossary
  has is a warning naming it, so the ``-W`` build fails.

Run as a script, it writes the links: math, code, roles, links, headings and
directive lines are never touched; a term that is already linked somewhere is
left alone, so the script can run again after a chapter is added (it then links
only terms that had no link yet). A ``{term}`` role it finds is rewritten as the
link. Only the sources of markdown cells change (``nbformat``: cell ids, outputs
and metadata are kept), so a chapter's stored outputs stay valid: markdown is not
part of what `make notebooks` hashes.

Usage: ``python tools/glossary_links.py [--dry-run]``
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import nbformat
from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.nodes import _make_id  # how Sphinx's glossary makes a term's anchor

import toc

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "book" / "glossary.md"

#: term (as in the glossary) -> the words that count as a use of it (regex, case-insensitive).
USES = {
    "softmax": r"softmax(?![-_\w])",
    "logit": r"logits?",
    "inverse temperature": r"inverse\s+temperature",
    "temperature": r"(?<!inverse )(?<!inverse\n)temperature",
    "Jacobian": r"Jacobian(?![-\u2011]vector)",
    "VJP": r"vector[-\u2011]Jacobian\s+product|VJP",
    "JVP": r"Jacobian[-\u2011]vector\s+product|JVP",
    "upstream gradient": r"upstream\s+gradient",
    "log-sum-exp": r"log-sum-exp",
    "log-softmax": r"log-softmax",
    "cross-entropy": r"cross-entropy",
    "backpropagation": r"backpropagation",
    "Hessian": r"Hessian",
    "Fisher information": r"Fisher\s+information",
    "attention": r"attention",
    "online softmax": r"online\s+softmax",
    "Iverson bracket": r"Iverson\s+bracket",
    "finite difference": r"finite\s+differences?",
}

# Spans of a markdown source that are not prose: math, code and roles, links, HTML.
PROTECTED = re.compile(
    r"\$\$.*?\$\$|\$[^$\n]*\$"            # display and inline math
    r"|\{[\w:.-]+\}`[^`]*`|`[^`]*`"       # roles, inline code
    r"|!?\[[^\]]*\]\([^)]*\)"             # links and images
    r"|<[^>\n]+>",                        # HTML tags
    re.S)
# Whole lines that are not prose: headings, fences and directive options, labels.
NOT_PROSE = re.compile(r"^\s*(#|```|~~~|:::|:\w[\w-]*:|\(\S+\)=|\|)")


def glossary_terms() -> list[str]:
    """The terms defined in the glossary (every name line of the glossary block, without its **)."""
    text = GLOSSARY.read_text(encoding="utf-8")
    block = re.search(r"```\{glossary\}\n(.*?)\n```", text, re.S).group(1)
    return [line.strip().strip("*") for line in block.splitlines()
            if line.strip() and not line.startswith(" ")]


def _prose_spans(source: str) -> list[tuple[int, int]]:
    """(start, end) of the parts of a markdown source where a term may be linked."""
    free = []
    pos = 0
    for line in source.splitlines(keepends=True):
        if not NOT_PROSE.match(line):
            free.append((pos, pos + len(line)))
        pos += len(line)
    blocked = [(m.start(), m.end()) for m in PROTECTED.finditer(source)]
    spans = []
    for start, end in free:
        cuts = sorted((max(s, start), min(e, end)) for s, e in blocked if s < end and e > start)
        cursor = start
        for s, e in cuts:
            if s > cursor:
                spans.append((cursor, s))
            cursor = max(cursor, e)
        if cursor < end:
            spans.append((cursor, end))
    return spans


def first_use(source: str, pattern: str) -> re.Match | None:
    regex = re.compile(rf"(?<![\w-]){pattern}(?![\w])", re.I)
    for start, end in _prose_spans(source):
        match = regex.search(source, start, end)
        if match:
            return match
    return None


def anchor(term: str) -> str:
    """The anchor Sphinx gives a glossary term: ``Iverson bracket`` -> ``term-Iverson-bracket``."""
    return _make_id(f"term-{term}")


def link(term: str, text: str, chapter: Path) -> str:
    """The Markdown link from ``chapter`` to ``term`` in the glossary, showing ``text``."""
    target = Path(os.path.relpath(GLOSSARY, chapter.parent)).as_posix()
    return f"[{text}]({target}#{anchor(term)})"


#: The {term} role, ``{term}`text <term>``` or ``{term}`term```, which JupyterLab cannot follow.
TERM_ROLE = re.compile(r"\{term\}`(?:([^`<]*?)\s*<([^`>]+)>|([^`<>]+))`")


def linked_anchors(source: str) -> set[str]:
    """The glossary anchors a markdown source links to."""
    return set(re.findall(rf"\]\((?:[^)#\s]*/)?{re.escape(GLOSSARY.name)}#(term-[^)\s]+)\)", source))


def replace_roles(source: str, terms: list[str], chapter: Path) -> str:
    """The source with every {term} role written as a Markdown link to the glossary."""
    by_name = {t.lower(): t for t in terms}

    def rewrite(m: re.Match) -> str:
        text, target = (m.group(1), m.group(2)) if m.group(2) else (m.group(3), m.group(3))
        term = by_name.get(" ".join(target.split()).lower())
        if term is None:
            raise SystemExit(f"{chapter.name}: {m.group(0)!r} names no term of {GLOSSARY.name}")
        return link(term, text.strip(), chapter)

    return TERM_ROLE.sub(rewrite, source)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print the links, change nothing")
    args = parser.parse_args(argv)
    terms = glossary_terms()
    unknown = sorted(set(USES) - set(terms))
    if unknown:
        raise SystemExit(f"not in the glossary: {unknown}")
    chapters = [p for p in toc.source_files(ROOT) if p.suffix == ".ipynb"]
    books = {p: nbformat.read(p, as_version=4) for p in chapters}
    changed = set()
    for path, nb in books.items():
        for cell in nb.cells:
            if cell.cell_type == "markdown" and TERM_ROLE.search(cell.source):
                for m in TERM_ROLE.finditer(cell.source):
                    print(f"{path.relative_to(ROOT)}: {m.group(0)!r} becomes a link")
                cell.source = replace_roles(cell.source, terms, path)
                changed.add(path)
    linked = {a for nb in books.values() for cell in nb.cells if cell.cell_type == "markdown"
              for a in linked_anchors(cell.source)}
    done = {t for t in terms if anchor(t) in linked}
    for term, pattern in USES.items():
        if term in done:
            continue
        for path, nb in books.items():
            hit = next(((cell, m) for cell in nb.cells if cell.cell_type == "markdown"
                        for m in [first_use(cell.source, pattern)] if m), None)
            if hit:
                cell, m = hit
                print(f"{path.relative_to(ROOT)}: {term!r} at …{cell.source[max(0, m.start() - 30):m.end() + 30]!r}…")
                cell.source = cell.source[:m.start()] + link(term, m.group(0), path) + cell.source[m.end():]
                changed.add(path)
                break
        else:
            print(f"(no use of {term!r} in the chapters)")
    if not args.dry_run:
        for path in changed:
            nbformat.write(books[path], path)
    return 0


# --------------------------------------------------------------------------- Sphinx

logger = logging.getLogger(__name__)


class GlossaryLinks(SphinxPostTransform):
    """``[text](glossary.md#term-x)`` becomes the reference ``{term}`text <x>``` makes.

    myst-parser leaves such a link as ``pending_xref(refdomain="doc",
    reftarget=<the glossary's docname>, reftargetid="term-x")``; this runs before its
    resolver (priority 9) and hands the link to the std domain's term resolution,
    so the HTML is ``<a class="reference internal" href="glossary.html#term-x">``
    around ``<span class="xref std std-term">``, exactly as the role gave.
    """

    default_priority = 5

    def run(self, **kwargs) -> None:
        std = self.env.get_domain("std")
        terms = {(docname, anchor): name
                 for name, _, objtype, docname, anchor, _ in std.get_objects() if objtype == "term"}
        glossaries = {docname for docname, _ in terms}
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("refdomain") != "doc" or node.get("reftype") != "myst":
                continue
            docname, target = node["reftarget"], node.get("reftargetid") or ""
            if docname not in glossaries or not target.startswith("term-"):
                continue
            term = terms.get((docname, target))
            if term is None:
                known = sorted(a for d, a in terms if d == docname)
                logger.warning(f"glossary link to {docname}#{target}: no term of that glossary has "
                               f"this anchor (its anchors: {', '.join(known)}; "
                               "tools/glossary_links.py writes them)",
                               location=node, type="glossary", subtype="anchor")
                node.replace_self(node[0].children if node.children else [])
                continue
            content = nodes.inline("", "", classes=["xref", "std", "std-term"])
            if node.get("refexplicit") and node.children:
                content.extend(child.deepcopy() for child in node[0].children)
            else:
                content += nodes.Text(term)
            xref = addnodes.pending_xref("", content, refdomain="std", reftype="term",
                                         reftarget=term, refexplicit=True, refwarn=True,
                                         refdoc=node.get("refdoc", self.env.docname))
            xref.source, xref.line = node.source, node.line
            node.replace_self(xref)


def setup(app):
    app.add_post_transform(GlossaryLinks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    sys.exit(main())
