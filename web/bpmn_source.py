"""The BPMN XML a page's diagram viewer loads (bpmn-js, web/static/viewer/, built from frontend/).

The browser draws the deployed version's own file; the server only puts each element's name into the reader's
language first (the catalogue's English names, a "nameEn" property, or the half of a "magyar / English" name),
so the viewer needs no translations of its own. A version never changes, so its XML per language and its
sequence flows are kept on the runtime's view of that version.
"""
from __future__ import annotations

import threading

from lxml import etree

from engine.store.models import ProcessDefinition

from .auth import runtime
from .labels import bilingual, lang

_lock = threading.Lock()
_PARSER = dict(resolve_entities=False, no_network=True, huge_tree=False)


def _source(view) -> bytes:
    found = getattr(view, "_web_bpmn_source", None)
    if found is None:
        with runtime().db.reading() as session:
            xml = session.get_one(ProcessDefinition, view.id).bpmn_xml
        found = view._web_bpmn_source = xml.encode("utf-8") if isinstance(xml, str) else xml
    return found


def _parse(view):
    return etree.fromstring(_source(view), etree.XMLParser(**_PARSER))


def names_en(view) -> dict[str, str]:
    """Each BPMN element's English name from its "nameEn" property (id → name)."""
    found = getattr(view, "_web_names_en", None)
    if found is None:
        found = {}
        for owner in _parse(view).iter():
            for prop in owner.findall("{*}extensionElements/{*}properties/{*}property"):
                owner_id, value = owner.get("id"), prop.get("value")
                if prop.get("name") == "nameEn" and owner_id and value:
                    found[owner_id] = value
        view._web_names_en = found
    return found


def label(view, element_id: str, name: str) -> str:
    """An element's name in the user's language."""
    if lang() == "en":
        meta = view.catalogue.get(element_id)
        if meta and meta.get("name_en"):
            return meta["name_en"]
        english = names_en(view).get(element_id)
        if english:
            return english
    return bilingual(name)


def localised_xml(view) -> bytes:
    """The version's BPMN file with every element's name in the user's language."""
    key = lang()
    with _lock:
        kept = view.__dict__.setdefault("_web_bpmn_localised", {})
        found = kept.get(key)
    if found is None:
        root = _parse(view)
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            element_id, name = element.get("id"), element.get("name")
            if element_id and name:
                element.set("name", label(view, element_id, name))
        found = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        with _lock:
            kept[key] = found
    return found


def flow_ids(view, pairs) -> list[str]:
    """The ids of the sequence flows that join each (source id, target id) pair: the flows a case has taken."""
    flows = getattr(view, "_web_flows", None)
    if flows is None:
        flows = {}
        for el in _parse(view).iter("{*}sequenceFlow"):
            flows.setdefault((el.get("sourceRef"), el.get("targetRef")), []).append(el.get("id"))
        view._web_flows = flows
    return sorted(i for pair in pairs for i in flows.get(tuple(pair), ()) if i)
