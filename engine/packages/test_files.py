"""Test-run files, a package's ``tests/*.yaml`` (docs/studio.md, "Test runs"): read and checked against their
format with the line of every problem, when a package is checked (check.py) and before it is run
(test_runs.py)."""
from __future__ import annotations

from dataclasses import dataclass

from jsonschema import Draft202012Validator

from .manifest import load_mapping
from .parts import Package, PackageProblem

FOLDER = "tests"
FORMAT = 1
MAX_FILE_BYTES = 512 * 1024
DEFAULT_MAX_STEPS = 60

_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}
SCHEMA: dict = {
    "type": "object", "additionalProperties": False, "required": ["format", "process", "tasks"],
    "properties": {
        "format": {"const": FORMAT},
        "process": _NAME,
        "start": {"type": "object"},
        "max_steps": {"type": "integer", "minimum": 1, "maximum": 1000},
        "tasks": {"type": "object", "propertyNames": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_.-]{0,99}$"},
                  "additionalProperties": {"type": "array", "minItems": 1, "maxItems": 20,
                                           "items": {"type": "object"}}},
    },
}
_VALIDATOR = Draft202012Validator(SCHEMA)


@dataclass
class SampleData:
    """One test-run file: the data the process starts with and each user task's data sets."""

    file: str
    process: str
    start: dict
    tasks: dict[str, list[dict]]
    max_steps: int = DEFAULT_MAX_STEPS


def read(package: Package) -> tuple[list[SampleData], list[PackageProblem]]:
    """The package's test-run files, each checked against the format; problems name the file and line."""
    found, problems = [], []
    for path, data in sorted(package.under(FOLDER).items()):
        if not path.endswith((".yaml", ".yml")) or path.count("/") != 1:
            problems.append(PackageProblem(path, None, "tests/ holds test-run files (*.yaml) only, no subfolders",
                                           "tests_folder_file"))
            continue
        doc, lines, file_problems = load_mapping(data, path, MAX_FILE_BYTES, "test run", "a test run is a mapping")
        problems += file_problems
        if doc is None:
            continue
        errors = sorted(_VALIDATOR.iter_errors(doc), key=lambda e: list(e.absolute_path))
        for e in errors:
            where = ".".join(str(p) for p in e.absolute_path) or "(top)"
            problems.append(PackageProblem(path, lines.of(*e.absolute_path), f"{where}: {e.message}",
                                           "schema_mismatch", {"path": where, "detail": e.message}))
        if not errors:
            found.append(SampleData(path, doc["process"], dict(doc.get("start") or {}), doc["tasks"],
                                    doc.get("max_steps", DEFAULT_MAX_STEPS)))
    return found, problems
