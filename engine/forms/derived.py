"""Computed fields declared in the form file itself (``x-computed`` as an object, docs/forms.md "Declared
computations"): a sum of fields, the band a number falls in, the earliest date of a block, a constant, or a value
looked up from a choice. They are the data's own arithmetic, so a service needs no engine code for a total, its
band or the phase a decision leads to.

Each kind is a pure function of the submission (after validation). ``UNSET`` means "leave the case's earlier
value": the earliest date of an append-only block the step did not send.
"""
from __future__ import annotations

from collections.abc import Callable

UNSET = object()
KINDS = ("sum", "band", "earliest", "value", "lookup")


def _number(value) -> float | None:
    """A form value as a number: an integer, or the digits of a choice's code ("4")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _sum(spec: list, data: dict):
    values = [_number(data.get(name)) for name in spec]
    if any(v is None for v in values):
        return None  # a total of some items only would pass for a complete one
    total = sum(v for v in values if v is not None)
    return int(total) if float(total).is_integer() else total


def _band(spec: dict, data: dict):
    value = _number(data.get(spec["of"]))
    if value is None:
        return None
    for low, code in spec["bands"]:
        if low is None or value >= low:
            return code
    return None


def _earliest(spec: str, data: dict):
    block, _, field = spec.partition("/")
    rows = data.get(block)
    if not isinstance(rows, list):
        return UNSET
    days = sorted(r[field] for r in rows if isinstance(r, dict) and isinstance(r.get(field), str))
    return days[0] if days else None


def _value(spec, data: dict):
    return spec


def _lookup(spec: dict, data: dict):
    return spec["values"].get(str(data.get(spec["field"])), spec.get("otherwise"))


_RUN: dict[str, Callable] = {"sum": _sum, "band": _band, "earliest": _earliest, "value": _value, "lookup": _lookup}


def compute(spec: dict, data: dict):
    """The value of one declared computation over the submission (``UNSET``: keep the earlier value)."""
    [(kind, arg)] = spec.items()
    return _RUN[kind](arg, data)


def problems(spec, fields: set[str]) -> list[tuple[str, str, dict]]:
    """What is wrong with a declared computation, for the deploy check (an empty list: nothing): each as its English
    sentence, its code and params (web/findings.py words them)."""
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
        return [(f"x-computed must be a known name or one of {{{', '.join(KINDS)}: ...}}", "computed_kind_unknown",
                 {"kinds": ", ".join(KINDS)})]
    [(kind, arg)] = spec.items()
    if kind == "sum":
        if not isinstance(arg, list) or not arg or not all(isinstance(a, str) for a in arg):
            return [("x-computed sum needs a list of field names", "computed_sum_invalid", {})]
        missing = [a for a in arg if a not in fields]
        return [(f"x-computed sum names unknown field(s): {', '.join(missing)}", "computed_sum_unknown",
                 {"fields": ", ".join(missing)})] if missing else []
    if kind == "band":
        if not isinstance(arg, dict) or arg.get("of") not in fields or not isinstance(arg.get("bands"), list) \
                or not all(isinstance(b, list) and len(b) == 2 and (b[0] is None or _number(b[0]) is not None)
                           for b in arg["bands"]):
            return [('x-computed band needs {"of": "<field>", "bands": [[<lowest value or null>, "<code>"], ...]}',
                     "computed_band_invalid", {})]
        return []
    if kind == "earliest":
        if not isinstance(arg, str) or "/" not in arg or arg.partition("/")[0] not in fields:
            return [('x-computed earliest needs "<block field>/<date field of its rows>"', "computed_earliest_invalid",
                     {})]
        return []
    if kind == "lookup":
        if not isinstance(arg, dict) or arg.get("field") not in fields or not isinstance(arg.get("values"), dict):
            return [('x-computed lookup needs {"field": "<field>", "values": {"<value>": <result>, ...}}',
                     "computed_lookup_invalid", {})]
        return []
    return []
