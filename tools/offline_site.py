"""Sphinx extension: a site that works offline and loads nothing from another host.

1. MathJax is served from the built site.
`make book` installs MathJax (version pinned in ``tools/mathjax/package-lock.json``)
with ``npm ci --prefix tools/mathjax``. After each HTML build this extension copies
the parts of MathJax that a page can load into ``_build/html/_static/mathjax/``,
and ``mathjax_path`` in ``_config.yml`` points at the one entry script there.

Why not put MathJax in a ``_static/`` folder of the book? Jupyter Book 1.x adds a
``<script>`` tag for every ``.js`` file found under the static paths to every page,
which would load MathJax's hundred components at once. Copying after the build keeps
MathJax out of those folders: a page loads only the entry script, which loads fonts
and the few extensions it needs from beside itself.

2. Thebe is taken off the pages. Jupyter Book 1.x always loads sphinx-thebe, whose
script would fetch thebe from a CDN and start a kernel on Binder; the book's launch
buttons (Colab, Binder) are plain links that need no thebe, and the extension adds its inline configuration script twice, a
``const`` redeclared: an error in every page's console. The page context is cleaned
of thebe's assets and of any script included twice.

3. One search box. sphinx-book-theme has its search field in the sidebar, but
pydata-sphinx-theme >= 0.16 adds a second one in a header bar unless the theme
option ``navbar_persistent`` is set; Jupyter Book builds the theme options itself,
so it is set here.
"""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Where ``npm ci --prefix tools/mathjax`` puts MathJax's browser build.
MATHJAX_ES5 = Path("tools", "mathjax", "node_modules", "mathjax", "es5")

#: Loaded lazily by the entry script: TeX extensions (autoload), the CommonHTML
#: fonts, the accessibility and menu components and the speech rules they use.
LAZY_PARTS = ("input", "output", "a11y", "ui", "sre", "adaptors", "core.js", "startup.js")


def _source(app: Sphinx) -> Path:
    return Path(app.confdir, app.config.offline_mathjax_dir)


def _entry(app: Sphinx) -> str:
    """The entry script's name, taken from ``mathjax_path`` (relative to ``_static``)."""
    path = app.config.mathjax_path
    if "://" in path or path.startswith("/") or not path.startswith("mathjax/"):
        raise ExtensionError(
            f"mathjax_path must be a local path 'mathjax/<entry>.js' so that the site "
            f"works offline; it is {path!r}"
        )
    return path.removeprefix("mathjax/")


def check_installed(app: Sphinx) -> None:
    """Stop early, with the fix, when MathJax has not been installed."""
    if app.builder.format != "html":
        return
    entry = _source(app) / _entry(app)
    if not entry.is_file():
        raise ExtensionError(
            f"MathJax is not installed ({entry} is missing). "
            "Run `make book`, or `npm ci --prefix tools/mathjax`."
        )


def _copy_if_changed(src: Path, dst: Path) -> int:
    """Copy one file unless an identical one is there; return 1 if copied."""
    if dst.exists() and filecmp.cmp(src, dst, shallow=True):
        return 0
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)
    return 1


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    """Copy the entry script and what it loads into ``<outdir>/_static/mathjax/``."""
    if exception is not None or app.builder.format != "html":
        return
    src = _source(app)
    dst = Path(app.outdir, "_static", "mathjax")
    copied = _copy_if_changed(src.parent / "LICENSE", dst / "LICENSE")
    files = [src / _entry(app)]
    for part in LAZY_PARTS:
        p = src / part
        files.extend(sorted(p.rglob("*")) if p.is_dir() else [p])
    for f in files:
        if f.is_file():
            copied += _copy_if_changed(f, dst / f.relative_to(src))
    logger.info(f"offline MathJax: {copied} file(s) copied to {dst}")


def _is_thebe(asset) -> bool:
    name = getattr(asset, "filename", None) or str(asset)
    body = getattr(asset, "attributes", {}).get("body", "")
    return "thebe" in name or "THEBE_JS_URL" in body


def clean_page_assets(app: Sphinx, pagename: str, templatename: str, context: dict,
                      doctree) -> None:
    """Drop thebe's scripts and stylesheet, and scripts listed twice, from one page."""
    for key in ("script_files", "css_files"):
        assets = context.get(key)
        if not assets:
            continue
        seen, kept = set(), []
        for asset in assets:
            attrs = getattr(asset, "attributes", {})
            ident = (getattr(asset, "filename", None) or str(asset),
                     tuple(sorted((k, str(v)) for k, v in attrs.items())))
            if _is_thebe(asset) or ident in seen:
                continue
            seen.add(ident)
            kept.append(asset)
        context[key] = kept


def one_search_box(app: Sphinx, config) -> None:
    """Keep the search field in the sidebar only (see 3. above)."""
    config.html_theme_options.setdefault("navbar_persistent", [])


def setup(app: Sphinx) -> dict:
    app.add_config_value("offline_mathjax_dir", str(MATHJAX_ES5), "html")
    app.connect("config-inited", one_search_box)
    app.connect("builder-inited", check_installed)
    app.connect("build-finished", copy_mathjax)
    app.connect("html-page-context", clean_page_assets, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
