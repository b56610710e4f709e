"""Demo case scripts, a package's ``demo/*.yaml``: read with the line of every value, checked against the
package's processes, forms and the demo users, and the ``${...}`` values worked out when a script is played.

The format is documented in docs/services.md ("Demo data"); engine/demo.py plays the scripts.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

from ..sandbox.calendar_helpers import months_later
from .manifest import Lines, load_mapping
from .parts import Package, PackageProblem

FOLDER = "demo"
FORMAT = 1
MAX_SCRIPT_BYTES = 256 * 1024

_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}
_TASK = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_.-]{0,99}$"}
_USER = {"type": "string", "minLength": 1, "maxLength": 80}
_STEP = {
    "type": "object", "additionalProperties": False, "required": ["task"],
    "properties": {"task": _TASK, "by": _USER, "use": _NAME, "data": {"type": "object"}},
}
_CASE = {
    "type": "object", "additionalProperties": False, "required": ["process", "by"],
    "properties": {"name": _NAME, "process": _NAME, "by": _USER,
                   "client": {"type": "string", "minLength": 1, "maxLength": 200},
                   "steps": {"type": "array", "items": _STEP}, "stops_at": _TASK},
}
SCHEMA: dict = {
    "type": "object", "additionalProperties": False, "required": ["format", "cases"],
    "properties": {
        "format": {"const": FORMAT},
        "data": {"type": "object", "propertyNames": _NAME, "additionalProperties": {"type": "object"}},
        "cases": {"type": "array", "minItems": 1, "items": _CASE},
    },
}
_VALIDATOR = Draft202012Validator(SCHEMA)

# A value written as ``${...}`` (the whole string) is worked out when the script is played: a date relative to
# the day it is played, or what an earlier demo case produced.
_EXPRESSION = re.compile(r"\$\{(.*)\}", re.DOTALL)
_RELATIVE_DATE = re.compile(r"today(?:\s*([+-])\s*(\d{1,4})\s*([dwm]))?")
_PRODUCED = re.compile(r"([a-z][a-z0-9_]{0,62})\.(client_code|case_id)")
PRODUCED = ("client_code", "case_id")


@dataclass
class DemoStep:
    line: int
    task: str
    by: str
    data: dict


@dataclass
class DemoCase:
    """One case the demo starts: ``file`` and ``line`` say where it is written, for every error about it."""

    package: str
    file: str
    line: int
    process: str
    by: str
    name: str | None = None
    client: str | None = None
    client_line: int | None = None
    steps: list[DemoStep] = field(default_factory=list)
    stops_at: str | None = None
    stops_at_line: int | None = None

    def where(self, line: int | None = None) -> str:
        return f"{self.package}/{self.file}:{line or self.line}"


@dataclass
class TaskFacts:
    """What the check needs of a user task: the lane that does it and the fields of its form."""

    lane: str
    fields: set[str] | None  # None: the task has no form


class DemoError(Exception):
    """A ``${...}`` value that cannot be worked out."""


def _yaml_values(value: Any) -> Any:
    """Dates YAML reads by itself (``2026-03-05`` unquoted) become the ISO text a form expects."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _yaml_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_yaml_values(v) for v in value]
    return value


