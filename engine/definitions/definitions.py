"""Deploying process versions: validate a BPMN file and its forms, store the parsed spec once.

Validation is all-or-nothing: every problem is reported with its file and line, and an invalid upload changes
nothing. Running cases stay on the version they started with.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SPIFF_XSD, SpiffBpmnParser
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import sandbox
from ..errors import Conflict, DefinitionInvalid, NotFound, ValidationFailed
from ..forms import review
from ..forms.forms import _object_nodes
from ..people.users import ROLES
from ..sandbox import limits, timer_values
from ..sandbox.checker import compile_source
from ..sandbox.safe_builtins import RAW_BUILTINS, WRAPPED
from ..store import audit, clock
from ..store.command_session import AnySession
from ..store.db import Prepared
from ..store.models import PackageVersion, ProcessDefinition
from . import serialization, static_conditions, static_names
from .form_files import append_only_agreement, check_form_file

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiff": SPIFF_NS}
MAX_BPMN_BYTES = 5 * 1024 * 1024
FORM_PROPERTY = "formJsonSchemaFilename"

_validator_lock = threading.Lock()
_validator: BpmnValidator | None = None


def _xsd_validator() -> BpmnValidator:
    """SpiffWorkflow's own schema: the BPMN XSD with its ``spiff:`` extensions, as its parser's VALIDATOR is built
    (a plain BPMN validator lets through extensions SpiffWorkflow cannot read, e.g. an operator without
    parameters). One instance of our own: its error log is read after each validation, under the lock."""
    global _validator
    with _validator_lock:
        if _validator is None:
            _validator = BpmnValidator(imports={"spiffworkflow": SPIFF_XSD})
        return _validator


def _element_at(root, line: int | None):
    """The element an XML schema error's line points into: the innermost element with an id that starts on that
    line or encloses it, so that a message names what a modeler shows (its id), not only a line."""
    if not line:
        return None
    best = None
    for el in root.iter():
        if not isinstance(el.tag, str) or el.sourceline is None:
            continue
        if el.sourceline > line:
            break
        best = el
    while best is not None and not best.get("id"):
        best = best.getparent()
    return best


def _schema_problems(upload: Upload, tree) -> list[dict]:
    validator = _xsd_validator()
    root = tree.getroot()
    with _validator_lock:
        validator.preprocess(root)
        if validator.validator.validate(tree):
            return []
        errors = [(err.line, err.message) for err in validator.validator.error_log]
    problems = []
    for line, message in errors:
        element = _element_at(root, line)
        problem = {"file": upload.bpmn_name, "line": line, "message": f"XML schema: {message}",
                   "code": "bpmn_schema", "params": {"detail": message}}
        if element is not None:
            problem["element"] = problem["params"]["element"] = element.get("id")
            problem["message"] = f"{element.get('id')}: XML schema: {message}"
        problems.append(problem)
    return problems


def _process_count_problem(upload: Upload, root, found: list[str]) -> DefinitionInvalid:
    """Why a file does not hold exactly one executable process, in the modeler's terms."""
    name = upload.bpmn_name
    processes = root.xpath("//bpmn:process", namespaces=NS)
    if not processes:
        return DefinitionInvalid(f"{name} holds no process (no bpmn:process element): a file of only a "
                                 "collaboration or a diagram cannot run", [{"file": name, "line": None,
                                                                            "message": "no bpmn:process element",
                                                                            "code": "process_none", "params": {}}])
    if not found:
        problems = [{"file": name, "line": p.sourceline, "element": p.get("id"),
                     "message": f"{p.get('id')}: isExecutable=\"{p.get('isExecutable')}\": not a process to run",
                     "code": "process_not_executable",
                     "params": {"element": p.get("id"), "value": p.get("isExecutable")}}
                    for p in processes]
        return DefinitionInvalid(
            f"{name} holds no executable process: {_listing(processes)} "
            f"{'is' if len(processes) == 1 else 'are'} marked isExecutable=\"false\". Segito runs the one process "
            "of a file marked executable: set isExecutable=\"true\" on it (the modeler's \"Executable\" box)",
            problems)
    executable = [p for p in processes if p.get("id") in found]
    pools = root.xpath("//bpmn:collaboration/bpmn:participant[@processRef]", namespaces=NS)
    problems = [{"file": name, "line": p.sourceline, "element": p.get("id"),
                 "message": f"{p.get('id')}: one of {len(executable)} executable processes",
                 "code": "process_executable_many", "params": {"element": p.get("id"), "count": len(executable)}}
                for p in executable]
    why = (f"its collaboration has {len(pools)} pools whose processes are executable" if len(pools) > 1
           else f"it holds {len(executable)} processes marked executable")
    return DefinitionInvalid(
        f"{name} must hold exactly one executable process, and {why}: {_listing(executable)}. Deploy each process "
        "from a file of its own, or mark the processes Segito should not run (e.g. the pool drawn for a partner) "
        "isExecutable=\"false\"", problems)


