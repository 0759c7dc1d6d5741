"""Syntax: source text -> Lark tree -> IR with spans.

The grammar lives in ``grammars/pplang.lark`` (shipped inside the package as ``pplang.grammars``).
Parsing is LALR with a small post-lexer that drops newlines inside parentheses and brackets, so
statements end at a line break but argument lists may span lines.
"""

from __future__ import annotations

import difflib
import functools
from importlib import resources
from pathlib import Path

import lark
from lark import Token, Transformer, v_args

from . import ir
from .diagnostics import Diagnostic, PplangError

GRAMMAR_FILE = "pplang.lark"

# Lark terminal names -> words for error messages.
_TOKEN_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "_NL": "end of line",
    "$END": "end of file",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "COMMA": "','",
    "COLON": "':'",
    "TILDE": "'~'",
    "VBAR": "'|'",
    "EQUAL": "'='",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "CIRCUMFLEX": "'^'",
    "MORETHAN": "'>'",
    "LESSTHAN": "'<'",
    "TYPE_NAME": "a type (int, real, vector, matrix, ...)",
    "BOUND_KIND": "'lower' or 'upper'",
}


def grammar_text() -> str:
    """The grammar source: from the installed package, or the source tree when not installed."""
    try:
        return resources.files("pplang.grammars").joinpath(GRAMMAR_FILE).read_text()
    except ModuleNotFoundError:
        return (Path(__file__).resolve().parent.parent / "grammars" / GRAMMAR_FILE).read_text()


class _Newlines:
    """Post-lexer: newlines inside () and [] are not statement ends; runs of newlines collapse."""

    always_accept = ("_NL",)

    def __init__(self):
        self.open: list[Token] = []  # brackets still open: read by the error messages

    def process(self, stream):
        self.open = []
        last = "_NL"  # drop newlines at the start of the file
        for tok in stream:
            if tok.type == "_NL":
                if self.open or last == "_NL":
                    continue
            elif tok.type in ("LPAR", "LSQB"):
                self.open.append(tok)
            elif tok.type in ("RPAR", "RSQB") and self.open:
                self.open.pop()
            last = tok.type
            yield tok


@functools.lru_cache(maxsize=1)
def parser() -> lark.Lark:
    return lark.Lark(
        grammar_text(),
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=True,
        postlex=_Newlines(),
        cache=True,
    )


def _span_of(meta_or_token) -> ir.Span:
    m = meta_or_token
    if getattr(m, "empty", False):
        return ir.NO_SPAN
    return ir.Span(m.line, m.column, m.end_line, m.end_column)


