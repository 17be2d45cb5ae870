"""Check every labelled equation of the book against the mathematics of softmax_lib.

    .venv/bin/python tools/equations.py          # or: make equations

A labelled equation is a MyST display block ``$$ ... $$ (eq-label)`` in a markdown
cell of a chapter listed in ``_toc.yml``. For each one this module

1. parses the LaTeX of the prose into an expression tree (the small parser below);
2. evaluates both sides in a *world*: concrete sizes (n = 3, m = 2), the book's
   symbols bound to sympy objects taken from :mod:`softmax_lib.symbolic`
   (``x``, ``beta``, ``y = softmax(beta x)``, ``W``, ``b``, ``g``, ``t`` ...),
   every free index (``i``, ``j``, ...) bound in turn to every value it can take,
   and ``\\frac{\\partial A}{\\partial B}`` differentiated by sympy;
3. compares the two sides, and both with the reference that
   ``tools/equation_registry.py`` gives for the label (what the equation must
   equal, computed by softmax_lib), symbolically when sympy can prove the
   difference is zero and numerically at random points in any case.

An equation whose label is not registered fails, so nothing labelled escapes.

What the parser reads: ``+ - \\cdot \\odot``, juxtaposition (a matrix product when both
factors are matrices, so order matters), ``\\frac``, powers, ``^\\top``, ``\\exp`` and ``\\log``
(with parentheses they take the group, without them the product that follows, up to a
``+`` or ``-``), ``\\sum_{k=1}^{n}`` (its body is the product that follows),
``\\frac{\\partial A}{\\partial B}`` (and the operator form ``\\frac{\\partial}{\\partial x_i} f``),
``\\langle a, b \\rangle``, ``\\operatorname{diag}``, ``\\operatorname{rowsum}`` (the column
of row sums ``X 1``), ``\\mathbf{1}``, ``\\bar{L}``, ``\\ell``, the Iverson
bracket ``[i = j]`` (1 when the condition holds, else 0), subscripts (letters are indices,
1-based as in the prose; ``m_A`` or
``x_{\\max}`` are names), ``dQ`` (``d`` glued to a capital: one name, the gradient of the
attention chapter), and side clauses after commas such as ``W \\in \\mathbb{R}^{m \\times n}``,
whose shapes are checked. ``\\left``, ``\\right`` and spacing macros are ignored.

Why not ``sympy.parsing.latex.parse_latex(..., backend="lark")``? In sympy 1.14
its grammar reads ``\\exp(\\beta x_j) y_i`` as ``exp(beta*x_j*y_i)``, rejects
``x^2 y`` and ``W^\\top g``, has no ``\\partial`` fractions and makes every
symbol commutative, so ``g x^\\top`` and ``x^\\top g`` parse alike. The
book's equations are matrix equations, and a check that cannot see a missing
transpose is no check; hence the parser below, small and strict (it refuses
what it does not understand).
"""

from __future__ import annotations

import itertools
import re
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Union

import numpy as np
import sympy as sp

import toc  # tools/ is on the path: as a script (its folder) and in pytest (pythonpath)
from notebook_file import CorruptNotebook, load_json

ROOT = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------- extraction


@dataclass(frozen=True)
class Equation:
    """One labelled display equation as written in a chapter."""

    chapter: str  # e.g. "01_chain_rule"
    label: str  # e.g. "eq-linear-grad-W"
    latex: str

    @property
    def id(self) -> str:
        return f"{self.chapter}:{self.label}"


_DOLLAR_BLOCK = re.compile(r"\$\$(.*?)\$\$[ \t]*(?:\(([^()\s]+)\))?", re.S)
_AMS_LABEL = re.compile(r"\\label\{([^}]*)\}")


def chapters_in_toc(root: Path = ROOT) -> list[Path]:
    """The files listed in ``_toc.yml`` (root first), in reading order."""
    return toc.source_files(root)