def _listing(elements) -> str:
    return ", ".join(f"'{el.get('id')}' (line {el.sourceline})" for el in elements)


@dataclass
class Upload:
    """A BPMN file and the form files it names."""

    bpmn_name: str
    bpmn_bytes: bytes
    forms: dict[str, bytes]

    @classmethod
    def from_path(cls, path: str | Path) -> Upload:
        path = Path(path)
        forms_dir = path.parent / "forms"
        forms = {p.name: p.read_bytes() for p in sorted(forms_dir.glob("*.json"))} if forms_dir.is_dir() else {}
        return cls(path.name, path.read_bytes(), forms)

    def content_hash(self) -> str:
        h = hashlib.sha256(self.bpmn_bytes)
        for name in sorted(self.forms):
            h.update(name.encode())
            h.update(hashlib.sha256(self.forms[name]).digest())
        return h.hexdigest()


def _parse_xml(upload: Upload) -> etree._ElementTree:
    if len(upload.bpmn_bytes) > MAX_BPMN_BYTES:
        said = f"{upload.bpmn_name} is larger than {MAX_BPMN_BYTES} bytes"
        raise DefinitionInvalid(said, [{"file": upload.bpmn_name, "line": None, "message": said,
                                        "code": "bpmn_too_large",
                                        "params": {"file": upload.bpmn_name, "limit": MAX_BPMN_BYTES}}])
    # No DTDs, no entities, no network: entity-expansion bombs and external entities are refused, not expanded.
    doctype = re.search(rb"<!DOCTYPE|<!ENTITY", upload.bpmn_bytes, re.IGNORECASE)
    if doctype:
        line = upload.bpmn_bytes[: doctype.start()].count(b"\n") + 1
        raise DefinitionInvalid(f"{upload.bpmn_name}: DOCTYPE declarations (and so XML entities) are not allowed",
                                [{"file": upload.bpmn_name, "line": line,
                                  "message": "DOCTYPE declarations and entities are not allowed",
                                  "code": "bpmn_doctype", "params": {}}])
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=False)
    try:
        tree = etree.ElementTree(etree.fromstring(upload.bpmn_bytes, parser))
    except etree.XMLSyntaxError as e:
        lineno = e.lineno if e.lineno else None
        raise DefinitionInvalid(f"{upload.bpmn_name}: malformed XML at line {lineno}: {e.msg}",
                                [{"file": upload.bpmn_name, "line": lineno,
                                  "message": f"malformed XML: {e.msg}", "code": "xml_malformed",
                                  "params": {"detail": e.msg}}]) from e
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        raise DefinitionInvalid(f"{upload.bpmn_name}: DOCTYPE declarations (and so XML entities) are not allowed",
                                [{"file": upload.bpmn_name, "line": 1,
                                  "message": "DOCTYPE declarations and entities are not allowed",
                                  "code": "bpmn_doctype", "params": {}}])
    return tree


def _lanes(root) -> dict[str, str]:
    """flow node id → lane id; the lane id is the role code."""
    mapping = {}
    for lane in root.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.findall("bpmn:flowNodeRef", NS):
            mapping[(ref.text or "").strip()] = lane.get("id")
    return mapping