@v_args(meta=True, inline=True)
class _ToIR(Transformer):
    """Lark tree -> IR. Each method builds one node from already-transformed children."""

    # -- statements
    def start(self, meta, *stmts):
        return ir.Program(tuple(stmts))

    def data_decl(self, meta, name, type_):
        return ir.DataDecl(str(name), type_, _span_of(meta), _span_of(name))

    def derived_data(self, meta, name, indices, value):
        return ir.DerivedData(str(name), value, _span_of(meta), _span_of(name), indices or ())

    def param_decl(self, meta, name, type_):
        return ir.ParamDecl(str(name), type_, _span_of(meta), _span_of(name))

    def sample_stmt(self, meta, lhs, dist_call, annotation=None):
        return ir.Sample(lhs, dist_call, annotation or ir.Centered(), _span_of(meta))

    def define_stmt(self, meta, lhs, type_, value):
        return ir.Define(lhs, value, _span_of(meta), type=type_)

    def local_stmt(self, meta, stmt):
        return ir.Define(stmt.lhs, stmt.value, _span_of(meta), local=True, type=stmt.type)

    def target_stmt(self, meta, value):
        return ir.Target(value, _span_of(meta))

    def generated_stmt(self, meta, stmt):
        return ir.Generated(stmt, _span_of(meta))

    def for_stmt(self, meta, var, lo, hi, *body):
        return ir.For(str(var), lo, hi, tuple(body), _span_of(meta))

    def func_def(self, meta, name, params, *body):
        *locals_, value = body
        return ir.FunctionDef(str(name), params or (), value, _span_of(meta), _span_of(name), tuple(locals_))

    def func_params(self, meta, *names):
        return tuple(ir.Name(str(n), _span_of(n)) for n in names)

    def func_local(self, meta, name, value):
        return ir.Define(ir.Lhs(str(name), (), _span_of(name)), value, _span_of(meta), local=True)

    def lhs(self, meta, name, indices=None):
        return ir.Lhs(str(name), indices or (), _span_of(meta))

    # -- types
    def type(self, meta, base, bounds=None, dims=None):
        return ir.Type(str(base), bounds or (), dims or (), _span_of(meta))

    def bounds(self, meta, *items):
        return tuple(items)

    def bound(self, meta, kind, value):
        return ir.Bound(str(kind), value, _span_of(meta))

    # -- distributions and annotations
    def dist_call(self, meta, name, args=None, truncation=None):
        pos, kw = args or ((), ())
        return ir.DistCall(str(name), pos, kw, truncation, _span_of(meta), _span_of(name))

    def truncation(self, meta, lo, hi):
        return (lo, hi)

    def noncentered(self, meta):
        return ir.NonCentered(_span_of(meta))

    def centered(self, meta):
        return ir.Centered(_span_of(meta))

    def partial(self, meta, number):
        return ir.Partial(float(number), _span_of(meta))

    def auto(self, meta):
        return ir.Auto(_span_of(meta))

    def args(self, meta, *items):
        pos = tuple(v for k, v in items if k is None)
        kw = tuple((k, v) for k, v in items if k is not None)
        return pos, kw

    def pos_arg(self, meta, value):
        return (None, value)

    def kw_arg(self, meta, name, value):
        return (str(name), value)

    def index_list(self, meta, *items):
        return tuple(items)

    # -- expressions
    def number(self, meta, tok):
        text = str(tok)
        is_int = not any(c in text for c in ".eE")
        return ir.Num(float(text), is_int, _span_of(meta))

    def name(self, meta, tok):
        return ir.Name(str(tok), _span_of(meta))

    def index(self, meta, name, indices):
        return ir.Index(ir.Name(str(name), _span_of(name)), indices, _span_of(meta))

    def call(self, meta, name, args=None):
        pos, kw = args or ((), ())
        return ir.Call(str(name), pos, kw, _span_of(meta), _span_of(name))

    def bar_call(self, meta, name, first, args=None):
        pos, kw = args or ((), ())
        return ir.Call(str(name), (first,) + pos, kw, _span_of(meta), _span_of(name))

    def range_index(self, meta, lo, hi):
        return ir.Range(lo, hi, _span_of(meta))

    def array_lit(self, meta, items):
        return ir.ArrayLit(items, _span_of(meta))

    def neg(self, meta, operand):
        return ir.Neg(operand, _span_of(meta))

    def transpose(self, meta, operand):
        return ir.Transpose(operand, _span_of(meta))

    def cond(self, meta, test, then, orelse):
        return ir.Cond(test, then, orelse, _span_of(meta))


def _binop(op):
    def method(self, meta, left, right):
        return ir.BinOp(op, left, right, _span_of(meta))

    return method


for _rule, _op in {
    "add": "+", "sub": "-", "mul": "*", "div": "/", "matmul": "@", "pow": "^",
    "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
}.items():
    setattr(_ToIR, _rule, v_args(meta=True, inline=True)(_binop(_op)))


def _describe(tok_type: str) -> str:
    if tok_type in _TOKEN_WORDS:
        return _TOKEN_WORDS[tok_type]
    pattern = parser().get_terminal(tok_type).pattern if tok_type in {t.name for t in parser().terminals} else None
    if pattern is not None and pattern.type == "str":
        return repr(pattern.value)
    return tok_type.lower()


