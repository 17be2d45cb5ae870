"""Sphinx extension: markup that assistive technology reads correctly.

The bibliography. docutils writes each entry of a citation list as
``<div role="doc-biblioentry">`` inside ``<div role="list">``. DPUB-ARIA 1.1
deprecates ``doc-biblioentry``, and a list may only hold list items, so a screen
reader is not told that the bibliography is a list of entries (axe:
aria-required-children, critical). Each entry is given ``role="listitem"``.

The theme's search and colour-mode buttons are fixed in ``_templates/`` (copies
of pydata-sphinx-theme's components), the link colour and the figures in dark
mode in ``_static/accessibility.css``.
"""

from __future__ import annotations

from sphinx.application import Sphinx


def citation_entries_are_list_items(app: Sphinx, pagename: str, templatename: str,
                                    context: dict, doctree) -> None:
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", citation_entries_are_list_items)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
