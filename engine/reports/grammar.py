"""The report format (``reports/*.yaml`` of a package): parsed with the line of every value, checked against the
package's processes and forms, and turned into the plain dict the engine stores and computes from.

The format is documented field by field in docs/reports.md; a change here is a change there.
"""
from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator

from ..forms import member_blocks
from ..forms.anonymous import marking
from ..packages.manifest import Lines, load_mapping, schema_problems
from ..packages.parts import Package, PackageProblem
from .kinds import kind_of
from .request import DEFAULT_ACCESS

FORMAT = 1
MAX_REPORT_BYTES = 256 * 1024
ROLES = ("caseworker", "professional_lead", "process_designer", "manager", "administrator")
TYPES = ("text", "integer", "number", "boolean", "date", "list")
PERIODS = ("active", "started", "ended")
AGGREGATES = ("count", "distinct", "sum", "mean", "ratio", "registrations", "paired")
# The figures of a paired anonymous questionnaire (docs/reports.md, "Paired questionnaires").
PAIRED_FIGURES = ("pairs", "mean_start", "mean_close", "mean_change", "improved", "unchanged", "worse")

_KEY = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}
_ID = {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,62}$"}
_FIELD = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,99}$"}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 2000}
_LOCALISED = {"type": "object", "required": ["hu", "en"], "additionalProperties": False,
              "properties": {"hu": _TEXT, "en": _TEXT}}
_LABEL = {"oneOf": [_TEXT, _LOCALISED]}  # a band's label: the same in both languages, or {hu, en}
_ROLES = {"type": "array", "items": {"enum": list(ROLES)}, "uniqueItems": True}
_SCALAR = {"type": ["string", "number", "boolean"]}
_CONDITION: dict = {"$ref": "#/$defs/condition"}
_OPERAND = {"oneOf": [_ID, {"type": "object", "additionalProperties": False, "required": ["divide"],
                            "properties": {"divide": {"type": "array", "items": _ID, "minItems": 2, "maxItems": 2}}}]}
_PERIOD = {"oneOf": [{"enum": list(PERIODS)},
                     {"type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
                      "properties": {"dated": _ID, "on": _ID}}]}
_MEASURE = {
    "period": _PERIOD,
    "where": _CONDITION,
    "count": _ID,
    "distinct": {"oneOf": [_ID, {"type": "array", "items": _ID, "minItems": 2, "maxItems": 2}]},
    "sum": _OPERAND,
    "mean": _OPERAND,
    "per_case": {"enum": ["max"]},
    "ratio": {"type": "object", "additionalProperties": False, "required": ["of", "to"],
              "properties": {"of": _ID, "to": _ID, "percent": {"type": "boolean"}}},
    "registrations": {"const": True},
    "paired": {"type": "object", "additionalProperties": False, "required": ["figure"],
               "properties": {"questionnaire": _KEY, "figure": {"enum": list(PAIRED_FIGURES)}, "item": _FIELD}},
    "process": _KEY,
    "round": {"type": "integer", "minimum": 0, "maximum": 6},
    "show": {"type": "boolean"},
}
# A figure's plan (docs/reports.md, "Plans"): a level, or an amount per calendar span; `caseworker`: one's own.
_PLAN = {"type": "object", "additionalProperties": False, "required": ["value"],
         "properties": {"value": {"type": "number", "minimum": 0}, "caseworker": {"type": "number", "minimum": 0},
                        "per": {"enum": ["month", "quarter", "year"]}}}
_FIGURE = {"type": "object", "additionalProperties": False, "required": ["id", "label"],
           "properties": {"id": _ID, "label": _LOCALISED, "help": _LOCALISED, "unit": _LOCALISED,
                          "details": {"type": "array", "items": _ID, "uniqueItems": True},
                          "table": _ID, "drill": _ID, "plan": _PLAN, **_MEASURE}}