def _line_of(root, element_id: str) -> int | None:
    if "→" in element_id:
        source, target = element_id.split("→", 1)
        flows = root.xpath("//bpmn:sequenceFlow[@sourceRef=$s and @targetRef=$t]", namespaces=NS, s=source, t=target)
        if flows:
            expr = flows[0].find("bpmn:conditionExpression", NS)
            return (expr if expr is not None else flows[0]).sourceline
    found = root.xpath("//*[@id=$id]", id=element_id)
    return found[0].sourceline if found else None


# Process-level switches a BPMN file may set (``spiff:properties`` of the ``bpmn:process``), see docs/processes.md.
PROCESS_PROPERTIES = {"oneOpenCasePerClient", "startedBy"}


def process_properties(bpmn_xml: str) -> dict[str, str]:
    """The ``spiff:property`` values of the process element itself (not of its tasks)."""
    data = bpmn_xml.encode("utf-8") if isinstance(bpmn_xml, str) else bpmn_xml
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    root = etree.fromstring(data, parser)
    found = {}
    for prop in root.xpath("//bpmn:process/bpmn:extensionElements/spiff:properties/spiff:property", namespaces=NS):
        found[prop.get("name")] = prop.get("value")
    return found


def starter_roles(bpmn_xml: str) -> tuple[str, ...]:
    """Who may start a case of this process, read from the definition (docs/processes.md, "Who starts a case"):
    the process property ``startedBy`` (role codes, comma-separated) when it is set, else the lane of the
    process's start event, as lanes are roles. A process whose start event is in no lane is started by nobody."""
    data = bpmn_xml.encode("utf-8") if isinstance(bpmn_xml, str) else bpmn_xml
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    root = etree.fromstring(data, parser)
    declared = process_properties(bpmn_xml).get("startedBy")
    if declared:
        return tuple(r.strip() for r in declared.split(",") if r.strip())
    lanes = _lanes(root)
    starts = [e.get("id") or "" for e in root.xpath("//bpmn:process/bpmn:startEvent", namespaces=NS)]
    found = [lanes[s] for s in starts if lanes.get(s)]
    if not found:
        # A start event drawn outside the lanes: whoever works the first user task after it starts the case.
        following: dict[str, list[str]] = {}
        for flow in root.xpath("//bpmn:process/bpmn:sequenceFlow", namespaces=NS):
            following.setdefault(flow.get("sourceRef") or "", []).append(flow.get("targetRef") or "")
        user_tasks = {e.get("id") for e in root.xpath("//bpmn:process/bpmn:userTask", namespaces=NS)}
        queue, seen = list(starts), set(starts)
        while queue and not found:
            node = queue.pop(0)
            if node in user_tasks and lanes.get(node):
                found.append(lanes[node])
            for nxt in following.get(node, []):
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
    return tuple(dict.fromkeys(found))


def _date_reference_problems(forms: dict[str, dict], catalogue: dict[str, dict]) -> list[tuple[str, dict]]:
    """Each ``x-not-before`` names a date field that the form of its step records (docs/forms.md)."""
    by_step: dict[str, set[str]] = {}
    for meta in catalogue.values():
        if meta.get("form") in forms:
            by_step.setdefault(meta["step"], set()).add(meta["form"])
    problems = []
    for form_file, schema in forms.items():
        for node in _object_nodes(schema):
            for pname, prop in (node.get("properties") or {}).items():
                rule = prop.get("x-not-before")
                if not isinstance(rule, dict) or not isinstance(rule.get("field"), str):
                    continue  # its shape is reported with the form file
                step = rule.get("step")
                candidates = by_step.get(step, set()) if step else set(forms)
                if not any(((forms[f].get("properties") or {}).get(rule["field"]) or {}).get("format") == "date"
                           for f in candidates):
                    where = f"the form of step {step} does not" if step else "no form of this process does"
                    problems.append((f"{form_file}: field '{pname}': x-not-before names '{rule['field']}', which "
                                     f"{where} record as a date", {"form": form_file, "field": pname,
                                                                   "names": rule["field"], "step": step or ""}))
    return problems


def _property(spec, name: str):
    return (getattr(spec, "extensions", None) or {}).get("properties", {}).get(name)


def _all_task_specs(spec, subprocess_specs=None):
    """The task specs of the process and of its embedded subprocesses (their user tasks, timers, scripts)."""
    for s in [spec, *(subprocess_specs or {}).values()]:
        yield from s.task_specs.values()


