"""``documents/documents.yaml`` of a service package: which documents it has, at which steps, from which template
and fields; checked with the package, every problem with its file and line (docs/documents.md)."""
from __future__ import annotations

import json

from jsonschema import Draft202012Validator
from lxml import etree

from ..packages.manifest import Lines, load_mapping, schema_problems
from ..packages.parts import Package, PackageProblem
from . import render

FOLDER = "documents"
DECLARATIONS = f"{FOLDER}/documents.yaml"
FORMAT = 1
MAX_DECLARATIONS_BYTES = 128 * 1024
MAX_TEMPLATE_BYTES = 256 * 1024
LANGUAGES = ("hu", "en")
# What documents/ may hold besides the declarations: templates, and style sheets and parts they include.
TEMPLATE_SUFFIXES = (".html", ".css")

_KEY = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}
_NAME = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,99}$"}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 300}
_FILE = {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\\.html$"}

SCHEMA: dict = {
    "type": "object",
    "additionalProperties": False,
    "required": ["format", "documents"],
    "properties": {
        "format": {"const": FORMAT},
        "documents": {
            "type": "array", "minItems": 1, "maxItems": 200,
            "items": {
                "type": "object", "additionalProperties": False,
                "required": ["id", "title", "template", "steps", "fields"],
                "properties": {
                    "id": _KEY,
                    "title": {"type": "object", "required": ["hu", "en"], "additionalProperties": False,
                              "properties": {"hu": _TEXT, "en": _TEXT}},
                    "template": _FILE,
                    "steps": {"type": "array", "items": _NAME, "uniqueItems": True},
                    "fields": {"type": "array", "items": _NAME, "uniqueItems": True},
                    "languages": {"type": "array", "minItems": 1, "uniqueItems": True,
                                  "items": {"enum": list(LANGUAGES)}},
                    "signed": {"type": "boolean"},
                    # name -> a form of the package: every completed step of that form, one row each
                    "logs": {"type": "object", "maxProperties": 20,
                             "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]{0,99}$"},
                             "additionalProperties": {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]"
                                                                                   "{0,99}\\.json$"}},
                },
            },
        },
    },
}
_VALIDATOR = Draft202012Validator(SCHEMA)


def normalised(declaration: dict) -> dict:
    """A declaration with its defaults: Hungarian only, and signed."""
    return {**declaration, "languages": list(declaration.get("languages") or ["hu"]),
            "signed": bool(declaration.get("signed", True)), "logs": dict(declaration.get("logs") or {})}


# What every row of a log carries besides the values its step recorded (docs/documents.md, "Logs of steps").
LOG_ROW = {"step": {"type": "string", "x-label": {"hu": "Lépés", "en": "Step"}},
           "completed_on": {"type": "string", "format": "date", "x-label": {"hu": "Rögzítve", "en": "Recorded on"}},
           "completed_by": {"type": "string", "x-label": {"hu": "Rögzítette", "en": "Recorded by"}}}
# The membership a case with members holds (engine/cases/members.py), readable like a form's fields.
_MEMBER_DAYS = {"client_code": {"type": "string", "x-label": {"hu": "Kliens kód", "en": "Client code"}},
                "joined_on": {"type": "string", "format": "date",
                              "x-label": {"hu": "Csatlakozás napja", "en": "Day of joining"}},
                "left_on": {"type": "string", "format": "date",
                            "x-label": {"hu": "Kilépés napja", "en": "Day of leaving"}}}


def _forms(package: Package) -> dict[str, dict]:
    """Form file name -> its schema (a form that does not parse is reported by the form's own check)."""
    found = {}
    for path, data in sorted(package.under("forms").items()):
        try:
            schema = json.loads(data)
        except ValueError:
            continue
        if isinstance(schema, dict):
            found[path.rsplit("/", 1)[-1]] = schema
    return found


def log_schema(form: dict) -> dict:
    """A log of a form's completed steps as a repeatable block: one row per step, the form's fields and LOG_ROW."""
    return {"type": "array", "x-label": form.get("x-label") or form.get("title"),
            "items": {"type": "object", "properties": {**LOG_ROW, **(form.get("properties") or {})}}}


def _member_fields(package: Package, forms: dict[str, dict]) -> dict[str, dict]:
    if not any("members" in (p or {}) for p in ((package.manifest or {}).get("processes") or {}).values()):
        return {}
    row: dict[str, dict] = {}
    for schema in forms.values():
        for prop in (schema.get("properties") or {}).values():
            if isinstance(prop, dict) and prop.get("x-members") in ("join", "leave"):
                row.update((prop.get("items") or {}).get("properties") or {})
    row.update(_MEMBER_DAYS)
    return {"case_members": {"type": "array", "x-label": {"hu": "A csoport tagjai", "en": "Members"},
                             "items": {"type": "object", "properties": row}},
            "current_members": {"type": "array", "items": {"type": "string"},
                                "x-label": {"hu": "Jelenlegi tagok", "en": "Current members"}},
            "member_count": {"type": "integer", "x-label": {"hu": "Taglétszám", "en": "Members"}}}


def package_fields(package: Package) -> dict[str, dict]:
    """Field id → JSON Schema over every form of the package, with the fields a case starts with (the manifest's
    ``start.data``) and those every case has (``client_code``)."""
    fields: dict[str, dict] = {"client_code": {"type": "string"}}
    for process in ((package.manifest or {}).get("processes") or {}).values():
        for name in ((process.get("start") or {}).get("data") or {}):
            fields.setdefault(name, {"type": "string"})
    forms = _forms(package)
    for schema in forms.values():
        for name, prop in (schema.get("properties") or {}).items():
            if isinstance(prop, dict):
                fields.setdefault(name, prop)
    for name, prop in _member_fields(package, forms).items():
        fields.setdefault(name, prop)
    return fields