_ROW = {"oneOf": [
    {"enum": ["caseworker", "month", "quarter"]},
    {"type": "object", "additionalProperties": False, "required": ["fact"],
     "properties": {"fact": _ID, "missing": _TEXT}},
    {"type": "object", "additionalProperties": False, "required": ["values"], "properties": {"values": _ID}},
    {"type": "object", "additionalProperties": False, "required": ["paired_items"],
     "properties": {"paired_items": _KEY}},
    {"type": "object", "additionalProperties": False, "required": ["bands"],
     "properties": {"bands": _ID, "from_request": {"const": True},
                    "limits": {"type": "array", "minItems": 1, "items": {
                        "type": "array", "minItems": 3, "maxItems": 3,
                        "prefixItems": [{"type": ["number", "null"]}, {"type": ["number", "null"]}, _LABEL]}},
                    "age": {"const": True}, "missing": _LABEL}},
]}
_FORM_FILE = {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,100}\\.json$"}
SCHEMA: dict = {
    "$defs": {"condition": {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": {
        "fact": _ID, "field": _FIELD, "equals": _SCALAR, "in": {"type": "array", "items": _SCALAR, "minItems": 1},
        "filled": {"type": "boolean"}, "above": {"type": "number"}, "completed": {"const": True},
        "any": {"type": "array", "items": _CONDITION, "minItems": 1},
        "all": {"type": "array", "items": _CONDITION, "minItems": 1}, "not": _CONDITION}}},
    "type": "object",
    "additionalProperties": False,
    "required": ["format", "key", "title", "processes", "case", "facts", "indicators"],
    "properties": {
        "format": {"const": FORMAT},
        "key": _KEY,
        "title": _LOCALISED,
        "help": _LOCALISED,
        "processes": {"type": "array", "items": _KEY, "minItems": 1, "uniqueItems": True},
        "access": {"type": "object", "additionalProperties": False,
                   "properties": {"read": _ROLES, "own": _ROLES, "names": _ROLES}},
        "case": {"type": "object", "additionalProperties": False, "required": ["start"],
                 "properties": {"start": _ID, "end": {"oneOf": [{"type": "null"}, _ID,
                                                                {"type": "array", "items": _ID, "minItems": 1}]}}},
        "facts": {"type": "object", "minProperties": 1, "propertyNames": _ID, "additionalProperties": {
            "type": "object", "additionalProperties": False, "properties": {
                "field": _FIELD, "type": {"enum": list(TYPES)}, "when": _CONDITION, "default": _SCALAR,
                "divide": {"type": "array", "items": _ID, "minItems": 2, "maxItems": 2},
                "days_between": {"type": "array", "items": _ID, "minItems": 2, "maxItems": 2},
                "otherwise": _ID, "case": {"enum": ["started", "completed"]}, "client": {"enum": ["birth_date"]},
                "person": {"enum": ["latest"]}, "label": _LOCALISED,
                "options": {"type": "object", "additionalProperties": _LOCALISED},
                "completions": {"oneOf": [_FORM_FILE, {"type": "array", "items": _FORM_FILE, "minItems": 1}]},
                "date": _FIELD, "values": _FIELD, "client_field": _FIELD,
                "fields": {"type": "object", "propertyNames": _ID, "additionalProperties": {"oneOf": [
                    {"enum": list(TYPES)},
                    {"type": "object", "additionalProperties": False, "required": ["field"],
                     "properties": {"field": _FIELD, "type": {"enum": list(TYPES)}, "contains": _SCALAR}}]}},
            }}},
        "indicators": {"type": "array", "items": _FIGURE, "minItems": 1},
        "tables": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["id", "title", "rows", "columns"],
            "properties": {"id": _ID, "title": _LOCALISED, "heading": _LOCALISED,
                           "rows": {"oneOf": [_ROW, {"type": "array", "items": _ROW, "minItems": 1, "maxItems": 2}]},
                           "omit_empty": {"type": "array", "items": _ID, "minItems": 1},
                           "columns": {"type": "array", "minItems": 1, "items": {
                               "type": "object", "additionalProperties": False, "required": ["id", "label"],
                               "properties": {"id": _ID, "label": _LOCALISED, **_MEASURE}}}}}},
    },
}
_VALIDATOR = Draft202012Validator(SCHEMA)


