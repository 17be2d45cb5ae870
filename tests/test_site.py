"""The built site, checked in a real browser: what a reader sees, offline.

Headless Chromium (Debian's package, /usr/bin/chromium), driven by Playwright,
opens every page listed in ``_toc.yml`` (plus the index pages Sphinx generates)
from ``_build/html``, served on 127.0.0.1. Every request to another host is
blocked and recorded, so a page that needs the network fails here just as it
would for an offline reader.

The ``built_site`` fixture first brings the site up to date through the
Makefile (`make _build/html/.stamp`, which runs `make site` when the site is
missing or older than its sources), so a failing build fails here; inside
`make test` this happens in one pytest worker while the others run the
notebooks. The site is built from the chapters' stored outputs and nothing is
executed, so the tests never rewrite a chapter: a stale chapter fails
tests/test_notebooks_current.py by name instead. The browser is opened once and every page
is visited once (the ``site`` fixture); the tests below then assert on what was
recorded, so each failure names the property and the pages that break it.

Accessibility: every image needs alt text that says what it shows (not a file
name) and keeps its aspect ratio, every figure a caption, and axe-core (npm,
pinned in ``tools/axe/package-lock.json``, injected from that local file) audits
every page once it is probed, failing on any serious or critical violation.
axe's cost grows with the number of elements, and colour contrast is most of
it. So MathJax's formulas and the highlighted code blocks, generated markup that
is the same on every page and most of its elements, are audited in full on the
first chapter (opened again for the screenshots); on the other pages the
formulas are emptied while axe runs (restored afterwards) and the code blocks
are left out. Colour contrast in dark mode is checked on the first chapter and
on the pages that are not numbered chapters (indexes, bibliography, API), whose
components the chapters do not share; the chapters share the first chapter's.

A summary (pages, math elements, images, figures, axe's findings, time) is written
to ``_build/site_test_summary.txt`` and printed at the end of the test; a screenshot
of the first chapter goes to ``_build/screenshots/``.
"""

from __future__ import annotations

import fcntl
import functools
import http.server
import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

import toc  # tools/toc.py: tools/ is on pytest's pythonpath (pytest.ini)
from browser import CHROMIUM, HOST, MISSING, block_other_hosts, launch  # tools/browser.py

ROOT = Path(__file__).resolve().parent.parent
# BOOK_SITE_DIR checks a site built elsewhere (jupyter-book build --path-output DIR
# puts it in DIR/_build/html); the screenshots and summary go beside it.
SITE = Path(os.environ.get("BOOK_SITE_DIR", ROOT / "_build" / "html")).resolve()
SCREENSHOTS = SITE.parent / "screenshots"
SUMMARY = SITE.parent / "site_test_summary.txt"
AXE = ROOT / "tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
TIMEOUT_MS = 30_000
PARALLEL_PAGES = 3


# --------------------------------------------------------------------------- the toc


# The root docname, and every other (docname, numbered) of ``_toc.yml`` in order.
ROOT_DOC = next(d.docname for d in toc.documents(ROOT) if d.root)
TOC = [(d.docname, d.numbered) for d in toc.documents(ROOT) if not d.root]
CHAPTERS = {f"{d}.html" for d, numbered in TOC if numbered}


# --------------------------------------------------------------------------- in the page

