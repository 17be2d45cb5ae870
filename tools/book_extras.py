"""Sphinx extension: the book's reference apparatus and its PDF link.

1. Author–year labels in the bibliography. sphinxcontrib-bibtex writes in-text
   citations as "[Greenquist, 2020]" (``bibtex_reference_style: author_year``),
   but the list takes its labels from the pybtex style, whose default ("alpha")
   prints "[Gre20]". The style ``authoryear`` registered here labels every entry
   the way the citations read: one author "Name, 2020", two "Name and Name,
   2020", three or more "Name et al., 2020" (with a, b… when two entries would
   share a label), sorts the list by author, year and title, and prints an
   optional ``day`` field before the month, so a dated post reads
   "29 August 2020" once.
2. An index of results: the directive ``{results-index}`` lists every
   proposition, theorem, lemma… of sphinx-proof in the order of the chapters,
   with its number, its title and a link to its statement. (sphinx-proof's own
   generated index, ``prf-prf.html``, lists bare labels and cannot be put in
   the table of contents; the page ``book/proofs.md`` that holds this directive
   can.)
3. The PDF edition on every page. The theme's download menu offers ".pdf",
   which only printed the page in the browser; it now links to the book's PDF
   (``make pdf`` copies it to the root of the site: ``tools/pdf_edition.py``).
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.formatting import toplevel
from pybtex.style.template import field, optional, optional_field, sentence, words
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

import toc
from pdf_edition import PDF_NAME

# ------------------------------------------------------------------ 1. bibliography


def _last_names(person) -> str:
    return " ".join(name.render_as("text") for name in person.rich_prelast_names
                    + person.rich_last_names)


class AuthorYearLabels(BaseLabelStyle):
    """Labels that read like the in-text citations: "Parr and Howard, 2018"."""

    def format_label(self, entry) -> str:
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [_last_names(p) for p in people]
        if not names:
            who = entry.fields.get("title", entry.key)
        elif len(names) == 1:
            who = names[0]
        elif len(names) == 2:
            who = f"{names[0]} and {names[1]}"
        else:
            who = f"{names[0]} et al."
        return f"{who}, {entry.fields.get('year', 'n.d.')}"

    def format_labels(self, sorted_entries):
        labels = [self.format_label(e) for e in sorted_entries]
        count = {label: labels.count(label) for label in labels}
        seen: dict[str, int] = {}
        for label in labels:
            if count[label] == 1:
                yield label
            else:  # "Name, 2020a", "Name, 2020b" in the order of the list
                seen[label] = seen.get(label, 0) + 1
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]


class AuthorYearStyle(UnsrtStyle):
    """unsrt's entries with author–year labels, sorted by author, year and title."""

    default_label_style = AuthorYearLabels
    default_sorting_style = "author_year_title"

    def get_misc_template(self, e):
        date = words[optional_field("day"), optional_field("month"), field("year")]
        return toplevel[
            optional[sentence[self.format_names("author")]],
            optional[self.format_title(e, "title")],
            sentence[optional[field("howpublished")], optional[date]],
            sentence[optional_field("note")],
            self.format_web_refs(e),
        ]


register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)

# ------------------------------------------------------------------ 2. results index


class results_index(nodes.General, nodes.Element):
    """Placeholder, filled once every document has been read."""


class ResultsIndex(SphinxDirective):
    has_content = False

    def run(self):
        return [results_index("")]


def _number(env, info, label) -> tuple[int, ...]:
    return tuple(env.toc_fignumbers.get(info["docname"], {})
                 .get(info["countertype"], {}).get(label, ()))


def fill_results_index(app: Sphinx, doctree, docname: str) -> None:
    env = app.env
    placeholders = list(doctree.findall(results_index))
    if not placeholders:
        return
    proofs = {k: v for k, v in getattr(env, "proof_list", {}).items()
              if v["realtype"] != "proof"}
    order = {d.docname: k for k, d in enumerate(toc.documents(Path(app.confdir)))}

    def key(item):
        label, info = item
        return order.get(info["docname"], len(order)), _number(env, info, label), label

    listing = nodes.bullet_list()
    for label, info in sorted(proofs.items(), key=key):
        number = ".".join(map(str, _number(env, info, label)))
        ref = nodes.reference("", "", internal=True,
                              refuri=app.builder.get_relative_uri(docname, info["docname"])
                              + "#" + label)
        ref += nodes.strong(text=f"{info['realtype'].title()} {number}".strip())
        para = nodes.paragraph()
        para += ref
        target = next((n for n in env.get_doctree(info["docname"]).findall(nodes.Element)
                       if label in n.get("ids", []) and n.children
                       and isinstance(n.children[0], nodes.title)), None)
        if target is not None and target.children[0].astext().strip():
            title = target.children[0].deepcopy()
            para += nodes.Text(" ")
            para.extend(title.children)
        chapter = env.titles.get(info["docname"])
        if chapter is not None:
            para += nodes.Text(f" — {chapter.astext()}")
        item = nodes.list_item()
        item += para
        listing += item
    if not proofs:
        listing = nodes.paragraph(text="No result is stated yet.")
    for node in placeholders:
        node.replace_self(listing.deepcopy())


# ------------------------------------------------------------------ 3. PDF link


def link_pdf(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Point the theme's ".pdf" download entry at the book's PDF."""
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []):
            if button.get("label") == "download-pdf-button":
                button.clear()
                button.update({
                    "type": "link", "url": context["pathto"](PDF_NAME, 1), "text": ".pdf",
                    "tooltip": "Download the whole book as a PDF", "icon": "fas fa-file-pdf",
                    "label": "download-pdf-button"})


def setup(app: Sphinx) -> dict:
    app.add_node(results_index)
    app.add_directive("results-index", ResultsIndex)
    app.connect("doctree-resolved", fill_results_index)
    app.connect("html-page-context", link_pdf, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

