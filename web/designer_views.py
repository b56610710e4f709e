"""The process designer's pages: comparing two versions of a process (docs/services.md, "Comparing versions")."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select

from engine.definitions import version_diff
from engine.people import access
from engine.store.models import ProcessDefinition

from . import bpmn_source
from .auth import logged_in_actor, login_required, runtime
from .catalogue_views import bpmn_response
from .labels import bilingual, latest_views

designer = Blueprint("designer", __name__)


def version_view(key: str, version: int):
    """The runtime's view of one version of a process, or 404."""
    with runtime().db.reading() as session:
        found = session.execute(select(ProcessDefinition.id).where(ProcessDefinition.process_key == key,
                                                                   ProcessDefinition.version == version)).scalar()
        if found is None:
            abort(404)
        return runtime().definition(session, found)


def versions_of(key: str) -> list[int]:
    with runtime().db.reading() as session:
        return list(session.execute(select(ProcessDefinition.version).where(ProcessDefinition.process_key == key)
                                    .order_by(ProcessDefinition.version.desc())).scalars())


@designer.get("/processes/<key>/versions/<int:version>/diagram.bpmn")
@login_required
def version_diagram(key, version):
    """Any version's BPMN, names in the reader's language, for those who read versions."""
    access.require_version_reader(logged_in_actor())
    return bpmn_response(version_view(key, version))


def _query_version(name: str, default: int, known: list[int]) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) not in known:
        abort(404)
    return int(raw)


def _named(view, element: dict) -> dict:
    return {**element, "label": bpmn_source.label(view, element["id"], element.get("name") or "") or element["id"]}


def _shown(change: dict, old, new, element_id: str) -> dict:
    """A change's before and after as the reader reads them: names in their language, roles by name."""
    what, before, after = change["what"], change["before"], change["after"]
    if what == "name":
        before = bpmn_source.label(old, element_id, before or "") if before else None
        after = bpmn_source.label(new, element_id, after or "") if after else None
    elif what == "documentation":
        before, after = bilingual(before) or None, bilingual(after) or None
    return {"what": what, "before": before, "after": after}


@designer.get("/processes/<key>/diff")
@login_required
def process_diff(key):
    """What changed from one version to another, listed and marked on both diagrams."""
    access.require_version_reader(logged_in_actor())
    known = versions_of(key)
    if not known:
        abort(404)
    new_version = _query_version("to", known[0], known)
    old_version = _query_version("from", known[1] if len(known) > 1 else known[0], known)
    with runtime().db.reading() as session:
        found = version_diff.diff(session, key, old_version, new_version)
    old, new = version_view(key, old_version), version_view(key, new_version)
    elements = found["elements"]
    rows = ([{"status": "added", **_named(new, e), "changes": []} for e in elements["added"]]
            + [{"status": "removed", **_named(old, e), "changes": []} for e in elements["removed"]]
            + [{"status": "changed", **_named(new, e), "changes": [_shown(c, old, new, e["id"]) for c in e["changes"]]}
               for e in elements["changed"]])
    changed_ids = [e["id"] for e in elements["changed"]]
    latest = latest_views().get(key)
    name = bilingual(latest.name if latest is not None else new.name)
    return render_template("process_diff.html", key=key, name=name, versions=known, diff=found, rows=rows,
                           old_version=old_version, new_version=new_version,
                           new_marks={"added": [e["id"] for e in elements["added"]], "changed": changed_ids},
                           old_marks={"removed": [e["id"] for e in elements["removed"]], "changed": changed_ids})
