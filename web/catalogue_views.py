"""The process catalogue: every deployed process with its diagram, steps, roles and documents (the process map)."""
from __future__ import annotations

import re
import threading
from collections import OrderedDict

from flask import Blueprint, abort, render_template
from markupsafe import Markup

from engine.store.models import ProcessDefinition

from . import diagram
from .auth import login_required, runtime
from .labels import bilingual, lang, latest_views, text
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


def element_label(view):
    """Diagram labels in the user's language: the catalogue's English name for tasks, 'hu / en' names split."""

    # Elements outside the task catalogue (decisions) carry their English name as a "nameEn" property too.
    english = getattr(get_diagram(view), "names_en", {})

    def label(element_id: str, name: str) -> str:
        meta = view.catalogue.get(element_id)
        if lang() == "en":
            if meta and meta.get("name_en"):
                return meta["name_en"]
            if element_id in english:
                return english[element_id]
        return bilingual(name)

    return label


def _names_en(xml: bytes | str) -> dict[str, str]:
    """Each BPMN element's English name from its "nameEn" property (id → name)."""
    from lxml import etree

    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml, etree.XMLParser(resolve_entities=False))
    found: dict[str, str] = {}
    for owner in root.iter():
        for prop in owner.findall("{*}extensionElements/{*}properties/{*}property"):
            owner_id, value = owner.get("id"), prop.get("value")
            if prop.get("name") == "nameEn" and owner_id and value:
                found[owner_id] = value
    return found


def get_diagram(view) -> diagram.Diagram:
    """The parsed diagram of a deployed version, kept on the runtime's view of that version (immutable)."""
    found = getattr(view, "_web_diagram", None)
    if found is None:
        with runtime().db.reading() as session:
            xml = session.get_one(ProcessDefinition, view.id).bpmn_xml
        view._web_svgs = OrderedDict()  # set first: another thread may see _web_diagram right after
        drawing = diagram.Diagram(xml)
        drawing.names_en = _names_en(xml)  # type: ignore[attr-defined]
        found = view._web_diagram = drawing
    return found


_lock = threading.Lock()
RENDERED_KEPT = 256


def render_diagram(view, current=(), done=(), taken_flows=()) -> Markup:
    """The SVG of a version with its marks. Drawing takes milliseconds and many cases stand at the same place,
    so drawings are kept per version by (language, marks): a pure function of those."""
    drawing = get_diagram(view)
    key = (lang(), tuple(sorted(current)), tuple(sorted(done)), tuple(sorted(taken_flows)))
    kept = view._web_svgs
    with _lock:
        svg = kept.get(key)
        if svg is not None:
            kept.move_to_end(key)
    if svg is None:
        svg = drawing.render(label=element_label(view), title=bilingual(view.name), current=current, done=done,
                             taken_flows=taken_flows)
        with _lock:
            kept[key] = svg
            while len(kept) > RENDERED_KEPT:
                kept.popitem(last=False)
    # Built with lxml from the stored definition (names escaped by the serializer), so it is safe markup.
    return Markup(svg)


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
                           role_names=role_names, svg=render_diagram(view))