def _expressions(spec, subprocess_specs=None):
    """(element id, kind, source, mode) of every expression SpiffWorkflow will evaluate for this spec.

    A gateway condition is reported as "gateway→target" so its line can be found on the sequence flow."""
    for ts in _all_task_specs(spec, subprocess_specs):
        for cond, target in getattr(ts, "cond_task_specs", []) or []:
            if cond is not None:
                source = cond.args[0] if getattr(cond, "args", None) else str(cond)
                yield f"{ts.name}→{target}", "condition", source, "eval"
        for attr in ("script", "prescript", "postscript"):
            src = getattr(ts, attr, None)
            if src:
                yield ts.name, attr, src, "exec"
        event = getattr(ts, "event_definition", None)
        for timer in (event, *(getattr(event, "event_definitions", None) or ())):
            kind = timer_values.kind_of(timer)
            if kind is not None and timer.expression:
                yield ts.name, f"timer ({kind})", timer.expression, "eval"
        for pname, param in (getattr(ts, "operation_params", None) or {}).items():
            yield ts.name, f"parameter {pname}", param.get("value", ""), "eval"
        for attr, what in (("cardinality", "loop cardinality"), ("condition", "loop condition")):
            src = getattr(ts, attr, None)
            if isinstance(src, str) and src.strip():
                yield ts.name, what, src, "eval"


_CONSTANT_NAMES = frozenset(RAW_BUILTINS) | frozenset(WRAPPED)  # names that are no case data


def _check_expression(kind: str, source: str, mode: str, budget) -> str | None:
    """Why an expression is refused at deploy, or None. A timer whose value does not depend on case data is
    evaluated now and its value checked (engine/sandbox/timer_values.py); one computed from case data is checked each
    time it is evaluated (engine/sandbox/spiff.py)."""
    timer_kind = kind[len("timer ("):-1] if kind.startswith("timer (") else None
    if timer_kind is not None:
        literal = timer_values.unquoted_literal(source)
        if literal is not None:
            element = {"date": "timeDate", "duration": "timeDuration", "cycle": "timeCycle"}[timer_kind]
            return (f"{literal} is written without quotes. A timer expression is Python, where {literal} reads "
                    f"as variable names (and arithmetic), not as a date or duration: write the ISO 8601 value "
                    f"as a quoted string, <bpmn:{element}>'{literal}'</bpmn:{element}>")
    try:
        _code, names = compile_source(source, mode)
    except sandbox.SandboxError as e:
        return str(e)
    if timer_kind is not None and names <= _CONSTANT_NAMES:
        try:
            value = sandbox.runner.run(source, "eval", {}, None, budget)
            timer_values.check(timer_kind, value, clock.now())
        except (sandbox.SandboxError, timer_values.TimerValueRefused) as e:
            return str(e)
    if kind == "loop cardinality" and names <= _CONSTANT_NAMES:
        try:
            value = sandbox.runner.run(source, "eval", {}, None, budget)
        except sandbox.SandboxError as e:
            return str(e)
        if type(value) is not int or not 0 <= value <= limits.MAX_INSTANCES:
            return f"loop cardinality must be a whole number from 0 to {limits.MAX_INSTANCES}, not {value!r:.40}"
    return None


def _expression_line(root, element_id: str, kind: str) -> int | None:
    """The line of a timer's timeDate/timeDuration/timeCycle element (else the element's own line)."""
    if kind.startswith("timer ("):
        found = root.xpath("//*[@id=$id]//bpmn:timerEventDefinition/*", namespaces=NS, id=element_id)
        if found:
            return found[0].sourceline
    return _line_of(root, element_id)


