"""What changed between two versions of a process: its elements and its forms' fields (docs/services.md, "Diff").

Elements are matched by their BPMN id, as a modeler keeps them: an id only in the newer version is added, one
only in the older is removed, one in both is changed when any of what Segito reads of it differs — its type,
name, lane (the role), form, condition, timer, script, loop, default flow, its ends (a sequence flow), its
documentation or its other properties. Forms are matched by file name and their fields by path (``group/field``,
``block[]/field`` for a repeatable block's rows). Both are read from the stored XML and form JSON, never run.
"""
from __future__ import annotations

import json

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import NotFound, ValidationFailed
from ..store.models import ProcessDefinition
from .definitions import BPMN_NS, FORM_PROPERTY, NS

_CONTAINERS = {"subProcess", "transaction", "adHocSubProcess"}
_ACTIVITIES = {"task", "callActivity", *_CONTAINERS}
# What is compared, in the order a change is listed.
FACETS = ("type", "name", "lane", "form", "condition", "timer", "script", "loop", "default", "flow", "documentation",
          "properties")


def _local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _is_element(el) -> bool:
    name = _local(el)
    return (name.endswith(("Task", "Event", "Gateway")) or name in _ACTIVITIES or name == "sequenceFlow") \
        and el.get("id") is not None


def _text(el) -> str | None:
    return " ".join((el.text or "").split()) if el is not None and (el.text or "").strip() else None


def _facets(el, lanes: dict[str, str]) -> dict:
    props = {p.get("name"): p.get("value") for p in el.xpath("./bpmn:extensionElements/spiff:properties/"
                                                             "spiff:property", namespaces=NS)}
    timer = el.find("bpmn:timerEventDefinition", NS)
    timer_text = None
    if timer is not None:
        parts = [f"{_local(child)}: {_text(child)}" for child in timer if isinstance(child.tag, str) and _text(child)]
        timer_text = "; ".join(parts) or None
    scripts = [_text(el.find("bpmn:script", NS)), *(_text(s) for s in el.xpath(
        "./bpmn:extensionElements/spiff:preScript|./bpmn:extensionElements/spiff:postScript", namespaces=NS))]
    loop = el.find("bpmn:multiInstanceLoopCharacteristics", NS)
    if loop is None:
        loop = el.find("bpmn:standardLoopCharacteristics", NS)
    loop_text = None
    if loop is not None:
        sequential = loop.get("isSequential")
        loop_text = _local(loop) + ("" if sequential is None else f" sequential={sequential}")
        loop_text += "".join(f"; {_local(c)}: {_text(c)}" for c in loop if isinstance(c.tag, str) and _text(c))
    form = props.pop(FORM_PROPERTY, None)
    return {
        "type": _local(el),
        "name": el.get("name"),
        "lane": lanes.get(el.get("id")),
        "form": form,
        "condition": _text(el.find("bpmn:conditionExpression", NS)),
        "timer": timer_text,
        "script": " | ".join(s for s in scripts if s) or None,
        "loop": loop_text,
        "default": el.get("default"),
        "flow": f"{el.get('sourceRef')} → {el.get('targetRef')}" if _local(el) == "sequenceFlow" else None,
        "documentation": _text(el.find("bpmn:documentation", NS)),
        "properties": json.dumps(props, sort_keys=True, ensure_ascii=False) if props else None,
    }


def elements(bpmn_xml: str | bytes) -> dict[str, dict]:
    """id → what Segito reads of each flow element of the file's processes (embedded subprocesses included)."""
    data = bpmn_xml.encode("utf-8") if isinstance(bpmn_xml, str) else bpmn_xml
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                                     huge_tree=False))
    lanes: dict[str, str] = {}
    for lane in root.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.findall("bpmn:flowNodeRef", NS):
            lanes[(ref.text or "").strip()] = lane.get("id") or ""
    found: dict[str, dict] = {}
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        for el in process.iter():
            if _is_element(el):
                found[el.get("id") or ""] = _facets(el, lanes)
    return found


