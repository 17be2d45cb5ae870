"""Every labelled equation of the book is machine-checked (tools/equations.py).

One test per labelled equation, named ``chapter:label``; a failure says whether
the LaTeX could not be read or the equation is false, and where.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
import equations as E  # tools/ is on pytest's pythonpath (pytest.ini)
from equation_registry import REGISTRY

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


def test_an_unregistered_label_fails_and_asks_to_register_it():
    eq = E.Equation("99_example", "eq-not-registered", r"y_j = 1")
    result = E.check_equation(eq, REGISTRY)
    assert not result.ok
    assert "99_example:eq-not-registered" in result.message and "equation_registry.py" in result.message


def test_a_parse_failure_names_chapter_and_label():
    eq = E.Equation("02_softmax", "eq-softmax-def", r"y_j = \frac{\exp(\beta x_j)}{\sum_{k=1}^{n} \exp(\beta x_k)")
    result = E.check_equation(eq, REGISTRY)
    assert not result.ok
    assert result.message.startswith("02_softmax:eq-softmax-def cannot parse"), result.message


def test_a_false_equation_names_chapter_label_and_indices():
    eq = E.Equation("04_case_i_not_j", "eq-case-ij", r"\frac{\partial y_j}{\partial x_i} = \beta y_j y_i")
    result = E.check_equation(eq, REGISTRY)
    assert not result.ok
    assert result.message.startswith("04_case_i_not_j:eq-case-ij is false")
    assert "with j=" in result.message and "i=" in result.message


def test_every_labelled_equation_is_cited():
    # a label is there to be referred to: the site numbers and links what {eq} cites
    cited = {label for labels in E.eq_citations(ROOT).values() for label in labels}
    uncited = [eq.id for eq in EQUATIONS if eq.label not in cited]
    assert not uncited, f"labelled but never cited with {{eq}}: {uncited}"
