"""The process designer's pages: comparing two versions of a process, and moving running cases to another version
(docs/services.md, "Comparing versions", "Moving running cases to another version")."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select

from engine.cases import migration
from engine.definitions import version_diff
from engine.errors import Forbidden, ValidationFailed
from engine.forms import input_check
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
    number = input_check.whole_number(raw)
    if number is None or number not in known:
        abort(404)
    return number


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


def _mapping(text: str) -> dict[str, str]:
    """'old_id=new_id' lines (the form's textarea) as a mapping; a malformed line is refused naming it."""
    found = {}
    for number, line in enumerate((text or "").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        old, sep, new = (part.strip() for part in line.partition("="))
        if not sep or not old or not new:
            raise ValidationFailed(f"line {number} of 'map' is not old_id=new_id: {line[:80]!r}",
                                   [{"field": "map", "message": f"line {number} is not old_id=new_id"}])
        found[old] = new
    return found


def _migration_request(source) -> dict:
    return {"to_version": source.get("to") or None, "from_version": source.get("from") or None,
            "step": source.get("step") or None, "status": source.get("status") or "running",
            "mapping": _mapping(source.get("map", ""))}


def _batches(key: str) -> list[dict]:
    with runtime().db.reading() as session:
        found = migration.batches(session, key)
    return [{**b, "at": dt.datetime.fromisoformat(b["at"])} for b in found]


def _migration_page(key: str, form: dict, dry: dict | None = None, done: dict | None = None, status: int = 200):
    actor = logged_in_actor()
    view = latest_views().get(key)
    name = bilingual(view.name) if view is not None else key
    steps = sorted(((bpmn_id, bpmn_source.label(view, bpmn_id, meta.get("name") or bpmn_id))
                    for bpmn_id, meta in (view.catalogue if view is not None else {}).items()), key=lambda s: s[1])
    return render_template("process_migrate.html", key=key, name=name, versions=versions_of(key), form=form,
                           dry=dry, done=done, steps=steps, may_move=migration.may_move(actor),
                           batches=_batches(key)), status


@designer.get("/processes/<key>/migrate")
@login_required
def migrate_cases(key):
    """Choose cases by version, step and status; a dry run says for each whether it can move and why not."""
    actor = logged_in_actor()
    migration.require_dry_run(actor)
    if not versions_of(key):
        abort(404)
    form = {k: request.args.get(k, "") for k in ("to", "from", "step", "status", "map")}
    dry = None
    if request.args.get("dry"):
        dry = migration.dry_run(runtime(), actor, key, **_migration_request(request.args))
    return _migration_page(key, form, dry=dry)


@designer.post("/processes/<key>/migrate")
@login_required
def migrate_cases_run(key):
    """Move the chosen cases that can move (managers and administrators)."""
    actor = logged_in_actor()
    if not migration.may_move(actor):
        raise Forbidden("moving cases to another version needs the manager's or administrator's role")
    form = {k: request.form.get(k, "") for k in ("to", "from", "step", "status", "map")}
    done = migration.migrate(runtime(), actor, key, **_migration_request(request.form))
    return _migration_page(key, form, done=done)


@designer.post("/migrations/<batch>/revert")
@login_required
def revert_batch(batch):
    actor = logged_in_actor()
    done = migration.revert(runtime(), actor, batch)
    key = done["process_key"]
    return _migration_page(key, {k: "" for k in ("to", "from", "step", "status", "map")}, done=done)
