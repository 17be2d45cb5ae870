"""Link each glossary term from its first use in the chapters (MyST ``{term}`` role).

The terms are those of ``book/glossary.md``; each is linked once in the book, at
its first use in prose, reading the chapters in the order of ``_toc.yml``. Math,
code, roles, links, headings and directive lines are never touched. A term that is
already linked somewhere is left alone, so the script can run again after a
chapter is added (it then links only terms that had no link yet).

Only the sources of markdown cells change (``nbformat``: cell ids, outputs and
metadata are kept), so a chapter's stored outputs stay valid: markdown is not
part of what `make notebooks` hashes.

Usage: ``python tools/glossary_links.py [--dry-run]``
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

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
    """The terms defined in the glossary (every name line of the glossary block)."""
    text = GLOSSARY.read_text(encoding="utf-8")
    block = re.search(r"```\{glossary\}\n(.*?)\n```", text, re.S).group(1)
    return [line.strip() for line in block.splitlines() if line.strip() and not line.startswith(" ")]


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


def link(term: str, match: re.Match) -> str:
    return f"{{term}}`{match.group(0)} <{term}>`"


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
    done = {t for t in terms
            for nb in books.values() for cell in nb.cells if cell.cell_type == "markdown"
            if f"<{t}>`" in cell.source}
    changed = set()
    for term, pattern in USES.items():
        if term in done:
            continue
        for path, nb in books.items():
            hit = next(((cell, m) for cell in nb.cells if cell.cell_type == "markdown"
                        for m in [first_use(cell.source, pattern)] if m), None)
            if hit:
                cell, m = hit
                print(f"{path.relative_to(ROOT)}: {term!r} at …{cell.source[max(0, m.start() - 30):m.end() + 30]!r}…")
                cell.source = cell.source[:m.start()] + link(term, m) + cell.source[m.end():]
                changed.add(path)
                break
        else:
            print(f"(no use of {term!r} in the chapters)")
    if not args.dry_run:
        for path in changed:
            nbformat.write(books[path], path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