def markdown_sources(path: Path) -> list[str]:
    """The markdown text of a chapter: every markdown cell of a notebook, or the .md file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        nb = load_json(path)  # a broken file raises CorruptNotebook naming it
        return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    return [text]


def equations_in(path: Path) -> list[Equation]:
    """Every labelled display equation of one chapter, in order."""
    chapter = path.stem
    found = []
    for source in markdown_sources(path):
        for m in _DOLLAR_BLOCK.finditer(source):
            body, label = m.group(1), m.group(2)
            ams = _AMS_LABEL.search(body)
            if ams:  # \begin{equation}\label{...} inside $$ (amsmath)
                label, body = ams.group(1), _AMS_LABEL.sub("", body)
            if label:
                found.append(Equation(chapter, label, body.strip()))
    return found


def all_equations(root: Path = ROOT) -> list[Equation]:
    eqs: list[Equation] = []
    for path in chapters_in_toc(root):
        eqs.extend(equations_in(path))
    return eqs


def eq_citations(root: Path = ROOT) -> dict[str, list[str]]:
    """Chapter stem -> the labels it cites with the {eq} role."""
    cites = {}
    for path in chapters_in_toc(root):
        labels = []
        for source in markdown_sources(path):
            labels += re.findall(r"\{eq\}`(?:[^`<]*<)?([^`>]+)>?`", source)
        cites[path.stem] = labels
    return cites


# --------------------------------------------------------------------------- tokenizer


class EquationError(Exception):
    """The equation could not be parsed or evaluated: a message for the author."""


class Mismatch(Exception):
    """The equation parsed and evaluated, and it is false."""


_SKIP = {
    r"\left", r"\right", r"\bigl", r"\bigr", r"\Bigl", r"\Bigr", r"\biggl", r"\biggr", r"\big",
    r"\Big", r"\bigg", r"\Bigg", r"\,", r"\;", r"\:", r"\!", r"\ ", r"\quad", r"\qquad",
    r"\displaystyle", r"\textstyle", r"\limits", r"\nolimits",
}
GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "iota",
    "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "phi", "varphi", "chi",
    "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Sigma", "Phi", "Psi", "Omega",
    "ell",  # not Greek, but read the same way: \ell is the running sum of the merge rule
}
# ``dQ``, ``dO``: the gradient dL/dQ of the attention chapter is one name, not d times Q
_TOKEN = re.compile(r"\\\\|\\[a-zA-Z]+|\\[,;:! {}|]|\d+(?:\.\d+)?|d[A-Z](?![A-Za-z])|\S")


def tokenize(latex: str) -> list[str]:
    latex = re.sub(r"(?<!\\)%.*", "", latex)  # TeX comments
    tokens = [t for t in _TOKEN.findall(latex) if t not in _SKIP]
    while tokens and tokens[-1] in {".", ","}:  # sentence punctuation after the formula
        tokens.pop()
    return tokens


# --------------------------------------------------------------------------- parser
#
# The parser turns LaTeX into a tree of the typed nodes below; the evaluator and the
# index walkers dispatch on the node's class, never on the contents of a tuple.


@dataclass(frozen=True)
class Name:
    r"""A subscript that names rather than indexes: ``x_{\max}``, ``m_A``."""

    text: str


Index = Union[str, int, Name]  # a letter bound to a value, a fixed 1-based number, or a name


class Node:
    """Base class of the expression tree."""

    def children(self) -> tuple["Node", ...]:
        return tuple(v for f in fields(self) for v in _nodes_in(getattr(self, f.name)))


def _nodes_in(value) -> list["Node"]:
    if isinstance(value, Node):
        return [value]
    if isinstance(value, tuple):
        return [n for item in value for n in _nodes_in(item)]
    return []


@dataclass(frozen=True)
class Num(Node):
    value: sp.Expr


@dataclass(frozen=True)
class Sym(Node):
    base: str                      # "x", "beta", "barL", "bold1"
    indices: tuple[Index, ...] = ()
    sample: Index | None = None    # the s of a^{(s)}: which sample of a batch


@dataclass(frozen=True)
class Add(Node):
    terms: tuple[tuple[int, Node], ...]   # (+1 or -1, term)


@dataclass(frozen=True)
class Mul(Node):
    kind: str                      # "juxt" (matrix product when both are matrices), "cdot", "odot"
    a: Node
    b: Node


@dataclass(frozen=True)
class Div(Node):
    a: Node
    b: Node


@dataclass(frozen=True)
class Pow(Node):
    a: Node
    b: Node


@dataclass(frozen=True)
class Transpose(Node):
    a: Node


@dataclass(frozen=True)
class Func(Node):
    name: str                      # "exp", "log", "diag"
    arg: Node


@dataclass(frozen=True)
class Inner(Node):
    a: Node
    b: Node


@dataclass(frozen=True)
class Sum(Node):
    var: str
    lower: Node | None
    upper: Node | None
    body: Node


@dataclass(frozen=True)
class Deriv(Node):
    num: Node
    den: Sym


@dataclass(frozen=True)
class Iverson(Node):
    r"""``[i = j]`` (or ``[i \neq j]``): 1 when the condition holds, else 0."""

    op: str                        # "=" or "!="
    a: Node
    b: Node


@dataclass(frozen=True)
class Rel(Node):
    op: str                        # "=" or "!="
    a: Node
    b: Node


@dataclass(frozen=True)
class Chain(Node):
    """``A = B = C``: the relations of one clause."""

    relations: tuple[Rel, ...]


@dataclass(frozen=True)
class Membership(Node):
    r"""``W \in \mathbb{R}^{n \times d}``: subjects and the dimensions (empty for R)."""

    subjects: tuple[Node, ...]
    dims: tuple[Node, ...]


FUNCTIONS = {r"\exp": "exp", r"\log": "log", r"\ln": "log"}
OPERATORS = {"diag", "rowsum"}
_STARTS_FACTOR = {r"\frac", r"\tfrac", r"\dfrac", r"\exp", r"\log", r"\ln", r"\sum", r"\langle",
                  r"\operatorname", r"\mathrm", r"\mathbf", r"\boldsymbol", r"\partial",
                  r"\bar", r"\hat", r"\tilde", r"\overline"}
_RELATIONS = {"=": "=", r"\neq": "!=", r"\ne": "!="}


class Parser:
    def __init__(self, latex: str = "", tokens: list[str] | None = None):
        self.tokens = tokenize(latex) if tokens is None else tokens
        self.pos = 0

    # helpers
    def peek(self, k: int = 0) -> str | None:
        i = self.pos + k
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None:
            raise EquationError(f"the formula ends early{f'; expected {expected!r}' if expected else ''}")
        if expected is not None and tok != expected:
            raise EquationError(f"expected {expected!r} but found {tok!r} at {self.context()}")
        self.pos += 1
        return tok

    def context(self) -> str:
        before = "".join(self.tokens[max(0, self.pos - 6):self.pos])
        after = "".join(self.tokens[self.pos:self.pos + 6])
        return f"'{before} >>>{after}'"

    def raw_group(self) -> list[str]:
        """The tokens of a {...} group (or of a single token), braces removed."""
        if self.peek() != "{":
            return [self.take()]
        self.take("{")
        depth, out = 1, []
        while True:
            if self.peek() is None:
                raise EquationError("a '{' is never closed")
            tok = self.take()
            if tok == "{":
                depth += 1
            elif tok == "}":
                depth -= 1
                if depth == 0:
                    return out
            out.append(tok)

    @staticmethod
    def sub_parser(tokens: list[str]) -> "Parser":
        return Parser(tokens=tokens)

    # grammar
    def equation(self) -> list[Node]:
        """Top level: clauses separated by commas; the first must be a relation."""
        clauses: list[Node] = []
        pending: list[Node] = []
        while True:
            node = self.clause(pending)
            if node is not None:
                clauses.append(node)
            if self.peek() == ",":
                self.take(",")
                continue
            if self.peek() is not None:
                raise EquationError(f"unexpected {self.peek()!r} at {self.context()}")
            break
        if pending:
            raise EquationError("a labelled equation must state a relation (A = B), not only an expression")
        return clauses

    def clause(self, pending: list[Node]) -> Node | None:
        first = self.expr()
        op = self.peek()
        if op == r"\in":
            self.take()
            subjects = tuple(pending) + (first,)
            pending.clear()
            return Membership(subjects, self.space())
        if op in _RELATIONS:
            if pending:
                raise EquationError("a list of expressions before a relation: write one relation per clause")
            nodes, ops = [first], []
            while self.peek() in _RELATIONS:
                ops.append(_RELATIONS[self.take()])
                nodes.append(self.expr())
            return Chain(tuple(Rel(o, a, b) for o, a, b in zip(ops, nodes, nodes[1:])))
        pending.append(first)
        return None

    def space(self) -> tuple[Node, ...]:
        tok = self.take()
        if tok not in {r"\mathbb", r"\mathbf", r"\mathrm"}:
            raise EquationError(f"after \\in expected \\mathbb{{R}}, found {tok!r}")
        if self.raw_group() != ["R"]:
            raise EquationError("only memberships in \\mathbb{R}^{...} are understood")
        if self.peek() != "^":
            return ()
        self.take("^")
        parts: list[list[str]] = [[]]
        for tok in self.raw_group():
            if tok in {r"\times", "*"}:
                parts.append([])
            else:
                parts[-1].append(tok)
        return tuple(self.sub_parser(p).full_expr() for p in parts)

    def full_expr(self) -> Node:
        node = self.expr()
        if self.peek() is not None:
            raise EquationError(f"unexpected {self.peek()!r} at {self.context()}")
        return node

    def expr(self) -> Node:
        terms = []
        sign = 1
        if self.peek() in {"+", "-"}:
            sign = -1 if self.take() == "-" else 1
        terms.append((sign, self.term()))
        while self.peek() in {"+", "-"}:
            sign = -1 if self.take() == "-" else 1
            terms.append((sign, self.term()))
        if len(terms) == 1 and terms[0][0] == 1:
            return terms[0][1]
        return Add(tuple(terms))

    def term(self) -> Node:
        node = self.factor()
        while True:
            tok = self.peek()
            if tok in {r"\cdot", "*"}:
                self.take()
                node = Mul("cdot", node, self.factor())
            elif tok == r"\odot":
                self.take()
                node = Mul("odot", node, self.factor())
            elif tok == r"\times":
                raise EquationError("\\times is ambiguous: use juxtaposition, \\cdot or \\odot")
            elif tok == "/":
                self.take()
                node = Div(node, self.factor())
            elif self.starts_factor(tok):
                node = Mul("juxt", node, self.factor())
            else:
                return node

    @staticmethod
    def starts_factor(tok: str | None) -> bool:
        if tok is None:
            return False
        if tok in _STARTS_FACTOR or tok in {"(", "{", "["}:
            return True
        if tok.startswith("\\") and tok[1:] in GREEK:
            return True
        return tok[0].isalnum()

    def factor(self) -> Node:
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
        while self.peek() == "^":
            self.take("^")
            sup = self.raw_group()
            if sup in ([r"\top"], ["T"], [r"\mathsf", "T"], [r"\intercal"]) or sup == [r"\mathsf", "{", "T", "}"]:
                node = Transpose(node)
            else:
                node = Pow(node, self.sub_parser(sup).full_expr())
        return node

    def primary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise EquationError("the formula ends where a factor was expected")
        if tok == "(":
            self.take()
            inner = self.expr()
            self.take(")")
            return inner
        if tok == "[":  # brackets, or an Iverson bracket [i = j]
            self.take()
            inner = self.expr()
            if self.peek() in _RELATIONS:
                op = _RELATIONS[self.take()]
                inner = Iverson(op, inner, self.expr())
            self.take("]")
            return inner
        if tok == "{":
            return self.sub_parser(self.raw_group()).full_expr()
        if tok in {r"\frac", r"\tfrac", r"\dfrac"}:
            return self.fraction()
        if tok in FUNCTIONS:
            self.take()
            return Func(FUNCTIONS[tok], self.function_argument())
        if tok in {r"\operatorname", r"\mathrm"}:
            self.take()
            name = "".join(self.raw_group())
            if name == "d":
                raise EquationError("write partial derivatives with \\partial, not \\mathrm{d}")
            if name not in OPERATORS:
                raise EquationError(f"unknown operator \\operatorname{{{name}}}")
            return Func(name, self.function_argument())
        if tok == r"\sum":
            return self.summation()
        if tok == r"\langle":
            self.take()
            a = self.expr()
            if self.peek() not in {",", "|"}:
                raise EquationError(f"expected ',' in \\langle a, b \\rangle at {self.context()}")
            self.take()
            b = self.expr()
            self.take(r"\rangle")
            return Inner(a, b)
        if tok == r"\partial":
            raise EquationError("a \\partial outside \\frac{\\partial A}{\\partial B} is not understood")
        if tok in {r"\mathbf", r"\boldsymbol", r"\bar", r"\hat", r"\tilde", r"\overline"}:
            self.take()
            name = "".join(self.raw_group()).lstrip("\\")
            prefix = {"\\mathbf": "bold", "\\boldsymbol": "bold", "\\overline": "bar"}.get(tok, tok[1:])
            return self.symbol_rest(prefix + name)
        if tok == r"\text":
            raise EquationError("no \\text{} inside a labelled equation: put words in the prose")
        if re.fullmatch(r"\d+(\.\d+)?", tok):
            self.take()
            return Num(sp.Rational(tok))
        if tok.startswith("\\") and tok[1:] in GREEK:
            self.take()
            return self.symbol_rest(tok[1:])
        if re.fullmatch(r"[A-Za-z]|d[A-Z]", tok):
            self.take()
            return self.symbol_rest(tok)
        raise EquationError(f"cannot read {tok!r} at {self.context()}")

    def symbol_rest(self, base: str) -> Node:
        """Subscripts (entries) and a sample superscript ``^{(s)}``, in either order.

        ``a^{(s)}_k`` is entry k of sample s; ``a^{(s)\\top}`` is its transpose. Any
        other superscript is left for :meth:`postfix` (a power or a transpose).
        """
        indices: tuple[Index, ...] = ()
        sample: Index | None = None
        transpose = False
        while True:
            if self.peek() == "_" and not indices:
                self.take("_")
                indices = self.indices(self.raw_group())
            elif self.peek() == "^" and sample is None and self._sample_superscript():
                self.take("^")
                group = self.raw_group()
                sample = self.indices([group[1]])[0]
                transpose = group[3:] in ([r"\top"], ["T"], [r"\intercal"])
                if group[3:] and not transpose:
                    raise EquationError(f"cannot read the superscript {''.join(group)!r}")
            else:
                break
        node: Node = Sym(base, indices, sample)
        return Transpose(node) if transpose else node

    def _sample_superscript(self) -> bool:
        """Whether the next tokens are ``^{(s)...}``: a sample index, not a power."""
        return (self.peek(1) == "{" and self.peek(2) == "(" and self.peek(4) == ")"
                and self.peek(3) is not None and self.peek(3).isalnum())

    @staticmethod
    def indices(tokens: list[str]) -> tuple[Index, ...]:
        """``j`` -> ('j',); ``{pq}`` -> ('p','q'); ``{p,q}``; ``{1}`` -> (1,); ``{\\max}`` -> (Name('max'),)."""
        if not tokens:
            raise EquationError("an empty subscript")
        if any(t.startswith("\\") for t in tokens):
            if len(tokens) == 1 and tokens[0][1:] not in GREEK:
                return (Name(tokens[0][1:]),)
            raise EquationError(f"cannot read the subscript {''.join(tokens)!r}")
        out: list[Index] = []
        for tok in tokens:
            if tok == ",":
                continue
            if tok.isdigit():
                out.append(int(tok))
            elif len(tokens) == 1 and tok.isalpha() and tok[0].isupper():
                out.append(Name(tok))  # m_A, x_B: a name, not an index
            elif tok.isalpha():
                out.extend(tok)  # "pq" -> "p", "q"
            else:
                raise EquationError(f"cannot read the subscript {''.join(tokens)!r}")
        return tuple(out)

    def function_argument(self) -> Node:
        if self.peek() in {"(", "{", "["}:
            return self.primary()
        return self.term()  # \log \sum_k ..., \log y_t

    def fraction(self) -> Node:
        self.take()
        num = self.raw_group()
        den = self.raw_group()
        if num and num[0] == r"\partial":
            if not den or den[0] != r"\partial":
                raise EquationError("a \\partial over something that is not a \\partial")
            d = self.sub_parser(den[1:]).full_expr()
            if not isinstance(d, Sym):
                raise EquationError(f"cannot differentiate with respect to {''.join(den[1:])!r}")
            if len(num) == 1:  # operator form \frac{\partial}{\partial x_i} f
                return Deriv(self.factor(), d)
            return Deriv(self.sub_parser(num[1:]).full_expr(), d)
        return Div(self.sub_parser(num).full_expr(), self.sub_parser(den).full_expr())

    def summation(self) -> Sum:
        self.take(r"\sum")
        lower = upper = None
        var = None
        for _ in range(2):
            if self.peek() == "_":
                self.take("_")
                sub = self.raw_group()
                if len(sub) == 1 and sub[0].isalpha():
                    var = sub[0]
                elif len(sub) >= 3 and sub[0].isalpha() and sub[1] == "=":
                    var, lower = sub[0], self.sub_parser(sub[2:]).full_expr()
                else:
                    raise EquationError(f"cannot read the summation range {''.join(sub)!r}")
            elif self.peek() == "^":
                self.take("^")
                upper = self.sub_parser(self.raw_group()).full_expr()
        if var is None:
            raise EquationError("a \\sum needs an index: \\sum_{k=1}^{n}")
        return Sum(var, lower, upper, self.term())


def parse(latex: str) -> list[Node]:
    """Parse one labelled equation into its clauses (Chain or Membership nodes)."""
    return Parser(latex).equation()


# --------------------------------------------------------------------------- worlds


@dataclass
class World:
    """Concrete meaning for the book's symbols.

    ``values`` maps a base name (``"x"``, ``"beta"``, ``"W"``, ``"y"``, ``"L"``...) to a
    sympy scalar or matrix; ``intermediates`` maps names whose value is defined by
    others (``y``) to ``(symbols, definition)``: an expression keeps ``y``'s symbols while
    it is differentiated with respect to ``y``, and is expanded otherwise.
    """

    name: str
    sizes: dict[str, int]
    values: dict[str, Any]
    intermediates: dict[str, tuple[sp.Matrix, sp.Matrix]] = field(default_factory=dict)
    sample: Callable[[np.random.Generator], dict] | None = None
    constraints: dict = field(default_factory=dict)  # symbol -> expression (e.g. the last t_k)

    @property
    def n(self) -> int:
        return self.sizes["n"]

    @property
    def m(self) -> int:
        return self.sizes.get("m", self.sizes["n"])

    def expand(self, value: Any, keep: frozenset) -> Any:
        if isinstance(value, Batch):
            return Batch(self.expand(v, keep) for v in value)
        if not isinstance(value, (sp.Basic, sp.MatrixBase)):
            return value
        subs = {}
        for name, (syms, definition) in self.intermediates.items():
            if name not in keep:
                subs.update(dict(zip(syms, definition)))
        for _ in range(len(self.intermediates) + 1):
            value = value.xreplace(subs) if subs else value
        return value


class Batch(list):
    """Per-sample values: ``y_s`` is the s-th sample's vector (1-based in the prose)."""


