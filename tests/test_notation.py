"""The introduction's notation section lists every Greek letter and named operator the book uses.

Issue 9 asks that the notation table of the introduction list every symbol of the chapters. A
full check of every Latin letter is a matter of reading; this test checks the part a machine can
check without false alarms: every Greek letter (``\\beta`` or ``β``, also ``\\ell``) and every
``\\operatorname{…}`` name in the math of a chapter's markdown cells must also occur in the math
of the ``## Notation`` section of ``book/intro.md``. A failure names the symbol and where it is used.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
    "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "varpi", "rho", "varrho",
    "sigma", "varsigma", "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega",
    "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega",
    "ell",
}

# Code is not notation: fences that are not MyST directives (```python, ```text) and inline code,
# which also covers roles such as {glue:text}`name` and quotations of the source post.
_CODE_FENCE = re.compile(r"^```(?!\{)[^\n]*\n.*?^```", re.S | re.M)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.S)
_COMMAND = re.compile(r"\\([A-Za-z]+)")
_OPERATOR = re.compile(r"\\operatorname\*?\{([^}]*)\}")


def math_of(markdown: str) -> list[str]:
    """The contents of every ``$…$`` and ``$$…$$`` in ``markdown``, code removed first."""
    text = _INLINE_CODE.sub(" ", _CODE_FENCE.sub(" ", markdown))
    return [a or b for a, b in _MATH.findall(text)]


def symbols_of(math: str) -> set[str]:
    """The Greek letters (by name, ``\\ell`` included) and ``\\operatorname`` names in ``math``."""
    found = {c for c in _COMMAND.findall(math) if c in GREEK}
    for ch in math:
        name = unicodedata.name(ch, "")
        if name.startswith("GREEK SMALL LETTER ") or name.startswith("GREEK CAPITAL LETTER "):
            letter = name.split()[-1].lower()
            found.add(letter if "SMALL" in name else letter.capitalize())
    found |= {"operatorname{" + op + "}" for op in _OPERATOR.findall(math)}
    return found


def chapters() -> list[Path]:
    return sorted(BOOK.glob("[0-9][0-9]_*.ipynb")) + sorted(BOOK.glob("appendix_*.ipynb"))


def used_symbols() -> dict[str, list[str]]:
    """Each symbol the chapters use, with the places (``file`` cell ``index``) that use it."""
    used: dict[str, list[str]] = {}
    for path in chapters():
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for index, cell in enumerate(cells):
            if cell["cell_type"] != "markdown":
                continue
            source = cell["source"]
            source = "".join(source) if isinstance(source, list) else source
            for math in math_of(source):
                for symbol in symbols_of(math):
                    used.setdefault(symbol, []).append(f"{path.name} cell {index}")
    return used


def notation_section() -> str:
    text = (BOOK / "intro.md").read_text(encoding="utf-8")
    match = re.search(r"^## Notation\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, "book/intro.md has no '## Notation' section"
    return match.group(1)


def listed_symbols() -> set[str]:
    listed: set[str] = set()
    for math in math_of(notation_section()):
        listed |= symbols_of(math)
    return listed


def test_chapters_use_symbols():
    """Guards the extraction itself: a broken regex would make the main test pass vacuously."""
    used = used_symbols()
    assert {"beta", "operatorname{diag}", "operatorname{LSE}"} <= used.keys(), sorted(used)


def test_every_greek_letter_and_operator_is_in_the_notation_section():
    used = used_symbols()
    missing = sorted(used.keys() - listed_symbols())
    lines = []
    for symbol in missing:
        places = sorted(set(used[symbol]))
        more = f" and {len(places) - 3} more" if len(places) > 3 else ""
        lines.append(f"  \\{symbol}: used in {', '.join(places[:3])}{more}")
    assert not missing, (
        "symbols used in the chapters but not listed in the Notation section of book/intro.md:\n"
        + "\n".join(lines)
    )