class Problems:
    """Problems of one report file, each with the line of the value it is about."""

    def __init__(self, file: str, lines: Lines):
        self.file, self.lines = file, lines
        self.found: list[PackageProblem] = []

    def add(self, path: tuple, message: str, code: str, **params) -> None:
        """``code`` and ``params``: what web/findings.py words in the reader's language (``path`` is the value's)."""
        where = ".".join(str(p) for p in path)
        self.found.append(PackageProblem(self.file, self.lines.of(*path), f"{where}: {message}" if where else message,
                                         code, {"path": where, **params}))


def parse(text: bytes, file: str) -> tuple[dict | None, Lines, list[PackageProblem]]:
    """A report file as data, the lines of its values, and what is wrong with its structure."""
    data, lines, problems = load_mapping(text, file, MAX_REPORT_BYTES, "report",
                                         "a report must be a mapping of fields (key: value)")
    if data is None:
        return None, lines, problems
    problems = schema_problems(_VALIDATOR, data, lines, file)
    return (data if not problems else None), lines, problems


# ---- what the report names must exist ---------------------------------------------------------------------------

def completion_forms(fact: dict) -> list[str]:
    """The form files whose completed steps a ``completions`` collection counts."""
    found = fact["completions"]
    return [found] if isinstance(found, str) else list(found)


def _package_fields(package: Package, processes: list[str]) -> tuple[dict[str, dict], dict[str, dict]]:
    """(field id → its JSON Schema, over every form of the package; form file → its schema). Fields a case
    starts with (the manifest's ``start.data``) are fields too."""
    fields: dict[str, dict] = {}
    forms: dict[str, dict] = {}
    for path, data in sorted(package.under("forms").items()):
        try:
            schema = json.loads(data)
        except ValueError:
            continue  # the form's own check reports it
        if isinstance(schema, dict):
            forms[path[len("forms/"):]] = schema
            for name, prop in (schema.get("properties") or {}).items():
                if isinstance(prop, dict):
                    fields.setdefault(name, prop)
    declared = package.manifest.get("processes") or {}
    for key in processes:
        spec = declared.get(key) or {}
        for name in ((spec.get("start") or {}).get("data") or {}):
            fields.setdefault(name, {"type": "string"})
    # A case with members: the engine writes its membership into the case's data, and a case it starts for a
    # member who leaves begins with the member's joining and leaving rows (docs/services.md, "Cases with members").
    rows: dict[str, dict] = {"client_code": {"type": "string"}, "joined_on": {"type": "string", "format": "date"},
                             "left_on": {"type": "string", "format": "date"}}
    for schema in forms.values():
        for block in member_blocks.blocks(schema):
            items = ((schema.get("properties") or {}).get(block) or {}).get("items") or {}
            for name, prop in (items.get("properties") or {}).items():
                rows.setdefault(name, prop)
    for key, spec in declared.items():
        settings = spec.get("members") or {}
        if not settings:
            continue
        if key in processes:
            fields.setdefault("case_members", {"type": "array", "items": {"type": "object", "properties": rows}})
            fields.setdefault("current_members", {"type": "array", "items": {"type": "string"}})
            fields.setdefault("member_count", {"type": "integer"})
        if settings.get("leaving_starts") in processes:
            for name, prop in rows.items():
                fields.setdefault(name, prop)
            fields.setdefault("members_case_id", {"type": "integer"})
    return fields, forms


