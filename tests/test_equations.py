"""Every labelled equation of the book is machine-checked (tools/equations.py).

One test per labelled equation, named ``chapter:label``; a failure says whether
the LaTeX could not be read or the equation is false, and where.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import equations as E  # noqa: E402
from equation_registry import REGISTRY  # noqa: E402

EQUATIONS = E.all_equations(ROOT)


@pytest.mark.parametrize("eq", EQUATIONS, ids=[eq.id for eq in EQUATIONS])
def test_labelled_equation(eq):
    result = E.check_equation(eq, REGISTRY)
    assert result.ok, result.message


def test_labels_are_unique():
    seen = {}
    for eq in EQUATIONS:
        assert eq.label not in seen, f"{eq.id}: the label is also used in {seen[eq.label]}"
        seen[eq.label] = eq.chapter


def test_every_registered_label_is_in_the_book():
    labels = {eq.label for eq in EQUATIONS}
    stale = sorted(set(REGISTRY) - labels)
    assert not stale, f"registered in tools/equation_registry.py but not found in any chapter: {stale}"


def test_eq_citations_point_to_labelled_equations():
    labels = {eq.label for eq in EQUATIONS}
    for chapter, cited in E.eq_citations(ROOT).items():
        missing = sorted(set(cited) - labels)
        assert not missing, f"{chapter} cites {missing} with {{eq}}, but no equation has that label"
