"""The model graph: Graphviz DOT text drawn from the checked model, before any sampling.

Nodes: data (boxes), derived data (dashed boxes), latent variables (ellipses), observed variables
(grey ellipses), deterministic quantities (dashed ellipses), ``target +=`` terms (a note) and
generated quantities (dotted ellipses, labelled ``generated``).
Labels give the distribution and the parameterisation (``theta ~ Normal`` / ``noncentered``).
Plates are clusters labelled with their size (``J``); nested plates are nested clusters. An edge
runs from every name a statement's right side uses to the quantity it defines. Importing this
module does not import JAX.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from . import ir
from ._compat import assert_never
from .checks.context import names_in
from .spec import Chain, Definition, Factor, FlatParam, InitElement, Loop, Plate, Role, Site, Spec, TExpr
from .diagnostics import Diagnostic, PplangError

IMAGE_SUFFIXES = (".png", ".svg", ".pdf")
SUFFIXES = (".dot", ".gv", *IMAGE_SUFFIXES)

STYLE = {
    "data": 'shape=box',
    "derived": 'shape=box, style=dashed',
    "latent": 'shape=ellipse',
    "observed": 'shape=ellipse, style=filled, fillcolor="#d9d9d9"',
    "deterministic": 'shape=ellipse, style=dashed',
    "target": 'shape=note',
    "generated": 'shape=ellipse, style=dotted',
}


def size_text(e: ir.Expr) -> str:
    """A size expression as written: ``J``, ``N - 1``, ``3``."""
    match e:
        case ir.Num(value=v):
            return str(int(v)) if float(v).is_integer() else repr(v)
        case ir.Name(id=name):
            return name
        case ir.BinOp(op=op, left=a, right=b):
            return f"{size_text(a)} {op} {size_text(b)}"
        case ir.Neg(operand=a):
            return f"-{size_text(a)}"
        case ir.Call(func=f, args=args):
            return f"{f}({', '.join(size_text(a) for a in args)})"
        case ir.Index(base=base, indices=idx):
            return f"{base.id}[{', '.join(size_text(i) for i in idx)}]"
    return "?"


def _ann(a: ir.Annotation) -> str:
    match a:
        case ir.Centered():
            return ""
        case ir.NonCentered():
            return "noncentered"
        case ir.Partial(centered=c):
            return f"partial({c:g})"
        case ir.Auto():
            return "auto"
        case ir.PerElement():
            return "centring per element (auto)"
        case _:
            assert_never(a)


class _Graph:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.nodes: dict[str, tuple[str, str]] = {}  # name -> (kind, label)
        self.where: dict[str, tuple[str, ...]] = {}  # name -> plate sizes, outermost first
        self.edges: list[tuple[str, str]] = []

    def add(self, name: str, kind: str, label: str, plates: tuple[str, ...]) -> None:
        self.nodes[name] = (kind, label)
        self.where[name] = plates

    def link(self, value: TExpr | None, target: str, skip: set[str] = frozenset()) -> None:
        if value is None:
            return
        for src in sorted(names_in(value.node) - set(skip)):
            if src in self.spec.symbols and src != target and (src, target) not in self.edges:
                self.edges.append((src, target))

    @staticmethod
    def sizes(plates: tuple[Plate, ...]) -> tuple[str, ...]:
        return tuple(size_text(p.size) for p in plates)

    def item(self, item) -> None:
        match item:
            case FlatParam(name=name, type=t):
                self.add(name, "latent", f"{name}\\nflat", tuple(size_text(d) for d in t.shape[:1]))
            case Site():
                label = f"{item.name} ~ {item.dist.name}" + (f"\\n{_ann(item.reparam)}" if _ann(item.reparam) else "")
                self.add(item.name, "observed" if item.observed else "latent", label, self.sizes(item.plates))
                skip = {p.index for p in item.plates}
                for _, te in item.args:
                    self.link(te, item.name, skip)
                for te in item.truncation or ():
                    self.link(te, item.name, skip)
            case Definition() | InitElement():
                if item.name not in self.nodes:
                    self.add(item.name, "deterministic", f"{item.name} =", self.sizes(item.plates))
                self.link(item.value, item.name, {p.index for p in item.plates})
            case Factor(value=value):
                name = f"target_{item.span.line}"
                self.add(name, "target", f"target +=\\n(line {item.span.line})", ())
                for src in sorted(names_in(value.node)):
                    if src in self.spec.symbols:
                        self.edges.append((src, name))
            case Chain():  # the chain's node (its first element's site), its step's inputs, its observations
                self.add(item.name, "latent", f"{item.name} ~ {item.first.dist.name}\\nhidden Markov chain",
                         (size_text(item.length),))
                for _, te in item.first.args:
                    self.link(te, item.name)
                for _, te in item.step.args:
                    self.link(te, item.name, {p.index for p in item.step.plates})
                for e in item.emissions:
                    self.item(e.site)
                    if (item.name, e.site.name) not in self.edges:
                        self.edges.append((item.name, e.site.name))
            case Loop():
                for b in item.body:
                    if b.name not in self.nodes:
                        self.add(b.name, "deterministic", f"{b.name} =", self.sizes(b.plates))
                    self.link(b.value, b.name, {item.var} | {p.index for p in b.plates})
            case _:
                assert_never(item)

    def dot(self, title: str) -> str:
        out = [f"digraph {_quote(_title(title))} {{", "  rankdir=TB;", '  node [fontname="Helvetica"];',
               '  graph [fontname="Helvetica"];']
        keys = sorted({self.where[n] for n in self.nodes if self.where[n]}, key=lambda k: (len(k), k))
        # a plate whose sizes extend another's is drawn inside it
        parent = {k: max((p for p in keys if len(p) < len(k) and k[: len(p)] == p), key=len, default=())
                  for k in keys}
        counter = iter(range(1, 10**6))

        def emit(key: tuple[str, ...], depth: int) -> None:
            pad = "  " * depth
            for name in self.nodes:
                if self.where[name] == key:
                    kind, label = self.nodes[name]
                    out.append(f"{pad}{_quote(name)} [label={_quote(label)}, {STYLE[kind]}];")
            for child in (k for k in keys if parent[k] == key):
                out.append(f"{pad}subgraph cluster_{next(counter)} {{")
                out.append(f"{pad}  label={_quote(child[-1])}; labeljust=r; labelloc=b; style=rounded;")
                emit(child, depth + 1)
                out.append(f"{pad}}}")

        emit((), 1)
        for a, b in self.edges:
            out.append(f"  {_quote(a)} -> {_quote(b)};")
        out.append("}")
        return "\n".join(out) + "\n"


def _quote(s: str) -> str:
    return '"' + s.replace('"', '\\"') + '"'


def _title(text: str) -> str:
    """Free text (the model's file name) as a DOT name: a backslash or a line break in a quoted
    DOT string has no escaped form that is safe before the closing quote, so each becomes ``_``."""
    return "".join(c if c.isprintable() and c != "\\" else "_" for c in text)


def to_dot(spec: Spec, title: str = "model") -> str:
    """The model graph of the checked model ``spec`` as DOT text."""
    g = _Graph(spec)
    for sym in spec.of_role(Role.DATA):
        g.add(sym.name, "data", sym.name, tuple(size_text(d) for d in sym.type.shape[:1]))
    for d in spec.derived:
        g.add(d.name, "derived", f"{d.name} =", ())
        g.link(d.value, d.name)
    for item in spec.items:
        g.item(item)
    for item in spec.generated:
        g.item(item)
        kind, label = g.nodes[item.name]
        g.nodes[item.name] = ("generated", f"generated\\n{label}")
    # data used only as a size (J) is shown in the plate labels, not as a node
    used = {a for a, _ in g.edges} | {b for _, b in g.edges}
    for name, (kind, _) in list(g.nodes.items()):
        if kind == "data" and name not in used:
            del g.nodes[name]
    return g.dot(title)


def render(dot: str, path: Path) -> None:
    """Write ``dot`` to ``path``: DOT text for ``.dot``/``.gv``, an image drawn by Graphviz for
    ``.png``/``.svg``/``.pdf``."""
    suffix = path.suffix.lower()
    if suffix in (".dot", ".gv", ""):
        from .guards import write_text

        write_text(path, dot)
        return
    if suffix not in IMAGE_SUFFIXES:
        raise PplangError([Diagnostic("output-format", f"cannot write a graph to {path}",
                                      help="use .dot (DOT text), .png, .svg or .pdf")])
    exe = shutil.which("dot")
    if exe is None:
        raise PplangError([Diagnostic("graphviz-missing", f"cannot draw {path}: Graphviz's `dot` is not installed",
                                      help=f"write DOT text instead: -o {path.with_suffix('.dot')}")])
    r = subprocess.run([exe, f"-T{suffix[1:]}", "-o", str(path)], input=dot, text=True, capture_output=True)
    if r.returncode != 0:
        raise PplangError([Diagnostic("graphviz-missing", f"dot failed: {r.stderr.strip()}")])