# Runs in each page once it has loaded: waits for MathJax and the images, then
# reports what a reader would see.
PAGE_PROBE = r"""
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const imgs = [...document.images];
  imgs.forEach(i => { i.loading = "eager"; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(done => {
    i.addEventListener("load", done, {once: true});
    i.addEventListener("error", done, {once: true});
    setTimeout(done, 10000);
  })));
  await document.fonts.ready;

  const rawTex = /\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{/;
  const math = [...document.querySelectorAll(".math")].map(m => {
    const own = [...m.childNodes].filter(n => n.nodeType === Node.TEXT_NODE)
      .map(n => n.textContent).join("").trim();
    return {
      id: m.id || m.closest("[id]")?.id || "",
      tex: m.querySelector("mjx-assistive-mml") ? "" : m.textContent.slice(0, 80),
      typeset: m.querySelector("mjx-container") !== null,
      error: m.querySelector("mjx-merror, [data-mjx-error]") !== null
        ? (m.querySelector("[data-mjx-error]")?.getAttribute("data-mjx-error") || "merror")
        : "",
      raw: rawTex.test(own) ? own.slice(0, 80) : "",
    };
  });

  // TeX that reached the page outside any math element (e.g. unparsed $...$).
  const article = document.querySelector("article") || document.body;
  const copy = article.cloneNode(true);
  copy.querySelectorAll("pre, code, script, style, .math, mjx-container, .highlight")
    .forEach(n => n.remove());
  const text = copy.textContent;
  const strayTex = [];
  for (const re of [/\$\$/, /\\(frac|partial|sum|begin|beta|mathbb|operatorname)\b/,
                    /\$[^$\s][^$]*\\[A-Za-z]+[^$]*\$/]) {
    const m = text.match(re);
    if (m) strayTex.push(text.slice(Math.max(0, m.index - 30), m.index + 50).trim());
  }

  const images = imgs.map(i => ({src: i.getAttribute("src"),
                                 ok: i.complete && i.naturalWidth > 0,
                                 alt: i.getAttribute("alt"),
                                 // shown width / height against the file's: 1 unless squeezed
                                 stretch: i.width && i.height && i.naturalHeight
                                   ? (i.width / i.height) / (i.naturalWidth / i.naturalHeight) : 1,
                                 // a figure: an image in a code cell's output
                                 figure: i.closest(".cell_output") !== null,
                                 caption: i.closest("figure")?.querySelector("figcaption")
                                   ?.textContent.trim() ?? ""}));
  const solutions = [...document.querySelectorAll(".solution")].map(s => {
    const body = [...s.children].filter(c => !c.classList.contains("admonition-title"));
    return {
      id: s.id,
      dropdown: s.classList.contains("dropdown"),
      hidden: body.length > 0 && body.every(
        c => !c.checkVisibility({opacityProperty: true, visibilityProperty: true})),
    };
  });
  const links = [...document.querySelectorAll("a[href]")].map(a => a.href);
  const ids = [...document.querySelectorAll("[id]")].map(e => e.id);
  const eqnos = [...document.querySelectorAll("div.math .eqno")]
    .map(e => e.textContent.replace("#", "").trim());
  const nav = [...document.querySelectorAll(".bd-sidebar-primary nav a[href]")]
    .map(a => [a.href, a.textContent.trim()]);
  return {math, strayTex, images, solutions, links, ids, eqnos, nav,
          mjx: document.querySelectorAll("mjx-container").length,
          hasMathJax: !!(window.MathJax && MathJax.version),
          title: document.title};
}
"""


# Starts axe-core in the page (injected beforehand) and keeps the promise of its
# findings in window.__axe; the test collects them later, so that the pages opened
# together are audited at the same time. Every rule runs in light mode; dark=true:
# colour contrast again in dark mode. full=false: MathJax's formulas are emptied
# while axe runs (restored afterwards) and the code blocks are left out.
AXE_START = r"""
([full, dark]) => {
  window.__axe = (async () => {
    const html = document.documentElement;
    const theme = html.dataset.theme;
    const emptied = full ? [] : [...document.querySelectorAll("mjx-container")].map(c => {
      const kids = [...c.childNodes];
      c.replaceChildren("x");   // keeps the formula's colour and place for the contrast rule
      return [c, kids];
    });
    const still = document.createElement("style");   // no colour transitions between modes
    still.textContent = "*, *::before, *::after { transition: none !important; }";
    document.head.append(still);
    const found = [];
    const keep = (result, mode) => result.violations.forEach(v => found.push({
      id: v.id, impact: v.impact, help: v.help, mode,
      nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))}));
    const context = full ? document : {exclude: [["div.highlight"]]};
    try {
      html.dataset.theme = "light";
      keep(await axe.run(context, {resultTypes: ["violations"]}), "");
      if (dark) {
        html.dataset.theme = "dark";
        keep(await axe.run(context, {resultTypes: ["violations"], runOnly: ["color-contrast"]}),
             "dark");
      }
    } finally {
      html.dataset.theme = theme;
      still.remove();
      for (const [c, kids] of emptied) c.replaceChildren(...kids);
    }
    return {version: axe.version, full, dark, violations: found};
  })();
}
"""


