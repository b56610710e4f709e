"""Safe evaluation of the expressions and scripts that come from BPMN files.

Gateway conditions, timers, script tasks and service-task parameters come from whoever uploads a process:
untrusted input that must not import, open files, reach Python internals or stall the worker. Swapping
``__builtins__`` alone is escapable, so: (1) ``check`` walks the AST against an allow-list of node types and
refuses every name/attribute/keyword starting with ``_``, dangerous builtins by name, and any attribute that
is not one of a few safe methods; (2) the AST is rewritten so attribute access, calls, binary operators,
subscripts, comparisons, loop iterations and f-strings go through the guards of a per-run ``_Run``, which
re-check types, count steps, watch the clock and refuse oversized results *before* allocating them;
(3) the code runs with ``__builtins__`` holding only a few safe or guarded functions.

Data model: values must be *plain data* -- None, bool, int, float, str, Decimal, date, datetime, time,
timedelta and list/tuple/dict/set/frozenset of those, exact types (a subclass could run host code). A
variable the code names that holds anything else (module, function, class, object) is refused, so task data
is no route out; variables the code does not name are not inspected. Expression results, names a script
binds and variables mutated in place must be plain data too. As with SpiffWorkflow's own engine, a failing
script's in-place mutations are not rolled back (the caller's transaction is the unit of undo).
Residual risk: one C-level operation cannot be interrupted; the size and node limits bound its work, but
run workers under OS limits (memory, CPU time) as the outer wall.
"""
from __future__ import annotations

import ast
import copy
import datetime as _dt
import decimal
import json
import operator
import re
import textwrap
import time
from functools import lru_cache
from types import MethodType

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

MAX_SOURCE_LEN = 50_000        # characters of one expression or script
MAX_STEPS = 100_000            # loop iterations + calls per evaluation
MAX_SECONDS = 2.0              # wall time per evaluation
MAX_STR_LEN = 1_000_000        # characters in one string the sandbox builds
MAX_ITEMS = 100_000            # items in one list/tuple/dict/set the sandbox builds; also max range() length
MAX_INT_BITS = 100_000         # ~30,000 decimal digits
MAX_ALLOC_TOTAL = 20_000_000   # characters + items of all strings/collections built in one evaluation
MAX_NODES = 200_000            # objects visited when checking data or weighing an operand
_FILENAME = "<sandbox>"


class SandboxError(Exception):
    """Refused or failed sandboxed code; ``line`` and ``col`` (1-based) locate it when known."""

    def __init__(self, message: str, line: int | None = None, col: int | None = None):
        self.message, self.line, self.col = message, line, col
        where = "" if line is None else f"line {line}: "
        tail = "" if line is None or col is None else f" (column {col})"
        super().__init__(f"{where}{message}{tail}")


_LEAVES = {type(None), bool, int, float, str, decimal.Decimal, _dt.date, _dt.datetime, _dt.time, _dt.timedelta}
_CONTAINERS = {list, tuple, dict, set, frozenset}
_VIEWS = {type({}.keys()), type({}.values()), type({}.items())}
_DATA = _LEAVES | _CONTAINERS
_SIZED = {str, list, tuple, dict, set, frozenset}
_INTS, _SEQS, _NUMBERS = {int, bool}, {str, list, tuple}, {int, bool, float, decimal.Decimal}


def _walk(obj, what: str, strict: bool) -> int:
    """Visit obj and everything in it (iteratively); return an upper estimate of len(repr(obj)).

    Shared references count each time they are met, so structures that would make comparison, hashing or
    str() exponential in C (``x = [x, x]`` repeated) exceed MAX_NODES instead of stalling the worker.
    strict=True refuses anything that is not plain data."""
    size, nodes, stack = 0, 0, [obj]
    while stack:
        o = stack.pop()
        t = type(o)
        nodes += 1
        if t in _CONTAINERS or (not strict and t in _VIEWS):
            if nodes + len(stack) + len(o) > MAX_NODES:
                raise SandboxError(f"{what} is too large (more than {MAX_NODES} objects)")
            size += 2 + 4 * len(o)
            stack.extend(o.items() if t is dict else o)
        elif t is str:
            size += len(o) + 2 if o.isascii() else 10 * len(o) + 2  # repr may escape non-ASCII
        elif t is int:
            size += o.bit_length() // 3 + 2
        elif t in _LEAVES or not strict:
            size += 40
        else:
            raise SandboxError(f"{what} holds a '{t.__name__}' value; only plain data "
                               "(numbers, strings, dates, lists, dicts, ...) is allowed")
    return size