def validate(upload: Upload):
    """Everything about an upload that can be checked without the database; raises DefinitionInvalid."""
    tree = _parse_xml(upload)
    root = tree.getroot()
    problems: list[dict] = _schema_problems(upload, tree)
    if problems:
        first = problems[0]
        raise DefinitionInvalid(f"{upload.bpmn_name} is not valid BPMN for SpiffWorkflow ({len(problems)} problem(s)); "
                                f"the first, line {first['line']}: {first['message']}", problems)

    parser = SpiffBpmnParser()
    try:
        parser.add_bpmn_xml(root, upload.bpmn_name)
        process_ids = parser.get_process_ids()
        if len(process_ids) != 1:
            raise _process_count_problem(upload, root, process_ids)
        key = process_ids[0]
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except SpiffWorkflowException as e:
        # SpiffWorkflow names the element (its id) but reads the line from an attribute lxml does not have.
        element_id = getattr(e, "id", "") or ""
        line = getattr(e, "line_number", None) or (_line_of(root, element_id) if element_id else None)
        params = {"detail": str(e)} | ({"element": element_id} if element_id else {})
        problem = {"file": upload.bpmn_name, "line": line, "message": str(e), "code": "bpmn_parse", "params": params}
        if element_id:
            problem["element"] = element_id
        where = f"line {line}" + (f", element '{element_id}'" if element_id else "") if line or element_id else ""
        raise DefinitionInvalid(f"{upload.bpmn_name}{f' ({where})' if where else ''}: {e}", [problem]) from e

    budget = sandbox.Budget()  # all the constant expressions evaluated below share one budget
    for task_id, kind, source, mode in _expressions(spec, subprocess_specs):
        why = _check_expression(kind, source, mode, budget)
        if why is not None:
            shown = source.strip()[:80]
            shown = shown if shown[:1] in ("'", '"') else f"'{shown}'"
            problems.append({"file": upload.bpmn_name, "line": _expression_line(root, task_id, kind),
                             "element": task_id.split("→", 1)[0],
                             "message": f"{task_id}: {kind} {shown} is refused: {why}", "code": "expression_refused",
                             "params": {"element": task_id, "kind": kind, "expression": shown, "detail": why}})

    lanes = _lanes(root)
    forms: dict[str, dict] = {}
    catalogue: dict[str, dict] = {}
    for ts in _all_task_specs(spec, subprocess_specs):
        if not getattr(ts, "manual", False):
            continue
        line = _line_of(root, ts.name)
        role = lanes.get(ts.name)
        if role is None:
            problems.append({"file": upload.bpmn_name, "line": line,
                             "message": f"user task '{ts.name}' is in no lane, so no role can work on it",
                             "element": ts.name, "code": "task_without_lane", "params": {"task": ts.name}})
        form_file = _property(ts, FORM_PROPERTY)
        if form_file:
            if form_file not in upload.forms:
                problems.append({"file": upload.bpmn_name, "line": line,
                                 "message": f"user task '{ts.name}' names form file '{form_file}', which is missing",
                                 "element": ts.name, "code": "form_file_missing",
                                 "params": {"task": ts.name, "form": form_file}})
            elif form_file not in forms:
                schema, form_problems = check_form_file(form_file, upload.forms[form_file].decode("utf-8", "replace"))
                problems.extend(form_problems)
                if schema is not None:
                    forms[form_file] = schema
        catalogue[ts.name] = {
            "step": _property(ts, "step") or "",
            "name": ts.bpmn_name or ts.name,
            "name_en": _property(ts, "nameEn") or ts.bpmn_name or ts.name,
            "role": role,
            "form": form_file,
            "purpose": _property(ts, "purpose"),
            "documentation": ts.documentation or "",
            "documents": [d.strip() for d in (_property(ts, "documents") or "").split(";") if d.strip()],
            "documents_hu": [d.strip() for d in (_property(ts, "documentsHu") or "").split(";") if d.strip()],
        }
    problems += append_only_agreement(forms)
    problems += review.reference_problems(forms)
    if problems:
        raise DefinitionInvalid(f"{upload.bpmn_name} was refused ({len(problems)} problem(s)): "
                                + "; ".join(f"line {p.get('line')}: {p['message']}" for p in problems[:3]),
                                problems)
    problems.extend({"file": upload.bpmn_name, "message": m, "code": "date_reference_unrecorded", "params": params}
                    for m, params in _date_reference_problems(forms, catalogue))
    for prop in root.xpath("//bpmn:process/bpmn:extensionElements/spiff:properties/spiff:property", namespaces=NS):
        if prop.get("name") not in PROCESS_PROPERTIES:
            problems.append({"file": upload.bpmn_name, "line": prop.sourceline,
                             "message": f"unknown process property '{prop.get('name')}' (known: "
                                        f"{', '.join(sorted(PROCESS_PROPERTIES))})", "code": "process_property_unknown",
                             "params": {"name": str(prop.get("name")), "known": ", ".join(sorted(PROCESS_PROPERTIES))}})
        elif prop.get("name") == "startedBy":
            unknown = sorted({r.strip() for r in (prop.get("value") or "").split(",")} - set(ROLES))
            if unknown:
                problems.append({"file": upload.bpmn_name, "line": prop.sourceline,
                                 "message": f"process property 'startedBy' names unknown role(s) "
                                            f"{', '.join(repr(r) for r in unknown)} (roles: {', '.join(ROLES)})",
                                 "code": "started_by_unknown_role",
                                 "params": {"roles": ", ".join(repr(r) for r in unknown), "known": ", ".join(ROLES)}})
        elif prop.get("value") not in ("true", "false"):
            problems.append({"file": upload.bpmn_name, "line": prop.sourceline,
                             "message": f"process property '{prop.get('name')}' must be 'true' or 'false'",
                             "code": "process_property_not_boolean", "params": {"name": str(prop.get("name"))}})
    if problems:
        raise DefinitionInvalid(f"{upload.bpmn_name} was refused ({len(problems)} problem(s)): "
                                + "; ".join(f"line {p.get('line')}: {p['message']}" for p in problems[:3]),
                                problems)
    process_el = root.xpath("//bpmn:process[@id=$id]", namespaces=NS, id=key)[0]
    name = process_el.get("name") or key
    return key, name, spec, subprocess_specs, forms, catalogue


