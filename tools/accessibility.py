"""Sphinx extension: markup that assistive technology reads correctly.

The bibliography. docutils writes each entry of a citation list as
``<div role="doc-biblioentry">`` inside ``<div role="list">``. DPUB-ARIA 1.1
deprecates ``doc-biblioentry``, and a list may only hold list items, so a screen
reader is not told that the bibliography is a list of entries (axe:
aria-required-children, critical). Each entry is given ``role="listitem"``.

The theme's search and colour-mode buttons, the logo's landmark and the module index's
toggle are fixed in ``_templates/`` (copies
of pydata-sphinx-theme's and Sphinx's templates), the link colour and the figures in dark
mode in ``_static/accessibility.css``.

A change to a file in ``_static/`` alone leaves every page up to date for
Sphinx, which then copies no static file: the old stylesheet stays in the
site. The files' digest is therefore a configuration value that, when it
changes, makes Sphinx rebuild the pages (and copy the new files).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config


def citation_entries_are_list_items(app: Sphinx, pagename: str, templatename: str,
                                    context: dict, doctree) -> None:
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


def static_files_digest(app: Sphinx, config: Config) -> None:
    h = hashlib.sha256()
    static = Path(app.confdir, "_static")
    for path in sorted(static.rglob("*")) if static.is_dir() else []:
        if path.is_file():
            h.update(path.relative_to(static).as_posix().encode() + b"\0" + path.read_bytes())
    config.static_files_digest = h.hexdigest()


def setup(app: Sphinx) -> dict:
    app.add_config_value("static_files_digest", "", "html")
    app.connect("config-inited", static_files_digest)
    app.connect("html-page-context", citation_entries_are_list_items)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