def _vector(symbols) -> sp.Matrix:
    return sp.Matrix(list(symbols))


def _positive(rng: np.random.Generator) -> float:
    return float(rng.uniform(0.5, 2.5))


def _fill(point: dict, symbols, values) -> None:
    point.update({s: float(v) for s, v in zip(list(symbols), np.ravel(values))})


def softmax_world(n: int = 3) -> World:
    """x in R^n, beta, y = softmax(beta x) (softmax_lib.symbolic), the Jacobian J, an
    upstream gradient g held constant with L = <g, y>, and
    a constant c, direction vectors u and v and the temperature tau = 1/beta for identities."""
    from softmax_lib import symbolic as S

    x = _vector(S.logit_symbols(n))
    ysym = _vector(S.output_symbols(n))
    ydef = sp.Matrix(S.softmax_exprs(n))
    g = _vector(sp.symbols(f"g_1:{n + 1}", real=True))
    v = _vector(sp.symbols(f"v_0:{n}", real=True))
    u = _vector(sp.symbols(f"u_0:{n}", real=True))
    c = sp.Symbol("c", real=True)
    values = {
        "x": x, "beta": S.beta, "y": ysym, "g": g,
        "L": (g.T * ysym)[0, 0], "J": S.jacobian(n), "n": sp.Integer(n),
        "bold1": sp.ones(n, 1), "e": sp.E, "c": c, "v": v, "u": u, "tau": 1 / S.beta,
    }

    def sample(rng):
        point = {S.beta: _positive(rng), c: float(rng.normal())}
        for vec in (x, g, v, u):
            _fill(point, vec, rng.normal(size=n))
        return point

    return World("softmax", {"n": n}, values, {"y": (ysym, ydef)}, sample)