def _check_condition(cond: dict, path: tuple, names: set[str], fields: dict, problems: Problems,
                     in_facts: bool) -> None:
    for sub in ("any", "all"):
        for i, c in enumerate(cond.get(sub) or []):
            _check_condition(c, (*path, sub, i), names, fields, problems, in_facts)
    if "not" in cond:
        _check_condition(cond["not"], (*path, "not"), names, fields, problems, in_facts)
    tests = [k for k in ("equals", "in", "filled", "above") if k in cond]
    subjects = [k for k in ("fact", "field", "completed", "any", "all", "not") if k in cond]
    if len(subjects) != 1:
        problems.add(path, "a condition names one of fact, field, completed, any, all, not",
                     "report_condition_subject")
        return
    if subjects[0] in ("fact", "field") and len(tests) != 1:
        problems.add(path, f"'{subjects[0]}' needs one test: equals, in, filled or above",
                     "report_condition_test", subject=subjects[0])
    if subjects[0] not in ("fact", "field") and tests:
        problems.add(path, f"{', '.join(tests)} go with 'fact' or 'field'", "report_condition_test_alone",
                     tests=", ".join(tests))
    if "fact" in cond and cond["fact"] not in names:
        problems.add((*path, "fact"), f"no fact '{cond['fact']}' (declared: {', '.join(sorted(names))})",
                     "report_fact_unknown_declared", fact=cond["fact"], declared=", ".join(sorted(names)))
    if "field" in cond:
        if not in_facts:
            problems.add((*path, "field"), "an indicator's condition reads facts ('fact'), not form fields",
                         "report_condition_field")
        elif cond["field"] not in fields:
            problems.add((*path, "field"), f"no form field '{cond['field']}' in the package's forms",
                         "report_form_field_unknown", field=cond["field"])
    if "completed" in cond and not in_facts:
        problems.add(path, "'completed' is a condition of a fact ('when')", "report_condition_completed")


