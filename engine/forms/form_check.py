"""A yes/no check of a submission against a form's JSON Schema, compiled once per form version.

jsonschema walks the schema anew for every submission and builds its error objects as it goes; most
submissions are valid, so ``engine.forms.forms.Form`` asks this check first and runs jsonschema only when the
check does not say yes (jsonschema then words every field-level error, exactly as before).

The check is compiled only from keywords it knows, and for each it accepts no more than jsonschema accepts
(it may be stricter: a value it is unsure of, such as an integer sent as 3.0, sends the submission to
jsonschema). A schema with any other keyword (``$ref``, ``allOf``, ``if``, ...) gets no check at all.
"""
from __future__ import annotations

import numbers
import re
from collections.abc import Callable

Check = Callable[[object], bool]

# Keywords that assert nothing about the instance.
_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$comment", "$schema", "readOnly",
                          "writeOnly", "deprecated"})
# Only these instance types, matched exactly: what a JSON document decodes to. Anything else (a subclass,
# a Decimal) is left to jsonschema.
_TYPES: dict[str, Check] = {
    "string": lambda x: type(x) is str,
    "integer": lambda x: type(x) is int,
    "number": lambda x: type(x) is int or type(x) is float,
    "boolean": lambda x: type(x) is bool,
    "object": lambda x: type(x) is dict,
    "array": lambda x: type(x) is list,
    "null": lambda x: x is None,
}


class _Unsupported(Exception):
    pass


def compile_check(schema, format_checker) -> Check | None:
    """The check of ``schema``, or None when the schema uses a keyword the check does not know."""
    try:
        return _compile(schema, format_checker)
    except _Unsupported:
        return None


def _is_number(x) -> bool:
    # jsonschema's "number": any numbers.Number except bool.
    return isinstance(x, numbers.Number) and not isinstance(x, bool)


def _compile(node, fc) -> Check:
    if node is True:
        return lambda x: True
    if node is False:
        return lambda x: False
    if not isinstance(node, dict):
        raise _Unsupported(node)
    checks: list[Check] = []
    for key, value in node.items():
        if key in _ANNOTATIONS or key.startswith("x-") or key in ("properties", "additionalProperties"):
            continue
        checks.append(_keyword(key, value, node, fc))
    if "properties" in node or "additionalProperties" in node:
        checks.append(_object_check(node, fc))
    if not checks:
        return lambda x: True
    if len(checks) == 1:
        return checks[0]

    def check(x, checks=tuple(checks)):
        for c in checks:  # noqa: SIM110 - a loop is faster than all() over a generator, on every submission
            if not c(x):
                return False
        return True
    return check


def _keyword(key: str, value, node: dict, fc) -> Check:
    if key == "type":
        names = value if isinstance(value, list) else [value]
        if not names or any(n not in _TYPES for n in names):
            raise _Unsupported(key)
        if len(names) == 1:
            return _TYPES[names[0]]
        tests = tuple(_TYPES[n] for n in names)
        return lambda x: any(t(x) for t in tests)
    if key == "required":
        required = tuple(value)
        return lambda x: not isinstance(x, dict) or all(n in x for n in required)
    if key == "enum":
        if not value or not all(isinstance(v, str) for v in value):
            raise _Unsupported(key)
        options = frozenset(value)
        # jsonschema compares a string only with strings, by ==: membership is exact.
        return lambda x: isinstance(x, str) and x in options
    if key == "const":
        if type(value) is not bool:
            raise _Unsupported(key)
        # A yes that must be yes (a signature given): jsonschema tells a bool from 1 and 0, so does ``is``.
        return lambda x: x is value
    if key in ("minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum", "exclusiveMinimum",
               "exclusiveMaximum"):
        if not _is_number(value):
            raise _Unsupported(key)
        return _bound(key, value)
    if key == "pattern":
        pattern = re.compile(value)
        return lambda x: not isinstance(x, str) or pattern.search(x) is not None
    if key == "format":
        if fc is None:
            return lambda x: True
        return lambda x: fc.conforms(x, value)
    if key == "items":
        if isinstance(node.get("prefixItems"), list):
            raise _Unsupported(key)
        item = _compile(value, fc)
        return lambda x: not isinstance(x, list) or all(item(e) for e in x)
    if key == "uniqueItems":
        if value is not True:
            return lambda x: True
        # Strings only (jsonschema's own equality tells 1 from True); any other list goes to jsonschema.
        return lambda x: not isinstance(x, list) or (all(type(e) is str for e in x) and len(set(x)) == len(x))
    raise _Unsupported(key)


def _bound(key: str, limit) -> Check:
    if key == "minLength":
        return lambda x: not isinstance(x, str) or len(x) >= limit
    if key == "maxLength":
        return lambda x: not isinstance(x, str) or len(x) <= limit
    if key == "minItems":
        return lambda x: not isinstance(x, list) or len(x) >= limit
    if key == "maxItems":
        return lambda x: not isinstance(x, list) or len(x) <= limit
    if key == "minimum":
        return lambda x: not _is_number(x) or x >= limit
    if key == "maximum":
        return lambda x: not _is_number(x) or x <= limit
    if key == "exclusiveMinimum":
        return lambda x: not _is_number(x) or x > limit
    return lambda x: not _is_number(x) or x < limit


def _object_check(node: dict, fc) -> Check:
    if "patternProperties" in node:
        raise _Unsupported("patternProperties")
    props = {name: _compile(sub, fc) for name, sub in (node.get("properties") or {}).items()}
    extra = node.get("additionalProperties", True)
    extra_check = None if extra is True else _compile(extra, fc)
    items = tuple(props.items())

    def check(x):
        if not isinstance(x, dict):
            return True
        for name, sub in items:
            if name in x and not sub(x[name]):
                return False
        if extra_check is not None:
            for name in x:
                if name not in props and not extra_check(x[name]):
                    return False
        return True
    return check