ANNOTATIONS = ("noncentered", "centered", "partial", "auto")
STATEMENT_KEYWORDS = ("data", "param", "target", "for", "generated", "local", "def")
_CLOSERS = {"LPAR": ("')'", "RPAR"), "LSQB": ("']'", "RSQB")}


def _previous_token(source: str, tok: Token) -> Token | None:
    """The token just before ``tok`` (re-lexed; comments and blanks skipped)."""
    prev = None
    try:
        for t in parser().lex(source[: tok.start_pos] if tok.type != "$END" else source):
            prev = t
    except lark.exceptions.LarkError:
        return None
    return prev


def _tok_span(tok: Token) -> ir.Span:
    return ir.Span(tok.line, tok.column, tok.line, tok.column + max(1, len(str(tok))))


def _syntax_error(exc: lark.exceptions.LarkError, source: str) -> PplangError:
    if isinstance(exc, lark.exceptions.UnexpectedToken):
        return PplangError([_unexpected_token(exc, source)])
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        span = ir.Span(exc.line, exc.column, exc.line, exc.column + 1)
        char = source[exc.pos_in_stream] if exc.pos_in_stream < len(source) else "?"
        help = "strings are not part of pplang; data comes from the JSON data file" if char in "\"'" else None
        return PplangError([Diagnostic("syntax-error", f"unexpected character {char!r}", span, help)])
    span = ir.Span(1, 1, 1, 2)
    return PplangError([Diagnostic("syntax-error", "the file could not be parsed", span)])