def _changes(before: dict, after: dict) -> list[dict]:
    return [{"what": f, "before": before.get(f), "after": after.get(f)} for f in FACETS
            if before.get(f) != after.get(f)]


def _summary(el_id: str, facets: dict) -> dict:
    return {"id": el_id, "type": facets["type"], "name": facets["name"]}


def _fields(schema: dict, prefix: str = "") -> dict[str, dict]:
    """path → the field's own schema (an object's or a block's fields listed under it, not in it)."""
    found: dict[str, dict] = {}
    required = set(schema.get("required") or ())
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        path = f"{prefix}{name}"
        own = {k: v for k, v in prop.items() if k not in ("properties", "items")}
        if isinstance(prop.get("items"), dict) and prop["items"].get("type") == "object":
            own["items"] = {k: v for k, v in prop["items"].items() if k not in ("properties", "required")}
            found.update(_fields(prop["items"], f"{path}[]/"))
        elif "items" in prop:
            own["items"] = prop["items"]
        if prop.get("type") == "object":
            found.update(_fields(prop, f"{path}/"))
        own["required"] = name in required
        found[path] = own
    return found


def form_changes(before: dict[str, dict], after: dict[str, dict]) -> list[dict]:
    """Per form file: added, removed, or changed with its fields added, removed and changed (and which keys)."""
    out = []
    for name in sorted(set(before) | set(after)):
        if name not in before or name not in after:
            status = "added" if name not in before else "removed"
            out.append({"file": name, "status": status, "fields": {"added": [], "removed": [], "changed": []}})
            continue
        old, new = _fields(before[name]), _fields(after[name])
        changed = [{"field": path, "what": sorted(k for k in set(old[path]) | set(new[path])
                                                 if old[path].get(k) != new[path].get(k))}
                   for path in sorted(set(old) & set(new)) if old[path] != new[path]]
        top = {k: v for k, v in before[name].items() if k not in ("properties", "required")} != \
              {k: v for k, v in after[name].items() if k not in ("properties", "required")}
        fields = {"added": sorted(set(new) - set(old)), "removed": sorted(set(old) - set(new)), "changed": changed}
        if top or any(fields.values()):
            out.append({"file": name, "status": "changed", "fields": fields})
    return out


def _definition(session: Session, key: str, version) -> ProcessDefinition:
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValidationFailed(f"a version is a whole number from 1, not {version!r}",
                               [{"field": "version", "message": "must be a whole number from 1"}])
    found = session.execute(select(ProcessDefinition).where(ProcessDefinition.process_key == key,
                                                            ProcessDefinition.version == version)
                            ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"process '{key}' has no version {version}")
    return found


def diff(session: Session, key: str, old_version: int, new_version: int) -> dict:
    """Elements added, removed and changed (with what changed) and form fields changed, from ``old_version`` to
    ``new_version`` of process ``key`` (either may be the later one)."""
    old, new = _definition(session, key, old_version), _definition(session, key, new_version)
    before, after = elements(old.bpmn_xml), elements(new.bpmn_xml)
    changed = []
    for el_id in sorted(set(before) & set(after)):
        found = _changes(before[el_id], after[el_id])
        if found:
            changed.append({**_summary(el_id, after[el_id]), "changes": found})
    return {
        "process_key": key,
        "from": {"version": old.version, "deployed_at": old.deployed_at.isoformat(), "deployed_by": old.deployed_by,
                 "note": old.note},
        "to": {"version": new.version, "deployed_at": new.deployed_at.isoformat(), "deployed_by": new.deployed_by,
               "note": new.note},
        "elements": {"added": [_summary(i, after[i]) for i in sorted(set(after) - set(before))],
                     "removed": [_summary(i, before[i]) for i in sorted(set(before) - set(after))],
                     "changed": changed},
        "forms": form_changes(old.forms or {}, new.forms or {}),
    }