@dataclass
class PageReport:
    path: str
    probe: dict = field(default_factory=dict)
    axe: dict | None = None   # axe-core's findings; None when axe-core is not installed
    console_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class SiteReport:
    base: str
    pages: dict[str, PageReport]
    blocked: list[str]
    nav_links: list[str]
    nav_texts: dict[str, str]
    search_hits: int
    search_errors: list[str]
    redirect_to: str
    solution_opens: bool | None
    screenshots: list[Path]
    seconds: float
    full_audit: dict | None = None   # axe-core on the first chapter, formulas and code included


# --------------------------------------------------------------------------- fixtures


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output for failures
        pass


def _serve(directory: Path):
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def _html(docname: str) -> str:
    return f"{docname}.html"


def _extra_pages() -> list[str]:
    """Index pages Sphinx generates besides the toc's documents."""
    return [p for p in ("genindex.html", "py-modindex.html") if (SITE / p).is_file()]


@pytest.fixture(scope="module")
def built_site() -> Path:
    """The site, rebuilt by the Makefile first if it is missing or stale."""
    if "BOOK_SITE_DIR" not in os.environ and shutil.which("make"):
        # Only the site: tests/test_pdf.py prints the PDF from it in another worker while
        # this file's browser tests run (it takes the same lock, so it waits for the site),
        # and it checks the site's link to the PDF, which this file's link check leaves out.
        targets = ["_build/html/.stamp"]
        (ROOT / "_build").mkdir(exist_ok=True)
        with open(ROOT / "_build" / ".build.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            run = subprocess.run(["make", "--no-print-directory", *targets],
                                 cwd=ROOT, capture_output=True, text=True)
        if run.returncode:
            pytest.fail("the site or the PDF did not build (make site, make pdf):\n" + run.stdout[-6000:] + run.stderr[-6000:])
    if not (SITE / "index.html").is_file():
        pytest.skip("the site is not built: run `make site`")
    return SITE


