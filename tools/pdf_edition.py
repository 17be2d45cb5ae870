"""The PDF edition: the built site, printed by Chromium into one PDF (`make pdf`).

Route: the HTML site that `make site` builds (stored outputs, MathJax served
locally) is assembled into one long page, which Debian's Chromium (the browser
the site test already uses) prints through Playwright once MathJax has typeset
every formula. Nothing is built a second time and nothing new is installed; the
README says why this route was chosen over LaTeX.

1. Assemble, in the browser (its HTML parser is fast): the article of every page
   of ``_toc.yml``, in order, each in its own ``<section>``, after a title page
   and a table of contents (every page and its sections, as links). Ids are made
   unique per page (``<page>--<id>``) and every link between pages becomes a link
   inside the PDF; a link to a page that is not in the PDF (a source file, the
   search page) keeps its text and loses its target.
2. Typeset: the page is laid out at the printed text width, MathJax (the site's
   copy) typesets it, and a display formula wider than the text is scaled down
   to fit (MathJax 3 cannot break lines). Code and outputs wrap (print CSS).
3. Print once: tagged (figures keep their alt text), with bookmarks from the
   headings (Chromium's outline) and the page number in every footer.
   Chromium's bookmark titles repeat the text of some headings and drop their
   formulas, so each bookmark gets its heading's text as the page shows it
   (formulas as the characters MathJax typeset) through a small incremental
   update of the file. The formulas are printed without MathJax's hidden MathML
   copy, so that they are text in the PDF (searchable, copyable). (Page numbers in the table of contents would need a second print,
   which would double the cost; the entries are links instead.)

The PDF goes to ``_build/pdf/<name>.pdf`` and a copy to the root of the site
(``_build/html/<name>.pdf``), where the download button of every page links to
it (``tools/book_extras.py``). No request leaves 127.0.0.1.

Usage: ``python tools/pdf_edition.py [--site _build/html] [--out _build/pdf/NAME.pdf]``
"""

from __future__ import annotations

import argparse
import functools
import http.server
import io
import json
import shutil
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import yaml

import toc
from browser import CHROMIUM, HOST, block_other_hosts, launch  # tools/browser.py

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_build" / "html"
#: The file name of the PDF, in ``_build/pdf/`` and at the root of the site.
PDF_NAME = "softmax-derivative.pdf"
OUT = ROOT / "_build" / "pdf" / PDF_NAME

# A4 with these margins leaves 178 mm for the text: the layout width in CSS px (96/in).
PAGE_MARGIN = {"top": "18mm", "bottom": "18mm", "left": "16mm", "right": "16mm"}
TEXT_WIDTH_PX = round((210 - 16 - 16) / 25.4 * 96)

PRINT_CSS = """
html { font-size: 10.5pt; }
body { margin: 0; background: white; }
.pdf-doc { break-before: page; }
.pdf-title { text-align: center; padding-top: 30vh; }
.pdf-title .pdf-book-title { font-size: 2.4em; font-weight: 700; }
.pdf-title p { font-size: 1.2em; color: #444; }
.pdf-toc { break-before: page; }
.pdf-toc ol { list-style: none; padding-left: 0; }
.pdf-toc ol ol { padding-left: 1.6em; }
.pdf-toc li { margin: 0.15em 0; }
.pdf-toc a { color: inherit; text-decoration: none; }
.pdf-toc > ol > li { margin-top: 0.6em; font-weight: 600; }
.pdf-toc > ol > li li { font-weight: normal; }
.pdf-toc .pdf-part { font-size: 0.95em; text-transform: uppercase; letter-spacing: 0.05em;
                     color: #555; margin-top: 1.2em; }
/* Code and outputs wrap instead of being clipped. */
pre, .highlight pre, .output pre, div.cell_output pre {
  white-space: pre-wrap !important; overflow-wrap: anywhere; word-break: break-word;
  overflow: visible !important; max-height: none !important; font-size: 0.82em; }
div.highlight, div.cell_output, div.output, .cell_output .output {
  overflow: visible !important; max-height: none !important; }
img { max-width: 100% !important; height: auto; break-inside: avoid; }
figure { break-inside: avoid; }
h1, h2, h3, h4 { break-after: avoid; }
table { font-size: 0.9em; max-width: 100%; }
.headerlink, .copybtn, button.toggle-button, .prev-next-area { display: none !important; }
/* Folded solutions are printed open. */
.toggle-hidden { visibility: visible !important; opacity: 1 !important; height: auto !important; }
a { color: #1a4f8b; }
mjx-container[display="true"] { overflow: visible !important; }
"""