def cross_entropy_world(n: int = 3) -> World:
    """The softmax world with a target probability vector t (its entries sum to 1),
    L = -sum_k t_k log y_k and g = dL/dy (no longer a constant)."""
    w = softmax_world(n)
    t = _vector(sp.symbols(f"t_0:{n}", positive=True))
    ysym = w.values["y"]
    L = -sum(t[k] * sp.log(ysym[k]) for k in range(n))
    g = ysym.applyfunc(lambda yk: sp.diff(L, yk))
    w.name = "cross_entropy"
    w.values.update({"t": t, "L": L, "g": g})
    previous = w.sample

    def sample(rng):
        point = previous(rng)
        _fill(point, t, rng.dirichlet(np.ones(n)))
        return point

    w.sample = sample
    w.constraints = {t[n - 1]: 1 - sum(t[:n - 1])}
    return w


def linear_world(n: int = 2, d: int = 3) -> World:
    """The layer that produces the logits, x = W a + b, with W n x d, a in R^d, b in R^n
    (from softmax_lib.symbolic.linear_layer), and L = <kappa, x> for a constant vector kappa
    internal to this world (the layer's ``dL_dx`` symbols; no book name binds it), so
    that \\frac{\\partial L}{\\partial x} = kappa is the gradient arriving at the layer's
    output. ``g`` (the gradient at softmax's output) has no meaning here. n != d, so a
    wrong dimension shows."""
    from softmax_lib import symbolic as S

    layer = S.linear_layer(n, d)
    xsym = _vector(sp.symbols(f"xlin_0:{n}", real=True))
    values = {
        "W": layer.W, "a": layer.a, "b": layer.b, "x": xsym,
        "L": (layer.dL_dx.T * xsym)[0, 0], "n": sp.Integer(n), "d": sp.Integer(d),
    }

    def sample(rng):
        point = {}
        for M in (layer.W, layer.a, layer.b, layer.dL_dx):
            _fill(point, M, rng.normal(size=len(M)))
        return point

    return World("linear", {"n": n, "d": d}, values, {"x": (xsym, layer.x)}, sample)


