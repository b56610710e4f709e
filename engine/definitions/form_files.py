"""Checking a form file at deploy time: JSON, JSON Schema and the form format's own keywords (docs/forms.md).

engine/forms/forms.py validates what people submit with a form; this module decides whether a form file may be
deployed at all, and names the file and the field of every problem.
"""
from __future__ import annotations

import json
import re

from jsonschema import Draft202012Validator

from ..forms import anonymous, derived, member_blocks, report_fields, review
from ..forms.entries import append_only_fields
from ..forms.forms import COMPUTATIONS, DATE_RULES, SERVICE_COMPUTED, _object_nodes

_PROCESS_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")


def _append_only_problems(name: str, schema: dict) -> list[dict]:
    """x-append-only: only on a top-level repeatable block; x-min-new-rows only beside it."""
    problems = []
    top = schema.get("properties") or {}
    for node in _object_nodes(schema):
        for pname, prop in (node.get("properties") or {}).items():
            marked = prop.get("x-append-only")
            items = prop.get("items") or {}
            if marked is not None and (marked is not True or top.get(pname) is not prop
                                       or items.get("type") != "object"):
                problems.append({"file": name, "message": f"field '{pname}': x-append-only must be true, on a "
                                 "repeatable block (array of objects) at the top level of the form",
                                 "code": "form_append_only_misplaced", "params": {"field": pname}})
            least = prop.get("x-min-new-rows")
            if least is not None and (marked is not True or type(least) is not int or least < 0):
                problems.append({"file": name, "message": f"field '{pname}': x-min-new-rows must be a whole "
                                 "number of at least 0, on an x-append-only block",
                                 "code": "form_min_new_rows_invalid", "params": {"field": pname}})
    return problems


def append_only_agreement(forms: dict[str, dict]) -> list[dict]:
    """A block is the case's log in every form of a process that has it, or in none: a form that showed it as an
    ordinary block would let its step rewrite what earlier steps recorded."""
    marked = {n for schema in forms.values() for n in append_only_fields(schema)}
    return [{"file": name, "message": f"field '{field}' is x-append-only in another form of this process, "
             "so it must be here too", "code": "form_append_only_elsewhere", "params": {"field": field}}
            for name, schema in sorted(forms.items()) for field in sorted(marked)
            if field in (schema.get("properties") or {}) and field not in append_only_fields(schema)]