SHELL = """<!DOCTYPE html>
<html lang="en" data-theme="light" data-mode="light">
<head><meta charset="utf-8"><title>{title}</title><style>{css}</style></head>
<body><main class="bd-article"><section class="pdf-title"><p class="pdf-book-title">{title}</p>
<p>{author}</p></section></main></body></html>
"""

# Runs in the shell page with the list of documents; builds the book (see 1. above),
# then loads MathJax, which typesets it, and fits wide formulas (see 2.).
ASSEMBLE = r"""
async ({docs, parts}) => {
  const here = location.origin;
  const slugOf = new Map(docs.map(d => [new URL(d.url, here).pathname, d.slug]));
  const texts = await Promise.all(docs.map(d => fetch(d.url).then(r => r.text())));
  const parser = new DOMParser();
  const main = document.querySelector("main");
  const nav = document.createElement("nav");
  nav.className = "pdf-toc"; nav.id = "pdf-toc";
  nav.innerHTML = "<h1>Contents</h1><ol></ol>";
  main.append(nav);
  const list = nav.querySelector("ol");
  let head = null;
  const entry = (target, heading) => {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = "#" + target;
    const copy = heading.cloneNode(true);
    copy.querySelectorAll(".headerlink").forEach(n => n.remove());
    a.append(...copy.childNodes);
    li.append(a);
    return li;
  };
  docs.forEach((d, k) => {
    const page = parser.parseFromString(texts[k], "text/html");
    head = head || page.head;
    const article = page.querySelector("article.bd-article");
    if (!article) throw new Error(d.url + " has no article.bd-article");
    const base = new URL(d.url, here);
    article.querySelectorAll("script, .headerlink, .copybtn").forEach(n => n.remove());
    article.querySelectorAll("[id]").forEach(n => { n.id = d.slug + "--" + n.id; });
    for (const a of article.querySelectorAll("a[href]")) {
      const u = new URL(a.getAttribute("href"), base);
      a.removeAttribute("target");
      if (u.origin !== here) {
        if (!/^(https?|mailto):$/.test(u.protocol)) a.removeAttribute("href");
        continue;
      }
      const slug = slugOf.get(u.pathname);
      const frag = decodeURIComponent(u.hash.slice(1));
      if (!slug) a.removeAttribute("href");
      else a.setAttribute("href", "#" + slug + (frag ? "--" + frag : ""));
    }
    for (const img of article.querySelectorAll("img[src]")) {
      img.src = new URL(img.getAttribute("src"), base).href;
      img.loading = "eager";
    }
    const section = document.createElement("section");
    section.className = "pdf-doc"; section.id = d.slug;
    section.append(...article.childNodes);
    main.append(section);

    if (parts[d.docname]) {
      const li = document.createElement("li");
      li.className = "pdf-part"; li.textContent = parts[d.docname];
      list.append(li);
    }
    const h1 = section.querySelector("h1");
    if (!h1) return;
    const li = entry(h1.closest("[id]").id, h1);
    const subs = [...section.querySelectorAll("h2")].filter(h => h.closest("[id]"));
    if (subs.length) {
      const ol = document.createElement("ol");
      subs.forEach(h => ol.append(entry(h.closest("[id]").id, h)));
      li.append(ol);
    }
    list.append(li);
  });

  // The site's stylesheets (before the print CSS), then its MathJax and configuration.
  const base = new URL(docs[0].url, here);
  const ours = document.head.querySelector("style");
  for (const link of head.querySelectorAll('link[rel="stylesheet"]')) {
    const l = document.createElement("link");
    l.rel = "stylesheet"; l.href = new URL(link.getAttribute("href"), base).href;
    const loaded = new Promise(done => { l.onload = done; l.onerror = done; });
    document.head.insertBefore(l, ours);
    await loaded;
  }
  let mathjax = null;
  for (const s of head.querySelectorAll("script")) {
    if (s.src && /mathjax/i.test(s.getAttribute("src"))) mathjax = new URL(s.getAttribute("src"), base).href;
    else if (!s.src && s.textContent.includes("window.MathJax")) {
      const c = document.createElement("script"); c.textContent = s.textContent;
      document.head.append(c);
    }
  }
  // Without MathJax's hidden copy of each formula as MathML (for screen readers on the
  // site), the printed formulas become text that can be searched and copied, and the
  // book typesets and prints in about three quarters of the CPU time.
  window.MathJax = window.MathJax || {};
  window.MathJax.options = Object.assign(window.MathJax.options || {}, {
    enableAssistiveMml: false, menuOptions: {settings: {assistiveMml: false}}});
  if (mathjax) {
    const m = document.createElement("script"); m.src = mathjax;
    const loaded = new Promise((done, fail) => { m.onload = done; m.onerror = fail; });
    document.head.append(m);
    await loaded;
    await MathJax.startup.promise;
  }
  const imgs = [...document.images];
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(done => {
    i.addEventListener("load", done, {once: true});
    i.addEventListener("error", done, {once: true});
  })));
  await document.fonts.ready;
  let scaled = 0;
  for (const c of document.querySelectorAll('mjx-container[display="true"]')) {
    const avail = c.parentElement.clientWidth, need = c.scrollWidth;
    if (avail > 0 && need > avail + 1) {
      c.style.fontSize = (100 * avail / need).toFixed(1) + "%";
      scaled += 1;
    }
  }
  return {math: document.querySelectorAll("mjx-container").length,
          errors: document.querySelectorAll("mjx-merror").length,
          images: imgs.length, broken: imgs.filter(i => !i.naturalWidth).length, scaled,
          mathjax: !!mathjax};
}
"""