@pytest.fixture(scope="module")
def site(built_site) -> SiteReport:
    if not CHROMIUM.exists():
        pytest.skip(f"{MISSING} to run the browser test")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    start = time.perf_counter()
    server, thread = _serve(SITE)
    base = f"http://{HOST}:{server.server_address[1]}/"
    blocked: list[str] = []

    def open_page(context, report: PageReport):
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and report.console_errors.append(
            f"{m.text} ({m.location.get('url', '')})"))
        page.on("pageerror", lambda e: report.console_errors.append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r: urlparse(r.url).hostname == HOST
                and report.failed.append(f"{r.url}: {r.failure}"))
        page.on("response", lambda r: r.status >= 400
                and report.failed.append(f"{r.url}: HTTP {r.status}"))
        return page

    paths = [_html(ROOT_DOC)] + [_html(d) for d, _ in TOC if d != ROOT_DOC] + _extra_pages()
    pages = {p: PageReport(p) for p in paths}
    screenshots: list[Path] = []
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(TIMEOUT_MS)
            # Every URL not on this server is aborted and recorded.
            block_other_hosts(context, blocked, base)

            # A few pages load at once: each tab renders (and MathJax typesets)
            # in its own process, so the cores are kept busy.
            items = list(pages.items())
            for k in range(0, len(items), PARALLEL_PAGES):
                opened = []
                for path, report in items[k:k + PARALLEL_PAGES]:
                    page = open_page(context, report)
                    page.goto(base + path, wait_until="commit")
                    opened.append((page, report, time.perf_counter()))
                for page, report, t0 in opened:
                    page.wait_for_load_state("load")
                    report.probe = page.evaluate(PAGE_PROBE)
                    report.seconds = time.perf_counter() - t0
                    _start_axe(page, full=False, dark=report.path not in CHAPTERS)
                for page, report, _ in opened:
                    report.axe = _axe_findings(page)
                    page.close()

            # Navigation: the sidebar of the root page, as probed.
            anchors = pages[_html(ROOT_DOC)].probe["nav"]
            nav_links = [href for href, _ in anchors]
            nav_texts = {_site_path(href, base): text for href, text in anchors}

            screenshots, solution_opens, full_audit = _look_and_click(context, base, pages,
                                                                      PlaywrightTimeout)

            # The redirect from index.html to the root document.
            page = context.new_page()
            page.goto(base + "index.html")
            try:
                page.wait_for_url(re.compile(re.escape(_html(ROOT_DOC)) + "$"), timeout=10_000)
            except PlaywrightTimeout:
                pass  # the test below reports where it stayed
            redirect_to = _site_path(page.url, base)
            page.close()

            # Search, with the site's own (offline) index.
            search = PageReport("search.html?q=Jacobian")
            page = open_page(context, search)
            page.goto(base + "search.html?q=Jacobian", wait_until="load")
            # Sphinx adds the results one by one, then writes a summary.
            try:
                page.wait_for_function(
                    "() => /finished|did not match/.test("
                    "document.querySelector('#search-results .search-summary')?.textContent)",
                    timeout=15_000)
            except PlaywrightTimeout:
                pass  # no result: test_search_finds_jacobian fails, the others still run
            search_hits = page.locator("#search-results ul.search > li").count()
            page.close()

            browser.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    report = SiteReport(
        base=base, pages=pages, blocked=blocked, nav_links=nav_links, nav_texts=nav_texts,
        search_hits=search_hits, search_errors=search.console_errors + search.failed,
        redirect_to=redirect_to, solution_opens=solution_opens, screenshots=screenshots,
        seconds=time.perf_counter() - start, full_audit=full_audit)
    _write_summary(report)
    return report


def _site_path(url: str, base: str) -> str:
    """The file a same-site URL points at, relative to the site root ('' if off-site)."""
    if not url.startswith(base):
        return ""
    path = unquote(urlparse(url).path).lstrip("/")
    return path + "index.html" if path == "" or path.endswith("/") else path


def _start_axe(page, *, full: bool, dark: bool) -> None:
    if AXE.is_file():
        page.add_script_tag(path=str(AXE))
        page.evaluate(AXE_START, [full, dark])


def _axe_findings(page) -> dict | None:
    return page.evaluate("() => window.__axe ?? null")


def _look_and_click(context, base: str, pages: dict[str, PageReport], timeout_error):
    """Screenshots and a full accessibility audit of the first chapter; then open a
    folded solution with a click.

    Returns the screenshot paths, whether the solution opened (None if the site
    has no folded solution yet) and axe-core's findings on the first chapter.
    """
    chapters = [_html(d) for d, numbered in TOC if numbered]
    with_solution = [p for p, r in pages.items()
                     if any(s["dropdown"] for s in r.probe["solutions"])]
    chapter = chapters[0] if chapters else None
    solution_page = (chapter if chapter in with_solution
                     else with_solution[0] if with_solution else None)
    shots: list[Path] = []
    opens = None
    audit = None
    for path in dict.fromkeys(p for p in (chapter, solution_page) if p):
        page = context.new_page()
        page.goto(base + path, wait_until="load")
        page.evaluate(PAGE_PROBE)
        if path == chapter:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            name = Path(path).with_suffix("").as_posix().replace("/", "_")
            shots.append(SCREENSHOTS / f"{name}.png")
            page.screenshot(path=shots[-1])
            eq = page.locator("div.math .eqno").first
            if eq.count():
                eq.evaluate("e => e.closest('div.math').scrollIntoView({block: 'center'})")
                shots.append(SCREENSHOTS / f"{name}-equation.png")
                page.screenshot(path=shots[-1])
            _start_axe(page, full=True, dark=True)
            audit = _axe_findings(page)
        if path == solution_page:
            solution = page.locator(".solution.dropdown").first
            solution.locator(":scope > .admonition-title").click()
            body = solution.locator(":scope > :not(.admonition-title)").first
            try:
                body.wait_for(state="visible", timeout=5_000)
            except timeout_error:
                pass
            opens = body.is_visible()
        page.close()
    return shots, opens, audit