_validated: dict[str, tuple] = {}
_validated_lock = threading.Lock()


def _validated_upload(upload: Upload, digest: str) -> tuple:
    """validate() is a pure function of the bytes: each content is parsed and checked once per process."""
    with _validated_lock:
        hit = _validated.get(digest)
    if hit is None:
        key, name, spec, subprocess_specs, forms, catalogue = validate(upload)
        hit = (key, name, serialization.spec_to_json(spec, subprocess_specs), forms, catalogue)
        with _validated_lock:
            _validated[digest] = hit
    return hit


def validated(upload: Upload) -> tuple:
    """(process key, name, spec JSON, forms, task catalogue) of a valid upload; raises DefinitionInvalid."""
    return _validated_upload(upload, upload.content_hash())


def prevalidate(upload: Upload) -> None:
    """Validate an upload before the unit of work that deploys it (raises DefinitionInvalid): validation parses,
    checks and evaluates constant expressions, which may take seconds, and must not hold the writer lock while
    it does; ``deploy`` then finds the result in the cache."""
    _validated_upload(upload, upload.content_hash())


def unknown_name_problems(upload: Upload, known: set[str]) -> list[dict]:
    """Each name a condition, script, timer or loop expression of a valid upload reads that nothing sets before
    it (engine/definitions/static_names.py); ``known``: what the engine puts into a new case's data (the
    package's ``start.data``, a group's members). Each problem names file, line and element."""
    _key, _name, spec_json, forms, _catalogue = validated(upload)
    spec, subprocess_specs = serialization.spec_from_json(spec_json)
    root = _parse_xml(upload).getroot()
    problems = []
    found = static_names.unknown_names(spec, subprocess_specs, forms, _expressions(spec, subprocess_specs), known,
                                       FORM_PROPERTY)
    for element, kind, source, name, why in found:
        shown = " ".join(source.split())[:80]
        task = element.split("→", 1)[0]
        code = "name_set_later" if getattr(why, "code", None) == "set_later" else "name_unknown"
        problems.append({"file": upload.bpmn_name, "line": _expression_line(root, element, kind), "element": task,
                         "message": f"{task}: {kind} \"{shown}\" reads '{name}', which no form, script or the engine "
                                    f"sets before this point" + (f": {why}" if why else ""),
                         "code": code, "params": {"element": task, "kind": kind, "expression": shown, "name": name,
                                                  **getattr(why, "params", {})}})
    return problems


