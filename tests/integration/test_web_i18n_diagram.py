"""Every visible string has its Hungarian and English text; the diagram is drawn from the BPMN-DI."""
from __future__ import annotations

import re

from lxml import etree

from engine.store.config import BPMN_DIR
from web import i18n
from web.diagram import Diagram


def test_every_message_of_the_pages_is_translated_into_hungarian():
    found = i18n.extract_messages()
    assert len(found) > 100
    hu = i18n.merged_catalog("hu")
    missing = [f"{msgid!r} ({', '.join(where[:2])})" for msgid, where in found.items()
               if msgid not in hu or not hu[msgid].string
               or (isinstance(hu[msgid].string, tuple) and not all(hu[msgid].string))]
    assert not missing, "untranslated:\n" + "\n".join(missing)


def test_catalogues_compile_into_a_cache_keyed_by_content(tmp_path, monkeypatch):
    first = i18n.compile_catalogues()
    assert (first / "hu" / "LC_MESSAGES" / "messages.mo").stat().st_size > 1000
    assert i18n.compile_catalogues() == first  # unchanged catalogues: the same compiled files


def _svg(xml_text):
    return etree.fromstring(xml_text.encode())


def test_diagram_draws_every_shape_and_edge_of_the_di():
    xml = (BPMN_DIR / "family_care" / "family_care.bpmn").read_bytes()
    diagram = Diagram(xml)
    svg = _svg(diagram.render())
    ns = {"s": "http://www.w3.org/2000/svg"}
    ids = set(svg.xpath("//s:g/@data-element-id", namespaces=ns))
    di_elements = set(re.findall(rb'bpmnElement="([^"]+)"', xml))
    assert {i.decode() for i in di_elements} - {"collaboration_family_care"} <= ids
    # Every sequence flow has an arrowhead; lanes and the pool are drawn with their names.
    flows = svg.xpath("//s:g[contains(@class,'sequence')]", namespaces=ns)
    assert len(flows) == xml.count(b"<bpmn:sequenceFlow")
    assert all(f.xpath("s:polygon[@class='arrowhead']", namespaces=ns) for f in flows)
    assert svg.xpath("//s:g[@data-element-id='professional_lead']/s:rect[@class='lane']", namespaces=ns)
    assert "Szakmai vezető" in "".join(svg.itertext())
    # The viewBox holds every shape.
    x, y, w, h = map(float, svg.get("viewBox").split())
    assert w > 1000 and h > 300


def test_diagram_marks_current_done_and_taken_and_uses_no_inline_style():
    diagram = Diagram((BPMN_DIR / "family_care" / "family_care.bpmn").read_bytes())
    flows = diagram.flows_between([("step_3_1", "step_3_2")])
    assert flows == {"flow_step_3_1_step_3_2"}
    text = diagram.render(current={"step_3_2"}, done={"step_3_1"}, taken_flows=flows,
                          label=lambda _id, name: name.upper(), title="Családgondozás")
    assert re.search(r'<g class="element task usertask current" data-element-id="step_3_2"', text)
    assert re.search(r'<g class="element task usertask done" data-element-id="step_3_1"', text)
    assert 'class="flow sequence taken" data-element-id="flow_step_3_1_step_3_2"' in text
    assert "style=" not in text and "<script" not in text
    assert "CSELEKVÉSI" in text  # labels come through the label function
    assert '<title>Családgondozás</title>' in text


def test_diagram_escapes_names_and_refuses_entities():
    xml = (BPMN_DIR / "intake" / "intake.bpmn").read_text(encoding="utf-8")
    xml = xml.replace('name="Esetfelvétel"', 'name="&lt;script&gt;alert(1)&lt;/script&gt;"')
    text = Diagram(xml).render()
    assert "<script>" not in text and "&lt;script&gt;" in text
    evil = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + xml.split("?>", 1)[1]
    assert "root:" not in Diagram(evil).render()


def test_an_expanded_subprocess_names_itself_along_its_top_edge_clear_of_its_steps():
    xml = (BPMN_DIR / "family_care" / "family_care.bpmn").read_bytes()
    svg = _svg(Diagram(xml).render(label=lambda _id, name: name.split(" / ")[-1]))
    ns = {"s": "http://www.w3.org/2000/svg"}
    (group,) = svg.xpath("//s:g[@data-element-id='follow_up_3_10']", namespaces=ns)
    (box,) = group.xpath("s:rect[@class='shape']", namespaces=ns)
    (name,) = group.xpath("s:text", namespaces=ns)
    assert "".join(name.itertext()) == "Follow-up contacts"
    (step,) = svg.xpath("//s:g[@data-element-id='step_3_10']/s:rect[@class='shape']", namespaces=ns)
    # One line, written above the first step inside (not at the box's middle, where that step hides it) …
    assert float(box.get("y")) < float(name.get("y")) < float(step.get("y"))
    # … and no collapsed sign: the subprocess shows what it holds.
    assert not group.xpath("s:rect[@class='inner']", namespaces=ns)
    collapsed = xml.replace(b'bpmnElement="follow_up_3_10" isExpanded="true"', b'bpmnElement="follow_up_3_10"')
    (group,) = _svg(Diagram(collapsed).render()).xpath("//s:g[@data-element-id='follow_up_3_10']", namespaces=ns)
    assert group.xpath("s:rect[@class='inner']", namespaces=ns)