def document_schemas(package: Package, declaration: dict, fields: dict[str, dict]) -> dict[str, dict]:
    """The schemas a document reads: its declared fields' and its logs' (a log is a block of its form's fields)."""
    forms = _forms(package)
    return {**{name: fields[name] for name in declaration["fields"] if name in fields},
            **{name: log_schema(forms[form]) for name, form in declaration["logs"].items() if form in forms}}


def user_tasks(package: Package) -> set[str]:
    """The user task ids of the package's BPMN files (each file is checked on its own elsewhere)."""
    found: set[str] = set()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    for path, data in package.files.items():
        if "/" in path or not path.endswith(".bpmn"):
            continue
        try:
            root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError:
            continue
        found |= {str(t.get("id")) for t in root.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}userTask")
                  if t.get("id")}
    return found


def check_package(package: Package) -> tuple[list[dict], dict[str, str], list[PackageProblem]]:
    """(the normalised declarations, the template files' text, every problem found)."""
    files = package.under(FOLDER)
    if not files:
        return [], {}, []
    problems: list[PackageProblem] = []
    templates: dict[str, str] = {}
    for path, raw in sorted(files.items()):
        name = path[len(FOLDER) + 1:]
        if path == DECLARATIONS:
            continue
        if "/" in name or not name.endswith(TEMPLATE_SUFFIXES):
            problems.append(PackageProblem(path, None, "documents/ holds documents.yaml and templates (*.html, "
                                                       "*.css) only, no subfolders", "documents_folder_file"))
            continue
        if len(raw) > MAX_TEMPLATE_BYTES:
            problems.append(PackageProblem(path, None, f"larger than {MAX_TEMPLATE_BYTES} bytes", "file_too_large",
                                           {"limit": MAX_TEMPLATE_BYTES}))
            continue
        try:
            templates[name] = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            problems.append(PackageProblem(path, None, f"not UTF-8 text: {e.reason}", "not_utf8",
                                           {"detail": e.reason}))
    if DECLARATIONS not in files:
        problems.append(PackageProblem(DECLARATIONS, None, "missing: documents/ needs documents.yaml, which "
                                                           "names each document (docs/documents.md)",
                                    "documents_declarations_missing"))
        return [], templates, problems
    data, lines, structure = load_mapping(files[DECLARATIONS], DECLARATIONS, MAX_DECLARATIONS_BYTES, "file",
                                          "documents.yaml must be a mapping of fields (key: value)")
    if data is None:
        return [], templates, problems + structure
    structure = schema_problems(_VALIDATOR, data, lines, DECLARATIONS)
    if structure:
        return [], templates, problems + structure
    problems += render.syntax_problems(templates, FOLDER)
    declarations = [normalised(d) for d in data["documents"]]
    problems += _references(package, declarations, templates, lines)
    return declarations, templates, problems


def _references(package: Package, declarations: list[dict], templates: dict[str, str],
                lines: Lines) -> list[PackageProblem]:
    problems: list[PackageProblem] = []

    def refuse(path: tuple, message: str, code: str, **params) -> None:
        where = ".".join(str(p) for p in path)
        problems.append(PackageProblem(DECLARATIONS, lines.of(*path), f"{where}: {message}", code,
                                       {"path": where, **params}))

    fields = package_fields(package)
    tasks = user_tasks(package)
    seen: dict[str, int] = {}
    for i, declaration in enumerate(declarations):
        if declaration["id"] in seen:
            refuse(("documents", i, "id"), f"'{declaration['id']}' is the id of document {seen[declaration['id']]} "
                                           "too", "document_id_twice", id=declaration["id"],
                   other=seen[declaration["id"]])
        seen.setdefault(declaration["id"], i)
        for j, step in enumerate(declaration["steps"]):
            if step not in tasks:
                refuse(("documents", i, "steps", j), f"no process of this package has a user task '{step}'",
                       "user_task_unknown", task=step)
        for j, name in enumerate(declaration["fields"]):
            if name not in fields:
                refuse(("documents", i, "fields", j), f"no form of this package has a field '{name}'",
                       "document_field_unknown", field=name)
        forms = _forms(package)
        for name, form in declaration["logs"].items():
            if form not in forms:
                refuse(("documents", i, "logs", name), f"no form '{form}' in forms/", "form_not_in_forms",
                       form=form)
            elif name in declaration["fields"] or name in fields:
                refuse(("documents", i, "logs", name), f"'{name}' is a field already; name the log otherwise",
                       "document_log_is_field", name=name)
        if declaration["template"] not in templates:
            refuse(("documents", i, "template"), f"'{declaration['template']}' is not in documents/",
                   "document_template_missing", template=declaration["template"])
            continue
        if any(p.file.startswith(FOLDER) for p in problems if p.file != DECLARATIONS):
            continue  # a template that does not parse is reported once, above
        # A trial run with every declared field empty, in each language: a name the template uses that the
        # document does not declare, or a helper misused, is found at deploy with its line, not by a caseworker.
        for lang in declaration["languages"]:
            try:
                render.html(templates, declaration["template"],
                            render.trial_context(declaration, fields, package, lang),
                            {**fields, **document_schemas(package, declaration, fields)}, lang)
            except render.TemplateFailed as e:
                problems.append(PackageProblem(f"{FOLDER}/{e.file or declaration['template']}", e.line,
                                               f"document '{declaration['id']}' ({lang}): {e.message}",
                                               "document_trial_failed",
                                               {"id": declaration["id"], "lang": lang, "detail": e.message}))
                break
    return problems