def condition_problems(upload: Upload, known: set[str]) -> list[dict]:
    """Each gateway condition of a valid upload that can never be true, or is always true, where that is decidable
    (engine/definitions/static_conditions.py); ``known`` as for unknown_name_problems. Each problem names file,
    line and element, and its ``severity``: "error" (refused) or "warning" (shown)."""
    _key, _name, spec_json, forms, _catalogue = validated(upload)
    spec, subprocess_specs = serialization.spec_from_json(spec_json)
    specs = [spec, *subprocess_specs.values()]
    fields = static_conditions.form_fields(specs, forms, FORM_PROPERTY, known)
    root = _parse_xml(upload).getroot()
    problems = []
    for finding in static_conditions.findings(specs, fields):
        gateway, target = finding.element.split("→", 1)
        source = next((c.args[0] if getattr(c, "args", None) else str(c)) for s in specs
                      for ts in s.task_specs.values() if ts.name == gateway
                      for c, t in getattr(ts, "cond_task_specs", None) or [] if t == target and c is not None)
        shown = " ".join(source.split())[:80]
        problems.append({"file": upload.bpmn_name, "line": _expression_line(root, finding.element, "condition"),
                         "element": gateway, "severity": finding.severity,
                         "message": f"{gateway}: condition \"{shown}\" (to {target}) {finding.message}",
                         "code": finding.code, "params": {"element": gateway, "expression": shown, "target": target,
                                                          **finding.params}})
    return problems


MAX_NOTE = 2000  # characters: a deployer's why, not a document


def version_note(note) -> str | None:
    """A deploy's note as stored: trimmed text of at most MAX_NOTE characters, or None for none."""
    if note is None:
        return None
    if not isinstance(note, str):
        raise ValidationFailed("'note' must be text", [{"field": "note", "message": "must be text"}])
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise ValidationFailed(f"'note' must be at most {MAX_NOTE} characters, not {len(note)}",
                               [{"field": "note", "message": f"must be at most {MAX_NOTE} characters"}])
    return note or None


def deploy(session: Session, upload: Upload, actor: str, at, package_version_id: int | None = None,
           lane_roles: dict[str, str] | None = None, note: str | None = None) -> tuple[ProcessDefinition, bool]:
    """Store a new version (or return the latest one if the content is unchanged). Returns (definition, created).

    Deployed with its package (engine/packages), the version belongs to that package version and its lanes are
    the manifest's roles (``lane_roles``). A file deployed on its own stays in the package of the process's
    latest version, if it has one, under the same roles (docs/services.md, "Deploying one BPMN file"). ``note``
    (the deployer's why) is kept with a new version; an unchanged deploy stores nothing, the note neither."""
    note = version_note(note)
    digest = upload.content_hash()
    key, name, spec_json, forms, catalogue = _validated_upload(upload, digest)
    latest = latest_definition(session, key, required=False)
    if package_version_id is None and latest is not None and latest.package_version_id is not None:
        package_version_id = latest.package_version_id
        lane_roles = _package_lane_roles(session, package_version_id)
        unmapped = sorted({meta["role"] for meta in catalogue.values()} - set(lane_roles))
        if unmapped:
            raise DefinitionInvalid(
                f"{upload.bpmn_name}: lane(s) {', '.join(unmapped)} are no role's lane in the package of process "
                f"'{key}'; add them to its service.yaml and deploy the package (docs/services.md)",
                [{"file": upload.bpmn_name, "line": None,
                  "message": f"lane '{lane}' is no role's lane in the package's service.yaml",
                  "code": "lane_not_in_package", "params": {"lane": lane}} for lane in unmapped])
    if (latest is not None and latest.content_hash == digest
            and latest.package_version_id == package_version_id):
        return latest, False
    if lane_roles:
        catalogue = {task: {**meta, "role": lane_roles.get(meta["role"], meta["role"])}
                     for task, meta in catalogue.items()}
    version = (session.execute(select(func.max(ProcessDefinition.version))
                               .where(ProcessDefinition.process_key == key)).scalar() or 0) + 1
    definition = ProcessDefinition(
        process_key=key, version=version, name=name, content_hash=digest,
        bpmn_xml=upload.bpmn_bytes.decode("utf-8"), spec_json=spec_json,
        forms=forms, task_catalogue=catalogue, deployed_at=at, deployed_by=actor,
        package_version_id=package_version_id, note=note,
    )
    session.add(definition)
    try:
        session.flush()
    except IntegrityError as e:
        # Another deployment of the same process took this version number in the meantime.
        raise Conflict(f"another version of '{key}' was deployed at the same time; deploy again") from e
    payload = {"process_key": key, "version": version, "content_hash": digest, "file": upload.bpmn_name,
               "forms": sorted(forms)}
    if package_version_id is not None:
        payload["package_version_id"] = package_version_id
    if note is not None:
        payload["note"] = note
    audit.record_system_event(session, actor, at, audit.DEFINITION_DEPLOYED, payload)
    return definition, True


