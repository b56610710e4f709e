"""Deploying BPMN versions: validation with line-numbered errors, nothing changed on refusal, versioning."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.cases import cases
from engine.definitions import definitions
from engine.errors import DefinitionInvalid
from engine.store import clock
from engine.store.config import BPMN_DIR
from engine.store.models import AuditEvent, ProcessDefinition
from tests import demo_data

from .helpers import do, new_family_case, through_agreement, waiting_steps

FAMILY = BPMN_DIR / "family_care" / "family_care.bpmn"


def _upload(bpmn: bytes, forms: dict | None = None) -> definitions.Upload:
    base = definitions.Upload.from_path(FAMILY)
    return definitions.Upload("family_care.bpmn", bpmn, base.forms if forms is None else forms)


def _deploy(runtime, upload):
    with runtime.db.unit_of_work() as session:
        return definitions.deploy(session, upload, "dora", clock.now())


def _counts(runtime):
    with runtime.db.reading() as session:
        return (session.execute(select(func.count(ProcessDefinition.id))).scalar(),
                session.execute(select(func.count(AuditEvent.id))).scalar())


def _refused(runtime, upload) -> DefinitionInvalid:
    before = _counts(runtime)
    with pytest.raises(DefinitionInvalid) as err:
        _deploy(runtime, upload)
    assert _counts(runtime) == before, "a refused upload changes nothing"
    return err.value


def test_the_bundled_processes_are_deployed_once(runtime):
    with runtime.db.reading() as session:
        listed = definitions.list_definitions(session)
    assert {(d["process_key"], d["version"]) for d in listed} == {
        ("intake", 1), ("family_care", 1), ("job_retention", 1), ("case_management", 1), ("ips", 1),
        ("ips_fidelity_review", 1), ("self_help_groups", 1), ("self_help_follow_up", 1)}
    definition, created = _deploy(runtime, definitions.Upload.from_path(FAMILY))
    assert not created and definition.version == 1, "an unchanged file is not a new version"


def test_malformed_xml_is_refused_with_its_line(runtime):
    text = FAMILY.read_bytes().replace(b"</bpmn:process>", b"</bpmn:proces>", 1)
    err = _refused(runtime, _upload(text))
    line = text[: text.index(b"</bpmn:proces>")].count(b"\n") + 1
    assert err.details[0]["line"] == line and "malformed XML" in err.details[0]["message"]


def test_xml_schema_violations_are_refused_with_their_line(runtime):
    text = FAMILY.read_bytes().replace(b"<bpmn:userTask ", b"<bpmn:userTask bogus=\"1\" ", 1)
    err = _refused(runtime, _upload(text))
    assert err.details[0]["line"] and "XML schema" in err.details[0]["message"]


def test_a_missing_form_file_is_refused(runtime):
    forms = dict(definitions.Upload.from_path(FAMILY).forms)
    forms.pop("review.json")
    err = _refused(runtime, _upload(FAMILY.read_bytes(), forms))
    assert any("review.json" in d["message"] and "missing" in d["message"] and d["line"] for d in err.details)


def test_a_form_file_that_is_not_json_or_not_a_schema_is_refused(runtime):
    forms = dict(definitions.Upload.from_path(FAMILY).forms)
    forms["review.json"] = b'{\n  "type": "object",\n  "properties": {,}\n}'
    err = _refused(runtime, _upload(FAMILY.read_bytes(), forms))
    assert any(d.get("file") == "review.json" and d.get("line") == 3 for d in err.details)
    forms["review.json"] = b'{"type": "object", "properties": {"x": {"type": "banana"}}}'
    err = _refused(runtime, _upload(FAMILY.read_bytes(), forms))
    assert any("not a valid JSON Schema" in d["message"] for d in err.details)


@pytest.mark.parametrize("expression, reason", [
    ("commitments_met ==", "does not compile"),
    ("__import__('os').system('id')", "import"),
    ("().__class__.__base__.__subclasses__()", "_"),
    ("open('/etc/passwd').read()", "open"),
])
def test_gateway_expressions_must_compile_in_the_sandbox(runtime, expression, reason):
    text = FAMILY.read_bytes()
    assert b"commitments_met == True" in text
    bad = text.replace(b"commitments_met == True", expression.replace("'", "&apos;").encode(), 1)
    err = _refused(runtime, _upload(bad))
    [detail] = [d for d in err.details if "gw_3_6" in d["message"] or "condition" in d["message"]]
    assert detail["line"], detail


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
<bpmn:process id="p" name="&lol4;" isExecutable="true"/></bpmn:definitions>"""

EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
<bpmn:process id="p" name="&xxe;" isExecutable="true"/></bpmn:definitions>"""


@pytest.mark.parametrize("payload", [BOMB, EXTERNAL], ids=["entity-expansion-bomb", "external-entity"])
def test_entities_are_refused_not_expanded(runtime, payload):
    err = _refused(runtime, _upload(payload, {}))
    assert "DOCTYPE" in err.message
    assert "root:" not in str(err.to_dict())


def test_a_new_version_leaves_running_cases_on_theirs(runtime, people):
    old_case = new_family_case(runtime, people, 0)
    through_agreement(runtime, people, old_case)
    text = FAMILY.read_bytes().replace(b"3.3 Esetmunka", b"3.3 Esetmunka (v2)", 1)
    definition, created = _deploy(runtime, _upload(text))
    assert created and definition.version == 2
    new_case = new_family_case(runtime, people, 1)
    assert cases.get_case(runtime, new_case, people.anna)["version"] == 2
    assert cases.get_case(runtime, old_case, people.anna)["version"] == 1
    do(runtime, old_case, "step_3_3", {"casework_next": "review"}, people.anna)
    assert waiting_steps(runtime, old_case) == ["3.6"]
    through_agreement(runtime, people, new_case)
    box = [t for t in cases.get_case(runtime, new_case, people.anna)["current_tasks"]]
    assert box[0]["name"].endswith("(v2)")
    with runtime.db.reading() as session:
        deployed = [e for e in session.execute(select(AuditEvent).where(AuditEvent.kind == "definition_deployed")
                                                  .order_by(AuditEvent.id)).scalars()]
    assert deployed[-1].actor == "dora" and deployed[-1].payload["version"] == 2


def test_a_user_task_outside_any_lane_is_refused(runtime):
    text = FAMILY.read_bytes()
    import re

    ref = re.search(rb"<bpmn:flowNodeRef>step_3_2</bpmn:flowNodeRef>", text)
    assert ref
    err = _refused(runtime, _upload(text[: ref.start()] + text[ref.end():]))
    assert any("step_3_2" in d["message"] and "lane" in d["message"] for d in err.details)


def test_demo_data_builders_produce_a_complete_case(runtime, people):
    code = demo_data.run_intake(runtime, people.anna, 3)
    case_id = demo_data.run_family_care(runtime, people.anna, people.lea, code, loops=2)
    assert cases.get_case(runtime, case_id, people.anna)["status"] == "completed"


JOB = BPMN_DIR / "job_retention" / "job_retention.bpmn"
JOB_DURATION = b"<bpmn:timeDuration>'P14D'</bpmn:timeDuration>"
JOB_CYCLE = b"<bpmn:timeCycle>'R2/P14D'</bpmn:timeCycle>"


def _job_with(old: bytes, new: str) -> tuple[definitions.Upload, int]:
    text = JOB.read_bytes()
    assert old in text
    line = text[: text.index(old)].count(b"\n") + 1
    return definitions.Upload("job_retention.bpmn", text.replace(old, new.encode(), 1),
                              definitions.Upload.from_path(JOB).forms), line


@pytest.mark.parametrize("old, expression, words", [
    (JOB_DURATION, "'P999999999Y'", "a duration is at most 10 years"),
    (JOB_DURATION, "'P' + '3654D'", "a duration is at most 10 years"),  # constant, though computed
    (JOB_DURATION, "'not a duration'", "is not an ISO 8601 duration"),
    (JOB_DURATION, "'-PT1H'", "a duration cannot be negative"),
    (JOB_DURATION, "'2026-12-01'", "is not an ISO 8601 duration"),
    (JOB_DURATION, "14", "a timer must give text such as 'P14D'"),
    (JOB_CYCLE, "'R2/PT1S'", "a cycle's interval must be at least 1 minute"),
    (JOB_CYCLE, "'R99999999/P14D'", "a cycle repeats at most 10000 times"),
    (JOB_CYCLE, "'R2/P999999999Y'", "at most 10 years"),
])
def test_timer_values_out_of_bounds_are_refused_at_deploy_naming_file_line_and_element(runtime, old, expression,
                                                                                          words):
    upload, line = _job_with(old, f"{old[:old.index(b'>') + 1].decode()}{expression}"
                                  f"{old[old.rindex(b'<'):].decode()}".replace("'", "&apos;"))
    err = _refused(runtime, upload)
    [detail] = err.details
    element = "check_overdue" if old == JOB_DURATION else "plan_overdue"
    assert detail["file"] == "job_retention.bpmn" and detail["line"] == line, detail
    assert detail["message"].startswith(f"{element}: timer") and words in detail["message"], detail


@pytest.mark.parametrize("old, literal", [(JOB_CYCLE, "R6/P1D"), (JOB_DURATION, "P7D"), (JOB_DURATION, "PT1H")])
def test_an_iso_value_written_without_quotes_is_refused_with_a_line_and_the_quotes_explained(runtime, old, literal):
    element = old[old.index(b"<") + 1: old.index(b">")].decode()
    upload, line = _job_with(old, f"<{element}>{literal}</{element}>")
    err = _refused(runtime, upload)
    [detail] = err.details
    assert detail["line"] == line
    assert f"{literal} is written without quotes" in detail["message"]
    assert f"<{element}>'{literal}'</{element}>" in detail["message"], detail


def test_a_timer_computed_from_case_data_is_accepted_at_deploy_and_checked_when_it_runs(runtime):
    upload, _line = _job_with(JOB_DURATION, "<bpmn:timeDuration>'P' + str(grace_days) + 'D'</bpmn:timeDuration>")
    definition, created = _deploy(runtime, upload)
    assert created  # its value is known only at run time: engine/sandbox/spiff.py checks it there