def check_form_file(name: str, text: str) -> tuple[dict | None, list[dict]]:
    """Parse and check one form file at deploy time: JSON, JSON Schema, and our conventions."""
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as e:
        return None, [{"file": name, "line": e.lineno, "message": f"not valid JSON: {e.msg} (column {e.colno})",
                       "code": "form_json_invalid", "params": {"detail": e.msg, "column": e.colno}}]
    problems = []
    try:
        Draft202012Validator.check_schema(schema)
    except Exception as e:  # jsonschema.SchemaError; its message is long, its path is what matters
        where = "/".join(str(p) for p in getattr(e, "absolute_path", []))
        detail = str(getattr(e, "message", e))
        problems.append({"file": name, "message": f"not a valid JSON Schema at '{where}': {detail}",
                         "code": "form_schema_invalid", "params": {"where": where, "detail": detail}})
        return None, problems
    if schema.get("type") != "object":
        problems.append({"file": name, "message": "a form's schema must have type 'object'",
                         "code": "form_not_object", "params": {}})
    for node in _object_nodes(schema):
        props = node.get("properties") or {}
        for pname, prop in props.items():
            cond = prop.get("x-visible-when")
            if cond is not None and cond.get("field") not in props:
                problems.append({"file": name, "message": f"field '{pname}': x-visible-when refers to "
                                 f"'{cond.get('field')}', which is not a sibling field",
                                 "code": "form_visible_when_unknown",
                                 "params": {"field": pname, "refers_to": str(cond.get("field"))}})
            elif cond is not None and "in" in cond and (not isinstance(cond["in"], list) or not cond["in"]):
                problems.append({"file": name, "message": f"field '{pname}': x-visible-when 'in' must be a "
                                 "non-empty list of the values that show the field",
                                 "code": "form_visible_when_in_invalid", "params": {"field": pname}})
            starts = prop.get("x-starts-case")
            if starts is not None and (starts is not True or props is not schema.get("properties")
                                       or prop.get("type") != "string" or not prop.get("enum")
                                       or not all(isinstance(v, str) and _PROCESS_KEY.fullmatch(v)
                                                  for v in prop["enum"])):
                problems.append({"file": name, "message": f"field '{pname}': x-starts-case must be true, on a "
                                 "top-level choice (type string, enum) whose values are process keys",
                                 "code": "form_starts_case_invalid", "params": {"field": pname}})
            expected = prop.get("x-expected-count")
            if expected is not None and (not isinstance(expected, dict) or prop.get("type") != "array"
                                         or (props.get(expected.get("field")) or {}).get("type") != "integer"
                                         or type(expected.get("offset", 0)) is not int):
                problems.append({"file": name, "message": f"field '{pname}': x-expected-count must be on a "
                                 'repeatable block, as {"field": "<sibling integer field>", "offset": <integer>}',
                                 "code": "form_expected_count_invalid", "params": {"field": pname}})
            differs = prop.get("x-required-when-differs")
            if differs is not None and not (isinstance(differs, dict) and set(differs) == {"field", "from"}
                                            and differs["field"] in props and isinstance(differs["from"], str)):
                problems.append({"file": name, "message": f"field '{pname}': x-required-when-differs is "
                                 '{"field": "<field of this form>", "from": "<field or case-data key>"}',
                                 "code": "form_required_when_differs_invalid", "params": {"field": pname}})
            comp = prop.get("x-computed")
            if isinstance(comp, dict):
                problems.extend({"file": name, "message": f"field '{pname}': {message}", "code": code,
                                 "params": {"field": pname, **params}}
                                for message, code, params in derived.problems(comp, set(schema.get("properties")
                                                                                        or {})))
            elif comp is not None and comp not in COMPUTATIONS and comp not in SERVICE_COMPUTED:
                problems.append({"file": name, "message": f"field '{pname}': unknown computation '{comp}'",
                                 "code": "form_computation_unknown", "params": {"field": pname,
                                                                              "computation": str(comp)}})
            problems.extend({"file": name, "message": f"field '{pname}': {message}", "code": code,
                             "params": {"field": pname, **params}}
                            for message, code, params in _date_rule_problems(prop))
            if not isinstance(prop.get("x-label"), dict) or not {"hu", "en"} <= set(prop["x-label"]):
                problems.append({"file": name, "message": f"field '{pname}': x-label needs 'hu' and 'en'",
                                 "code": "form_label_missing", "params": {"field": pname}})
            problems.extend({"file": name, "message": f"field '{pname}': {message}", "code": code,
                             "params": {"field": pname, **params}}
                            for message, code, params in _option_label_problems(prop))
    problems += [{"file": name, "message": message, "code": code, "params": params}
                 for message, code, params in report_fields.problems(schema)]
    problems += _append_only_problems(name, schema)
    problems += [{"file": name, "message": f"field {message}", "code": code, "params": params}
                 for message, code, params in member_blocks.form_problems(schema)]
    problems += review.shape_problems(name, schema)
    problems += anonymous.problems(name, schema)
    return schema, problems


def _option_label_problems(prop: dict) -> list[tuple[str, str, dict]]:
    """A choice shows each option by its label in the user's language (docs/forms.md, x-options): an option
    without one would be shown to people as its code."""
    items: dict = prop["items"] if isinstance(prop.get("items"), dict) else {}
    codes = prop.get("enum") or items.get("enum")
    if not isinstance(codes, list) or not codes:
        return []
    options = prop.get("x-options") or items.get("x-options") or {}
    if not isinstance(options, dict):
        return [("x-options must map each option to its labels, {\"<option>\": {\"hu\": ..., \"en\": ...}}",
                 "form_options_not_map", {})]
    missing = [str(code) for code in codes if not isinstance(options.get(str(code)), dict)
               or not {"hu", "en"} <= set(options[str(code)])]
    return [(f"x-options needs a label in 'hu' and 'en' for every option; missing for: {', '.join(missing)}",
             "form_option_labels_missing", {"options": ", ".join(missing)})] if missing else []


def _date_rule_problems(prop: dict) -> list[tuple[str, str, dict]]:
    """What is wrong with a field's date rules, at deploy time."""
    rules = [r for r in DATE_RULES if r in prop]
    if not rules:
        return []
    if prop.get("format") != "date":
        return [(f"{', '.join(rules)} apply only to a date field (format: date)", "form_date_rule_not_date",
                 {"rules": ", ".join(rules)})]
    problems: list[tuple[str, str, dict]] = []
    if "x-not-future" in prop and prop["x-not-future"] is not True:
        problems.append(("x-not-future must be true", "form_not_future_invalid", {}))
    years = prop.get("x-max-years-back")
    if "x-max-years-back" in prop and (type(years) is not int or not 1 <= years <= 200):
        problems.append(("x-max-years-back must be a whole number of years from 1 to 200",
                         "form_max_years_back_invalid", {}))
    rule = prop.get("x-not-before")
    if "x-not-before" in prop and (not isinstance(rule, dict) or not isinstance(rule.get("field"), str)
                                   or not isinstance(rule.get("step", ""), str) or set(rule) - {"field", "step"}):
        problems.append(('x-not-before must be {"field": "<data key>", "step": "<step>"}', "form_not_before_invalid",
                         {}))
    return problems
