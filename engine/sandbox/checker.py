"""Static validation: the allow-list every expression and script is checked against, and the compile cache."""
from __future__ import annotations

import ast
import re
import textwrap
from functools import lru_cache

from . import limits
from .errors import FILENAME, SandboxError
from .methods import ALL_METHODS
from .rewriter import Rewriter

_ALLOWED_NODES = {
    ast.Expression, ast.Module, ast.Expr, ast.Assign, ast.AugAssign, ast.If, ast.For, ast.While,
    ast.Break, ast.Continue, ast.Pass, ast.Constant, ast.Name, ast.Load, ast.Store, ast.Attribute,
    ast.Subscript, ast.Slice, ast.Call, ast.keyword, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare,
    ast.IfExp, ast.NamedExpr, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.ListComp, ast.SetComp,
    ast.DictComp, ast.GeneratorExp, ast.comprehension, ast.JoinedStr, ast.FormattedValue,
    ast.And, ast.Or, ast.Not, ast.UAdd, ast.USub, ast.Invert, ast.Add, ast.Sub, ast.Mult, ast.Div,
    ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift, ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
}
# Clearer words for what people try.
_REFUSED: dict[type[ast.AST], str] = {node: f"{what} not allowed" for nodes, what in (
    ((ast.Import, ast.ImportFrom), "import statements are"), ((ast.Lambda,), "lambda is"),
    ((ast.FunctionDef, ast.AsyncFunctionDef), "function definitions (def) are"),
    ((ast.ClassDef,), "class definitions are"), ((ast.Global,), "global statements are"),
    ((ast.Nonlocal,), "nonlocal statements are"), ((ast.Try, ast.TryStar), "try statements are"),
    ((ast.With, ast.AsyncWith), "with statements are"), ((ast.Raise,), "raise statements are"),
    ((ast.Yield, ast.YieldFrom), "yield is"), ((ast.Await,), "await is"), ((ast.Delete,), "del statements are"),
    ((ast.Starred,), "* unpacking is"), ((ast.Return,), "return is")) for node in nodes}
# Builtins giving code execution, introspection or I/O. None is provided anyway; naming one is refused so
# that check() reports it at deploy time (a task-data field with such a name cannot be read; rename it).
_FORBIDDEN_NAMES = frozenset(
    "eval exec compile open getattr setattr delattr hasattr globals locals vars type object dir super "
    "breakpoint input help memoryview classmethod staticmethod property exit quit".split())
# f-string format specs: the standard mini-language with at most 3-digit width/precision (a width of 10**9
# allocates a gigabyte), or a strftime pattern for dates. Nested {} specs are refused separately.
_SPEC_RE = re.compile(r"((.?[<>=^])?[+\- ]?z?#?0?\d{0,3}[,_]?(\.\d{1,3})?[bcdeEfFgGnosxX%]?"
                      r"|%[%A-Za-z \-/:.,]{0,63})\Z")


def _validate(tree: ast.AST, shift: int) -> None:
    def fail(node, message):
        line, col = getattr(node, "lineno", None), getattr(node, "col_offset", None)
        if type(node) is ast.Attribute:  # point at the attribute, not at the start of `a.b.c`
            col = node.end_col_offset - len(node.attr)
        raise SandboxError(message, line, None if col is None else col + 1 - (shift if line == 1 else 0))

    def name(node, value):
        if value.startswith("_"):
            fail(node, f"names starting with '_' are not allowed: '{value}'")

    # The node types are checked exactly against the allow-list; past that, isinstance tells type checkers which
    # node each branch reads (the parser makes no subclasses of these node types).
    for node in ast.walk(tree):
        t = type(node)
        if t not in _ALLOWED_NODES:
            fail(node, _REFUSED.get(t, f"'{t.__name__}' syntax is not allowed"))
        if isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) not in _ALLOWED_NODES:  # ops carry no line
            fail(node, f"operator '{type(node.op).__name__}' is not allowed")
        if isinstance(node, ast.Name):
            name(node, node.id)
            if node.id in _FORBIDDEN_NAMES:
                fail(node, f"name '{node.id}' is not allowed (built-in that could escape the sandbox)")
        elif isinstance(node, ast.Attribute):
            name(node, node.attr)
            if type(node.ctx) is not ast.Load:
                fail(node, "assigning to attributes is not allowed")
            if node.attr in ("format", "format_map"):
                fail(node, f"'{node.attr}' is not allowed (format strings can read attributes); use an f-string")
            if node.attr not in ALL_METHODS:
                fail(node, f"attribute '{node.attr}' is not allowed")
        elif isinstance(node, ast.keyword):
            if node.arg is None:
                fail(node, "** unpacking is not allowed")
            name(node, node.arg)
        elif isinstance(node, ast.Dict) and None in node.keys:
            fail(node, "** unpacking is not allowed")
        elif isinstance(node, ast.Constant) and type(node.value) not in (str, int, float, bool, type(None)):
            fail(node, f"{type(node.value).__name__} literals are not allowed")
        elif isinstance(node, ast.comprehension) and node.is_async:
            fail(node.target, "async comprehensions are not allowed")
        elif isinstance(node, ast.Subscript) and type(node.ctx) is ast.Store and type(node.slice) is ast.Slice:
            fail(node, "slice assignment is not allowed")
        elif isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            # The parser makes the spec a JoinedStr; only its literal text is allowed (anything else is refused).
            parts = node.format_spec.values if isinstance(node.format_spec, ast.JoinedStr) else [node.format_spec]
            texts = [p.value for p in parts if type(p) is ast.Constant and isinstance(p.value, str)]
            if len(texts) != len(parts):
                fail(node, "nested {} in an f-string format spec are not allowed")
            spec = "".join(texts)
            if not _SPEC_RE.match(spec):
                fail(node, f"f-string format spec '{spec}' is not allowed")


def compile_source(source: str, mode: str):
    """Check source and compile it with every operation routed through the guards: (code, names it reads)."""
    if mode not in ("eval", "exec"):
        raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
    if not isinstance(source, str):
        raise SandboxError(f"source must be a string, not {type(source).__name__}")
    return _compile_str(source, mode)


@lru_cache(maxsize=512)  # gateway conditions are evaluated again and again; code objects are immutable
def _compile_str(source: str, mode: str):
    if len(source) > limits.MAX_SOURCE_LEN:
        raise SandboxError(f"source too long: {len(source)} characters (limit {limits.MAX_SOURCE_LEN})")
    if mode == "eval":
        if not source.strip():
            raise SandboxError("empty expression")
        # BPMN XML surrounds expressions with newlines and indentation; parentheses accept that (and
        # multi-line expressions) and keep line numbers. Line 1 columns shift by one, corrected on errors.
        text, shift = "(" + source + "\n)", 1
    else:
        text, shift = textwrap.dedent(source), 0
    try:
        tree = ast.parse(text, FILENAME, mode)
        _validate(tree, shift)
        names = frozenset(n.id for n in ast.walk(tree) if type(n) is ast.Name)
        tree = ast.fix_missing_locations(Rewriter().visit(tree))
        return compile(tree, FILENAME, mode, dont_inherit=True), names
    except SyntaxError as e:
        col = e.offset - (shift if e.lineno == 1 else 0) if e.offset else None
        raise SandboxError(f"syntax error: {e.msg}", e.lineno, col) from None
    except (RecursionError, MemoryError):
        raise SandboxError("expression is too deeply nested") from None
    except ValueError as e:  # e.g. null bytes
        raise SandboxError(f"cannot be parsed: {e}") from None