def _summary_lines(r: SiteReport) -> list[str]:
    probes = [p.probe for p in r.pages.values()]
    slowest = max(r.pages.values(), key=lambda p: p.seconds)
    return [
        f"browser test of {_shown(SITE)} in {CHROMIUM} ({r.seconds:.1f} s; "
        f"slowest page {slowest.path}: {slowest.seconds:.1f} s)",
        f"pages checked: {len(r.pages)} (+ search page: {r.search_hits} results for 'Jacobian')",
        f"math elements checked: {sum(len(p['math']) for p in probes)} "
        f"(MathJax containers: {sum(p['mjx'] for p in probes)})",
        f"numbered equations: {sum(len(p['eqnos']) for p in probes)}",
        f"images checked: {sum(len(p['images']) for p in probes)} "
        f"(figures with a caption and alt text: {sum(i['figure'] for p in probes for i in p['images'])})",
        _axe_summary(r),
        f"solutions checked folded: {sum(len(p['solutions']) for p in probes)}",
        f"links checked: {sum(len(p['links']) for p in probes)}",
        f"requests to other hosts blocked: {len(r.blocked)}",
        "screenshots: " + ", ".join(_shown(s) for s in r.screenshots),
    ]


def _axe_counts(r: SiteReport) -> dict[str, int]:
    """axe-core's violations by impact, over every page (and the full audit)."""
    counts = dict.fromkeys(IMPACTS, 0)
    for audit in [p.axe for p in r.pages.values()] + [r.full_audit]:
        for v in (audit or {}).get("violations", []):
            counts[v["impact"]] = counts.get(v["impact"], 0) + 1
    return counts


def _axe_summary(r: SiteReport) -> str:
    audits = [p.axe for p in r.pages.values() if p.axe]
    if not audits:
        return f"accessibility: not checked (axe-core is not installed: {_shown(AXE)})"
    counts = ", ".join(f"{k} {n}" for k, n in _axe_counts(r).items())
    dark = sum(a["dark"] for a in audits)
    return (f"axe-core {audits[0]['version']} on {len(audits)} pages (colour contrast in dark mode "
            f"too on {dark}) + a full audit of {'the first chapter' if r.full_audit else 'no page'}: "
            f"violations (rule x page) by impact: {counts}")


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _write_summary(r: SiteReport) -> None:
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text("\n".join(_summary_lines(r)) + "\n", encoding="utf-8")


def _bad(site: SiteReport, key: str, predicate) -> dict[str, list]:
    """Per page, the probed items of kind ``key`` for which ``predicate`` holds."""
    out = {}
    for path, report in site.pages.items():
        hits = [item for item in report.probe[key] if predicate(item)]
        if hits:
            out[path] = hits
    return out


# --------------------------------------------------------------------------- tests


def test_every_toc_page_was_built(built_site):
    missing = [_html(d) for d, _ in [(ROOT_DOC, False)] + TOC if not (SITE / _html(d)).is_file()]
    assert not missing, f"listed in _toc.yml but not built: {missing}"


