"""The methods sandboxed code may call, by receiver type, and which of them the guards must watch."""
from __future__ import annotations

METHODS = {
    str: frozenset("lower upper strip lstrip rstrip startswith endswith split rsplit splitlines join replace "
                   "count index find rfind title capitalize casefold isdigit isalpha isalnum isspace islower "
                   "isupper isdecimal isnumeric partition rpartition".split()),
    list: frozenset("append extend insert pop remove index count copy sort reverse clear".split()),
    dict: frozenset("get keys values items pop setdefault update copy clear".split()),
    set: frozenset("add discard remove pop copy clear issubset issuperset".split()),
    frozenset: frozenset("copy issubset issuperset".split()),
    tuple: frozenset("count index".split()),
}
ALL_METHODS = frozenset().union(*METHODS.values())
ALLOCATING = frozenset("copy split rsplit splitlines lower upper strip lstrip rstrip title capitalize "
                       "casefold partition rpartition replace join".split())  # their results are charged
# They hash or compare their arguments in C: the guards weigh the arguments first.
KEYED = frozenset("get pop setdefault update add discard remove index count issubset issuperset".split())
