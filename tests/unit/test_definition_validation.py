"""Deploy-time validation speaks the modeler's language: SpiffWorkflow's own schema (the BPMN XSD with its
``spiff:`` extensions), each problem with its line and the id of the element it is in, and a file that holds no
executable process, or several (a collaboration of executable pools), told why rather than "found 0"."""
from __future__ import annotations

import re

import pytest

from engine.definitions.definitions import Upload, validate
from engine.errors import DefinitionInvalid
from engine.store.config import BPMN_DIR

INTAKE = BPMN_DIR / "intake" / "intake.bpmn"
FAMILY = BPMN_DIR / "family_care" / "family_care.bpmn"


def _refused(path, xml: bytes) -> DefinitionInvalid:
    with pytest.raises(DefinitionInvalid) as err:
        validate(Upload(path.name, xml, Upload.from_path(path).forms))
    return err.value


def _line(xml: bytes, text: bytes) -> int:
    return xml[:xml.index(text)].count(b"\n") + 1


def test_an_extension_spiffworkflow_cannot_read_is_refused_with_its_line_and_element():
    source = INTAKE.read_bytes()
    broken = source.replace(b"><spiff:parameters /></spiff:serviceTaskOperator>", b" />")
    assert broken != source
    err = _refused(INTAKE, broken)
    (problem,) = err.details
    assert problem["line"] == _line(broken, b"<spiff:serviceTaskOperator")
    assert problem["element"] == "register_client"
    assert "parameters" in problem["message"] and problem["message"].startswith("register_client: XML schema")
    assert f"line {problem['line']}" in err.message


def test_a_parser_error_names_its_line_and_element_not_none():
    source = FAMILY.read_bytes()
    broken = re.sub(rb"<bpmn:(timeDate|timeDuration|timeCycle)>[^<]*</bpmn:\1>", b"", source, count=1)
    err = _refused(FAMILY, broken)
    (problem,) = err.details
    element = problem["element"]
    assert problem["line"] == _line(broken, f'id="{element}"'.encode())
    assert f"line {problem['line']}, element '{element}'" in err.message and "None" not in err.message


def test_a_process_not_marked_executable_is_explained():
    source = INTAKE.read_bytes()
    err = _refused(INTAKE, source.replace(b'isExecutable="true"', b'isExecutable="false"'))
    assert "found 0" not in err.message
    assert "'intake' (line 6)" in err.message and 'isExecutable="true"' in err.message
    assert err.details == [{"file": "intake.bpmn", "line": 6, "element": "intake",
                            "message": 'intake: isExecutable="false": not a process to run',
                            "code": "process_not_executable", "params": {"element": "intake", "value": "false"}}]


def _process(pid: str) -> str:
    return (f'<bpmn:process id="{pid}" isExecutable="true">'
            f'<bpmn:startEvent id="{pid}_start"><bpmn:outgoing>{pid}_f</bpmn:outgoing></bpmn:startEvent>'
            f'<bpmn:sequenceFlow id="{pid}_f" sourceRef="{pid}_start" targetRef="{pid}_end" />'
            f'<bpmn:endEvent id="{pid}_end"><bpmn:incoming>{pid}_f</bpmn:incoming></bpmn:endEvent>'
            '</bpmn:process>\n')


POOLS = ('<?xml version="1.0" encoding="UTF-8"?>\n'
         '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" '
         'targetNamespace="http://example.org">\n'
         '<bpmn:collaboration id="c"><bpmn:participant id="p_office" processRef="office" />'
         '<bpmn:participant id="p_client" processRef="client" /></bpmn:collaboration>\n'
         + _process("office") + _process("client") + '</bpmn:definitions>\n')


def test_a_collaboration_of_two_executable_pools_is_explained():
    err = _refused(INTAKE, POOLS.encode())
    assert "collaboration has 2 pools" in err.message
    assert "'office' (line 4), 'client' (line 5)" in err.message and 'isExecutable="false"' in err.message
    assert [p["element"] for p in err.details] == ["office", "client"]
    # The partner's pool marked not executable: the one left is deployed.
    one = POOLS.replace('<bpmn:process id="client" isExecutable="true">', '<bpmn:process id="client" '
                                                                         'isExecutable="false">')
    key, *_ = validate(Upload("pools.bpmn", one.encode(), {}))
    assert key == "office"


def test_a_file_without_any_process_is_explained():
    xml = POOLS.replace(_process("office"), "").replace(_process("client"), "")
    xml = xml.replace(' processRef="office"', "").replace(' processRef="client"', "")
    assert "no bpmn:process element" in _refused(INTAKE, xml.encode()).message