def test_chapters_launch_from_the_configured_repository(built_site):
    """Each chapter links to Colab and Binder at _config.yml's repository; run_locally shows its URL."""
    import install_cell  # tools/install_cell.py reads _config.yml's repository

    url, branch = install_cell.repository()
    repo = urlparse(url).path.strip("/")
    chapters = [d for d, _ in TOC if (ROOT / f"{d}.ipynb").is_file()]
    missing = {}
    for docname in chapters:
        page = (SITE / _html(docname)).read_text(encoding="utf-8")
        links = (f"https://colab.research.google.com/github/{repo}/blob/{branch}/{docname}.ipynb",
                 f"https://mybinder.org/v2/gh/{repo}/{branch}?urlpath=lab/tree/{docname}.ipynb")
        absent = [u for u in links if f'href="{u}"' not in page]
        if absent:
            missing[docname] = absent
    assert chapters and not missing, f"launch links missing: {missing}"
    run_locally = (SITE / "book" / "run_locally.html").read_text(encoding="utf-8")
    assert url in run_locally and "repository_url" not in run_locally  # the marker was replaced


def test_every_formula_is_typeset_by_mathjax(site):
    pages_with_math = [p for p, r in site.pages.items() if r.probe["math"]]
    assert pages_with_math, "no page has math: the probe is not finding it"
    no_mathjax = [p for p in pages_with_math if not site.pages[p].probe["hasMathJax"]]
    assert not no_mathjax, f"pages with math but no MathJax loaded: {no_mathjax}"
    untypeset = _bad(site, "math", lambda m: not m["typeset"])
    assert not untypeset, f"math elements MathJax did not typeset: {untypeset}"
    errors = _bad(site, "math", lambda m: m["error"])
    assert not errors, f"MathJax errors (mjx-merror / data-mjx-error): {errors}"
    raw = _bad(site, "math", lambda m: m["raw"])
    assert not raw, f"raw TeX left inside math elements: {raw}"


def test_no_tex_outside_math(site):
    stray = {p: r.probe["strayTex"] for p, r in site.pages.items() if r.probe["strayTex"]}
    assert not stray, f"TeX shown as text (math the parser did not recognise): {stray}"


def test_equations_are_numbered_by_chapter(site):
    """(chapter.n) in the numbered chapters; (n) on unnumbered pages such as an appendix."""
    numbered = {_html(d) for d, is_numbered in TOC if is_numbered}
    bad = {}
    for path, report in site.pages.items():
        form = r"\(\d+\.\d+\)" if path in numbered else r"\(\d+(\.\d+)*\)"
        wrong = [e for e in report.probe["eqnos"] if not re.fullmatch(form, e)]
        if wrong:
            bad[path] = wrong
    assert not bad, f"equation numbers not of the form (chapter.n): {bad}"


IMPACTS = ("critical", "serious", "moderate", "minor")
# What a file name, a path or a content hash looks like: no description of a figure.
NOT_A_DESCRIPTION = re.compile(r"\.(png|jpe?g|gif|svg|webp)\b|_images/|[0-9a-f]{16,}|^\W*$", re.I)


def test_every_image_has_alt_text_that_describes_it(site):
    """Alt text says what the image shows: present, more than one word, not a file name or hash."""
    bad = _bad(site, "images", lambda i: i["alt"] is None or len(i["alt"].split()) < 2
               or NOT_A_DESCRIPTION.search(i["alt"]) is not None)
    assert not bad, f"images whose alt text is missing, too short or a file name: {bad}"


def test_every_figure_has_a_caption(site):
    figures = [i for r in site.pages.values() for i in r.probe["images"] if i["figure"]]
    assert figures, "no figure on any page: the probe is not finding them"
    bad = _bad(site, "images", lambda i: i["figure"] and not i["caption"])
    assert not bad, f"figures without a caption (mystnb.figure.caption in the cell's metadata): {bad}"


def test_no_serious_accessibility_violations(site):
    """axe-core on every page (light and dark mode): no serious or critical violation."""
    if not AXE.is_file():
        pytest.fail(f"axe-core is not installed ({_shown(AXE)} is missing): "
                    "run `npm ci --prefix tools/axe` (make test does)")
    audits = {p: r.axe for p, r in site.pages.items()}
    audits["full audit of the first chapter"] = site.full_audit
    missing = [p for p, a in audits.items() if not a]
    assert not missing, f"pages axe-core did not audit: {missing}"
    bad = {p: [f"{v['id']}{' (' + v['mode'] + ' mode)' if v['mode'] else ''} [{v['impact']}]: "
               f"{v['help']}: {v['nodes']}" for v in a["violations"]
               if v["impact"] in ("serious", "critical")]
           for p, a in audits.items()}
    bad = {p: v for p, v in bad.items() if v}
    assert not bad, f"serious or critical accessibility violations (axe-core): {bad}"


