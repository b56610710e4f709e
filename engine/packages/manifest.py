"""Reading service.yaml: YAML with the line of every value, and the JSON Schema of the manifest format.

The format is documented field by field in docs/services.md; a change here is a change there.
"""
from __future__ import annotations

from typing import Any

import yaml
from jsonschema import Draft202012Validator

from .parts import PackageProblem

MANIFEST = "service.yaml"
MAX_MANIFEST_BYTES = 256 * 1024
FORMAT = 1

# What a client's registration records and a new case may start with (docs/services.md, "registers_client").
REGISTRATION_VALUES = ("code", "status", "problem", "phone")
# The client register's person columns a registration fills, and the ones it needs to recognise a person.
IDENTITY = ("family_name", "given_name", "birth_date", "mother_name")
DETAILS = ("birth_place", "phone")
RECORDED = ("status", "problem", "phone")
NOTHING = "nothing"

_KEY = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}
_FIELD = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,99}$"}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 2000}
_LOCALISED = {"type": "object", "required": ["hu", "en"], "additionalProperties": False,
              "properties": {"hu": _TEXT, "en": _TEXT}}


# GDPR Art. 6(1) (a)–(f) and Art. 9(2) (a)–(j): the letter of the point a process relies on. Consent is (a) of
# either; a process relying on it declares the statement the person signs (engine/cases/consent.py).
ARTICLE_6 = tuple("abcdef")
ARTICLE_9 = tuple("abcdefghij")
CONSENT = "a"
_LEGAL_BASIS = {
    "type": "object", "additionalProperties": False, "required": ["article_6", "law"],
    "properties": {
        "article_6": {"enum": list(ARTICLE_6)},
        "article_9": {"enum": list(ARTICLE_9)},
        "law": _LOCALISED,
        # Case data keys that identify a person, masked for roles that do not need names (engine/cases/masking).
        "identifying": {"type": "array", "items": _FIELD, "minItems": 1, "uniqueItems": True},
        # Case data keys of a person's finances (incomes, benefits, payments), masked like identifying ones.
        "financial": {"type": "array", "items": _FIELD, "minItems": 1, "uniqueItems": True},
        "consent": {
            "type": "object", "additionalProperties": False, "required": ["statement", "version", "text"],
            "properties": {
                "statement": _KEY,
                "version": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,40}$"},
                "text": _LOCALISED,
                "valid_months": {"type": "integer", "minimum": 1, "maximum": 1200},
                # A step whose form records the signature itself: its yes/no and date fields feed the register.
                "taken_at": {"type": "object", "additionalProperties": False, "required": ["task", "given"],
                             "properties": {"task": _FIELD, "given": _FIELD, "date": _FIELD}},
            },
        },
    },
}


def _names(item: dict) -> dict:
    return {"type": "array", "items": item, "minItems": 1, "uniqueItems": True}


def _fields(names: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
    return {"type": "object", "additionalProperties": False, "required": list(required),
            "properties": {n: _FIELD for n in names}}


SCHEMA: dict = {
    "type": "object",
    "additionalProperties": False,
    "required": ["format", "key", "name", "roles", "processes"],
    "properties": {
        "format": {"const": FORMAT},
        "key": _KEY,
        "name": _LOCALISED,
        "description": _LOCALISED,
        "roles": {
            "type": "object", "minProperties": 1, "propertyNames": _KEY,
            "additionalProperties": {
                "type": "object", "additionalProperties": False, "required": ["lane"],
                "properties": {"lane": {"type": "string", "minLength": 1, "maxLength": 200}, "name": _LOCALISED}},
        },
        "processes": {
            "type": "object", "minProperties": 1, "propertyNames": _KEY,
            "additionalProperties": {
                "type": "object", "additionalProperties": False, "required": ["file", "start"],
                "properties": {
                    "file": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,100}\\.bpmn$"},
                    "start": {
                        "type": "object", "additionalProperties": False, "required": ["from"],
                        "properties": {
                            "from": _KEY,
                            "roles": _names(_KEY),
                            # false: only the engine starts it (docs/services.md, "start.manual").
                            "manual": {"type": "boolean"},
                            "data": {"type": "object", "propertyNames": _FIELD,
                                     "additionalProperties": {"enum": list(REGISTRATION_VALUES)}},
                        },
                    },
                    # How long a closed case's personal data is kept (docs/operations.md, "Retention").
                    "retention": {
                        "type": "object", "additionalProperties": False, "minProperties": 1,
                        "properties": {"years": {"type": "integer", "minimum": 0, "maximum": 100},
                                       "months": {"type": "integer", "minimum": 0, "maximum": 1200},
                                       "basis": _LOCALISED},
                    },
                    # Why the process may take personal data at all (docs/services.md, "legal_basis").
                    "legal_basis": _LEGAL_BASIS,
                    # A case with members (a group): docs/services.md, "Cases with members".
                    "members": {
                        "type": "object", "additionalProperties": False, "required": ["max"],
                        "properties": {"max": {"type": "integer", "minimum": 1, "maximum": 10000},
                                       "label": _LOCALISED, "leaving_starts": _KEY},
                    },
                    "registers_client": {
                        "type": "object", "additionalProperties": False, "required": ["identity"],
                        "properties": {"identity": _fields(IDENTITY, IDENTITY), "details": _fields(DETAILS),
                                       "recorded": _fields(RECORDED)},
                    },
                },
            },
        },
        "caseloads": {
            "type": "object", "propertyNames": _KEY,
            "additionalProperties": {
                "type": "object", "additionalProperties": False, "required": ["role", "counts"],
                "properties": {
                    "role": _KEY,
                    "limit": {"type": "integer", "minimum": 1, "maximum": 100000},
                    "label": _LOCALISED,
                    "counts": {"type": "object", "additionalProperties": False, "minProperties": 1,
                               "properties": {"processes": _names(_KEY), "tasks": _names(_FIELD),
                                              "timers": _names(_FIELD)}},
                    "time": {"type": "object", "additionalProperties": False,
                             "required": ["per_week_minutes", "log", "date", "minutes"],
                             "properties": {"per_week_minutes": {"type": "integer", "minimum": 1, "maximum": 10080},
                                            "log": _FIELD, "date": _FIELD, "minutes": _FIELD,
                                            "label": _LOCALISED}},
                },
            },
        },
    },
}
_VALIDATOR = Draft202012Validator(SCHEMA)