def _limit(kind: type, n: int) -> None:
    cap, unit = (MAX_STR_LEN, "characters") if kind is str else (MAX_ITEMS, "items")
    if n > cap:
        raise SandboxError(f"result too large: {n} {unit} (limit {cap})")


def _bits(n: int) -> None:
    if n > MAX_INT_BITS:
        raise SandboxError(f"integer result too large: about {n} bits (limit {MAX_INT_BITS})")


# -------------------------------------------------------------------------------- static validation
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
_REFUSED = {node: f"{what} not allowed" for nodes, what in (  # clearer words for what people try
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
_METHODS = {
    str: frozenset("lower upper strip lstrip rstrip startswith endswith split rsplit splitlines join replace "
                   "count index find rfind title capitalize casefold isdigit isalpha isalnum isspace islower "
                   "isupper isdecimal isnumeric partition rpartition".split()),
    list: frozenset("append extend insert pop remove index count copy sort reverse clear".split()),
    dict: frozenset("get keys values items pop setdefault update copy clear".split()),
    set: frozenset("add discard remove pop copy clear issubset issuperset".split()),
    frozenset: frozenset("copy issubset issuperset".split()),
    tuple: frozenset("count index".split()),
}
_ALL_METHODS = frozenset().union(*_METHODS.values())
_ALLOCATING = frozenset("copy split rsplit splitlines lower upper strip lstrip rstrip title capitalize "
                        "casefold partition rpartition replace join".split())
_KEYED = frozenset("get pop setdefault update add discard remove index count issubset issuperset".split())
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

    for node in ast.walk(tree):
        t = type(node)
        if t not in _ALLOWED_NODES:
            fail(node, _REFUSED.get(t, f"'{t.__name__}' syntax is not allowed"))
        if t in (ast.BinOp, ast.AugAssign) and type(node.op) not in _ALLOWED_NODES:  # ops carry no line
            fail(node, f"operator '{type(node.op).__name__}' is not allowed")
        if t is ast.Name:
            name(node, node.id)
            if node.id in _FORBIDDEN_NAMES:
                fail(node, f"name '{node.id}' is not allowed (built-in that could escape the sandbox)")
        elif t is ast.Attribute:
            name(node, node.attr)
            if type(node.ctx) is not ast.Load:
                fail(node, "assigning to attributes is not allowed")
            if node.attr in ("format", "format_map"):
                fail(node, f"'{node.attr}' is not allowed (format strings can read attributes); use an f-string")
            if node.attr not in _ALL_METHODS:
                fail(node, f"attribute '{node.attr}' is not allowed")
        elif t is ast.keyword:
            if node.arg is None:
                fail(node, "** unpacking is not allowed")
            name(node, node.arg)
        elif t is ast.Dict and None in node.keys:
            fail(node, "** unpacking is not allowed")
        elif t is ast.Constant and type(node.value) not in (str, int, float, bool, type(None)):
            fail(node, f"{type(node.value).__name__} literals are not allowed")
        elif t is ast.comprehension and node.is_async:
            fail(node.target, "async comprehensions are not allowed")
        elif t is ast.Subscript and type(node.ctx) is ast.Store and type(node.slice) is ast.Slice:
            fail(node, "slice assignment is not allowed")
        elif t is ast.FormattedValue and node.format_spec is not None:
            if not all(type(p) is ast.Constant for p in node.format_spec.values):
                fail(node, "nested {} in an f-string format spec are not allowed")
            spec = "".join(p.value for p in node.format_spec.values)
            if not _SPEC_RE.match(spec):
                fail(node, f"f-string format spec '{spec}' is not allowed")


# ---------------------------------------------------------------------------------------- rewriting
def _g(name: str, *args: ast.expr, like: ast.AST) -> ast.Call:
    return ast.copy_location(ast.Call(ast.Name(name, ast.Load()), list(args), []), like)


class _Rewriter(ast.NodeTransformer):
    """Routes every operation that can reach an object's behaviour through a ``_g_*`` guard. User code
    cannot name or rebind the guards: names starting with '_' are refused."""

    def visit_Attribute(self, node):
        self.generic_visit(node)
        return _g("_g_attr", node.value, ast.Constant(node.attr), like=node)

    def visit_Call(self, node):
        self.generic_visit(node)
        call = _g("_g_call", node.func, *node.args, like=node)
        call.keywords = node.keywords
        return call

    def visit_BinOp(self, node):
        self.generic_visit(node)
        return _g("_g_bin", ast.Constant(type(node.op).__name__), node.left, node.right, like=node)

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        op, target = ast.Constant(type(node.op).__name__), node.target
        if type(target) is ast.Name:
            value = _g("_g_bin", op, ast.Name(target.id, ast.Load()), node.value, ast.Constant(True), like=node)
            return ast.copy_location(ast.Assign([target], value), node)
        call = _g("_g_augitem", target.value, target.slice, op, node.value, like=node)  # key already weighed
        return ast.copy_location(ast.Expr(call), node)

    def visit_Compare(self, node):  # comparing nested containers walks them in C: weigh them first
        self.generic_visit(node)
        node.left = _g("_g_w", node.left, like=node.left)
        node.comparators = [_g("_g_w", c, like=c) for c in node.comparators]
        return node

    def visit_Subscript(self, node):
        self.generic_visit(node)
        if type(node.ctx) is ast.Load:
            return _g("_g_item", node.value, node.slice, like=node)
        node.slice = _g("_g_w", node.slice, like=node.slice)  # tuple keys are hashed in C
        return node

    def visit_Slice(self, node):
        self.generic_visit(node)
        parts = [p if p is not None else ast.Constant(None) for p in (node.lower, node.upper, node.step)]
        return _g("_g_slice", *parts, like=node)

    def _iterates(self, node):
        self.generic_visit(node)
        node.iter = _g("_g_iter", node.iter, like=node.iter)
        return node

    visit_For = visit_comprehension = _iterates

    def visit_While(self, node):
        self.generic_visit(node)
        node.test = _g("_g_tick", node.test, like=node.test)
        return node

    def _hashed(self, node):  # dict keys and set elements are hashed in C: weigh them first
        self.generic_visit(node)
        field = {ast.Dict: "keys", ast.Set: "elts", ast.DictComp: "key", ast.SetComp: "elt"}[type(node)]
        value = getattr(node, field)
        setattr(node, field, [_g("_g_w", v, like=v) for v in value] if type(value) is list
                else _g("_g_w", value, like=value))
        return node

    visit_Dict = visit_Set = visit_DictComp = visit_SetComp = _hashed

    def visit_JoinedStr(self, node):
        parts = [v if type(v) is ast.Constant else _g(
            "_g_fmt", self.visit(v.value), ast.Constant(v.conversion),
            ast.Constant("".join(p.value for p in v.format_spec.values) if v.format_spec else ""), like=v)
            for v in node.values]
        return _g("_g_fstr", *parts, like=node)


def _compile(source: str, mode: str):
    if mode not in ("eval", "exec"):
        raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
    if not isinstance(source, str):
        raise SandboxError(f"source must be a string, not {type(source).__name__}")
    return _compile_str(source, mode)


@lru_cache(maxsize=512)  # gateway conditions are evaluated again and again; code objects are immutable
def _compile_str(source: str, mode: str):
    if len(source) > MAX_SOURCE_LEN:
        raise SandboxError(f"source too long: {len(source)} characters (limit {MAX_SOURCE_LEN})")
    if mode == "eval":
        if not source.strip():
            raise SandboxError("empty expression")
        # BPMN XML surrounds expressions with newlines and indentation; parentheses accept that (and
        # multi-line expressions) and keep line numbers. Line 1 columns shift by one, corrected on errors.
        text, shift = "(" + source + "\n)", 1
    else:
        text, shift = textwrap.dedent(source), 0
    try:
        tree = ast.parse(text, _FILENAME, mode)
        _validate(tree, shift)
        names = frozenset(n.id for n in ast.walk(tree) if type(n) is ast.Name)
        tree = ast.fix_missing_locations(_Rewriter().visit(tree))
        return compile(tree, _FILENAME, mode, dont_inherit=True), names
    except SyntaxError as e:
        col = e.offset - (shift if e.lineno == 1 else 0) if e.offset else None
        raise SandboxError(f"syntax error: {e.msg}", e.lineno, col) from None
    except (RecursionError, MemoryError):
        raise SandboxError("expression is too deeply nested") from None
    except ValueError as e:  # e.g. null bytes
        raise SandboxError(f"cannot be parsed: {e}") from None


# ------------------------------------------------------------------------------------------ runtime
_OPS = {name: (getattr(operator, fn), getattr(operator, "i" + fn.rstrip("_")), sym) for name, fn, sym in (
    ("Add", "add", "+"), ("Sub", "sub", "-"), ("Mult", "mul", "*"), ("Div", "truediv", "/"),
    ("FloorDiv", "floordiv", "//"), ("Mod", "mod", "%"), ("Pow", "pow", "**"), ("LShift", "lshift", "<<"),
    ("RShift", "rshift", ">>"), ("BitOr", "or_", "|"), ("BitXor", "xor", "^"), ("BitAnd", "and_", "&"))}
_OPERANDS = _DATA | _VIEWS
# Safe as they are: they only read their arguments and build nothing large.
_RAW_BUILTINS = {f.__name__: f for f in (len, abs, any, all, float, bool, enumerate, zip)}
_RAW_IDS = frozenset(id(f) for f in _RAW_BUILTINS.values())
# Guarded as _Run.b_<name>: they allocate, compare or hash elements in C, or take sizes.
_WRAPPED = ("min", "max", "sum", "round", "sorted", "int", "str", "list", "dict", "set", "tuple", "range")
_CONVERSIONS = {ord("s"): str, ord("r"): repr, ord("a"): ascii}


class _Bound:
    """A safe method bound to its receiver; calling it (even from C, as a sort key) re-enters the guards."""
    __slots__ = ("run", "obj", "name")

    def __init__(self, run, obj, name):
        self.run, self.obj, self.name = run, obj, name

    def __call__(self, *args, **kwargs):
        return self.run.method(self.obj, self.name, args, kwargs)


class _Run:
    """Budgets and guards of one evaluation (never shared, so concurrent evaluations are independent)."""

    def __init__(self):
        self.steps, self.allocated = 0, 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def namespace(self) -> dict:
        builtins = dict(_RAW_BUILTINS, **{name: getattr(self, "b_" + name) for name in _WRAPPED})
        return {"__builtins__": builtins, "_g_attr": self.attr, "_g_call": self.call, "_g_bin": self.binop,
                "_g_item": self.item, "_g_augitem": self.augitem, "_g_w": self.weigh, "_g_iter": self.iterate,
                "_g_tick": self.tick, "_g_slice": slice, "_g_fmt": self.fmt, "_g_fstr": self.fstr}

    def tick(self, value=True):
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise SandboxError(f"step budget exceeded: more than {MAX_STEPS} loop iterations and calls")
        if time.monotonic() > self.deadline:
            raise SandboxError(f"time budget exceeded: ran longer than {MAX_SECONDS} s")
        return value

    def charge(self, obj, n=None):
        self.allocated += (len(obj) if type(obj) in _SIZED else 0) if n is None else n
        if self.allocated > MAX_ALLOC_TOTAL:
            raise SandboxError(f"memory budget exceeded: more than {MAX_ALLOC_TOTAL} characters/items built")
        return obj

    def weigh(self, obj):
        if type(obj) in _CONTAINERS or type(obj) in _VIEWS:
            _walk(obj, "operand", False)
        return obj

    def iterate(self, iterable):
        for item in iterable:
            self.tick()
            yield item

    def safe_callable(self, f) -> bool:
        return (type(f) is _Bound and f.run is self) or id(f) in _RAW_IDS or (
            type(f) is MethodType and f.__self__ is self and f.__func__.__name__.startswith("b_"))

    def check_key(self, key):  # C calls key functions directly, not through _g_call
        if key is not None and not self.safe_callable(key):
            raise SandboxError(f"key= must be a built-in or method, not '{type(key).__name__}'")

    def call(self, f, /, *args, **kwargs):
        self.tick()
        if not self.safe_callable(f):
            raise SandboxError(f"'{type(f).__name__}' values cannot be called")
        return f(*args, **kwargs)

    def attr(self, obj, name):
        if name not in _METHODS.get(type(obj), ()):
            raise SandboxError(f"attribute '{name}' is not allowed on '{type(obj).__name__}' values")
        return _Bound(self, obj, name)

    def method(self, obj, name, args, kwargs):
        t, first = type(obj), args[0] if args else None
        if name in ("sort", "index", "count", "remove") and t in (list, tuple):
            _walk(obj, "the list", False)  # these compare every element in C
        if name in _KEYED:
            for a in (*args, *kwargs.values()):
                self.weigh(a)
        if name == "sort":
            self.check_key(kwargs.get("key"))
        if t is str and name == "replace" and len(args) >= 2 and type(first) is str and type(args[1]) is str:
            if len(args[1]) > len(first):  # '' matches len+1 times
                hits = obj.count(first) if first else len(obj) + 1
                _limit(str, len(obj) + hits * (len(args[1]) - len(first)))
        elif t is str and name == "join" and args:
            items = list(first)
            _limit(str, sum(len(s) for s in items if type(s) is str) + len(obj) * max(len(items) - 1, 0))
            args = (items,)
        elif name in ("extend", "update") and (type(first) in _SIZED or type(first) in (range, *_VIEWS)):
            _limit(list, len(obj) + len(first))
            self.charge(None, len(first))
        result = getattr(obj, name)(*args, **kwargs)
        return self.charge(result) if name in _ALLOCATING else result

    def binop(self, op, a, b, inplace=False):
        fn, ifn, sym = _OPS[op]
        ta, tb = type(a), type(b)
        if ta not in _OPERANDS or tb not in _OPERANDS:
            raise SandboxError(f"unsupported operand types for {sym}: '{ta.__name__}' and '{tb.__name__}'")
        if op == "Mod" and ta is str:
            raise SandboxError("'%' string formatting is not allowed; use an f-string")
        if op == "Add" and ta in _SEQS and (tb in _SIZED or tb in _VIEWS):  # list += str extends too
            _limit(ta, len(a) + len(b))
        elif op == "Mult":
            if ta in _SEQS and tb in _INTS:
                _limit(ta, len(a) * b)
            elif tb in _SEQS and ta in _INTS:
                _limit(tb, len(b) * a)
            elif ta in _INTS and tb in _INTS:
                _bits(a.bit_length() + b.bit_length())
        elif op == "Pow" and ta in _INTS and tb in _INTS and b > 0 and a not in (0, 1, -1):
            _bits(a.bit_length() * b)
        elif op == "LShift" and ta in _INTS and tb in _INTS and b > 0:
            _bits(a.bit_length() + b)
        elif op == "BitOr" and ta in (dict, set, frozenset):
            _limit(list, len(a) + len(b))
        if inplace and ta in (list, dict, set):  # mutated in place: only the added part is new
            return self.charge(ifn(a, b), len(b) if tb in _SIZED else None)
        return self.charge(fn(a, b))

    def item(self, obj, key):
        if type(obj) not in (str, list, tuple, dict, range):
            raise SandboxError(f"'{type(obj).__name__}' values cannot be subscripted")
        if type(key) is slice:
            return self.charge(obj[key])  # a slice copies at most len(obj)
        return obj[self.weigh(key)]

    def augitem(self, obj, key, op, value):
        obj[key] = self.binop(op, self.item(obj, key), value, True)

    def fmt(self, value, conversion, spec):
        if type(value) not in _DATA:
            raise SandboxError(f"'{type(value).__name__}' values cannot be formatted")
        if _walk(value, "f-string value", False) > MAX_STR_LEN:
            raise SandboxError(f"f-string value too large (limit {MAX_STR_LEN} characters)")
        return format(_CONVERSIONS[conversion](value) if conversion in _CONVERSIONS else value, spec)

    def fstr(self, *parts):
        _limit(str, sum(len(p) for p in parts))
        return self.charge("".join(parts))

    def items(self, iterable, compared):
        items = list(iterable)  # generator expressions tick as they go; other inputs are already bounded
        _limit(list, len(items))
        if compared:  # min/max/sorted/set/dict compare or hash the items in C
            _walk(items, "argument", False)
        return self.charge(items)

    # --- the guarded builtins, exposed without the b_ prefix
    def b_min(self, *args, **kwargs):
        self.check_key(kwargs.get("key"))
        return min(self.items(args[0] if len(args) == 1 else args, True), **kwargs)

    def b_max(self, *args, **kwargs):
        self.check_key(kwargs.get("key"))
        return max(self.items(args[0] if len(args) == 1 else args, True), **kwargs)

    def b_sum(self, iterable, start=0):
        items = [start, *iterable]
        if any(type(x) not in _NUMBERS for x in items):  # sum(lists, []) would concatenate in C
            raise SandboxError("sum() adds numbers only")
        return sum(items[1:], start)

    def b_round(self, number, ndigits=None):
        if ndigits is not None and (type(ndigits) not in _INTS or abs(ndigits) > 1000):
            raise SandboxError("round(): ndigits must be an integer between -1000 and 1000")  # 10**-n is built
        return round(number, ndigits)

    def b_sorted(self, iterable, *, key=None, reverse=False):
        self.check_key(key)
        items = self.items(iterable, True)
        items.sort(key=key, reverse=reverse)
        return items

    def b_int(self, x=0, *base):
        if type(x) is str and len(x) > 4300:  # do not rely on sys.int_max_str_digits being set
            raise SandboxError("int(): string too long (limit 4300 digits)")
        if type(x) is decimal.Decimal and x.is_finite() and x.adjusted() * 4 > MAX_INT_BITS:
            raise SandboxError(f"int(): value too large (limit {MAX_INT_BITS} bits)")
        return int(x, *base)

    def b_str(self, x=""):
        if _walk(x, "str() argument", False) > MAX_STR_LEN:
            raise SandboxError(f"str() result too large (limit {MAX_STR_LEN} characters)")
        return self.charge(str(x))

    def b_list(self, iterable=()):
        return self.items(iterable, False)

    def b_tuple(self, iterable=()):
        return tuple(self.items(iterable, False))

    def b_set(self, iterable=()):
        return set(self.items(iterable, True))

    def b_dict(self, iterable=(), /, **kwargs):
        pairs = self.items(iterable.items() if type(iterable) is dict else iterable, True)
        _limit(list, len(pairs) + len(kwargs))
        return dict(pairs, **kwargs)

    def b_range(self, *args):
        r = range(*args)
        try:
            n = len(r)
        except OverflowError:  # longer than sys.maxsize
            n = None
        if n is None or n > MAX_ITEMS:
            raise SandboxError(f"range too large (limit {MAX_ITEMS} items)")
        return r


def _located(err: Exception) -> SandboxError:
    """A SandboxError carrying the line of the innermost sandboxed frame in err's traceback."""
    line, tb = None, err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    if isinstance(err, SandboxError):
        return err if err.line is not None else SandboxError(err.message, line)
    return SandboxError(f"{type(err).__name__}: {err}", line)


def _run(source: str, mode: str, variables: dict, extra: dict | None = None):
    code, names = _compile(source, mode)
    run, injected = _Run(), {}
    for name in names:  # only the variables the code names are exposed, and checked
        if name in variables or (extra and name in extra):
            injected[name] = variables[name] if name in variables else extra[name]
            _walk(injected[name], f"variable '{name}'", True)
    ns = {**run.namespace(), **injected}
    try:
        result = eval(code, ns) if mode == "eval" else exec(code, ns)
        _walk(result, "the expression's result", True)
        updates = {}
        for name, value in ns.items():  # user code cannot bind '_' names: these are its own variables
            if name.startswith("_"):
                continue
            if not (name in injected and injected[name] is value) or type(value) in _CONTAINERS:
                _walk(value, f"variable '{name}'", True)  # new, rebound, or possibly mutated in place
            if mode == "exec" and not (name in injected and injected[name] is value):
                updates[name] = value
    except Exception as err:
        raise _located(err) from err
    variables.update(updates)  # only once every value passed the check
    return result


# --------------------------------------------------------------------------------------- public API
def check(source: str, mode: str = "eval") -> None:
    """Raise SandboxError if source does not parse or uses anything forbidden (deploy-time check)."""
    _compile(source, mode)


def evaluate(source: str, variables: dict) -> object:
    """Evaluate an expression against variables (task data); the result is plain data."""
    return _run(source, "eval", variables)


def execute(source: str, variables: dict) -> None:
    """Run a script; the names it binds (to plain data) are stored into variables in place."""
    _run(source, "exec", variables)


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow also calls ``script_engine.environment.evaluate`` directly (process completion and
    conditional-path conditions, message correlations), so the environment must be sandboxed too."""

    def evaluate(self, expression, context, external_context=None):
        return _run(expression, "eval", context, external_context)

    def execute(self, script, context, external_context=None):
        _run(script, "exec", context, external_context)
        return True


class SandboxedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow script engine that runs everything in the sandbox. services maps an operation name to
    ``fn(task_data, **params)`` returning a JSON-serialisable result."""

    def __init__(self, services: dict | None = None):
        super().__init__(environment=SandboxEnvironment())
        self.services = dict(services or {})

    def validate(self, expression):
        ast.parse(expression)  # a plain SyntaxError first: SpiffWorkflow's DMN engine relies on it
        check(expression, "eval")

    def evaluate(self, task, expression, external_context=None):
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SandboxError as err:
            raise WorkflowTaskException(f"Error evaluating expression '{expression}': {err}", task=task,
                                        exception=err, line_number=err.line) from err

    def execute(self, task, script, external_context=None):
        try:
            return self.environment.execute(script, task.data, external_context)
        except SandboxError as err:
            lines = script.splitlines()
            error_line = lines[err.line - 1] if err.line and err.line <= len(lines) else ""
            raise WorkflowTaskException(f"Error running script: {err}", task=task, exception=err,
                                        line_number=err.line, error_line=error_line) from err

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):
        service = self.services.get(operation_name)
        if service is None:
            raise WorkflowTaskException(f"unknown service operation '{operation_name}'", task=task)
        params = {name: param["value"] for name, param in (operation_params or {}).items()}
        try:  # a copy: a service returns its result (stored in the result variable), it does not edit task data
            return json.dumps(service(copy.deepcopy(task.data), **params))  # SpiffWorkflow json.loads it
        except Exception as err:
            raise WorkflowTaskException(f"service '{operation_name}' failed: {type(err).__name__}: {err}",
                                        task=task, exception=err) from err