def test_images_keep_their_aspect_ratio(site):
    """A figure shown narrower than its file (a fixed height attribute) is squeezed sideways."""
    squeezed = _bad(site, "images", lambda i: abs(i["stretch"] - 1) > 0.02)
    assert not squeezed, f"images shown with another aspect ratio than their file's: {squeezed}"


def test_every_image_loads(site):
    broken = _bad(site, "images", lambda i: not i["ok"])
    assert not broken, f"images that did not load (naturalWidth == 0): {broken}"


def test_no_console_errors_or_failed_requests(site):
    errors = {p: r.console_errors + r.failed for p, r in site.pages.items()
              if r.console_errors or r.failed}
    if site.search_errors:
        errors["search.html"] = site.search_errors
    assert not errors, f"console errors or failed requests: {errors}"


def test_no_request_leaves_the_machine(site):
    assert not site.blocked, f"requests to other hosts (blocked): {sorted(set(site.blocked))}"


def test_search_finds_jacobian(site):
    assert site.search_hits > 0, "search.html?q=Jacobian shows no result"


def test_every_chapter_is_in_the_navigation(site):
    linked = {_site_path(h, site.base) for h in site.nav_links}
    missing = [_html(d) for d, _ in TOC if _html(d) not in linked]
    assert not missing, f"in _toc.yml but not linked from the sidebar of the root page: {missing}"
    unnumbered = [site.nav_texts[_html(d)] for d, numbered in TOC
                  if numbered and not re.match(r"\d+\. ", site.nav_texts[_html(d)])]
    assert not unnumbered, f"chapters in a numbered part shown without a number: {unnumbered}"


def test_index_redirects_to_the_root_document(site):
    assert site.redirect_to == _html(ROOT_DOC)


def test_solutions_are_folded(site):
    solutions = [s for r in site.pages.values() for s in r.probe["solutions"]]
    if not solutions:
        pytest.skip("no solution on any page yet")
    shown = _bad(site, "solutions", lambda s: not (s["dropdown"] and s["hidden"]))
    assert not shown, f"solutions visible before the reader opens them: {shown}"
    assert site.solution_opens is not False, "clicking a solution's title does not open it"


def test_internal_links_resolve(site):
    ids = {p: set(r.probe["ids"]) for p, r in site.pages.items()}
    broken = {}
    for path, report in site.pages.items():
        for href in report.probe["links"]:
            target = _site_path(href, site.base)
            if not target:
                continue  # off-site links are the reader's choice; nothing loads them
            if target.endswith(".pdf"):
                continue  # the PDF edition: tests/test_pdf.py builds it and checks this link
            fragment = urlparse(href).fragment
            if not (SITE / target).is_file():
                broken.setdefault(path, []).append(href)
            elif fragment and target in ids and unquote(fragment) not in ids[target]:
                broken.setdefault(path, []).append(href)
    assert not broken, f"links to a missing page or anchor: {broken}"


def test_summary_covers_every_page(site, capsys):
    """Every page of the toc was probed, and the summary written to disk says what was checked.

    Printed whatever pytest's capture setting.
    """
    expected = {_html(ROOT_DOC)} | {_html(d) for d, _ in TOC} | set(_extra_pages())
    assert set(site.pages) == expected, f"pages visited differ from the toc: {set(site.pages) ^ expected}"
    unprobed = [p for p, r in site.pages.items() if not r.probe.get("title")]
    assert not unprobed, f"pages opened but not probed (no title read): {unprobed}"
    written = SUMMARY.read_text(encoding="utf-8").splitlines()
    assert written == _summary_lines(site)
    assert f"pages checked: {len(expected)} " in written[1]
    with capsys.disabled():
        print("\n" + "\n".join(written))
