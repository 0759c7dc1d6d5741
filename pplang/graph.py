"""The model graph: Graphviz DOT text drawn from the checked IR, before any sampling.

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
from typing import assert_never

from . import ir
from .checks import CheckedModel, names_in
from .diagnostics import Diagnostic, PplangError

IMAGE_SUFFIXES = (".png", ".svg", ".pdf")

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
        case _:
            assert_never(a)


class _Graph:
    def __init__(self, checked: CheckedModel):
        self.c = checked
        self.nodes: dict[str, tuple[str, str]] = {}  # name -> (kind, label)
        self.where: dict[str, tuple[str, ...]] = {}  # name -> plate sizes, outermost first
        self.edges: list[tuple[str, str]] = []

    def add(self, name: str, kind: str, label: str, plates: tuple[str, ...]) -> None:
        self.nodes[name] = (kind, label)
        self.where[name] = plates

    def link(self, value, target: str, skip: set[str]) -> None:
        for src in sorted(names_in(value) - skip):
            if src in self.c.symbols and src != target and (src, target) not in self.edges:
                self.edges.append((src, target))

    def plates_of(self, stmt) -> tuple[str, ...]:
        return tuple(size_text(p.size) for p in self.c.plates.get(id(stmt), ()))

    def statement(self, stmt: ir.Stmt, skip: set[str] = frozenset()) -> None:
        match stmt:
            case ir.DataDecl(name=name, type=t):
                sized = tuple(size_text(d) for d in t.dims[:1])
                self.add(name, "data", name, sized)
            case ir.DerivedData(name=name, value=value):
                self.add(name, "derived", f"{name} =", ())
                self.link(value, name, set())
            case ir.ParamDecl(name=name, type=t):
                if name in self.c.flat_params:
                    self.add(name, "latent", f"{name}\\nflat", tuple(size_text(d) for d in t.dims[:1]))
            case ir.Sample(lhs=lhs, dist=d, annotation=ann):
                site = self.c.sites.get(id(stmt))
                observed = site is not None and site.observed
                label = f"{lhs.name} ~ {d.dist}"
                if _ann(ann):
                    label += f"\\n{_ann(ann)}"
                plates = self.plates_of(stmt)
                self.add(lhs.name, "observed" if observed else "latent", label, plates)
                skip = set(skip) | {i.id for i in lhs.indices if isinstance(i, ir.Name)}
                for value in (*d.args, *(v for _, v in d.kwargs), *(b for b in d.truncation or () if b is not None)):
                    self.link(value, lhs.name, skip)
            case ir.Define(lhs=lhs, value=value):
                if lhs.name not in self.nodes:
                    self.add(lhs.name, "deterministic", f"{lhs.name} =", self.plates_of(stmt))
                self.link(value, lhs.name, set(skip) | {i.id for i in lhs.indices if isinstance(i, ir.Name)})
            case ir.Target(value=value):
                name = f"target_{stmt.span.line}"
                self.add(name, "target", f"target +=\\n(line {stmt.span.line})", ())
                for src in sorted(names_in(value)):
                    if src in self.c.symbols:
                        self.edges.append((src, name))
            case ir.For(var=var, body=body):
                for b in body:
                    self.statement(b, set(skip) | {var})
            case ir.Generated(stmt=inner):
                self.statement(inner, skip)
                name = inner.lhs.name
                kind, label = self.nodes[name]
                self.nodes[name] = ("generated", f"generated\\n{label}")
            case _:
                assert_never(stmt)

    def dot(self, title: str) -> str:
        out = [f"digraph {_quote(title)} {{", "  rankdir=TB;", '  node [fontname="Helvetica"];',
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


def to_dot(checked: CheckedModel, title: str = "model") -> str:
    """The model graph of ``checked`` as DOT text."""
    g = _Graph(checked)
    for stmt in checked.program.statements:
        g.statement(stmt)
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
        path.write_text(dot)
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