def _classifier_sample(d: int, n: int) -> tuple:
    from softmax_lib import symbolic as S

    W = sp.Matrix(n, d, lambda r, q: sp.Symbol(f"W_{r}{q}", real=True))
    b = _vector(sp.symbols(f"b_0:{n}", real=True))
    return S.beta, W, b


def _classifier(beta, W, b, a, t):
    x = W * a + b
    e = x.applyfunc(lambda z: sp.exp(beta * z))
    y = e / sum(e)
    L = -sum(t[k] * sp.log(y[k]) for k in range(len(t)))
    return x, y, L


def classifier_world(d: int = 2, n: int = 3) -> World:
    """A softmax classifier on one input a in R^d: logits x = W a + b (W n x d, b in
    R^n), y = softmax(beta x), a target t (summing to 1), L = -sum_k t_k log y_k."""
    beta, W, b = _classifier_sample(d, n)
    a = _vector(sp.symbols(f"a_0:{d}", real=True))
    t = _vector(sp.symbols(f"t_0:{n}", positive=True))
    xsym = _vector(sp.symbols(f"z_0:{n}", real=True))
    x, y, L = _classifier(beta, W, b, a, t)
    ysym = _vector(sp.symbols(f"p_0:{n}", positive=True))
    values = {
        "W": W, "b": b, "a": a, "t": t, "x": xsym, "y": ysym, "beta": beta,
        "L": -sum(t[k] * sp.log(ysym[k]) for k in range(n)), "n": sp.Integer(n), "d": sp.Integer(d),
    }
    e = xsym.applyfunc(lambda z: sp.exp(beta * z))

    def sample(rng):
        point = {beta: _positive(rng)}
        for M in (W, b, a):
            _fill(point, M, rng.normal(size=len(M)))
        _fill(point, t, rng.dirichlet(np.ones(n)))
        return point

    world = World("classifier", {"n": n, "d": d}, values,
                  {"y": (ysym, e / sum(e)), "x": (xsym, W * a + b)}, sample)
    world.constraints = {t[n - 1]: 1 - sum(t[:n - 1])}
    return world


def batch_world(N: int = 2, d: int = 2, n: int = 3) -> World:
    """The classifier on a batch of N samples: a_s, t_s, x_s, y_s, L_s per sample s,
    W and b shared, and the mean loss \\bar{L} = (1/N) sum_s L_s."""
    beta, W, b = _classifier_sample(d, n)
    samples = []
    for s in range(N):
        a = _vector(sp.symbols(f"a{s}_0:{d}", real=True))
        t = _vector(sp.symbols(f"t{s}_0:{n}", positive=True))
        samples.append((a, t) + _classifier(beta, W, b, a, t))
    a_, t_, x_, y_, L_ = (Batch(col) for col in zip(*samples))
    values = {
        "W": W, "b": b, "beta": beta, "a": a_, "t": t_, "x": x_, "y": y_, "L": L_,
        "barL": sum(L_) / N, "N": sp.Integer(N), "n": sp.Integer(n), "d": sp.Integer(d),
    }

    def sample(rng):
        point = {beta: _positive(rng)}
        for M in (W, b, *a_):
            _fill(point, M, rng.normal(size=len(M)))
        for t in t_:
            _fill(point, t, rng.dirichlet(np.ones(n)))
        return point

    world = World("batch", {"n": n, "d": d, "N": N}, values, {}, sample)
    world.constraints = {t[n - 1]: 1 - sum(t[:n - 1]) for t in t_}
    return world


def online_world(n_a: int = 2, n_b: int = 3) -> World:
    """Online (blockwise) normalisation: logits x in R^n split into blocks A (the first
    n_a) and B (the rest); m_A, m_B and m are the maxima of A, B and all of x, and
    ell_A, ell_B, ell the sums of exp(beta (x_k - m)) over A, B and all of x (each block
    measured from its own maximum)."""
    from softmax_lib import symbolic as S

    n = n_a + n_b
    x = _vector(S.logit_symbols(n))
    blocks = {"A": list(x[:n_a]), "B": list(x[n_a:]), "": list(x)}
    values = {"x": x, "beta": S.beta, "n": sp.Integer(n)}
    for name, xs in blocks.items():
        top = sp.Max(*xs)
        total = sum(sp.exp(S.beta * (xk - top)) for xk in xs)
        suffix = f"_{name}" if name else ""
        values[f"m{suffix}"], values[f"ell{suffix}"] = top, total

    calls = [0]

    def sample(rng):
        # the overall maximum alternates between the blocks, so neither m = m_A nor m = m_B
        # holds at every point
        values_x = rng.normal(size=n)
        values_x[:n_a] += 3.0 if calls[0] % 2 == 0 else 0.0
        values_x[n_a:] += 0.0 if calls[0] % 2 == 0 else 3.0
        calls[0] += 1
        point = {S.beta: _positive(rng)}
        _fill(point, x, values_x)
        return point

    return World("online", {"n": n}, values, {}, sample)


def _matrix(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda r, c: sp.Symbol(f"{name}_{r}{c}", real=True))


def _row_softmax(S_: sp.Matrix) -> sp.Matrix:
    """Softmax of each row of a matrix (the scale is already inside)."""
    E = S_.applyfunc(sp.exp)
    return sp.Matrix(S_.rows, S_.cols, lambda r, c: E[r, c] / sum(E.row(r)))


def attention_world(n_q: int = 2, n_k: int = 3, d_k: int = 2, d_v: int = 2) -> World:
    """One head of attention: Q (n_q x d_k), K (n_k x d_k), V (n_k x d_v), an additive
    mask M (n_q x n_k, any real entries: the algebra of a mask of 0 and -inf), the scale
    beta; S = beta Q K^T + M, P = softmax of each row of S, O = P V, each an intermediate
    with symbols of its own. The upstream gradient dO is held constant and
    L = sum_ic dO_ic O_ic. dV, dP, dS, dQ and dK are the gradients of L, computed by
    sympy: dP and dS with P and S as free symbols, the others through the whole head.
    The sizes are small; n_q != n_k, so a dropped transpose fails by shape."""
    beta = sp.Symbol("beta", positive=True)
    Q, K, V = _matrix("Q", n_q, d_k), _matrix("K", n_k, d_k), _matrix("V", n_k, d_v)
    M, dO = _matrix("M", n_q, n_k), _matrix("dO", n_q, d_v)
    S_sym, P_sym, O_sym = _matrix("S", n_q, n_k), _matrix("P", n_q, n_k), _matrix("O", n_q, d_v)
    S_def = beta * Q * K.T + M
    P_def = _row_softmax(S_sym)
    O_def = P_sym * V

    def loss(O_):
        return sum(dO.multiply_elementwise(O_))

    def grad(f, X):
        return X.applyfunc(lambda e: sp.diff(f, e))

    full = loss(_row_softmax(S_def) * V)
    values = {
        "Q": Q, "K": K, "V": V, "M": M, "dO": dO, "beta": beta,
        "S": S_sym, "P": P_sym, "O": O_sym, "L": loss(O_sym),
        "dV": grad(full, V), "dQ": grad(full, Q), "dK": grad(full, K),
        "dP": grad(loss(P_sym * V), P_sym),
        "dS": grad(loss(_row_softmax(S_sym) * V), S_sym),
        "bold1": sp.ones(n_k, 1),
    }
    intermediates = {"S": (S_sym, S_def), "P": (P_sym, P_def), "O": (O_sym, O_def)}

    def sample(rng):
        point = {beta: _positive(rng)}
        for X in (Q, K, V, M, dO):
            _fill(point, X, rng.normal(size=len(X)))
        return point

    sizes = {"n": n_k, "n_q": n_q, "n_k": n_k, "d_k": d_k, "d_v": d_v}
    return World("attention", sizes, values, intermediates, sample)


