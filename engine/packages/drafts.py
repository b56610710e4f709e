"""Drafts edited in the studio: a stored package version opened, some of its files changed, saved as a new draft
version (docs/studio.md). A draft is checked as a deploy is (check.py) and stored only when it has no problem;
the problems then name the file, the line and, in a BPMN file, the element they are about, so the modeler can
show it. Publishing a draft is deploy.publish."""
from __future__ import annotations

import re

from lxml import etree

from ..errors import PackageInvalid, ValidationFailed
from .deploy import _stored_package, check_all, store
from .load import from_files
from .manifest import MANIFEST

# The files the studio edits: a package's BPMN files, its forms and its test runs (docs/studio.md).
EDITABLE = re.compile(r"^(?:[A-Za-z0-9_.-]+\.bpmn|forms/[A-Za-z0-9_.-]+\.json|tests/[A-Za-z0-9_.-]+\.ya?ml)$")
MAX_FILE_CHARS = 5 * 1024 * 1024


def files_of(runtime, package_key: str, version: int) -> dict[str, bytes]:
    """Every file of a stored package version, by its path in the package."""
    with runtime.db.reading() as session:
        _, package = _stored_package(session, package_key, version)
    return dict(package.files)


def _id_at(data: bytes, line: int) -> str | None:
    """The id of the innermost element with an id whose start tag is at or before ``line`` and that has not ended
    before it: the element a problem on that line is about."""
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    except etree.XMLSyntaxError:
        return None
    found = None
    for node in root.iter():
        if not isinstance(node.tag, str) or node.sourceline is None or node.sourceline > line:
            continue
        if node.get("id"):
            found = node.get("id")
    return found


def locate(problems: list[dict], files: dict[str, bytes]) -> list[dict]:
    """Each problem of a BPMN file with a line gets ``element``: an id the message quotes when the file has it,
    else the element at that line."""
    located = []
    for problem in problems:
        problem = dict(problem)
        data = files.get(problem.get("file") or "")
        if data is not None and (problem.get("file") or "").endswith(".bpmn") and not problem.get("element"):
            ids = set(re.findall(rb'\bid="([^"]+)"', data))
            quoted = [q for q in re.findall(r"'([A-Za-z_][A-Za-z0-9_.-]*)'", problem.get("message") or "")
                      if q.encode() in ids]
            if quoted:
                problem["element"] = quoted[0]
            elif problem.get("line"):
                element = _id_at(data, problem["line"])
                if element:
                    problem["element"] = element
        located.append(problem)
    return located


def _refuse_change(path: str, why: str) -> None:
    raise ValidationFailed(f"file '{path}': {why}", [{"field": "file", "value": path, "message": why}])


def save_draft(runtime, package_key: str, base_version: int, changes: dict[str, str], actor: str, at,
               note: str | None = None) -> dict:
    """Version ``base_version`` of the package with ``changes`` (path -> new text) applied, checked, and stored as a
    new draft version in one transaction. Unchanged content stores nothing and answers the version it equals."""
    if not changes:
        raise ValidationFailed("nothing to save", [{"field": "file", "message": "no file was changed"}])
    files = files_of(runtime, package_key, base_version)
    for path, content in changes.items():
        if path == MANIFEST or not EDITABLE.match(path or ""):
            _refuse_change(path, "the studio edits a package's BPMN files, forms/*.json and tests/*.yaml only")
        if path.endswith(".bpmn") and path not in files:
            _refuse_change(path, f"version {base_version} of package '{package_key}' has no such BPMN file")
        if not isinstance(content, str):
            _refuse_change(path, "the content must be text")
        if len(content) > MAX_FILE_CHARS:
            _refuse_change(path, f"longer than {MAX_FILE_CHARS} characters")
        files[path] = content.encode("utf-8")
    package = from_files(files, package_key)
    try:
        [checked] = check_all([package])
    except PackageInvalid as e:
        raise PackageInvalid(e.message, locate(e.details, files)) from e
    if checked.package.key != package_key:
        _refuse_change(MANIFEST, f"the package's key must stay '{package_key}'")
    with runtime.db.unit_of_work() as session:
        [result] = store(session, [checked], actor, at, note, draft=True)
    result.pop("package_version_id", None)
    result["warnings"] = locate(result.get("warnings") or [], files)
    return result