def _unexpected_token(exc: lark.exceptions.UnexpectedToken, source: str) -> Diagnostic:
    """A located message for a parse error, trying the common mistakes before the generic one."""
    tok: Token = exc.token
    expected = sorted({_describe(t) for t in exc.expected if not t.startswith("__")})
    open_brackets = list(parser().options.postlex.open)
    prev = _previous_token(source, tok)
    word = str(tok)
    # a bracket left open: the statement ran on into the next line
    if open_brackets:
        opener = open_brackets[-1]
        closer, closer_type = _CLOSERS[opener.type]
        if closer_type in exc.expected and (tok.type == "$END" or tok.line > opener.line):
            return Diagnostic("syntax-error", f"{opener.value!r} is never closed", _tok_span(opener),
                              f"add {closer} to close it (the next line was read as part of this statement)")
    if tok.type == "$END":
        lines = source.splitlines() or [""]
        span = ir.Span(len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 2)
        return Diagnostic("syntax-error", "the file ends in the middle of a statement"
                          + ("; expected " + _join_or(expected) if expected else ""), span)
    span = _tok_span(tok)
    found = "end of line" if tok.type == "_NL" else repr(word)
    if tok.type == "_NL":
        span = ir.Span(tok.line, tok.column, tok.line, tok.column + 1)
    generic = f"unexpected {found}" + ("; expected " + _join_or(expected) if expected else "")
    # a function definition: `def f(real t) = ...` (Stan's typed signature), a block without `return`
    line = source.splitlines()[tok.line - 1] if 0 < tok.line <= len(source.splitlines()) else ""
    if line.split(maxsplit=1)[:1] == ["def"] or "'return'" in expected:
        return Diagnostic("syntax-error", generic, span, "write `def name(a, b) = expression`, or a block "
                          "`def name(a, b) {` with `local u = ...` lines and `return expression` before `}`; "
                          "parameters take no types (a function is typed at each call)")
    # a misspelled annotation after a distribution call
    if tok.type == "NAME" and prev is not None and prev.type == "RPAR":
        match = difflib.get_close_matches(word, ANNOTATIONS, n=1, cutoff=0.6)
        if match:
            return Diagnostic("syntax-error", f"unknown annotation {word!r}", span, f'did you mean "{match[0]}"?')
        if "'~'" not in expected:
            return Diagnostic("syntax-error", generic, span,
                              f"annotations are {', '.join(ANNOTATIONS)}; a new statement needs a new line")
    # a misspelled statement keyword: `dat J: int`
    if prev is not None and prev.type == "NAME" and tok.type in ("NAME", "COLON"):
        match = difflib.get_close_matches(str(prev), STATEMENT_KEYWORDS, n=1, cutoff=0.6)
        if match:
            return Diagnostic("syntax-error", f"unknown keyword {str(prev)!r}", _tok_span(prev),
                              f'did you mean "{match[0]}"?')
    # a keyword where a name belongs: `data ~ Normal(0, 1)`
    if prev is not None and str(prev) in STATEMENT_KEYWORDS + ("in",) and tok.type != "NAME":
        return Diagnostic("syntax-error", generic, span, f"{str(prev)!r} is a keyword and cannot be used as a name")
    # `x ~ mu + 1`: the right side of ~ must be a distribution
    if prev is not None and prev.type == "NAME" and "'('" in expected and _after_tilde(source, prev):
        return Diagnostic("syntax-error", "the right side of '~' must be a distribution, like Normal(mu, sigma)",
                          span, "to define a value from an expression, use '=' instead of '~'")
    # `to_vector(z) ~ Normal(0, 1)`: a function call on the left of ~ (Stan's way of an element-wise prior)
    if tok.type == "LPAR" and prev is not None and prev.type == "NAME" and prev.column == 1 + (len(line) - len(
            line.lstrip())) and "~" in line[tok.column:]:
        return Diagnostic("syntax-error", f"the left side of '~' is a name, not a call of {str(prev)!r}", span,
                          "a prior on every element needs no conversion: `z ~ Normal(0, 1)` applies to each "
                          "element of a vector or matrix z")
    # `data y: vector[K][N]`: Stan's array of vectors
    if tok.type == "LSQB" and prev is not None and prev.type == "RSQB" and line.lstrip().startswith(
            ("data", "param", "local")):
        if line.lstrip().split(":", 1)[-1].lstrip().startswith("simplex"):
            return Diagnostic("syntax-error", "an array of simplexes is written with two sizes", span,
                              "write `simplex[N, K]` (row n is the n-th simplex of size K, `Gamma[n]`)")
        return Diagnostic("syntax-error", "an array of vectors is written as a matrix", span,
                          "write `matrix[N, K]` (row n is the n-th vector, `y[n]`) for an array of N vectors "
                          "of size K")
    # `Normal(0 5)`: a missing comma
    if open_brackets and "','" in expected and tok.type in ("NAME", "NUMBER", "LPAR", "LSQB"):
        return Diagnostic("syntax-error", f"missing ',' before {word!r}", span, "separate arguments with commas")
    if tok.type == "EQUAL" and "'~'" in expected:
        return Diagnostic("syntax-error", generic, span, "use '~' to give a distribution and '=' to define a value")
    line = source.splitlines()[tok.line - 1] if 0 < tok.line <= len(source.splitlines()) else ""
    if line.split(maxsplit=1)[:1] == ["generated"]:
        return Diagnostic("syntax-error", generic, span, "after `generated` write one definition "
                          "(`generated d = theta[1] - theta[2]`) or one draw (`generated y_rep[n] ~ Normal(...)`)")
    return Diagnostic("syntax-error", generic, span, None)


def _after_tilde(source: str, tok: Token) -> bool:
    before = source[: tok.start_pos].rstrip()
    return before.endswith("~")


def _join_or(words: list[str]) -> str:
    if len(words) > 6:
        words = words[:6] + ["..."]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def parse(source: str) -> ir.Program:
    """Parse ``source`` into an IR program, raising :class:`PplangError` on syntax errors."""
    try:
        tree = parser().parse(source)
    except lark.exceptions.UnexpectedInput as exc:
        raise _syntax_error(exc, source) from None
    return _ToIR().transform(tree)
