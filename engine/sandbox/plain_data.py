"""Plain data: which types sandboxed values may have, and how large a value is (checked before C walks it)."""
from __future__ import annotations

import datetime as _dt
import decimal

from . import limits
from .errors import SandboxError

LEAVES = {type(None), bool, int, float, str, decimal.Decimal, _dt.date, _dt.datetime, _dt.time, _dt.timedelta}
CONTAINERS = {list, tuple, dict, set, frozenset}
VIEWS = {type({}.keys()), type({}.values()), type({}.items())}
DATA = LEAVES | CONTAINERS
SIZED = {str, list, tuple, dict, set, frozenset}
INTS, SEQS, NUMBERS = {int, bool}, {str, list, tuple}, {int, bool, float, decimal.Decimal}


_UP = object()  # marks, in walk's stack, the end of a container's items


def walk(obj, what: str, strict: bool) -> int:
    """Visit obj and everything in it (iteratively); return an upper estimate of len(repr(obj)).

    Shared references count each time they are met, so structures that would make comparison, hashing or
    str() exponential in C (``x = [x, x]`` repeated) exceed MAX_NODES instead of stalling the worker.
    Nesting deeper than MAX_DEPTH is refused: repr, comparison and the JSON of the saved state recurse per
    level and would fail later, outside the sandbox, with a RecursionError.
    strict=True refuses anything that is not plain data."""
    size, nodes, depth, stack = 0, 0, 0, [obj]
    while stack:
        o = stack.pop()
        if o is _UP:  # every item of the container that pushed it has been visited
            depth -= 1
            continue
        t = type(o)
        nodes += 1
        if t in CONTAINERS or (not strict and t in VIEWS):
            if nodes + len(stack) + len(o) > limits.MAX_NODES:
                raise SandboxError(f"{what} is too large (more than {limits.MAX_NODES} objects)")
            depth += 1
            if depth > limits.MAX_DEPTH:
                raise SandboxError(f"{what} is nested too deeply (more than {limits.MAX_DEPTH} levels)")
            size += 2 + 4 * len(o)
            stack.append(_UP)
            stack.extend(o.items() if t is dict else o)
        elif t is str:
            size += len(o) + 2 if o.isascii() else 10 * len(o) + 2  # repr may escape non-ASCII
        elif t is int:
            size += o.bit_length() // 3 + 2
        elif t in LEAVES or not strict:
            size += 40
        else:
            raise SandboxError(f"{what} holds a '{t.__name__}' value; only plain data "
                               "(numbers, strings, dates, lists, dicts, ...) is allowed")
    return size


def limit(kind: type, n: int) -> None:
    cap, unit = (limits.MAX_STR_LEN, "characters") if kind is str else (limits.MAX_ITEMS, "items")
    if n > cap:
        raise SandboxError(f"result too large: {n} {unit} (limit {cap})")


def bits(n: int) -> None:
    if n > limits.MAX_INT_BITS:
        raise SandboxError(f"integer result too large: about {n} bits (limit {limits.MAX_INT_BITS})")