WORLDS: dict[str, Callable[[], World]] = {
    "softmax": softmax_world,
    "cross_entropy": cross_entropy_world,
    "linear": linear_world,
    "classifier": classifier_world,
    "batch": batch_world,
    "online": online_world,
    "attention": attention_world,
}

# --------------------------------------------------------------------------- evaluation


def _is_matrix(v: Any) -> bool:
    return isinstance(v, sp.MatrixBase)


def _shape(v: Any) -> tuple:
    return tuple(v.shape) if _is_matrix(v) else ()


def _scalarize(v: Any) -> Any:
    if _is_matrix(v) and v.shape == (1, 1):
        return v[0, 0]
    return v


class Evaluator:
    """Evaluate a parsed tree in a world, for one assignment of the free indices."""

    def __init__(self, world: World, assignment: dict[str, int], keep: frozenset = frozenset()):
        self.world = world
        self.env = dict(assignment)  # index letter -> 1-based value
        self.keep = keep

    def __call__(self, node: Node) -> Any:
        method = getattr(self, "ev_" + type(node).__name__, None)
        if method is None:
            raise EquationError(f"a {type(node).__name__} cannot be evaluated as a value")
        return _scalarize(method(node))

    # leaves
    def ev_Num(self, node: Num):
        return node.value

    def ev_Sym(self, node: Sym):
        w, base, indices = self.world, node.base, node.indices
        if not indices and base in self.env:  # a bare index letter, as in [i = j]
            return sp.Integer(self.env[base])
        if len(indices) == 1 and isinstance(indices[0], Name):  # x_{\max}, m_A: a name
            key = f"{base}_{indices[0].text}"
            if key not in w.values:
                raise EquationError(f"the symbol {key!r} has no meaning in the {w.name} world")
            return w.expand(w.values[key], self.keep)
        if base not in w.values:
            raise EquationError(f"the symbol {base!r} has no meaning in the {w.name} world")
        value = w.expand(w.values[base], self.keep)
        if node.sample is not None:
            if not isinstance(value, Batch):
                raise EquationError(f"{base} is not one value per sample: {base}^{{({node.sample})}} has no meaning")
            s = self.index(node.sample)
            if not 1 <= s <= len(value):
                raise EquationError(f"the sample index {node.sample} is out of range for {base}")
            value = value[s - 1]
        elif isinstance(value, Batch):
            if not indices:
                raise EquationError(f"{base} is one value per sample: write {base}_s")
            s = self.index(indices[0])
            if not 1 <= s <= len(value):
                raise EquationError(f"the sample index {indices[0]} is out of range for {base}")
            value, indices = value[s - 1], indices[1:]
        if not indices:
            return value
        idx = [self.index(i) for i in indices]
        if not _is_matrix(value):
            raise EquationError(f"{base} is a scalar and cannot take the subscript {indices}")
        rows, cols = value.shape
        if len(idx) == 1 and cols == 1:
            r, c = idx[0], 1
        elif len(idx) == 2:
            r, c = idx
        else:
            raise EquationError(f"{base} has shape {rows}x{cols}: cannot index it with {indices}")
        if not (1 <= r <= rows and 1 <= c <= cols):
            raise EquationError(f"the index {indices} is out of range for {base} of shape {rows}x{cols}")
        return value[r - 1, c - 1]

    def index(self, i: Index) -> int:
        if isinstance(i, int):
            return i
        if isinstance(i, Name) or i not in self.env:
            raise EquationError(f"the index {i!r} is neither free nor bound by a sum")
        return self.env[i]

    # arithmetic
    def ev_Add(self, node: Add):
        total = None
        for sign, term in node.terms:
            v = self(term)
            v = v if sign > 0 else -v
            if total is None:
                total = v
            elif _shape(total) != _shape(v):
                raise EquationError(f"adding shapes {_shape(total) or 'scalar'} and {_shape(v) or 'scalar'}")
            else:
                total = total + v
        return total

    def ev_Mul(self, node: Mul):
        va, vb = self(node.a), self(node.b)
        if node.kind == "odot":
            if _shape(va) != _shape(vb):
                raise EquationError(f"\\odot of shapes {_shape(va) or 'scalar'} and {_shape(vb) or 'scalar'}")
            return va.multiply_elementwise(vb) if _is_matrix(va) else va * vb
        if _is_matrix(va) and _is_matrix(vb) and va.shape[1] != vb.shape[0]:
            raise EquationError(f"a product of a {va.shape[0]}x{va.shape[1]} and a "
                                f"{vb.shape[0]}x{vb.shape[1]} matrix")
        return va * vb

    def ev_Div(self, node: Div):
        va, vb = self(node.a), self(node.b)
        if _is_matrix(vb):
            raise EquationError("division by a matrix")
        return va / vb

    def ev_Pow(self, node: Pow):
        va, vb = self(node.a), self(node.b)
        if _is_matrix(va) or _is_matrix(vb):
            raise EquationError("a power of a matrix")
        return va ** vb

    def ev_Transpose(self, node: Transpose):
        va = self(node.a)
        if not _is_matrix(va):
            raise EquationError("the transpose of a scalar")
        return va.T

    def ev_Func(self, node: Func):
        va = self(node.arg)
        if node.name == "diag":
            if not (_is_matrix(va) and va.shape[1] == 1):
                raise EquationError("diag of something that is not a column vector")
            return sp.diag(*va)
        if node.name == "rowsum":  # the column of row sums, X 1
            if not _is_matrix(va):
                raise EquationError("rowsum of something that is not a matrix")
            return va * sp.ones(va.shape[1], 1)
        if node.name in {"exp", "log"}:
            f = sp.exp if node.name == "exp" else sp.log
            return va.applyfunc(f) if _is_matrix(va) else f(va)
        raise EquationError(f"unknown function {node.name}")

    def ev_Inner(self, node: Inner):
        va, vb = self(node.a), self(node.b)
        if not (_is_matrix(va) and _is_matrix(vb) and va.shape == vb.shape and va.shape[1] == 1):
            raise EquationError("\\langle a, b \\rangle needs two column vectors of one length")
        return (va.T * vb)[0, 0]

    def ev_Sum(self, node: Sum):
        lo = self(node.lower) if node.lower is not None else sp.Integer(1)
        hi = self(node.upper) if node.upper is not None else sp.Integer(self.range_of(node.var, node.body))
        if not (lo.is_Integer and hi.is_Integer):
            raise EquationError("summation bounds must evaluate to integers")
        total = None
        for k in range(int(lo), int(hi) + 1):
            term = Evaluator(self.world, {**self.env, node.var: k}, self.keep)(node.body)
            if total is not None and _shape(total) != _shape(term):
                raise EquationError("the terms of a sum have different shapes")
            total = term if total is None else total + term
        if total is None:
            raise EquationError("an empty sum")
        return total

    def range_of(self, var: str, node: Node) -> int:
        sizes = index_sizes(node, self.world)
        if var not in sizes:
            raise EquationError(f"cannot tell the range of the summation index {var!r}: write its bounds")
        return sizes[var]

    def ev_Deriv(self, node: Deriv):
        base = node.den.base
        keep = self.keep | ({base} if base in self.world.intermediates else frozenset())
        inner = Evaluator(self.world, self.env, keep)
        wrt = inner(node.den)
        f = inner(node.num)
        atoms = list(wrt) if _is_matrix(wrt) else [wrt]
        if not all(isinstance(a, sp.Symbol) for a in atoms):
            raise EquationError(f"cannot differentiate with respect to {base}: it is not a variable here")
        if not _is_matrix(f) and not _is_matrix(wrt):
            out = sp.diff(f, wrt)
        elif not _is_matrix(f):  # gradient of a scalar: the shape of the variable
            out = wrt.applyfunc(lambda s: sp.diff(f, s))
        elif not _is_matrix(wrt):
            out = f.applyfunc(lambda e: sp.diff(e, wrt))
        elif f.shape[1] == 1 and wrt.shape[1] == 1:  # Jacobian, J[j, i] = d f_j / d x_i
            out = f.jacobian(wrt)
        else:
            raise EquationError("a derivative of a matrix with respect to a matrix")
        return self.world.expand(out, self.keep)

    def ev_Iverson(self, node: Iverson):
        va, vb = self(node.a), self(node.b)
        if _is_matrix(va) or _is_matrix(vb):
            raise EquationError("an Iverson bracket compares two numbers, not matrices")
        holds = sp.simplify(va - vb) == 0
        return sp.Integer(int(holds if node.op == "=" else not holds))