def check(package: Package, path: str, data: dict, lines: Lines, known_processes: set[str]) -> list[PackageProblem]:
    """Everything a valid-looking report names must exist: processes, form fields and forms, facts, collections,
    indicators, tables and columns."""
    problems = Problems(path, lines)
    for i, key in enumerate(data["processes"]):
        if key not in known_processes:
            problems.add(("processes", i), f"process '{key}' is not a process of this package "
                                           f"({', '.join(sorted(known_processes))})", "report_process_unknown",
                         process=key, known=", ".join(sorted(known_processes)))
    fields, forms = _package_fields(package, data["processes"])
    facts = data["facts"]
    names = set(facts)
    collections = {n for n, f in facts.items() if kind_of(f) != "scalar"}
    entry_fields: dict[str, set[str]] = {n: set(facts[n].get("fields") or {}) | {"value"} for n in collections}
    for name, fact in facts.items():
        where = ("facts", name)
        kind = kind_of(fact)
        sources = [k for k in ("field", "divide", "days_between", "case", "client", "completions") if k in fact]
        if len(sources) != 1:
            problems.add(where, "a fact has one source: field, divide, days_between, case, client or completions",
                         "report_fact_source")
            continue
        if "field" in fact and fact["field"] not in fields:
            problems.add((*where, "field"), f"no form field '{fact['field']}' in the package's forms",
                         "report_form_field_unknown", field=fact["field"])
        if "completions" in fact:
            # One form, or several whose completions are one collection (the steps of one kind drawn as tasks
            # of their own, e.g. a first meeting and the later ones).
            for file in completion_forms(fact):
                form = forms.get(file)
                if form is None:
                    problems.add((*where, "completions"), f"no form '{file}' in forms/", "form_not_in_forms",
                                 form=file)
                    continue
                form_fields = set(form.get("properties") or {})
                for key in ("date", "values"):
                    if key in fact and fact[key] not in form_fields:
                        problems.add((*where, key), f"no field '{fact[key]}' in {file}",
                                     "report_field_not_in_form", field=fact[key], form=file)
                for fname, spec in (fact.get("fields") or {}).items():
                    field = spec["field"] if isinstance(spec, dict) else fname
                    if field not in form_fields:
                        problems.add((*where, "fields", fname), f"no field '{field}' in {file}",
                                     "report_field_not_in_form", field=field, form=file)
        elif kind == "records":
            items = ((fields.get(fact.get("field", "")) or {}).get("items") or {}).get("properties") or {}
            for key in ("date", "client_field"):
                if key in fact and fact[key] not in items:
                    problems.add((*where, key), f"no field '{fact[key]}' in the records of '{fact.get('field')}'",
                                 "report_field_not_in_records", field=fact[key], records=fact.get("field"))
            for fname, spec in (fact.get("fields") or {}).items():
                field = spec["field"] if isinstance(spec, dict) else fname
                if field not in items:
                    problems.add((*where, "fields", fname), f"no field '{field}' in the records of "
                                                            f"'{fact.get('field')}'", "report_field_not_in_records",
                                 field=field, records=fact.get("field"))
        for key in ("divide", "days_between"):
            for j, other in enumerate(fact.get(key) or []):
                if other not in names or kind_of(facts[other]) != "scalar":
                    problems.add((*where, key, j), f"'{other}' is not a fact of one value", "report_fact_not_scalar",
                                 fact=other)
        if "person" in fact and ("field" not in fact or kind != "scalar"):
            problems.add((*where, "person"), "'person: latest' goes with a fact of one value read from a field",
                         "report_person_latest")
        for file in completion_forms(fact) if "values" in fact and "completions" in fact else []:
            if (((forms.get(file) or {}).get("properties") or {}).get(fact["values"]) or {}).get(
                    "type", "array") != "array":
                problems.add((*where, "values"), f"'{fact['values']}' is not a list field of {file}",
                             "report_values_not_list", field=fact["values"], form=file)
        if "otherwise" in fact and fact["otherwise"] not in names:
            problems.add((*where, "otherwise"), f"no fact '{fact['otherwise']}'", "report_fact_unknown",
                         fact=fact["otherwise"])
        if "when" in fact:
            _check_condition(fact["when"], (*where, "when"), names, fields, problems, True)
    # The register's birth date is sealed at rest (engine/cases/clients.py): the engine reads it only to band
    # ages (engine/reports/compute.py, ``Births``), so a register fact is read by an age band's rows only.
    register = {n for n, f in facts.items() if "client" in f}

    def register_read(path: tuple, name: str) -> None:
        problems.add(path, f"'{name}' is the client register's birth date, sealed at rest: only an age band's "
                           f"rows read it ('bands: {name}' with 'age: true')", "report_register_fact", fact=name)

    for name, fact in facts.items():
        for key in ("divide", "days_between"):
            for j, other in enumerate(fact.get(key) or []):
                if other in register:
                    register_read(("facts", name, key, j), other)
        if fact.get("otherwise") in register:
            register_read(("facts", name, "otherwise"), fact["otherwise"])
        for other in _condition_facts(fact.get("when") or {}):
            if other in register:
                register_read(("facts", name, "when"), other)
    ends = data["case"].get("end")
    for key, value in (("start", data["case"]["start"]), *(("end", e) for e in (
            [ends] if isinstance(ends, str) else ends or []))):
        if value in register:
            register_read(("case", key), value)
    for key in ("start",):
        if data["case"][key] not in names:
            problems.add(("case", key), f"no fact '{data['case'][key]}'", "report_fact_unknown",
                         fact=data["case"][key])
    ends = data["case"].get("end")
    for i, end in enumerate([ends] if isinstance(ends, str) else ends or []):
        if end not in names:
            problems.add(("case", "end") if isinstance(ends, str) else ("case", "end", i), f"no fact '{end}'",
                         "report_fact_unknown", fact=end)

    figure_ids = [f["id"] for f in data["indicators"]]
    tables = {t["id"]: t for t in data.get("tables") or []}
    for dup in {i for i in figure_ids if figure_ids.count(i) > 1}:
        problems.add(("indicators",), f"indicator '{dup}' is declared twice", "report_indicator_twice",
                     indicator=dup)

    groups = _pair_groups(forms)

    def check_paired(m: dict, path: tuple, group: str | None) -> None:
        """A figure of a paired anonymous questionnaire: its pair group, item and nothing that reads cases."""
        paired = m["paired"]
        group = paired.get("questionnaire") or group
        if group is None:
            problems.add((*path, "paired"), "name the pair group: 'questionnaire: <group>' (or rows: "
                                            "{paired_items: <group>})", "report_pair_group_missing")
            return
        items = groups.get(group)
        if items is None:
            known = ", ".join(sorted(groups)) or "none"
            problems.add((*path, "paired", "questionnaire"),
                         f"no anonymous questionnaire pair group '{group}' with a start and a close form ({known})",
                         "report_pair_group_unknown", group=group, known=known)
        elif "item" in paired and paired["item"] not in items:
            problems.add((*path, "paired", "item"), f"'{paired['item']}' is not a number asked at both moments of "
                                                    f"'{group}' ({', '.join(items)})", "report_pair_item_unknown",
                         item=paired["item"], group=group, items=", ".join(items))
        for key in ("period", "where", "process", "per_case"):
            if key in m:
                problems.add((*path, key), f"'{key}' reads cases; anonymous answers have none (the period is "
                                           "the close answer's)", "report_pair_reads_cases", key=key)

    def check_measure(m: dict, path: tuple, local: set[str], group: str | None = None) -> None:
        aggregates = [k for k in AGGREGATES if k in m]
        if "table" in m and not aggregates:
            return
        if len(aggregates) != 1:
            problems.add(path, f"an indicator computes one of: {', '.join(AGGREGATES)}", "report_aggregate",
                         aggregates=", ".join(AGGREGATES))
            return
        if "paired" in m:
            check_paired(m, path, group)
            return
        period = m.get("period", "active")
        read: dict[tuple, list] = {(*path, "where"): _condition_facts(m.get("where") or {}),
                                   (*path, "period"): [period.get("on")] if isinstance(period, dict) else []}
        for key in ("sum", "mean", "distinct"):
            operand = m.get(key)
            read[(*path, key)] = [operand] if isinstance(operand, str) else (
                operand.get("divide") or [] if isinstance(operand, dict) else operand or [])
        for at, names_at in read.items():
            for name in sorted(set(names_at) & register):
                register_read(at, name)
        dated = period.get("dated") if isinstance(period, dict) else None
        counted = m.get("count")
        if dated is not None and dated not in collections:
            problems.add((*path, "period", "dated"), f"'{dated}' is not a collection (a list fact)",
                         "report_not_collection", fact=dated)
        if isinstance(period, dict) and "on" in period and period["on"] not in names:
            problems.add((*path, "period", "on"), f"no fact '{period['on']}'", "report_fact_unknown",
                         fact=period["on"])
        if counted is not None and counted != "cases" and counted not in collections:
            problems.add((*path, "count"), f"count 'cases' or a collection ({', '.join(sorted(collections))})",
                         "report_count", collections=", ".join(sorted(collections)))
        collection = counted if counted not in (None, "cases") else dated
        visible = names | (entry_fields.get(collection, set()) if collection else set())
        if "where" in m:
            _check_condition(m["where"], (*path, "where"), visible, fields, problems, False)
        distinct = m.get("distinct")
        for _j, d in enumerate([distinct] if isinstance(distinct, str) else distinct or []):
            if d not in ("client", "caseworker", "case", "value") and d not in visible:
                problems.add((*path, "distinct"), f"distinct 'client', 'caseworker', 'case', 'value' or a fact, "
                                                  f"not '{d}'", "report_distinct", value=d)
        for key in ("sum", "mean"):
            operand = m.get(key)
            for _j, o in enumerate([operand] if isinstance(operand, str) else (operand or {}).get("divide") or []):
                if o not in visible:
                    problems.add((*path, key), f"no fact '{o}'", "report_fact_unknown", fact=o)
        if "per_case" in m and not ({"sum", "mean"} & set(m)):
            problems.add((*path, "per_case"), "'per_case' goes with 'sum' or 'mean' (the case's largest value, then "
                                              "summed or averaged over the cases)", "report_per_case")
        if "ratio" in m:
            for key in ("of", "to"):
                if m["ratio"][key] not in local and m["ratio"][key] not in figure_ids:
                    problems.add((*path, "ratio", key), f"no indicator or column '{m['ratio'][key]}'",
                                 "report_ratio_unknown", name=m["ratio"][key])
        if "process" in m and m["process"] not in data["processes"]:
            problems.add((*path, "process"), f"process '{m['process']}' is not one of the report's",
                         "report_process_not_reports", process=m["process"])

    for i, fig in enumerate(data["indicators"]):
        check_measure(fig, ("indicators", i), set())
        if "table" in fig and fig["table"] not in tables:
            problems.add(("indicators", i, "table"), f"no table '{fig['table']}'", "report_table_unknown",
                         table=fig["table"])
        if "plan" in fig and "table" in fig:
            problems.add(("indicators", i, "plan"), "a figure shown as a table has no plan of its own",
                         "report_table_plan")
        if "drill" in fig and fig.get("table") in tables \
                and fig["drill"] not in {c["id"] for c in tables[fig["table"]]["columns"]}:
            problems.add(("indicators", i, "drill"), f"no column '{fig['drill']}' in table '{fig['table']}'",
                         "report_drill_unknown", column=fig["drill"], table=fig["table"])
        for j, d in enumerate(fig.get("details") or []):
            if d not in figure_ids:
                problems.add(("indicators", i, "details", j), f"no indicator '{d}'", "report_indicator_unknown",
                             indicator=d)
    for i, table in enumerate(data.get("tables") or []):
        columns = {c["id"] for c in table["columns"]}
        rows = table["rows"] if isinstance(table["rows"], list) else [table["rows"]]
        pair_rows = [r["paired_items"] for r in rows if isinstance(r, dict) and "paired_items" in r]
        for j, column in enumerate(table["columns"]):
            check_measure(column, ("tables", i, "columns", j), columns, pair_rows[0] if pair_rows else None)
            if pair_rows and not ("paired" in column or "ratio" in column):
                problems.add(("tables", i, "columns", j), "rows of a paired questionnaire's items take 'paired' "
                                                          "figures (or ratios of them)", "report_pair_column")
            elif pair_rows and "item" in column.get("paired", {}):
                problems.add(("tables", i, "columns", j, "paired", "item"), "the rows are the items",
                             "report_pair_item_column")
        if pair_rows and len(rows) != 1:
            problems.add(("tables", i, "rows"), "a paired questionnaire's items are the only rows",
                         "report_pair_rows_only")
            continue
        if pair_rows:
            if pair_rows[0] not in groups:
                problems.add(("tables", i, "rows"), f"no anonymous questionnaire pair group '{pair_rows[0]}'",
                             "report_pair_rows_unknown", group=pair_rows[0])
            continue
        if sum(1 for r in rows if r in ("month", "quarter")) > 1 or (len(rows) == 2 and not any(
                r in ("month", "quarter") for r in rows)):
            problems.add(("tables", i, "rows"), "two kinds of rows are a period (month or quarter) and another",
                         "report_rows_two_kinds")
        for r in rows:
            if isinstance(r, dict):
                name = r.get("fact") or r.get("values") or r.get("bands")
                if name not in names:
                    problems.add(("tables", i, "rows"), f"no fact '{name}'", "report_fact_unknown",
                                 fact=name)
                elif "values" in r and name not in collections:
                    problems.add(("tables", i, "rows"), f"'{name}' is not a list fact", "report_not_list_fact",
                                 fact=name)
                if isinstance(name, str) and name in register and not ("bands" in r and r.get("age")):
                    register_read(("tables", i, "rows"), name)
                if "bands" in r and not r.get("from_request") and not r.get("limits"):
                    problems.add(("tables", i, "rows"), "bands come 'from_request' or have 'limits'",
                                 "report_bands")
        for j, c in enumerate(table.get("omit_empty") or []):
            if c not in columns:
                problems.add(("tables", i, "omit_empty", j), f"no column '{c}'", "report_column_unknown",
                             column=c)
    return problems.found


