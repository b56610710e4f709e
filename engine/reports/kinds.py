"""What kind of fact a report declares, and the type of its value (pure; shared by the checks, the observer and
the computation)."""
from __future__ import annotations


def type_of(fact: dict) -> str | None:
    """The type of a scalar fact's value: declared, or what its source gives."""
    if "days_between" in fact:
        return "integer"
    if "divide" in fact:
        return "number"
    if "case" in fact or "client" in fact:
        return "date"
    return fact.get("type")


def kind_of(fact: dict) -> str:
    """'scalar', 'values' (a list of values: one entry each), 'records' (a list of records: one entry each) or
    'completions' (one entry per completed step of a form)."""
    if "completions" in fact:
        return "completions"
    if "values" in fact or fact.get("type") == "list":
        return "values"
    if "date" in fact or "fields" in fact:
        return "records"
    return "scalar"