def _bare_letter(node: Node) -> str | None:
    """The letter of a symbol with no subscript and a one-letter name (``i`` in ``[i = j]``)."""
    if isinstance(node, Sym) and not node.indices and len(node.base) == 1:
        return node.base
    return None


def free_indices(node: Node, bound: frozenset = frozenset()) -> list[str]:
    """Index letters used in subscripts (or Iverson brackets) and not bound by a sum, in order."""
    out: list[str] = []

    def walk(n: Node, bound: frozenset) -> None:
        if isinstance(n, Sym):
            for i in (n.sample, *n.indices):
                if isinstance(i, str) and i not in bound and i not in out:
                    out.append(i)
            return
        if isinstance(n, Sum):
            for part in (n.lower, n.upper):
                if part is not None:
                    walk(part, bound)
            walk(n.body, bound | {n.var})
            return
        if isinstance(n, Iverson):
            for side in (n.a, n.b):
                letter = _bare_letter(side)
                if letter is None:
                    walk(side, bound)
                elif letter not in bound and letter not in out:
                    out.append(letter)
            return
        for child in n.children():
            walk(child, bound)

    walk(node, bound)
    return out


def index_sizes(node: Node, world: World) -> dict[str, int]:
    """For each index letter, the length of the axis it indexes (first use wins)."""
    sizes: dict[str, int] = {}

    def walk(n: Node) -> None:
        if isinstance(n, Sym):
            value, indices = world.values.get(n.base), n.indices
            if isinstance(value, Batch) and n.sample is not None:
                if isinstance(n.sample, str):
                    sizes.setdefault(n.sample, len(value))
                value = value[0]
            elif isinstance(value, Batch) and indices:
                if isinstance(indices[0], str):
                    sizes.setdefault(indices[0], len(value))
                value, indices = value[0], indices[1:]
            if _is_matrix(value):
                rows, cols = value.shape
                axes = [rows] if (len(indices) == 1 and cols == 1) else [rows, cols]
                for i, size in zip(indices, axes):
                    if isinstance(i, str):
                        sizes.setdefault(i, size)
            return
        for child in n.children():
            walk(child)

    walk(node)
    return sizes


def assignments(node: Node, world: World) -> list[dict[str, int]]:
    """Every assignment of the free indices of ``node`` to values (1-based)."""
    letters = free_indices(node)
    sizes = index_sizes(node, world)
    grids = [range(1, sizes.get(letter, world.n) + 1) for letter in letters]
    return [dict(zip(letters, combo)) for combo in itertools.product(*grids)]


# --------------------------------------------------------------------------- comparison

NUMERIC_POINTS = 3
TOLERANCE = 1e-20  # relative; evaluation carries 40 digits


def _as_rational_function(expr):
    """Rewrite ``expr`` with one positive symbol u per distinct exponential term.

    ``exp(beta*x_0 - beta*x_1)`` becomes ``u_0/u_1``, and ``log(u_0)`` becomes
    ``beta*x_0`` again, so a softmax identity turns into an identity between
    rational functions (and logs of sums), which ``together`` and ``expand`` decide.
    """
    cache: dict = {}

    def u(term):
        if term not in cache:
            cache[term] = sp.Symbol(f"u_{len(cache)}", positive=True)
        return cache[term]

    repl = {}
    for atom in expr.atoms(sp.exp):
        factor = sp.Integer(1)
        for part in sp.Add.make_args(sp.expand(atom.args[0])):
            coeff, rest = part.as_coeff_Mul()
            factor *= u(rest) ** coeff
        repl[atom] = factor
    expr = expr.xreplace(repl)
    if expr.has(sp.log):
        expr = sp.expand_log(expr, force=True)
        expr = expr.xreplace({sp.log(sym): term for term, sym in cache.items()})
    return expr


# Both checks below are pure functions of sympy expressions (hashable), so their answers are
# remembered for the process: the sensitivity test (tests/test_equation_sensitivity.py) checks
# 260 mutants, whose clauses other than the mutated one are the original's; remembering cut
# its time from 10.9 to 7.1 s on this machine.
_SYMBOLIC: dict = {}
_NUMERIC: dict = {}


def _key(expr):
    return sp.ImmutableMatrix(expr) if _is_matrix(expr) else sp.sympify(expr)


