"""The runtime guards of one evaluation: the ``_g_*`` functions the rewritten code calls, and its budgets."""
from __future__ import annotations

import operator
import time
from types import MethodType

from . import limits
from .calendar_helpers import HELPERS
from .errors import SandboxError
from .methods import ALLOCATING, KEYED, METHODS
from .plain_data import CONTAINERS, DATA, INTS, SEQS, SIZED, VIEWS, bits, limit, walk
from .safe_builtins import RAW_BUILTINS, RAW_IDS, WRAPPED, GuardedBuiltins

_OPS = {name: (getattr(operator, fn), getattr(operator, "i" + fn.rstrip("_")), sym) for name, fn, sym in (
    ("Add", "add", "+"), ("Sub", "sub", "-"), ("Mult", "mul", "*"), ("Div", "truediv", "/"),
    ("FloorDiv", "floordiv", "//"), ("Mod", "mod", "%"), ("Pow", "pow", "**"), ("LShift", "lshift", "<<"),
    ("RShift", "rshift", ">>"), ("BitOr", "or_", "|"), ("BitXor", "xor", "^"), ("BitAnd", "and_", "&"))}
_OPERANDS = DATA | VIEWS
_CONVERSIONS = {ord("s"): str, ord("r"): repr, ord("a"): ascii}


class _Bound:
    """A safe method bound to its receiver; calling it (even from C, as a sort key) re-enters the guards."""
    __slots__ = ("run", "obj", "name")

    def __init__(self, run, obj, name):
        self.run, self.obj, self.name = run, obj, name

    def __call__(self, *args, **kwargs):
        return self.run.method(self.obj, self.name, args, kwargs)


class _Helper:
    """A calendar helper (calendar_helpers.HELPERS) as sandboxed code sees it: its result is charged."""
    __slots__ = ("run", "fn")

    def __init__(self, run, fn):
        self.run, self.fn = run, fn

    def __call__(self, *args, **kwargs):
        return self.run.charge(self.fn(*args, **kwargs))


class Run(GuardedBuiltins):
    """Budgets and guards of one evaluation (never shared, so concurrent evaluations are independent)."""

    def __init__(self, budget=None):
        self.steps, self.allocated, self.budget = 0, 0, budget
        self.deadline = time.monotonic() + limits.MAX_SECONDS
        if budget is not None:  # the command's budget (sandbox.budget), shared by its evaluations
            budget.check()
            self.deadline = min(self.deadline, budget.deadline)

    def namespace(self) -> dict:
        builtins = dict(RAW_BUILTINS, **{name: getattr(self, "b_" + name) for name in WRAPPED},
                        **{name: _Helper(self, fn) for name, fn in HELPERS.items()})
        return {"__builtins__": builtins, "_g_attr": self.attr, "_g_call": self.call, "_g_bin": self.binop,
                "_g_item": self.item, "_g_augitem": self.augitem, "_g_w": self.weigh, "_g_iter": self.iterate,
                "_g_tick": self.tick, "_g_slice": slice, "_g_fmt": self.fmt, "_g_fstr": self.fstr}

    def tick(self, value=True):
        self.steps += 1
        if self.steps > limits.MAX_STEPS:
            raise SandboxError(f"step budget exceeded: more than {limits.MAX_STEPS} "
                               "loop iterations and calls")
        if time.monotonic() > self.deadline:
            if self.budget is not None and self.deadline == self.budget.deadline:
                raise self.budget.exceeded()
            raise SandboxError(f"time budget exceeded: ran longer than {limits.MAX_SECONDS} s")
        return value

    def charge(self, obj, n=None):
        n = (len(obj) if type(obj) in SIZED else 0) if n is None else n
        self.allocated += n
        if self.allocated > limits.MAX_ALLOC_TOTAL:
            raise SandboxError(f"memory budget exceeded: more than {limits.MAX_ALLOC_TOTAL} "
                               "characters/items built")
        if self.budget is not None:
            self.budget.charge(n)
        return obj

    def weigh(self, obj):
        if type(obj) in CONTAINERS or type(obj) in VIEWS:
            walk(obj, "operand", False)
        return obj

    def iterate(self, iterable):
        for item in iterable:
            self.tick()
            yield item

    def safe_callable(self, f) -> bool:
        return (type(f) in (_Bound, _Helper) and f.run is self) or id(f) in RAW_IDS or (
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
        if name not in METHODS.get(type(obj), ()):
            raise SandboxError(f"attribute '{name}' is not allowed on '{type(obj).__name__}' values")
        return _Bound(self, obj, name)

    def method(self, obj, name, args, kwargs):
        t, first = type(obj), args[0] if args else None
        if name in ("sort", "index", "count", "remove") and t in (list, tuple):
            walk(obj, "the list", False)  # these compare every element in C
        if name in KEYED:
            for a in (*args, *kwargs.values()):
                self.weigh(a)
        if name == "sort":
            self.check_key(kwargs.get("key"))
        if t is str and name == "replace" and len(args) >= 2 and type(first) is str and type(args[1]) is str:
            if len(args[1]) > len(first):  # '' matches len+1 times
                hits = obj.count(first) if first else len(obj) + 1
                limit(str, len(obj) + hits * (len(args[1]) - len(first)))
        elif t is str and name == "join" and args:
            items = list(first)
            limit(str, sum(len(s) for s in items if type(s) is str) + len(obj) * max(len(items) - 1, 0))
            args = (items,)
        elif name in ("extend", "update") and (type(first) in SIZED or type(first) in (range, *VIEWS)):
            limit(list, len(obj) + len(first))
            self.charge(None, len(first))
        result = getattr(obj, name)(*args, **kwargs)
        return self.charge(result) if name in ALLOCATING else result

    def binop(self, op, a, b, inplace=False):
        fn, ifn, sym = _OPS[op]
        ta, tb = type(a), type(b)
        if ta not in _OPERANDS or tb not in _OPERANDS:
            raise SandboxError(f"unsupported operand types for {sym}: '{ta.__name__}' and '{tb.__name__}'")
        if op == "Mod" and ta is str:
            raise SandboxError("'%' string formatting is not allowed; use an f-string")
        if op == "Add" and ta in SEQS and (tb in SIZED or tb in VIEWS):  # list += str extends too
            limit(ta, len(a) + len(b))
        elif op == "Mult":
            if ta in SEQS and tb in INTS:
                limit(ta, len(a) * b)
            elif tb in SEQS and ta in INTS:
                limit(tb, len(b) * a)
            elif ta in INTS and tb in INTS:
                bits(a.bit_length() + b.bit_length())
        elif op == "Pow" and ta in INTS and tb in INTS and b > 0 and a not in (0, 1, -1):
            bits(a.bit_length() * b)
        elif op == "LShift" and ta in INTS and tb in INTS and b > 0:
            bits(a.bit_length() + b)
        elif op == "BitOr" and ta in (dict, set, frozenset):
            limit(list, len(a) + len(b))
        if inplace and ta in (list, dict, set):  # mutated in place: only the added part is new
            return self.charge(ifn(a, b), len(b) if tb in SIZED else None)
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
        if type(value) not in DATA:
            raise SandboxError(f"'{type(value).__name__}' values cannot be formatted")
        if walk(value, "f-string value", False) > limits.MAX_STR_LEN:
            raise SandboxError(f"f-string value too large (limit {limits.MAX_STR_LEN} characters)")
        return format(_CONVERSIONS[conversion](value) if conversion in _CONVERSIONS else value, spec)

    def fstr(self, *parts):
        limit(str, sum(len(p) for p in parts))
        return self.charge("".join(parts))
