"""The equation check is sensitive: planting a slip in a real labelled equation makes it fail.

Each labelled equation of the book is mutated, one slip at a time:

- ``beta``:      drop one ``\\beta``;
- ``sign``:      flip one ``-`` into ``+``, or one ``+`` into ``-``;
- ``index``:     turn one index into another (``y_i`` into ``y_k``; a fresh letter if k is taken),
  for letters used more than once (renaming a letter's only use is no slip);
- ``transpose``: drop one transpose (``^\\top``);
- ``factor``:    multiply the right-hand side by 2 (unless it is 0);
- ``dimension``: swap m and n in one ``\\mathbb{R}^{...}``.

Every mutant must be rejected. A slip that leaves a true equation is listed in
EQUIVALENT with the reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
import equations as E  # tools/ is on pytest's pythonpath (pytest.ini)
from equation_registry import REGISTRY

# (label, slip description) -> why the mutant is still a true equation
EQUIVALENT: dict[tuple[str, str], str] = {}


def _replace_at(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def _right_side_span(latex: str) -> tuple[int, int] | None:
    """Start and end of the text after the first top-level '=' up to a top-level ',' or the end."""
    depth, start = 0, None
    for pos, ch in enumerate(latex):
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        elif depth == 0 and ch == "=" and start is None:
            start = pos + 1
        elif depth == 0 and ch == "," and start is not None:
            return start, pos
    return (start, len(latex.rstrip(" .\n"))) if start is not None else None


def mutants(latex: str) -> list[tuple[str, str, str]]:
    """(kind, description, mutated latex) for every single slip that applies to ``latex``."""
    out = []
    for n, m in enumerate(re.finditer(r"\\beta(?![a-zA-Z])\s*", latex)):
        out.append(("beta", f"drop \\beta #{n + 1}", _replace_at(latex, m.start(), m.end(), " ")))
    for n, m in enumerate(re.finditer(r"(?<![\\{^_])[-+]", latex)):
        flipped = "+" if m.group() == "-" else "-"
        out.append(("sign", f"flip sign #{n + 1} ({m.group()} to {flipped})",
                    _replace_at(latex, m.start(), m.end(), flipped)))
    used = {c for word in re.findall(r"_\{?([a-z]+)", latex) for c in word}
    fresh = next(c for c in "klrsuv" if c not in used)
    for n, m in enumerate(re.finditer(r"(?<=[a-zA-Z}])_(\{?)([ijkpqt])(\}?)(?![a-zA-Z=])", latex)):
        if re.search(r"\\sum$", latex[:m.start()].rstrip()):
            continue  # the summation variable itself
        if len(re.findall(r"_\{?[a-z]*" + m.group(2), latex)) == 1:
            continue  # the letter's only use: renaming it changes nothing
        out.append(("index", f"index {m.group(2)} to {fresh} #{n + 1}",
                    _replace_at(latex, m.start(2), m.end(2), fresh)))
    for n, m in enumerate(re.finditer(r"\^\s*(\\top|\{\\top\}|T(?![a-zA-Z])|\{T\})", latex)):
        out.append(("transpose", f"drop transpose #{n + 1}", _replace_at(latex, m.start(), m.end(), "")))
    span = _right_side_span(latex)
    if span and latex[span[0]:span[1]].strip() != "0":  # 2 * 0 is still 0
        a, b = span
        out.append(("factor", "right side times 2", latex[:a] + " 2 \\left(" + latex[a:b] + "\\right)" + latex[b:]))
    for n, m in enumerate(re.finditer(r"\\mathbb\{R\}\^(\{[^}]*\}|\w)", latex)):
        dims = m.group(1)
        swapped = dims.translate(str.maketrans({"m": "n", "n": "m"}))
        if swapped != dims:
            out.append(("dimension", f"swap m and n in R^{dims}", _replace_at(latex, m.start(1), m.end(1), swapped)))
    return out


CASES = [
    (eq, kind, desc, text)
    for eq in E.all_equations(ROOT)
    if eq.label in REGISTRY
    for kind, desc, text in mutants(eq.latex)
    if (eq.label, desc) not in EQUIVALENT
]


@pytest.mark.parametrize("eq, kind, desc, text", CASES, ids=[f"{c[0].id}:{c[2]}" for c in CASES])
def test_planted_slip_is_rejected(eq, kind, desc, text):
    planted = E.Equation(eq.chapter, eq.label, text)
    result = E.check_equation(planted, REGISTRY)
    assert not result.ok, f"{eq.id}: the slip '{desc}' was not caught:\n{text}"


def test_every_kind_of_slip_is_planted_somewhere():
    kinds = {c[1] for c in CASES}
    assert {"beta", "sign", "index", "transpose", "factor", "dimension"} <= kinds, kinds


def test_mutants_of_a_known_equation():
    found = mutants(r"\frac{\partial y_j}{\partial x_i} = -\beta y_j y_i")
    descs = [d for _, d, _ in found]
    assert "drop \\beta #1" in descs and "flip sign #1 (- to +)" in descs
    # occurrences are numbered left to right: y_j, x_i, y_j, y_i
    assert dict((d, t) for _, d, t in found)["index i to k #4"].endswith("y_j y_k")
