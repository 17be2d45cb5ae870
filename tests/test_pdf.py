"""The PDF edition (`make pdf`), read back: what a reader of the file gets.

The ``pdf`` fixture brings the PDF up to date through the Makefile
(`make _build/pdf/<name>.pdf`, which rebuilds the site first only when it is
stale), holding the same lock as the browser test's site build, so two pytest
workers never build into ``_build`` at once. Inside `make test` the browser
test has normally built the site and the PDF already (its links include the
PDF), and this test only reads the file.

Text is read with pypdfium2 (PDFium, a C library): the whole book's text in
about a second, where pypdf took 8 to 17 s on this machine. Bookmarks and
figures are read with pypdf, which does not parse what it does not need.
"""

from __future__ import annotations

import fcntl
import html
import os
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

import browser  # tools/browser.py
import pdf_edition  # tools/pdf_edition.py: tools/ is on pytest's pythonpath (pytest.ini)
import toc

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_build" / "html"
PDF = ROOT / "_build" / "pdf" / pdf_edition.PDF_NAME
LOCK = ROOT / "_build" / ".build.lock"

DOCS = toc.documents(ROOT)
CHAPTERS = [d.docname for d in DOCS if d.numbered or d.docname.startswith("book/appendix")]

# TeX that MathJax should have turned into formulas. Code, its outputs and inline code
# may show TeX on purpose (sympy's latex strings), so a hit counts only if no code on
# the site (<pre> or <code>) holds the text around it.
RAW_TEX = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|\\(?:frac|partial|sum|begin|end|beta|mathbb|"
                     r"operatorname|left|right|exp|log|top|cdot)\b")


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _article(docname: str) -> str:
    page = (SITE / f"{docname}.html").read_text(encoding="utf-8")
    begin = page.find('<article class="bd-article"')
    return page[begin:page.rfind("</article>")]


def _plain(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def _title(docname: str) -> str:
    """The page's title as printed: its h1 without the heading link."""
    h1 = re.search(r"<h1>(.*?)</h1>", _article(docname), re.S).group(1)
    h1 = re.sub(r'<a class="headerlink".*?</a>', "", h1, flags=re.S)
    return _norm(_plain(h1))


@pytest.fixture(scope="module")
def pdf() -> Path:
    if not browser.CHROMIUM.exists():
        pytest.skip(f"{browser.MISSING} to build and check the PDF")
    if "BOOK_SITE_DIR" not in os.environ and shutil.which("make"):
        LOCK.parent.mkdir(parents=True, exist_ok=True)
        with open(LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            run = subprocess.run(["make", "--no-print-directory", str(PDF.relative_to(ROOT))],
                                 cwd=ROOT, capture_output=True, text=True)
        if run.returncode:
            pytest.fail("the PDF did not build (make pdf):\n" + run.stdout[-6000:]
                        + run.stderr[-6000:])
    if not PDF.is_file():
        pytest.skip("the PDF is not built: run `make pdf`")
    return PDF


@pytest.fixture(scope="module")
def pages(pdf) -> list[str]:
    """The text of every page, whitespace collapsed, ligatures unfolded."""
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        return [_norm(document[k].get_textpage().get_text_range()) for k in range(len(document))]
    finally:
        document.close()


@pytest.fixture(scope="module")
def reader(pdf):
    from pypdf import PdfReader

    return PdfReader(pdf)


def test_every_chapter_title_is_in_the_text(pages):
    text = " ".join(pages)
    missing = [_title(d) for d in CHAPTERS if _title(d) not in text]
    assert len(CHAPTERS) >= 2, f"too few chapters found in _toc.yml: {CHAPTERS}"
    assert not missing, f"chapter titles not found in the PDF's text: {missing}"


def test_no_raw_tex_in_the_text(pages):
    code = {_norm(line) for d in DOCS
            for _, block in re.findall(r"<(pre|code)\b[^>]*>(.*?)</\1>", _article(d.docname), re.S)
            for line in _plain(block).splitlines() if line.strip()}

    def in_code(text: str, start: int, end: int) -> bool:
        for line in (c for c in code if text[start:end] in c):
            k = text.find(line, max(0, start - len(line)))
            while 0 <= k <= start:
                if k + len(line) >= end:
                    return True
                k = text.find(line, k + 1)
        return False

    raw = [f"page {number}: …{text[max(0, m.start() - 30):m.end() + 30]}…"
           for number, text in enumerate(pages, start=1)
           for m in RAW_TEX.finditer(text) if not in_code(text, m.start(), m.end())]
    assert not raw, "TeX left in the PDF's text (MathJax did not typeset it):\n" + "\n".join(raw)


def test_every_page_is_numbered(pages):
    unnumbered = [k for k, text in enumerate(pages, start=1)
                  if not re.search(rf"(?:^|\s){k}$", text)]
    assert not unnumbered, f"pages whose footer does not show their number: {unnumbered}"


def test_bookmarks_for_every_chapter_and_its_sections(reader):
    top, nested = [], 0

    def walk(items, depth):
        nonlocal nested
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            elif depth == 0:
                top.append(_norm(item.title))
            else:
                nested += 1

    walk(reader.outline, 0)
    missing = [_title(d) for d in CHAPTERS if _title(d) not in top]
    assert not missing, f"chapters without a top-level bookmark: {missing} (bookmarks: {top})"
    assert nested >= len(CHAPTERS), f"only {nested} section bookmarks under the chapters"


def test_the_pdf_holds_every_figure(reader):
    """As many figures as the site's pages have images, PNG or SVG alike.

    The PDF is tagged: Chromium wraps what each <img> draws in a marked-content
    sequence of type /Figure (with the image's alt text in the structure tree),
    whether the image became an image object (PNG) or vector paths (SVG). Counting
    them in the decompressed page contents takes well under a second.
    """
    from pypdf.generic import ArrayObject

    in_site = sum(len(re.findall(r"<img\b", _article(d.docname))) for d in DOCS)
    figures = 0
    for page in reader.pages:
        contents = page.raw_get("/Contents").get_object()
        streams = contents if isinstance(contents, ArrayObject) else [contents]
        figures += sum(len(re.findall(rb"/Figure\s*<<\s*/MCID", s.get_object().get_data()))
                       for s in streams)
    assert in_site > 0, "no figure in the site: the count cannot be checked"
    assert figures >= in_site, f"the site's pages hold {in_site} images, the PDF {figures} figures"


def test_the_site_links_to_the_pdf(pdf):
    copy = SITE / pdf.name
    assert copy.is_file() and copy.read_bytes() == pdf.read_bytes(), (
        f"{copy} is not a copy of {pdf}: the site's download links would break")
    chapter = (SITE / f"{CHAPTERS[0]}.html").read_text(encoding="utf-8")
    depth = CHAPTERS[0].count("/")
    assert f'href="{"../" * depth}{pdf.name}"' in chapter, "a chapter page does not link to the PDF"