def parse(text: bytes, file: str) -> tuple[dict | None, Lines, list[PackageProblem]]:
    """One script as data, the lines of its values, and what is wrong with it by the format."""
    data, lines, problems = load_mapping(text, file, MAX_SCRIPT_BYTES, "demo script",
                                         "a demo script is a mapping of fields (format, data, cases)",
                                         construct=_yaml_values)
    if data is None:
        return None, lines, problems
    problems = []
    for error in sorted(_VALIDATOR.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        path = tuple(error.absolute_path)
        where = ".".join(str(p) for p in path) or "(top level)"
        message = error.message.replace("Additional properties are not allowed", "unknown field(s)")[:300]
        line = lines.of(*path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            # The line of the misspelt field itself, not of the mapping holding it.
            unknown = sorted(set(error.instance) - set(error.schema.get("properties") or {}), key=str)
            line = lines.of(*path, unknown[0]) if unknown else line
        problems.append(PackageProblem(file, line, f"{where}: {message}", "schema_mismatch",
                                       {"path": where, "detail": message}))
    return (data if not problems else None), lines, problems


def scripts(package: Package) -> tuple[list[DemoCase], list[PackageProblem]]:
    """Every case of the package's demo scripts in playing order (files by name, cases as written), and what
    keeps a script from being read."""
    found: list[DemoCase] = []
    problems: list[PackageProblem] = []
    for path, text in sorted(package.under(FOLDER).items()):
        if not path.endswith((".yaml", ".yml")) or path.count("/") != 1:
            problems.append(PackageProblem(path, None, "demo/ holds demo scripts (*.yaml) only, no subfolders",
                                           "demo_folder_file"))
            continue
        data, lines, script_problems = parse(text, path)
        problems += script_problems
        if data is None:
            continue
        named = data.get("data") or {}
        for i, spec in enumerate(data["cases"]):
            case = DemoCase(package.folder_name, path, lines.of("cases", i) or 1, spec["process"], spec["by"],
                            spec.get("name"), spec.get("client"), lines.of("cases", i, "client"),
                            stops_at=spec.get("stops_at"), stops_at_line=lines.of("cases", i, "stops_at"))
            for j, step in enumerate(spec.get("steps") or ()):
                line = lines.of("cases", i, "steps", j) or 1
                use = step.get("use")
                if use is not None and use not in named:
                    problems.append(PackageProblem(path, lines.of("cases", i, "steps", j, "use"),
                                                   f"cases.{i}.steps.{j}.use: no data named '{use}' under 'data' "
                                                   f"(named: {', '.join(sorted(named)) or 'none'})",
                                                   "demo_data_unknown", {"path": f"cases.{i}.steps.{j}.use",
                                                                         "use": str(use),
                                                                         "named": ", ".join(sorted(named))}))
                values = {**(named.get(use) or {}), **(step.get("data") or {})}
                case.steps.append(DemoStep(line, step["task"], step.get("by") or spec["by"], values))
            found.append(case)
    return found, problems


def expressions(value: Any) -> Iterator[str]:
    """The ``${...}`` texts anywhere in a value."""
    if isinstance(value, str):
        match = _EXPRESSION.fullmatch(value)
        if match:
            yield match.group(1).strip()
    elif isinstance(value, dict):
        for v in value.values():
            yield from expressions(v)
    elif isinstance(value, list):
        for v in value:
            yield from expressions(v)


def _expression_problem(text: str) -> str | None:
    if _RELATIVE_DATE.fullmatch(text) or _PRODUCED.fullmatch(text):
        return None
    return (f"'${{{text}}}' is neither a date relative to the day the demo is played ('today', 'today-10d', "
            f"'today+2w', 'today-3m') nor what an earlier case produced ('<case name>.client_code', "
            f"'<case name>.case_id')")


def produced_names(value: Any) -> set[str]:
    """The case names a value's ``${<name>.…}`` parts refer to."""
    return {m.group(1) for text in expressions(value) if (m := _PRODUCED.fullmatch(text))}


def check(package: Package, tasks: Mapping[str, Mapping[str, TaskFacts]],
          demo_users: Mapping[str, set[str]]) -> list[PackageProblem]:
    """The package's demo scripts: readable, each case starts a process of this package (with a client when the
    process starts from one), each step is a user task of that process done by a demo user whose role works in
    its lane with fields of its form, names are unique and a ``${...}`` value is well formed and refers to a case
    played before it. ``tasks``: process key -> task id -> facts, for the processes whose BPMN is valid;
    ``demo_users``: username -> role codes."""
    found, problems = scripts(package)
    manifest = package.manifest
    lane_role = {spec["lane"]: role for role, spec in manifest["roles"].items()}
    seen: dict[str, DemoCase] = {}
    later = {case.name: case for case in found if case.name}

    def refuse(case: DemoCase, line: int | None, message: str, code: str, **params) -> None:
        problems.append(PackageProblem(case.file, line or case.line, message, code, params))

    for case in found:
        spec = manifest["processes"].get(case.process)
        if spec is None:
            refuse(case, None, f"process '{case.process}' is not one of this package's processes "
                               f"({', '.join(sorted(manifest['processes']))})", "demo_process_unknown",
                   process=case.process, known=", ".join(sorted(manifest["processes"])))
            continue
        if spec["start"].get("manual") is False:
            refuse(case, None, f"process '{case.process}' is not started by hand (start.manual: false): play "
                               "the case that starts it", "demo_not_manual", process=case.process)
        if case.by not in demo_users:
            refuse(case, None, f"'{case.by}' is not a demo user ({', '.join(sorted(demo_users))})",
                   "demo_user_unknown", user=case.by, known=", ".join(sorted(demo_users)))
        elif spec["start"].get("roles") and not set(spec["start"]["roles"]) & demo_users[case.by]:
            refuse(case, None, f"'{case.by}' may not start '{case.process}' (start.roles: "
                               f"{', '.join(spec['start']['roles'])})", "demo_may_not_start", user=case.by,
                   process=case.process, roles=", ".join(spec["start"]["roles"]))
        starts_from_client = spec["start"]["from"] != "nothing"
        if starts_from_client and case.client is None:
            refuse(case, None, f"process '{case.process}' starts from a client registered by "
                               f"'{spec['start']['from']}': give 'client' (e.g. '${{<case name>.client_code}}')",
                   "demo_client_missing", process=case.process, registered_by=spec["start"]["from"])
        if not starts_from_client and case.client is not None:
            refuse(case, case.client_line, f"process '{case.process}' starts from nothing: it takes no 'client'",
                   "demo_client_not_taken", process=case.process)
        process_tasks = tasks.get(case.process)
        for step in case.steps:
            if step.by not in demo_users:
                refuse(case, step.line, f"'{step.by}' is not a demo user ({', '.join(sorted(demo_users))})",
                       "demo_user_unknown", user=step.by, known=", ".join(sorted(demo_users)))
            if process_tasks is None:
                continue  # its BPMN file was refused, with its own problems
            facts = process_tasks.get(step.task)
            if facts is None:
                refuse(case, step.line, f"process '{case.process}' has no user task '{step.task}'",
                       "demo_task_unknown", process=case.process, task=step.task)
                continue
            role = lane_role.get(facts.lane)
            if role and step.by in demo_users and role not in demo_users[step.by]:
                refuse(case, step.line, f"'{step.by}' does not have the role '{role}' that does '{step.task}'",
                       "demo_role_missing", user=step.by, role=role, task=step.task)
            unknown = sorted(set(step.data) - (facts.fields or set()))
            if unknown:
                refuse(case, step.line, f"the form of '{step.task}' has no field(s) {', '.join(unknown)}",
                       "demo_fields_unknown", task=step.task, fields=", ".join(unknown))
        if case.stops_at is not None and process_tasks is not None and case.stops_at not in process_tasks:
            refuse(case, case.stops_at_line, f"process '{case.process}' has no user task '{case.stops_at}'",
                   "demo_task_unknown", process=case.process, task=case.stops_at)
        for line, value in [(case.client_line, case.client)] + [(s.line, s.data) for s in case.steps]:
            for text in expressions(value):
                message = _expression_problem(text)
                if message:
                    refuse(case, line, message, "demo_expression_invalid", expression=text)
            for name in sorted(produced_names(value)):
                if name in later and name not in seen:
                    refuse(case, line, f"case '{name}' ({later[name].file}:{later[name].line}) is played after "
                                       "this one: cases play in the order they are written", "demo_case_later",
                           name=name, at=f"{later[name].file}:{later[name].line}")
        if case.name:
            if case.name in seen:
                first = seen[case.name]
                refuse(case, None, f"a case named '{case.name}' is already at {first.file}:{first.line}",
                       "demo_name_twice", name=case.name, at=f"{first.file}:{first.line}")
            else:
                seen[case.name] = case
    return problems


def resolve(value: Any, today: dt.date, produced: Callable[[str, str], Any]) -> Any:
    """``value`` with every ``${...}`` worked out: a relative date as ``YYYY-MM-DD``; ``<name>.<what>`` by
    ``produced(name, what)``. Raises DemoError naming what cannot be worked out."""
    if isinstance(value, dict):
        return {k: resolve(v, today, produced) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, today, produced) for v in value]
    match = _EXPRESSION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return value
    text = match.group(1).strip()
    date = _RELATIVE_DATE.fullmatch(text)
    if date:
        sign, count, unit = date.groups()
        if not count:
            return today.isoformat()
        n = int(count) * (-1 if sign == "-" else 1)  # at most 9999: a few centuries, never out of range
        if unit == "m":
            return months_later(today, n).isoformat()
        return (today + dt.timedelta(days=n * (7 if unit == "w" else 1))).isoformat()
    reference = _PRODUCED.fullmatch(text)
    if reference:
        return produced(*reference.groups())
    raise DemoError(_expression_problem(text) or text)