def _condition_facts(cond: dict) -> list[str]:
    """The facts a condition reads, at any depth."""
    found = [cond["fact"]] if isinstance(cond.get("fact"), str) else []
    for sub in cond.get("any", []) + cond.get("all", []) + ([cond["not"]] if "not" in cond else []):
        if isinstance(sub, dict):
            found += _condition_facts(sub)
    return found


def _pair_groups(forms: dict[str, dict]) -> dict[str, list[str]]:
    """The package's paired anonymous questionnaires with both a start and a close form: group → the numbers
    asked at both moments."""
    moments: dict[str, dict[str, dict]] = {}
    for schema in forms.values():
        try:
            mark = marking(schema) if isinstance(schema, dict) else None
        except (KeyError, TypeError, AttributeError):
            continue  # the form's own check reports a malformed x-anonymous
        if mark is not None and mark.pair_group and mark.pair_moment:
            moments.setdefault(mark.pair_group, {})[mark.pair_moment] = {"schema": schema, "field": mark.pair_field}
    found = {}
    for group, by in moments.items():
        if {"start", "close"} <= set(by):
            opening = by["start"]["schema"].get("properties") or {}
            found[group] = [name for name, prop in (by["close"]["schema"].get("properties") or {}).items()
                            if name != by["close"]["field"] and isinstance(prop, dict)
                            and prop.get("type") in ("integer", "number")
                            and (opening.get(name) or {}).get("type") in ("integer", "number")]
    return found