def symbolically_zero(diff) -> bool:
    """True when sympy proves ``diff`` is zero (for every entry of a matrix)."""
    key = _key(diff)
    if key not in _SYMBOLIC:
        _SYMBOLIC[key] = _symbolically_zero(diff)
    return _SYMBOLIC[key]


def _symbolically_zero(diff) -> bool:
    entries = list(diff) if _is_matrix(diff) else [diff]
    for e in entries:
        if e == 0:
            continue
        r = _as_rational_function(sp.sympify(e))
        if sp.expand(sp.numer(sp.together(r))) != 0:
            return False
    return True


def numerically_zero(diff, scale, points: list[dict]) -> tuple[bool, float]:
    """Evaluate ``diff`` at the given points; return (all small, largest relative error)."""
    key = (_key(diff), _key(scale),
           tuple(tuple(sorted(p.items(), key=lambda kv: str(kv[0]))) for p in points))
    if key not in _NUMERIC:
        _NUMERIC[key] = _numerically_zero(diff, scale, points)
    return _NUMERIC[key]


def _numerically_zero(diff, scale, points: list[dict]) -> tuple[bool, float]:
    worst = 0.0
    entries = list(diff) if _is_matrix(diff) else [diff]
    scales = list(scale) if _is_matrix(scale) else [scale]
    for point in points:
        subs = {s: sp.Float(v, 40) for s, v in point.items()}
        for e, s in zip(entries, scales):
            missing = sp.sympify(e).free_symbols - set(subs)
            if missing:
                raise EquationError(f"symbols without a value: {sorted(map(str, missing))}")
            val = abs(complex(sp.sympify(e).xreplace(subs).evalf(40)))
            ref = abs(complex(sp.sympify(s).xreplace(subs).evalf(40)))
            worst = max(worst, val / (1.0 + ref))
    return worst < TOLERANCE, worst


@dataclass
class Result:
    equation: Equation
    ok: bool
    method: str  # "symbolic" | "numeric"
    message: str
    comparisons: int = 0


def compare(lhs, rhs, world: World, points, what: str) -> str:
    """Raise Mismatch unless lhs == rhs; return "symbolic" or "numeric"."""
    if _shape(lhs) != _shape(rhs):
        raise Mismatch(f"{what}: shapes differ, {_shape(lhs) or 'scalar'} against {_shape(rhs) or 'scalar'}")
    diff = lhs - rhs
    if world.constraints:
        diff = diff.xreplace(world.constraints)
    ok, worst = numerically_zero(diff, lhs, points)
    if not ok:
        raise Mismatch(f"{what}: differ by {worst:.2e} (relative) at a random point")
    return "symbolic" if symbolically_zero(diff) else "numeric"


def check_equation(eq: Equation, registry: dict | None = None, seed: int = 0) -> Result:
    """Check one labelled equation. Never raises for a problem of the equation: returns a Result."""
    if registry is None:
        from equation_registry import REGISTRY as registry  # type: ignore[no-redef]
    entry = registry.get(eq.label)
    if entry is None:
        return Result(eq, False, "-", f"{eq.id}: the label is not registered; add it to "
                      f"tools/equation_registry.py with its world and reference")
    try:
        return _check(eq, entry, seed)
    except (EquationError, Mismatch) as err:
        kind = "cannot parse or evaluate" if isinstance(err, EquationError) else "is false"
        return Result(eq, False, "-", f"{eq.id} {kind}: {err}\n    latex: {eq.latex}")


def _check(eq: Equation, entry, seed: int) -> Result:
    clauses = parse(eq.latex)
    world = WORLDS[entry.world](**(entry.sizes or {}))
    rng = np.random.default_rng(seed)
    points = [world.sample(rng) for _ in range(NUMERIC_POINTS)]
    methods, count = set(), 0
    main = clauses[0]
    if not isinstance(main, Chain) or any(rel.op != "=" for rel in main.relations):
        raise EquationError("the first clause of a labelled equation must be an equality A = B")
    for clause in clauses:
        if isinstance(clause, Membership):
            _check_membership(clause, world)
            count += 1
            continue
        for rel in clause.relations:
            combos = assignments(rel, world)
            if clause is main and entry.where is not None:
                combos = [c for c in combos if entry.where({k: v - 1 for k, v in c.items()})]
                if not combos:
                    raise EquationError("no index values satisfy the registered condition")
            for assign in combos:
                ev = Evaluator(world, assign)
                lhs, rhs = ev(rel.a), ev(rel.b)
                where = f"with {_show(assign)}" if assign else ""
                if rel.op != "=":
                    raise EquationError("only equalities are checked")
                methods.add(compare(lhs, rhs, world, points, f"left and right side {where}".strip()))
                count += 1
                if clause is main and entry.reference is not None and rel is main.relations[0]:
                    ref = entry.reference(world, {k: v - 1 for k, v in assign.items()})
                    ref = world.expand(ref, frozenset())
                    compare(rhs, ref, world, points, f"the right side and the reference {where}".strip())
                    count += 1
    method = "symbolic" if methods == {"symbolic"} else "numeric"
    return Result(eq, True, method, f"{eq.id}: ok ({method}, {count} comparisons)", count)


def _check_membership(clause: Membership, world: World) -> None:
    ev = Evaluator(world, {})
    want = tuple(int(ev(d)) for d in clause.dims)
    if len(want) == 1:
        want = (want[0], 1)
    for s in clause.subjects:
        got = _shape(ev(s))
        if got != want:
            name = s.base if isinstance(s, Sym) else "an expression"
            raise Mismatch(f"{name} has shape {got or 'scalar'} in the {world.name} world, "
                           f"but the equation says {want or 'scalar'}")


def _show(assign: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in assign.items())


# --------------------------------------------------------------------------- command line


def check_book(root: Path = ROOT) -> list[Result]:
    from equation_registry import REGISTRY

    eqs = all_equations(root)
    results = [check_equation(eq, REGISTRY) for eq in eqs]
    seen: dict[str, str] = {}
    for eq in eqs:
        if eq.label in seen:
            results.append(Result(eq, False, "-", f"{eq.id}: the label is also used in {seen[eq.label]}"))
        seen[eq.label] = eq.chapter
    return results


def main() -> int:
    start = time.perf_counter()
    results = check_book()
    elapsed = time.perf_counter() - start
    per_chapter: dict[str, list[Result]] = {}
    for r in results:
        per_chapter.setdefault(r.equation.chapter, []).append(r)
    for r in results:
        if not r.ok:
            print("FAIL", r.message)
    for chapter, rs in per_chapter.items():
        good = sum(r.ok for r in rs)
        sym = sum(r.ok and r.method == "symbolic" for r in rs)
        print(f"{chapter:32s} {good}/{len(rs)} labelled equations checked ({sym} proved symbolically)")
    failed = sum(not r.ok for r in results)
    print(f"{len(results) - failed} of {len(results)} labelled equations checked, "
          f"{failed} failed, in {elapsed:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CorruptNotebook as err:
        sys.exit(f"error: {err}")
