"""The builtins sandboxed code sees: a few safe ones as they are, the rest guarded (``b_<name>`` of a run)."""
from __future__ import annotations

import decimal

from . import limits
from .errors import SandboxError
from .plain_data import INTS, NUMBERS, limit, walk

# Safe as they are: they only read their arguments and build nothing large.
RAW_BUILTINS = {f.__name__: f for f in (len, abs, any, all, float, bool, enumerate, zip)}
RAW_IDS = frozenset(id(f) for f in RAW_BUILTINS.values())
# Guarded as GuardedBuiltins.b_<name>: they allocate, compare or hash elements in C, or take sizes.
WRAPPED = ("min", "max", "sum", "round", "sorted", "int", "str", "list", "dict", "set", "tuple", "range")


class GuardedBuiltins:
    """The guarded builtins, exposed without the b_ prefix; mixed into ``guards.Run``, whose ``check_key``
    and ``charge`` they use."""

    def items(self, iterable, compared):
        items = list(iterable)  # generator expressions tick as they go; other inputs are already bounded
        limit(list, len(items))
        if compared:  # min/max/sorted/set/dict compare or hash the items in C
            walk(items, "argument", False)
        return self.charge(items)

    def b_min(self, *args, **kwargs):
        self.check_key(kwargs.get("key"))
        return min(self.items(args[0] if len(args) == 1 else args, True), **kwargs)

    def b_max(self, *args, **kwargs):
        self.check_key(kwargs.get("key"))
        return max(self.items(args[0] if len(args) == 1 else args, True), **kwargs)

    def b_sum(self, iterable, start=0):
        items = [start, *iterable]
        if any(type(x) not in NUMBERS for x in items):  # sum(lists, []) would concatenate in C
            raise SandboxError("sum() adds numbers only")
        return sum(items[1:], start)

    def b_round(self, number, ndigits=None):
        if ndigits is not None and (type(ndigits) not in INTS or abs(ndigits) > 1000):
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
        if type(x) is decimal.Decimal and x.is_finite() and x.adjusted() * 4 > limits.MAX_INT_BITS:
            raise SandboxError(f"int(): value too large (limit {limits.MAX_INT_BITS} bits)")
        return int(x, *base)

    def b_str(self, x=""):
        if walk(x, "str() argument", False) > limits.MAX_STR_LEN:
            raise SandboxError(f"str() result too large (limit {limits.MAX_STR_LEN} characters)")
        return self.charge(str(x))

    def b_list(self, iterable=()):
        return self.items(iterable, False)

    def b_tuple(self, iterable=()):
        return tuple(self.items(iterable, False))

    def b_set(self, iterable=()):
        return set(self.items(iterable, True))

    def b_dict(self, iterable=(), /, **kwargs):
        pairs = self.items(iterable.items() if type(iterable) is dict else iterable, True)
        limit(list, len(pairs) + len(kwargs))
        return dict(pairs, **kwargs)

    def b_range(self, *args):
        r = range(*args)
        try:
            n = len(r)
        except OverflowError:  # longer than sys.maxsize
            n = None
        if n is None or n > limits.MAX_ITEMS:
            raise SandboxError(f"range too large (limit {limits.MAX_ITEMS} items)")
        return r
