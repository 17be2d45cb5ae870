"""Sphinx extension: ``{{ repository_url }}`` in a page's source is the repository's address.

The address is one setting, ``repository: url`` in ``_config.yml``; Jupyter Book
hands it to the theme as ``html_theme_options["repository_url"]`` (the launch
buttons are made from it). A page that shows it (``book/run_locally.md``'s
``git clone``) writes the marker, which is replaced before the page is parsed, so
it works inside code blocks too, where MyST substitutions do not. A marker left
with no address configured stops the build.
"""

from __future__ import annotations

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

MARKER = "{{ repository_url }}"


def replace_marker(app: Sphinx, docname: str, source: list[str]) -> None:
    if MARKER not in source[0]:
        return
    url = (app.config.html_theme_options or {}).get("repository_url")
    if not url:
        raise ExtensionError(f"{docname} shows the repository's address, but _config.yml sets no "
                             "`repository: url:`")
    source[0] = source[0].replace(MARKER, url.rstrip("/"))


def setup(app: Sphinx) -> dict:
    app.connect("source-read", replace_marker)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