# Every heading's text as the reader sees it, in document order (the order of
# Chromium's bookmarks), each formula as the characters of MathJax's tree for it.
HEADINGS = r"""
() => {
  const text = node => node.isToken ? node.getText()
    : (node.childNodes || []).map(text).join("");
  return [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")].map(h => {
    const formulas = MathJax.startup.document.getMathItemsWithin(h).map(item => text(item.root));
    const copy = h.cloneNode(true);
    copy.querySelectorAll("mjx-container").forEach(c => {
      c.replaceWith(document.createTextNode(formulas.shift() || ""));
    });
    return copy.textContent.replace(/\s+/g, " ").trim();
  });
}
"""


def _parts(root: Path) -> dict[str, str]:
    """The caption of each part of ``_toc.yml``, keyed by the part's first document."""
    data = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    out = {}
    for part in data.get("parts", []):
        chapters = part.get("chapters") or []
        if part.get("caption") and chapters and "file" in chapters[0]:
            out[toc._docname(chapters[0]["file"])] = part["caption"]
    return out


def _config(root: Path) -> tuple[str, str]:
    data = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    return data.get("title", "Book"), data.get("author", "")


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the shell page at / and the site under /site/."""

    def __init__(self, *args, site: Path, shell: bytes, **kwargs):
        self._shell = shell
        super().__init__(*args, directory=str(site), **kwargs)

    def do_GET(self):
        if urlparse(self.path).path == "/":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(self._shell)))
            self.end_headers()
            self.wfile.write(self._shell)
            return
        super().do_GET()

    def translate_path(self, path):
        path = urlparse(path).path
        return super().translate_path(path.removeprefix("/site"))

    def log_message(self, *args):
        pass


def retitle_outline(pdf: Path, titles: list[str]) -> int:
    """Give the bookmarks of ``pdf`` these titles, in order; return how many.

    The file is changed by an incremental update (PDF 1.7, section 7.5.6): the
    changed bookmark objects, a cross-reference section for them and a trailer
    pointing at the previous one are appended, so the rest of the file is
    neither parsed nor rewritten. Changes nothing (returns 0) if the counts differ.
    """
    from pypdf import PdfReader
    from pypdf.generic import NameObject, TextStringObject

    data = pdf.read_bytes()
    reader = PdfReader(io.BytesIO(data))
    refs = []

    def walk(node):
        item = node.get("/First")
        while item is not None:
            refs.append(item.indirect_reference)
            walk(item.get_object())
            item = item.get_object().get("/Next")

    outlines = reader.trailer["/Root"].get("/Outlines")
    if outlines is not None:
        walk(outlines.get_object())
    if not refs or len(refs) != len(titles):
        return 0
    prev = int(data.rstrip().rsplit(b"startxref", 1)[1].split()[0])
    out = io.BytesIO()
    out.write(data if data.endswith(b"\n") else data + b"\n")
    offsets = []
    for ref, title in zip(refs, titles):
        obj = reader.get_object(ref)
        obj[NameObject("/Title")] = TextStringObject(title)
        offsets.append((ref.idnum, ref.generation, out.tell()))
        out.write(f"{ref.idnum} {ref.generation} obj\n".encode())
        obj.write_to_stream(out)
        out.write(b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n")
    for idnum, gen, offset in sorted(offsets):
        out.write(f"{idnum} 1\n{offset:010d} {gen:05d} n \n".encode())
    trailer = reader.trailer
    entries = f"/Size {trailer['/Size']} /Root {trailer.raw_get('/Root').idnum} 0 R"
    if "/Info" in trailer:
        entries += f" /Info {trailer.raw_get('/Info').idnum} 0 R"
    out.write(f"trailer\n<<{entries} /Prev {prev}>>\nstartxref\n{xref}\n%%EOF\n".encode())
    pdf.write_bytes(out.getvalue())
    return len(refs)


def build(site: Path = SITE, out: Path = OUT, root: Path = ROOT) -> dict:
    """Assemble, typeset and print; return a summary (pages, formulas, images, seconds)."""
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader

    start = time.perf_counter()
    if not CHROMIUM.exists():
        raise SystemExit(f"Chromium is needed for the PDF ({CHROMIUM} is missing): "
                         "apt-get install -y chromium")
    docs = toc.documents(root)
    missing = [d.docname for d in docs if not (site / f"{d.docname}.html").is_file()]
    if missing:
        raise SystemExit(f"the site lacks {missing}: run `make site` first")
    title, author = _config(root)
    esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;")  # noqa: E731
    shell = SHELL.format(title=esc(title), author=esc(author), css=PRINT_CSS).encode("utf-8")
    arg = {"docs": [{"docname": d.docname, "url": f"/site/{d.docname}.html",
                     "slug": d.docname.replace("/", "-")} for d in docs],
           "parts": _parts(root)}

    handler = functools.partial(_Handler, site=site, shell=shell)
    server = http.server.ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://{HOST}:{server.server_address[1]}/"
    footer = ("<div style='font-size:8pt;width:100%;text-align:center;color:#555;"
              "font-family:sans-serif'><span class='pageNumber'></span></div>")
    header = ("<div style='font-size:7pt;width:100%;text-align:center;color:#888;"
              "font-family:sans-serif'><span class='title'></span></div>")
    out.parent.mkdir(parents=True, exist_ok=True)
    phases = {}
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            page = browser.new_page(viewport={"width": TEXT_WIDTH_PX, "height": 1000})
            page.set_default_timeout(120_000)
            blocked: list[str] = []
            block_other_hosts(page, blocked, base)
            page.emulate_media(media="print")
            t = time.perf_counter()
            page.goto(base, wait_until="load")
            typeset = page.evaluate(ASSEMBLE, arg)
            phases["assemble and typeset"] = time.perf_counter() - t
            if typeset["errors"] or typeset["broken"] or not typeset["mathjax"]:
                raise SystemExit(f"MathJax errors or broken images in the PDF page: {typeset}")
            titles = page.evaluate(HEADINGS)
            t = time.perf_counter()
            page.pdf(path=str(out), format="A4", margin=PAGE_MARGIN, print_background=True,
                     outline=True, tagged=True, display_header_footer=True,
                     header_template=header, footer_template=footer)
            phases["print"] = time.perf_counter() - t
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    t = time.perf_counter()
    retitled = retitle_outline(out, titles)
    phases["bookmarks"] = time.perf_counter() - t
    if not retitled:
        print(f"warning: {len(titles)} headings but a different number of bookmarks: "
              "Chromium's bookmark titles kept", file=sys.stderr)
    shutil.copy2(out, site / out.name)
    return {"pages": len(PdfReader(out).pages), "documents": len(docs), "bookmarks": retitled,
            "seconds": round(time.perf_counter() - start, 1),
            "phases": ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()), **typeset}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=SITE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    s = build(args.site.resolve(), args.out.resolve())
    print(f"PDF: {args.out} ({s['pages']} pages, {s['documents']} documents, {s['math']} "
          f"formulas ({s['scaled']} scaled to fit), {s['images']} images, {s['bookmarks']} "
          f"bookmarks; {s['seconds']} s: {s['phases']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