def _package_lane_roles(session: Session, package_version_id: int) -> dict[str, str]:
    manifest: dict = session.execute(select(PackageVersion.manifest)
                               .where(PackageVersion.id == package_version_id)).scalar_one()
    return {spec["lane"]: role for role, spec in (manifest.get("roles") or {}).items()}


def latest_definition(session: Session, key: str, required: bool = True) -> ProcessDefinition | None:
    found = session.execute(
        select(ProcessDefinition).where(ProcessDefinition.process_key == key)
        .order_by(ProcessDefinition.version.desc()).limit(1)
    ).scalar_one_or_none()
    if found is None and required:
        raise NotFound(f"no process '{key}' is deployed")
    return found


_LATEST_ID = Prepared(select(ProcessDefinition.__table__.c.id)
                      .where(ProcessDefinition.__table__.c.process_key == bindparam("key"))
                      .order_by(ProcessDefinition.__table__.c.version.desc()).limit(1))


def latest_definition_id(session: AnySession, key: str) -> int:
    """The newest version's id (every case start asks: one prebuilt Core statement, no row loaded)."""
    found = _LATEST_ID.first(session.connection(), {"key": key})
    if found is None:
        raise NotFound(f"no process '{key}' is deployed")
    return found[0]


def history(session: Session, key: str) -> dict:
    """Every version of process ``key``, newest first, with author, time, note and the package version it came
    with, and which version new cases start on (today the newest: a deploy is live at once)."""
    rows = session.execute(
        select(ProcessDefinition.version, ProcessDefinition.deployed_at, ProcessDefinition.deployed_by,
               ProcessDefinition.note, ProcessDefinition.content_hash, PackageVersion.package_key,
               PackageVersion.version.label("package_version"), PackageVersion.note.label("package_note"))
        .outerjoin(PackageVersion, PackageVersion.id == ProcessDefinition.package_version_id)
        .where(ProcessDefinition.process_key == key).order_by(ProcessDefinition.version.desc())).all()
    if not rows:
        raise NotFound(f"no process '{key}' is deployed")
    return {"process_key": key, "starts_new_cases": rows[0].version,
            "versions": [{"version": r.version, "deployed_at": r.deployed_at.isoformat(),
                          "deployed_by": r.deployed_by, "note": r.note, "content_hash": r.content_hash,
                          "package": r.package_key, "package_version": r.package_version,
                          "starts_new_cases": i == 0} for i, r in enumerate(rows)]}


def list_definitions(session: Session) -> list[dict]:
    rows = session.execute(
        select(ProcessDefinition.id, ProcessDefinition.process_key, ProcessDefinition.version,
               ProcessDefinition.name, ProcessDefinition.deployed_at, ProcessDefinition.deployed_by,
               ProcessDefinition.content_hash)
        .order_by(ProcessDefinition.process_key, ProcessDefinition.version)
    ).all()
    return [{"id": r.id, "process_key": r.process_key, "version": r.version, "name": r.name,
             "deployed_at": r.deployed_at.isoformat(), "deployed_by": r.deployed_by,
             "content_hash": r.content_hash} for r in rows]


def describe(definition: ProcessDefinition) -> dict:
    return {"id": definition.id, "process_key": definition.process_key, "version": definition.version,
            "name": definition.name, "deployed_at": definition.deployed_at.isoformat(),
            "deployed_by": definition.deployed_by, "tasks": definition.task_catalogue,
            "forms": sorted(definition.forms)}


def form_json(definition: ProcessDefinition, form_file: str) -> str:
    return json.dumps(definition.forms[form_file], ensure_ascii=False)
