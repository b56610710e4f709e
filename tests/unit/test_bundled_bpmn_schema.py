"""Every bundled BPMN file (bpmn/<service>/*.bpmn) is valid for SpiffWorkflow's own schema (the BPMN XSD plus the
``spiff:`` extensions) and for a standard modeler: every reference a modeler resolves by id names an element of
the file, so opening and saving it in bpmn-js or Camunda Modeler keeps it (docs/processes.md, "Round trip")."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.spiff.parser import VALIDATOR
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = sorted((ROOT / "bpmn").glob("*/*.bpmn"))
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
# Child elements whose text a standard modeler resolves as the id of another element of the same file.
ID_REFERENCES = ("loopDataInputRef", "loopDataOutputRef", "dataObjectRef", "sourceRef", "targetRef")


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_bundled_files_are_found():
    assert len(BUNDLED) >= 8, [_name(p) for p in BUNDLED]


@pytest.mark.parametrize("path", BUNDLED, ids=_name)
def test_validates_against_spiffworkflow_schema(path):
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_file(str(path))  # raises ValidationException naming the element and line on a schema error
    assert parser.get_process_ids()


def _dangling_references(root) -> list[str]:
    ids = set(root.xpath("//@id"))
    dangling = []
    for tag in ID_REFERENCES:
        for ref in root.xpath(f"//bpmn:{tag}", namespaces=NS):
            if (ref.text or "").strip() not in ids:
                dangling.append(f"line {ref.sourceline}: {tag} {ref.text!r}")
    return dangling


@pytest.mark.parametrize("path", BUNDLED, ids=_name)
def test_id_references_name_elements_of_the_file(path):
    assert _dangling_references(etree.parse(str(path)).getroot()) == []


def test_spiffworkflow_schema_refuses_an_operator_without_parameters(tmp_path):
    # The check above can fail: the schema does refuse what intake.bpmn had before it was fixed.
    source = (ROOT / "bpmn" / "intake" / "intake.bpmn").read_text(encoding="utf-8")
    broken = source.replace("><spiff:parameters /></spiff:serviceTaskOperator>", " />")
    assert broken != source
    bad = tmp_path / "intake.bpmn"
    bad.write_text(broken, encoding="utf-8")
    with pytest.raises(Exception, match="parameters"):
        SpiffBpmnParser(validator=VALIDATOR).add_bpmn_file(str(bad))


def test_dangling_loop_input_is_found():
    source = (ROOT / "bpmn" / "family_care" / "family_care.bpmn").read_bytes()
    root = etree.fromstring(source.replace(b'<bpmn:dataObject id="follow_up_visits"', b'<bpmn:dataObject id="other"'))
    assert [d.split(": ", 1)[1] for d in _dangling_references(root)] == ["loopDataInputRef 'follow_up_visits'"]