def normalised(data: dict) -> dict[str, Any]:
    """The report as stored: defaults filled in, so computing never guesses."""
    result = dict(data)
    result["access"] = {**DEFAULT_ACCESS, **(data.get("access") or {})}
    result.setdefault("tables", [])
    ends = data["case"].get("end")
    result["case"] = {"start": data["case"]["start"],
                      "end": [ends] if isinstance(ends, str) else list(ends or [])}
    return result


def check_package(package: Package) -> tuple[list[tuple[str, dict]], list[PackageProblem]]:
    """Every report of a package: (file, normalised report) and the problems found, each with file and line."""
    problems: list[PackageProblem] = []
    found: list[tuple[str, dict]] = []
    keys: dict[str, str] = {}
    processes = set((package.manifest or {}).get("processes") or {})
    for path, text in sorted(package.under("reports").items()):
        if not path.endswith((".yaml", ".yml")) or path.count("/") != 1:
            problems.append(PackageProblem(path, None, "reports/ holds report files (*.yaml) only, no subfolders",
                                           "reports_folder_file"))
            continue
        data, lines, structure = parse(text, path)
        problems += structure
        if data is None:
            continue
        own = check(package, path, data, lines, processes)
        problems += own
        if data["key"] in keys:
            problems.append(PackageProblem(path, lines.of("key"), f"key: '{data['key']}' is the key of "
                                                                  f"{keys[data['key']]} too", "report_key_twice",
                                           {"path": "key", "key": data["key"], "other": keys[data["key"]]}))
        keys[data["key"]] = path
        if not own:
            found.append((path, normalised(data)))
    return found, problems
