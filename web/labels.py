"""Names from the deployed definitions, in the user's language: processes, steps, form fields, options.

The BPMN files name things in Hungarian (the step's name) with the English beside it (``nameEn``; a process
name written "magyar / English"); the form files carry ``x-label`` and ``x-options`` {hu, en}.
"""
from __future__ import annotations

import time

from flask import g
from flask_babel import get_locale

from engine.definitions import definitions
from engine.packages import settings
from engine.runtime.runtime import DefinitionView

from .auth import runtime


def lang() -> str:
    found = g.get("_segito_lang")
    if found is None:
        locale = get_locale()
        found = g._segito_lang = locale.language if locale is not None else "hu"
    return found


def bilingual(text: str | None) -> str:
    """'magyar / English' → the part for the user's language (the whole text when it has no ' / ')."""
    if not text:
        return ""
    if " / " not in text:
        return text
    hu, en = text.split(" / ", 1)
    return en.strip() if lang() == "en" else hu.strip()


LATEST_SECONDS = 5.0


def latest_views() -> dict[str, DefinitionView]:
    """The latest deployed version of every process. Which version is latest is looked up at most every few
    seconds (a deployment shows within that); the versions themselves are immutable and cached by the runtime."""
    cached = g.get("_latest_views")
    if cached is not None:
        return cached
    rt = runtime()
    now = time.monotonic()
    # Kept on the runtime (one per database), which declares no such attribute: hence its __dict__.
    known = rt.__dict__.get("_web_latest_definitions")
    with rt.db.reading() as session:
        if known is None or known[0] < now:
            ids: dict[str, int] = {}
            for row in definitions.list_definitions(session):
                ids[row["process_key"]] = row["id"]  # ordered by version: the last one wins
            known = rt.__dict__["_web_latest_definitions"] = (now + LATEST_SECONDS, ids)
        cached = {key: rt.definition(session, def_id) for key, def_id in known[1].items()}
    g._latest_views = cached
    return cached


def forget_latest() -> None:
    """After a publish in this process: the next page reads which versions are latest at once (other processes
    within LATEST_SECONDS)."""
    runtime().__dict__.pop("_web_latest_definitions", None)
    g.pop("_latest_views", None)


def view_of(definition_id: int) -> DefinitionView:
    rt = runtime()
    with rt.db.reading() as session:
        return rt.definition(session, definition_id)


def service_role(role: str, process_key: str | None) -> str:
    """A role as the process's service calls it (roles.<role>.name of its manifest, e.g. "Job coach"), else the
    product's own name for the role."""
    from .formatting import role_name

    view = latest_views().get(process_key) if process_key else None
    spec = (((view.manifest if view else None) or {}).get("roles") or {}).get(role) or {}
    return text(spec.get("name"), role_name(role)) if spec.get("name") else role_name(role)


def process_name(process_key: str) -> str:
    view = latest_views().get(process_key)
    return bilingual(view.name) if view else process_key


def caseload_label(key: str) -> str:
    """A caseload's label in the user's language, from the manifests of the latest versions (docs/services.md,
    "caseloads"); the key itself when no service declares it any more."""
    manifests = {id(v.manifest): v.manifest for v in latest_views().values() if v.manifest}
    rule = settings.caseload_rules(list(manifests.values())).get(key)
    return text(rule.get("label"), key) if rule else key


def step_name(item: dict, view: DefinitionView | None = None) -> str:
    """A task's name: the row's Hungarian name, or the catalogue's English one."""
    if lang() != "en":
        return item.get("name") or item.get("bpmn_id", "")
    catalogues = [view.catalogue] if view else [v.catalogue for v in latest_views().values()]
    for catalogue in catalogues:
        meta = catalogue.get(item.get("bpmn_id"))
        if meta and meta.get("name_en"):
            return meta["name_en"]
    return item.get("name") or item.get("bpmn_id", "")


def text(labels, fallback: str = "") -> str:
    """An {hu, en} label in the user's language."""
    if isinstance(labels, dict):
        return labels.get(lang()) or labels.get("hu") or fallback
    return labels or fallback


def field_schema(view: DefinitionView, key: str) -> dict | None:
    """A field's schema in any of the version's forms (indexed once per version)."""
    index = view.__dict__.get("_web_fields")  # kept on the engine's view, which declares no such attribute
    if index is None:
        index = {}
        for form in view.forms.values():
            for name, prop in form.schema.get("properties", {}).items():
                index.setdefault(name, prop)
        view.__dict__["_web_fields"] = index
    return index.get(key)


def field_label(view: DefinitionView, key: str, schema: dict | None = None) -> str:
    prop = schema if schema is not None else field_schema(view, key)
    if not prop:
        return key
    return text(prop.get("x-label"), prop.get("title") or key)


def option_label(schema: dict | None, value) -> str:
    if not schema:
        return "" if value is None else str(value)
    options = schema.get("x-options") or (schema.get("items") or {}).get("x-options") or {}
    if isinstance(value, list):
        return ", ".join(option_label(schema, v) for v in value)
    if str(value) in options:
        return text(options[str(value)], str(value))
    return "" if value is None else str(value)
