"""The learner's JupyterLab, checked in a real browser: what `make lab` shows.

JupyterLab is started from the venv (this Python) on a free port of 127.0.0.1,
with a token it is given here, on a temporary copy of ``book/`` (so no tracked
file is ever written), with its settings, workspaces and runtime files in that
temporary folder too. Debian's Chromium (the site test's launch options), driven
by Playwright, loads JupyterLab once; every chapter of ``_toc.yml`` is then
opened in it through JupyterLab's own ``docmanager:open`` command, as a double
click opens it: the notebook connects to a kernel of the venv (the first chapter
starts it, the others attach to it: a kernel per chapter took 89 s against 50 s
in one measurement on a busy host) and renders with jupyterlab-myst. Each chapter is probed once; the tests below assert on what was
recorded, so a failure names the property and the chapters that break it:

- every markdown cell is rendered by jupyterlab-myst;
- no raw MyST role or directive syntax, and no TeX, is visible in the rendered
  text, and no formula failed to typeset (KaTeX errors);
- every cross-reference (equations, exercises, propositions) resolves in the page,
  and every link to another chapter or to the glossary names a file that exists;
- one glossary link, clicked in the first chapter that has one, opens the
  glossary rendered (Markdown Preview, jupyterlab-myst), not its MyST source;
- every computed number (``{eval}``) shows its stored result, not its expression;
- the chapter opens clean, and saving it without edits writes the same bytes.

Then the server (with its kernel) is stopped. Requests to other hosts are
blocked and recorded, as in the site test. A summary goes to
``_build/lab_test_summary.txt``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import inline_eval  # tools/: on pytest's pythonpath
import toc
from browser import CHROMIUM, HOST, MISSING, block_other_hosts, launch  # tools/browser.py

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = [p for p in toc.source_files(ROOT) if p.suffix == ".ipynb"]
SUMMARY = ROOT / "_build" / "lab_test_summary.txt"
START_TIMEOUT_S = 60
CHAPTER_TIMEOUT_MS = 60_000

# JupyterLab settings for the test: every cell in the DOM (no virtual scrolling, so
# the whole chapter can be probed), no news or update checks (no network).
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": '{"windowingMode": "none"}',
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        '{"fetchNews": "false", "checkForUpdates": false}',
}

# Opens one chapter as a learner would, waits until its kernel is connected (and
# has sent the language_info JupyterLab writes into the notebook) and every
# markdown cell is rendered, then reports what is visible and whether the
# document is dirty; saves it and closes it.
OPEN_AND_PROBE = r"""
async ([path, timeoutMs, kernelId, followGlossary]) => {
  const app = window.jupyterapp;
  await app.restored;
  const args = {path, factory: 'Notebook'};
  if (kernelId) { args.kernel = {id: kernelId}; }  // attach to the running kernel: one start, not ten
  const panel = await app.commands.execute('docmanager:open', args);
  await panel.context.ready;
  await panel.sessionContext.ready;
  const kernel = panel.sessionContext.session?.kernel;
  if (kernel) { await kernel.info; }
  const nb = panel.content;
  const deadline = Date.now() + timeoutMs;
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const markdown = () => nb.widgets.filter(c => c.model.type === 'markdown');
  // Rendered: every markdown cell holds jupyterlab-myst's output, and the page has stopped changing.
  let last = -1;
  while (Date.now() < deadline) {
    const cells = markdown();
    const rendered = cells.filter(c => c.node.querySelector('.jp-InputArea .myst')).length;
    const size = nb.node.innerHTML.length;
    if (rendered === cells.length && size === last) break;
    last = size;
    await sleep(250);
  }
  const cells = markdown();
  const where = (m, s) => s.slice(Math.max(0, m.index - 40), m.index + 60).replace(/\s+/g, ' ');
  const ids = new Set([...nb.node.querySelectorAll('[id]')].map(e => e.id));
  // What a rendered page shows: KaTeX formulas and errors, raw MyST or TeX, links. For a chapter's
  // markdown cells and for the glossary a link opens.
  const rawRole = /\{[a-zA-Z][\w:.-]*\}`|^\s*(`{3,}|:{3,})\s*\{|^\s*:(class|label|name|nonumber):|^\(\S+\)=\s*$/m;
  const rawTex = /\$|\\(frac|partial|sum|begin|beta|mathbb|operatorname|left|right)\b/;
  const report = {dirtyOnOpen: panel.context.model.dirty, cells: cells.length, rendered: 0,
                  formulas: 0, katexErrors: [], raw: [], tex: [], links: 0, unresolved: [], files: [],
                  inline: [], inlineErrors: [], text: ''};
  for (const cell of cells) {
    const myst = cell.node.querySelector('.jp-InputArea .myst');
    if (!myst) continue;
    report.rendered += 1;
    report.formulas += myst.querySelectorAll('.katex').length;
    myst.querySelectorAll('.katex-error, [data-mjx-error]').forEach(
      e => report.katexErrors.push(e.textContent.slice(0, 80)));
    myst.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"], .myst-RenderedExpressionError')
      .forEach(e => report.inlineErrors.push(e.textContent.slice(0, 120)));
    const copy = myst.cloneNode(true);
    copy.querySelectorAll('.katex, pre, code, script, style').forEach(n => n.remove());
    const text = copy.innerText ?? copy.textContent;
    let m;
    if ((m = text.match(rawRole))) report.raw.push(where(m, text));
    if ((m = text.match(rawTex))) report.tex.push(where(m, text));
    for (const a of myst.querySelectorAll('a[href^="#"]')) {
      report.links += 1;
      const target = decodeURIComponent(a.getAttribute('href').slice(1));
      if (!ids.has(target)) report.unresolved.push(`${a.textContent.trim()} -> #${target}`);
    }
    // Links to other chapters: jupyterlab-myst points them at /files/<path> (opened in JupyterLab).
    for (const a of myst.querySelectorAll('a[href*="/files/"]')) {
      const url = new URL(a.href);
      report.files.push(decodeURIComponent(url.pathname.split('/files/')[1]));
    }
    report.text += myst.textContent + '\n';  // with code: an {eval} shown as code is caught in Python
  }
  // Follow one glossary link as a learner would: a click on it (JupyterLab's
  // rendermime:handle-local-link opens the file with its default viewer for links).
  const link = followGlossary &&
    [...nb.node.querySelectorAll('.jp-InputArea .myst a[href*="/files/"]')]
      .find(a => new URL(a.href).pathname.endsWith('/glossary.md'));
  if (link) {
    report.glossary = {link: link.textContent.trim(), opened: null};
    link.click();
    const opened = () => [...app.shell.widgets('main')].find(w => w.context?.path === 'glossary.md');
    let widget, last = -1;
    while (Date.now() < deadline) {
      widget = opened();
      const shown = widget?.node.querySelector('.myst, .jp-FileEditor');  // rendered, or the source
      const size = widget ? widget.node.innerHTML.length : -1;
      if (shown && size === last) break;
      last = size;
      await sleep(250);
    }
    if (widget) {
      await widget.context.ready;
      const g = {viewer: !!widget.node.querySelector('.jp-MarkdownViewer'),
                 editor: !!widget.node.querySelector('.jp-FileEditor, .cm-editor'),
                 formulas: 0, katexErrors: [], raw: [], tex: [], files: [], text: '', bold: []};
      const myst = widget.node.querySelector('.myst');
      if (myst) {
        g.formulas = myst.querySelectorAll('.katex').length;
        myst.querySelectorAll('.katex-error, [data-mjx-error]').forEach(
          e => g.katexErrors.push(e.textContent.slice(0, 80)));
        const copy = myst.cloneNode(true);
        copy.querySelectorAll('.katex, pre, code, script, style').forEach(n => n.remove());
        g.text = copy.innerText ?? copy.textContent;
        g.bold = [...myst.querySelectorAll('strong')].map(e => e.textContent.trim());
        let m;
        if ((m = g.text.match(rawRole)) || (m = g.text.match(/\{glossary\}|```/))) g.raw.push(where(m, g.text));
        if ((m = g.text.match(rawTex))) g.tex.push(where(m, g.text));
        for (const a of myst.querySelectorAll('a[href*="/files/"]')) {
          g.files.push(decodeURIComponent(new URL(a.href).pathname.split('/files/')[1]));
        }
      }
      report.glossary = {...report.glossary, ...g, opened: widget.context.path};
      widget.dispose();
    }
  }
  // Save without edits, as Ctrl+S would, then close the chapter (the server stops the kernel).
  await panel.context.save();
  report.dirtyAfterSave = panel.context.model.dirty;
  report.kernelId = kernel?.id ?? null;
  panel.dispose();
  return report;
}
"""


@dataclass
class ChapterReport:
    name: str
    probe: dict = field(default_factory=dict)
    saved_same: bool = False
    expressions: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class LabReport:
    chapters: dict[str, ChapterReport]
    blocked: list[str]
    console_errors: list[str]
    seconds: float
    start_seconds: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _expressions(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            out += inline_eval.expressions("".join(cell["source"]))
    return out


def _start_lab(work: Path, book: Path, port: int, token: str) -> subprocess.Popen:
    for rel, text in SETTINGS.items():
        target = work / "settings" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    env = dict(os.environ,
               JUPYTER_CONFIG_DIR=str(work / "config"), JUPYTER_DATA_DIR=str(work / "data"),
               JUPYTER_RUNTIME_DIR=str(work / "runtime"), IPYTHONDIR=str(work / "ipython"),
               JUPYTER_PLATFORM_DIRS="1")
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.ip={HOST}",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--ServerApp.root_dir={book}", f"--IdentityProvider.token={token}",
           "--LabApp.expose_app_in_browser=True",
           f"--LabApp.user_settings_dir={work / 'settings'}",
           f"--LabApp.workspaces_dir={work / 'workspaces'}",
           "--LabServerApp.extension_manager=readonly"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = (work / "lab.log").open("w")
    return subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _wait_until_up(proc: subprocess.Popen, base: str, token: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"JupyterLab exited with status {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{base}api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"JupyterLab did not answer within {START_TIMEOUT_S} s:\n{log.read_text()[-4000:]}")


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server this test started (its own process group: the server and its kernels)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> LabReport:
    if not CHROMIUM.exists():
        pytest.skip(f"{MISSING} to run the JupyterLab test")
    from playwright.sync_api import sync_playwright

    start = time.perf_counter()
    work = tmp_path_factory.mktemp("lab")
    book = work / "book"
    shutil.copytree(ROOT / "book", book, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    original = {p.name: p.read_bytes() for p in CHAPTERS}
    port, token = _free_port(), secrets.token_hex(16)
    base = f"http://{HOST}:{port}/"
    proc = _start_lab(work, book, port, token)
    chapters = {p.name: ChapterReport(p.name, expressions=_expressions(p)) for p in CHAPTERS}
    blocked: list[str] = []
    console_errors: list[str] = []
    try:
        _wait_until_up(proc, base, token, work / "lab.log")
        start_seconds = time.perf_counter() - start
        with sync_playwright() as pw:
            browser = launch(pw)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(CHAPTER_TIMEOUT_MS)
            block_other_hosts(context, blocked, base, f"ws://{HOST}:{port}/")
            page = context.new_page()
            page.on("pageerror", lambda e: console_errors.append(f"uncaught: {e}"))
            page.goto(f"{base}lab?reset&token={token}", wait_until="load")
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.restored")
            page.evaluate("() => window.jupyterapp.restored")
            kernel_id = None  # the first chapter starts the kernel; the others attach to it
            # The first chapter with a glossary link also follows one (a click, once: about 1 s).
            follow = next((n for n in chapters if _glossary_links(n)), None)
            for name, report in chapters.items():
                t0 = time.perf_counter()
                report.probe = page.evaluate(OPEN_AND_PROBE,
                                             [name, CHAPTER_TIMEOUT_MS, kernel_id, name == follow])
                kernel_id = kernel_id or report.probe["kernelId"]
                report.saved_same = (book / name).read_bytes() == original[name]
                report.seconds = time.perf_counter() - t0
            browser.close()
    finally:
        _stop(proc)
    report = LabReport(chapters, blocked, console_errors, time.perf_counter() - start, start_seconds)
    _write_summary(report)
    return report


def _write_summary(r: LabReport) -> None:
    probes = [c.probe for c in r.chapters.values()]
    slowest = max(r.chapters.values(), key=lambda c: c.seconds)
    lines = [
        f"JupyterLab test in {CHROMIUM} ({r.seconds:.1f} s, of which starting the server "
        f"{r.start_seconds:.1f} s; slowest chapter {slowest.name}: {slowest.seconds:.1f} s)",
        f"chapters opened, checked and saved: {len(probes)}",
        f"markdown cells rendered by jupyterlab-myst: {sum(p['rendered'] for p in probes)} "
        f"of {sum(p['cells'] for p in probes)}",
        f"formulas typeset (KaTeX): {sum(p['formulas'] for p in probes)}",
        f"internal links (equations, exercises, propositions) resolved: "
        f"{sum(p['links'] for p in probes) - sum(len(p['unresolved']) for p in probes)} "
        f"of {sum(p['links'] for p in probes)}",
        f"computed numbers ({{eval}}) checked: {sum(len(c.expressions) for c in r.chapters.values())}",
        f"requests to other hosts blocked: {len(r.blocked)}",
    ]
    for name, c in r.chapters.items():
        g = c.probe.get("glossary")
        if g:
            lines.append(f"glossary link {g['link']!r} clicked in {name}: opened {g['opened']} "
                         f"({'Markdown Preview' if g.get('viewer') else 'not the Markdown Preview'}"
                         f"{', text editor' if g.get('editor') else ''}), {g.get('formulas', 0)} formulas")
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _per_chapter(lab: LabReport, key: str) -> dict[str, list]:
    return {n: c.probe[key] for n, c in lab.chapters.items() if c.probe[key]}


# --------------------------------------------------------------------------- tests


# Roles JupyterLab (jupyterlab-myst) renders as the site does, checked in the browser by the
# tests below; py: roles read as their content (the function's name, not linked in JupyterLab).
# Not {doc}: its link has no file suffix in JupyterLab; link the file, [](02_softmax.ipynb).
# Not {term}: JupyterLab renders its link to the glossary as "#"; link the glossary file,
# [logits](glossary.md#term-logit) (tools/glossary_links.py writes these links).
RENDERED_ROLES = {"eq", "ref", "numref", "prf:ref", "cite", "eval", "math", "abbr",
                  "sub", "sup", "py:func", "py:class", "py:mod", "py:meth", "py:attr", "py:data"}
# A role with its content, or an inline code span (read left to right, so `R^{mxn}` is code).
ROLE_OR_CODE = re.compile(r"\{([a-zA-Z][\w:.-]*)\}`[^`]*`|`[^`\n]*`")


def test_chapters_use_only_roles_jupyterlab_renders():
    """An unknown role shows its content as plain text (glue showed its key, not its number)."""
    found = {}
    for path in CHAPTERS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "markdown":
                roles = {m.group(1) for m in ROLE_OR_CODE.finditer("".join(cell["source"])) if m.group(1)}
                for role in roles - RENDERED_ROLES:
                    found.setdefault(path.name, set()).add(role)
    assert not found, (f"roles JupyterLab does not render: {found} (computed numbers are "
                       "{eval} expressions: tools/inline_eval.py; a {term} role becomes a link to "
                       "the glossary file with `.venv/bin/python tools/glossary_links.py`)")


def test_jupyterlab_myst_renders_every_markdown_cell(lab):
    missing = {n: f"{c.probe['rendered']} of {c.probe['cells']}" for n, c in lab.chapters.items()
               if c.probe["rendered"] != c.probe["cells"]}
    assert not missing, ("markdown cells not rendered by jupyterlab-myst (is it installed? "
                         f"`make .venv/.installed`): {missing}")


def test_no_raw_myst_syntax_is_visible(lab):
    raw = _per_chapter(lab, "raw")
    assert not raw, f"raw MyST role or directive syntax in the rendered text: {raw}"


def test_every_formula_is_typeset(lab):
    assert all(c.probe["formulas"] > 0 for c in lab.chapters.values()), \
        {n: c.probe["formulas"] for n, c in lab.chapters.items()}
    errors = _per_chapter(lab, "katexErrors")
    assert not errors, f"formulas KaTeX could not typeset: {errors}"
    tex = _per_chapter(lab, "tex")
    assert not tex, f"TeX outside a typeset formula: {tex}"


GLOSSARY = ROOT / "book" / "glossary.md"
GLOSSARY_LINK = re.compile(r"\]\((?:\./)?glossary\.md#(term-[^)\s]+)\)")


def _glossary_links(name: str) -> list[str]:
    """The anchors a chapter's markdown links to in the glossary, [text](glossary.md#term-x)."""
    nb = json.loads((ROOT / "book" / name).read_text(encoding="utf-8"))
    md = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return GLOSSARY_LINK.findall(md)


def test_cross_references_resolve(lab):
    unresolved = _per_chapter(lab, "unresolved")
    assert not unresolved, f"links to targets that are not in the chapter: {unresolved}"


def test_glossary_links_open_the_glossary_file(lab):
    """Every glossary link of a chapter's source is a link to the glossary's file in JupyterLab."""
    assert any(_glossary_links(n) for n in lab.chapters), "no chapter links to the glossary"
    wrong = {}
    for name, c in lab.chapters.items():
        expected = len(_glossary_links(name))
        shown = c.probe["files"].count(GLOSSARY.name)
        if shown != expected:
            wrong[name] = f"{expected} glossary links in the source, {shown} shown as links to {GLOSSARY.name}"
    assert not wrong, wrong
    assert GLOSSARY.exists(), f"the chapters link to {GLOSSARY}, which is missing"


def test_a_glossary_link_opens_the_rendered_glossary(lab):
    followed = [(n, c.probe["glossary"]) for n, c in lab.chapters.items() if c.probe.get("glossary")]
    assert followed, "no glossary link was clicked (none found in the rendered chapters)"
    name, g = followed[0]
    assert g["opened"] == GLOSSARY.name, f"clicking {g['link']!r} in {name} opened no {GLOSSARY.name}"
    assert g["viewer"] and not g["editor"], (
        f"clicking {g['link']!r} in {name} opened {GLOSSARY.name} in the text editor (its MyST "
        "source), not in the Markdown Preview")
    missing = [t for t in _glossary_names() if t not in g["bold"]]
    assert not missing, f"terms not shown in bold by the rendered glossary: {missing}"
    assert not g["raw"], f"raw MyST syntax in the rendered glossary: {g['raw']}"
    assert g["formulas"] > 0 and not g["katexErrors"] and not g["tex"], (
        f"glossary formulas: {g['formulas']} typeset, errors {g['katexErrors']}, raw TeX {g['tex']}")
    broken = sorted({f for f in g["files"] if not (GLOSSARY.parent / f).exists()})
    assert not broken, f"the glossary links to files that do not exist: {broken}"


def _glossary_names() -> list[str]:
    """The term lines of the glossary directive (names start a line, in **; definitions are indented)."""
    block = re.search(r"```\{glossary\}\n(.*?)\n```", GLOSSARY.read_text(encoding="utf-8"), re.S).group(1)
    return [line.strip().strip("*") for line in block.splitlines()
            if line.strip() and not line.startswith(" ")]


def test_links_to_other_chapters_open_a_file(lab):
    """{doc} became a link to a file without its suffix, which JupyterLab cannot open."""
    links = {n: c.probe["files"] for n, c in lab.chapters.items()}
    assert any(links.values()), "no chapter links to another: the probe is not finding them"
    broken = {n: sorted({f for f in files if not (ROOT / "book" / f).exists()})
              for n, files in links.items()}
    broken = {n: f for n, f in broken.items() if f}
    assert not broken, f"links to files that do not exist: {broken}"


def test_computed_numbers_show_their_values(lab):
    errors = _per_chapter(lab, "inlineErrors")
    assert not errors, f"inline expressions that show an error: {errors}"
    shown_as_code = {n: [e for e in c.expressions if e in c.probe["text"]]
                     for n, c in lab.chapters.items()}
    shown_as_code = {n: e for n, e in shown_as_code.items() if e}
    assert not shown_as_code, ("inline expressions shown as code, without a stored result "
                               f"(run `make notebooks`): {shown_as_code}")


def test_chapters_open_clean_and_save_unchanged(lab):
    dirty = [n for n, c in lab.chapters.items() if c.probe["dirtyOnOpen"]]
    assert not dirty, f"chapters marked modified as soon as they open: {dirty}"
    changed = [n for n, c in lab.chapters.items() if not c.saved_same]
    assert not changed, (f"saving without edits changed these chapters' bytes: {changed} "
                         "(compare the kernelspec and language_info metadata with what the venv's "
                         "kernel reports; tools/execute_notebooks.py writes them)")


def test_no_request_leaves_the_machine(lab):
    assert not lab.blocked, f"JupyterLab asked for other hosts: {sorted(set(lab.blocked))[:10]}"