class Lines:
    """The line (1-based) of every key and list item of a YAML document, by its path in the parsed data."""

    def __init__(self) -> None:
        self.by_path: dict[tuple, int] = {}

    def of(self, *path: Any) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        while path:
            if path in self.by_path:
                return self.by_path[path]
            path = path[:-1]
        return self.by_path.get((), 1)


def _walk(node: yaml.Node, path: tuple, lines: Lines, seen: set[int]) -> None:
    if id(node) in seen:
        raise yaml.YAMLError(f"line {node.start_mark.line + 1}: anchors and aliases (&, *) are not allowed")
    seen.add(id(node))
    lines.by_path.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            lines.by_path[(*path, name)] = key.start_mark.line + 1
            _walk(value, (*path, name), lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.by_path[(*path, i)] = item.start_mark.line + 1
            _walk(item, (*path, i), lines, seen)


def load_mapping(text: bytes, file: str, max_bytes: int, what: str, not_mapping: str,
                 construct=None) -> tuple[dict | None, Lines, list[PackageProblem]]:
    """A package's YAML file (manifest, report, demo script) as a mapping with the line of every value, or the
    problem that keeps it from being read (size, encoding, YAML, not a mapping), each with file and line."""
    lines = Lines()
    if len(text) > max_bytes:
        return None, lines, [PackageProblem(file, None, f"larger than {max_bytes} bytes", "file_too_large",
                                             {"limit": max_bytes})]
    try:
        loader = yaml.SafeLoader(text.decode("utf-8"))
        try:
            node = loader.get_single_node()
            if node is None:
                return None, lines, [PackageProblem(file, 1, f"the {what} is empty", "yaml_empty", {"what": what})]
            _walk(node, (), lines, set())
            data = loader.construct_document(node)
            data = construct(data) if construct else data
        finally:
            loader.dispose()
    except UnicodeDecodeError as e:
        return None, lines, [PackageProblem(file, None, f"not UTF-8 text: {e.reason}", "not_utf8",
                                             {"detail": e.reason})]
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else None
        return None, lines, [PackageProblem(file, line, f"not valid YAML: {e.problem or e}", "yaml_invalid",
                                             {"detail": str(e.problem or e)})]
    except yaml.YAMLError as e:
        return None, lines, [PackageProblem(file, None, f"not valid YAML: {e}", "yaml_invalid", {"detail": str(e)})]
    if not isinstance(data, dict):
        return None, lines, [PackageProblem(file, 1, not_mapping, "yaml_not_mapping", {"what": what})]
    return data, lines, []


def schema_problems(validator: Draft202012Validator, data: dict, lines: Lines, file: str) -> list[PackageProblem]:
    """What the file's JSON Schema finds wrong, each at the line of the value it is about."""
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        path = tuple(error.absolute_path)
        where = ".".join(str(p) for p in path) or "(top level)"
        problems.append(PackageProblem(file, lines.of(*path), f"{where}: {_message(error)}", *_coded(error, where)))
    return problems


def parse(text: bytes, file: str = MANIFEST) -> tuple[dict | None, Lines, list[PackageProblem]]:
    """The manifest as data, the lines of its values, and what is wrong with it by the schema."""
    data, lines, problems = load_mapping(text, file, MAX_MANIFEST_BYTES, "manifest",
                                         "the manifest must be a mapping of fields (key: value)")
    if data is None:
        return None, lines, problems
    problems = schema_problems(_VALIDATOR, data, lines, file)
    return (data if not problems else None), lines, problems


def _coded(error, where: str) -> tuple[str, dict]:
    """The code and params of a schema error, for the web app to word (web/findings.py): an unknown field by its
    names, anything else with jsonschema's own words as the detail."""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set((error.schema or {}).get("properties") or {})
        extra = [str(k) for k in error.instance if k not in known]
        if extra:
            return "field_unknown", {"path": where, "fields": ", ".join(repr(k) for k in extra)}
    return "schema_mismatch", {"path": where, "detail": _message(error)}


def _message(error) -> str:
    """jsonschema's message, shortened where it would repeat a whole value."""
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown field(s)")
    if error.validator in ("pattern", "enum", "const", "type", "required", "minimum", "maximum", "minItems",
                           "minProperties", "uniqueItems", "minLength", "maxLength"):
        return error.message
    return error.message[:300]
