"""The process catalogue: every deployed process with its diagram, steps, roles and documents (the process map)."""
from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import packages
from engine.definitions import definitions
from engine.people import access
from engine.store import clock

from . import bpmn_source, findings
from .auth import current_actor, logged_in_actor, login_required, runtime
from .labels import bilingual, forget_latest, lang, latest_views, text
from .task_views import _documentation

catalogue = Blueprint("catalogue", __name__)


def step_key(step: str) -> tuple:
    """'3.10' after '3.9': steps sort by their numbers, named steps (e.g. 'intake') first."""
    parts = re.findall(r"\d+", step or "")
    return (1, [int(p) for p in parts], step) if parts else (0, [], step or "")


def step_choices() -> list[tuple[str, str]]:
    """(step, label) of every step of the latest versions, for the inbox's step filter."""
    seen: dict[str, str] = {}
    for view in latest_views().values():
        for meta in view.catalogue.values():
            step = meta.get("step")
            if step and step not in seen:
                seen[step] = f"{step} – {meta.get('name_en') if lang() == 'en' else meta.get('name')}"
    return sorted(seen.items(), key=lambda kv: step_key(kv[0]))


def _form_title(view, form_file: str | None) -> str:
    """The form's title in the user's language: its file name is the designer's, not the caseworker's."""
    form = view.forms.get(form_file) if form_file else None
    if form is None:
        return ""
    return text(form.schema.get("x-label"), form.schema.get("title") or "")


def steps_of(view) -> list[dict]:
    rows = []
    for bpmn_id, meta in view.catalogue.items():
        rows.append({"bpmn_id": bpmn_id, "step": meta.get("step") or "",
                     "name": meta.get("name_en") if lang() == "en" else meta.get("name"),
                     "role": meta.get("role"), "form": _form_title(view, meta.get("form")),
                     "documents": meta.get("documents") if lang() == "en" else
                     (meta.get("documents_hu") or meta.get("documents")),
                     # Only the description in the user's language: the raw BPMN documentation is bilingual notes.
                     "documentation": _documentation(meta.get("documentation") or "", lang())})
    return sorted(rows, key=lambda r: step_key(r["step"]))


@catalogue.get("/processes")
@login_required
def index():
    views = latest_views()
    processes = [{"key": key, "name": bilingual(view.name), "version": view.version,
                  "steps": len(view.catalogue), "roles": sorted({m.get("role") for m in view.catalogue.values()
                                                                 if m.get("role")}),
                  # The service package it came with (docs/services.md), by name and package version.
                  "service": text(view.manifest["name"], key) if view.manifest else None,
                  "package_version": view.package_version}
                 for key, view in sorted(views.items())]
    return render_template("catalogue.html", processes=processes)


@catalogue.get("/processes/<key>")
@login_required
def process(key):
    view = latest_views().get(key)
    if view is None:
        abort(404)
    steps = steps_of(view)
    roles = sorted({s["role"] for s in steps if s["role"]})
    # What the service calls each role (roles.<role>.name of its manifest, docs/services.md), e.g. "Mentor".
    role_names = {role: text(spec["name"]) for role, spec in ((view.manifest or {}).get("roles") or {}).items()
                  if spec.get("name")}
    return render_template("process.html", key=key, view=view, name=bilingual(view.name), steps=steps, roles=roles,
                           role_names=role_names, history=_history(key), package=_package_history(view))


def _history(key: str) -> dict | None:
    """The process's version history for designers and managers; None for everyone else."""
    actor = current_actor()
    if actor is None or not access.can_read_versions(actor):
        return None
    with runtime().db.reading() as session:
        found = definitions.history(session, key)
    # A package is shown by its service's name in the reader's language, never by its key.
    names = {v.manifest["key"]: text(v.manifest["name"]) for v in latest_views().values() if v.manifest}
    for row in found["versions"]:
        row["deployed_at"] = dt.datetime.fromisoformat(row["deployed_at"])
        row["package_name"] = names.get(row.get("package"), row.get("package"))
    return found


@catalogue.get("/processes/<key>/diagram.bpmn")
@login_required
def process_diagram(key):
    """The latest version's BPMN for the page's diagram viewer: the same readers as the page itself."""
    view = latest_views().get(key)
    if view is None:
        abort(404)
    return bpmn_response(view)


def bpmn_response(view) -> Response:
    return Response(bpmn_source.localised_xml(view), mimetype="application/xml",
                    headers={"Content-Language": lang()})


def _package_history(view) -> dict | None:
    """The versions of the process's service package (drafts too) for designers and managers; None otherwise."""
    actor = current_actor()
    if actor is None or not access.can_read_versions(actor) or not view.manifest:
        return None
    with runtime().db.reading() as session:
        found = packages.package_history(session, view.manifest["key"])
    found["can_publish"] = bool(actor.role_codes & {access.PROCESS_DESIGNER, access.ADMINISTRATOR})
    return found


@catalogue.post("/packages/<package_key>/<int:version>/publish")
@login_required
def publish_package(package_key, version):
    """Publish a draft, or an earlier version again (a roll-back): new cases start on it from now on."""
    actor = logged_in_actor()
    access.require_designer(actor)
    result = packages.publish(runtime(), package_key, version, actor.username, clock.now(),
                              request.form.get("note"))
    forget_latest()
    flash(_("Version %(v)d of %(package)s is published: new cases start on it.", v=result["version"],
            package=package_key), "info")
    for warning in result.get("warnings") or ():  # shown, never refusing (docs/services.md)
        flash(_("Warning: %(where)s: %(message)s", where=findings.where(warning), message=findings.say(warning)),
              "warning")
    back = request.form.get("process", "")
    if back in latest_views():
        return redirect(url_for("catalogue.process", key=back))
    return redirect(url_for("catalogue.index"))


@catalogue.get("/packages/<package_key>/<int:version>.zip")
@login_required
def export_package(package_key, version):
    """A package version's files as deployed, for designers and managers (audited: it is the service's design)."""
    actor = logged_in_actor()
    access.require_version_reader(actor)
    with runtime().db.unit_of_work() as session:
        name, data = packages.export(session, package_key, version, actor.username, clock.now())
    return Response(data, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
