"""The shipped BPMN files: schema, SpiffWorkflow parsing, lanes, extension properties, diagram (DI) and the
routes a token takes through them (walked with SpiffWorkflow directly, without the engine)."""
from __future__ import annotations

import datetime as dt
import json
import re
from itertools import pairwise
from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine.sandbox import calendar_helpers
from engine.store import clock

ROOT = Path(__file__).resolve().parents[2]
FILES = {
    "intake": ROOT / "bpmn" / "intake" / "intake.bpmn",
    "family_care": ROOT / "bpmn" / "family_care" / "family_care.bpmn",
}
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "spiff": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
BPMN = "{" + NS["bpmn"] + "}"
ROLES = {
    "caseworker": "Családgondozó / Family caseworker",
    "professional_lead": "Szakmai vezető / Professional lead",
}
EXPECTED_LANES = {"intake": {"caseworker"}, "family_care": {"caseworker", "professional_lead"}}
# Embedded subprocesses (docs/timers.md: the 3.10 follow-up contacts, one timer and one task per contact).
SUBPROCESSES = {"intake": set(), "family_care": {"follow_up_3_10"}}
FLOW_NODE_TAGS = {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "task", "userTask", "serviceTask", "scriptTask", "manualTask", "sendTask", "receiveTask", "businessRuleTask",
    "callActivity", "subProcess", "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
    "complexGateway",
}
REQUIRED_PROPERTIES = ("formJsonSchemaFilename", "step", "nameEn", "documents", "documentsHu")

# The lead's contract: user task id -> (step, form file, lane).
USER_TASKS = {
    "intake": {
        "intake_registration": ("intake", "intake.json", "caseworker"),
    },
    "family_care": {
        "step_3_1": ("3.1", "assessment.json", "caseworker"),
        "step_3_2": ("3.2", "agreement.json", "caseworker"),
        "step_3_3": ("3.3", "casework.json", "caseworker"),
        "step_3_4": ("3.4", "case_discussion.json", "caseworker"),
        "step_3_5": ("3.5", "case_conference.json", "caseworker"),
        "step_3_6": ("3.6", "review.json", "caseworker"),
        "step_3_7": ("3.7", "plan_amendment.json", "caseworker"),
        "step_3_8": ("3.8", "closure.json", "caseworker"),
        "step_3_9": ("3.9", "further_service.json", "caseworker"),
        "step_3_10": ("3.10", "follow_up.json", "caseworker"),
        "step_3_10_manage": ("3.10", "follow_up_manage.json", "caseworker"),
        "step_3_11": ("3.11", "closure_no_cooperation.json", "caseworker"),
        "agree_closure_success": ("3.8", "closure_agreement.json", "professional_lead"),
        "agree_closure_no_cooperation": ("3.11", "closure_no_cooperation_agreement.json", "professional_lead"),
    },
}
# gateway id -> the data keys its conditions read
GATEWAY_KEYS = {
    "intake": {},
    "family_care": {
        "gw_casework_next": {"casework_next"},
        "gw_3_6": {"commitments_met", "goal_reached"},
        "gw_3_9": {"further_service_available"},
        "gw_closure_agreed": {"closure_agreed"},
        "gw_follow_up": {"follow_up"},
        "gw_closure_agreed_nc": {"closure_agreed"},
        "gw_follow_up_manage": {"follow_up_action"},
    },
}
SEED_QUESTIONS = {
    "gw_3_6": "Teljesülnek az együttműködési megállapodásban vállaltak?",
    "gw_3_9": "További szolgáltatás igénybe vehető?",
    "gw_follow_up": "Részt vesz-e az utánkövetésben?",
}

PIDS = sorted(FILES)


# ---------------------------------------------------------------- helpers

def tree(pid):
    return etree.parse(str(FILES[pid]))


def process_el(pid):
    return tree(pid).getroot().find(f"bpmn:process[@id='{pid}']", NS)


def flow_nodes(proc):
    return [el for el in proc if isinstance(el.tag, str) and etree.QName(el).localname in FLOW_NODE_TAGS]


def all_flow_nodes(proc):
    """Flow nodes of the process and, recursively, of its embedded subprocesses (lanes reference both)."""
    found = []
    for el in flow_nodes(proc):
        found.append(el)
        if etree.QName(el).localname == "subProcess":
            found += all_flow_nodes(el)
    return found


def sequence_flows(proc):
    return proc.findall("bpmn:sequenceFlow", NS)


def properties(el):
    return {p.get("name"): p.get("value")
            for p in el.findall("bpmn:extensionElements/spiff:properties/spiff:property", NS)}


def bounds(shape):
    b = shape.find("dc:Bounds", NS)
    return tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))


def shapes(pid):
    return {s.get("bpmnElement"): s for s in tree(pid).iterfind(".//bpmndi:BPMNShape", NS)}


def edges(pid):
    return {e.get("bpmnElement"): e for e in tree(pid).iterfind(".//bpmndi:BPMNEdge", NS)}


def lane_of(pid):
    mapping = {}
    for lane in process_el(pid).iterfind("bpmn:laneSet/bpmn:lane", NS):
        for ref in lane.findall("bpmn:flowNodeRef", NS):
            mapping.setdefault(ref.text.strip(), []).append(lane.get("id"))
    return mapping


def overlaps(a, b):
    return not (a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1])


def on_border(point, box, tol=1.0):
    x, y = point
    bx, by, bw, bh = box
    inside = bx - tol <= x <= bx + bw + tol and by - tol <= y <= by + bh + tol
    near_edge = min(abs(x - bx), abs(x - bx - bw), abs(y - by), abs(y - by - bh)) <= tol
    return inside and near_edge


def on_diamond(point, box, tol=1.5):
    x, y = point
    bx, by, bw, bh = box
    cx, cy = bx + bw / 2, by + bh / 2
    return abs(abs(x - cx) / (bw / 2) + abs(y - cy) / (bh / 2) - 1) * (bw / 2) <= tol


def load(pid):
    parser = SpiffBpmnParser(validator=BpmnValidator())
    parser.add_bpmn_file(str(FILES[pid]))
    return parser.get_spec(pid), parser.get_subprocess_specs(pid)


# ---------------------------------------------------------------- structure

@pytest.mark.parametrize("pid", PIDS)
def test_validates_against_bpmn_xsd(pid):
    validator = BpmnValidator()
    doc = tree(pid)
    assert validator.validator.validate(doc), validator.validator.error_log
    validator.validate(doc)  # raises ValidationException when invalid


@pytest.mark.parametrize("pid", PIDS)
def test_parses_with_spiff_parser_and_validator(pid):
    parser = SpiffBpmnParser(validator=BpmnValidator())
    parser.add_bpmn_file(str(FILES[pid]))
    assert parser.get_process_ids() == [pid]
    spec = parser.get_spec(pid)
    subprocesses = parser.get_subprocess_specs(pid)
    assert set(subprocesses) == SUBPROCESSES[pid]
    bpmn_ids = {ts.name for s in [spec, *subprocesses.values()] for ts in s.task_specs.values()}
    assert {n.get("id") for n in all_flow_nodes(process_el(pid))} <= bpmn_ids


@pytest.mark.parametrize("pid", PIDS)
def test_process_and_collaboration(pid):
    root = tree(pid).getroot()
    proc = process_el(pid)
    assert proc.get("isExecutable") == "true"
    assert " / " in proc.get("name")  # bilingual
    assert (proc.findtext("bpmn:documentation", namespaces=NS) or "").strip()
    participants = root.findall("bpmn:collaboration/bpmn:participant", NS)
    assert len(participants) == 1 and participants[0].get("processRef") == pid
    assert len(root.findall("bpmn:process", NS)) == 1


@pytest.mark.parametrize("pid", PIDS)
def test_lanes_are_role_codes_and_cover_every_node_once(pid):
    proc = process_el(pid)
    lanes = proc.findall("bpmn:laneSet/bpmn:lane", NS)
    assert {lane.get("id") for lane in lanes} == EXPECTED_LANES[pid]
    for lane in lanes:
        assert lane.get("name") == ROLES[lane.get("id")]
    refs = lane_of(pid)
    node_ids = [n.get("id") for n in all_flow_nodes(proc)]
    for nid in node_ids:
        assert len(refs.get(nid, [])) == 1, f"{nid} is in lanes {refs.get(nid)}"
    assert set(refs) == set(node_ids)


@pytest.mark.parametrize("pid", PIDS)
def test_user_tasks_match_contract_and_carry_properties(pid):
    proc = process_el(pid)
    forms_dir = FILES[pid].parent / "forms"
    refs = lane_of(pid)
    tasks = proc.findall(".//bpmn:userTask", NS)
    assert {t.get("id") for t in tasks} == set(USER_TASKS[pid])
    for t in tasks:
        tid = t.get("id")
        props = properties(t)
        for key in REQUIRED_PROPERTIES:
            assert key in props, f"{tid} lacks {key}"
        step, form, lane = USER_TASKS[pid][tid]
        assert props["step"] == step
        assert props["formJsonSchemaFilename"] == form
        assert (forms_dir / form).is_file(), f"{tid}: form {form} is missing"
        assert refs[tid] == [lane]
        assert props["nameEn"].strip()
        if step != "intake":
            assert t.get("name").startswith(step + " "), t.get("name")
        docs_en = [d for d in props["documents"].split(";") if d.strip()]
        docs_hu = [d for d in props["documentsHu"].split(";") if d.strip()]
        assert len(docs_en) == len(docs_hu)
        documentation = t.findtext("bpmn:documentation", namespaces=NS) or ""
        assert "Leírás:" in documentation and "Description:" in documentation
        for d in docs_hu:
            assert d.strip() in documentation


def test_seed_documents_of_family_care_steps():
    proc = process_el("family_care")
    got = {t.get("id"): properties(t)["documentsHu"] for t in proc.findall("bpmn:userTask", NS)}
    assert got["step_3_1"] == "Cselekvési terv; Esetnapló; Forgalmi napló"
    assert got["step_3_3"] == "Esetnapló; Cselekvési terv; Együttműködési megállapodás; Forgalmi napló"
    assert got["step_3_4"] == "Együttműködési megállapodás; Feljegyzés"
    assert got["step_3_5"] == "Együttműködési megállapodás; Feljegyzés; Meghívó; Iktatókönyv; Jelenléti ív"
    assert got["step_3_8"] == "Esetnapló; Együttműködési megállapodás; Ügyfélnyilvántartás"
    assert got["step_3_6"] == got["step_3_9"] == ""  # the seed lists none for the two decisions
    assert got["step_3_11"] == "Esetnapló; Ügyfélnyilvántartás"


@pytest.mark.parametrize("pid", PIDS)
def test_gateways_have_defaults_named_flows_and_contract_conditions(pid):
    proc = process_el(pid)
    flows = {f.get("id"): f for f in sequence_flows(proc)}
    gateways = proc.findall("bpmn:exclusiveGateway", NS)
    assert {g.get("id") for g in gateways} == set(GATEWAY_KEYS[pid])
    form_keys = set()
    for form in (FILES[pid].parent / "forms").glob("*.json"):
        form_keys |= set(json.loads(form.read_text(encoding="utf-8")).get("properties", {}))
    for g in gateways:
        gid = g.get("id")
        assert g.get("name"), gid
        if gid in SEED_QUESTIONS:
            assert g.get("name") == SEED_QUESTIONS[gid]
        outgoing = [f for f in flows.values() if f.get("sourceRef") == gid]
        assert len(outgoing) >= 2
        default = g.get("default")
        assert default in {f.get("id") for f in outgoing}, f"{gid} has no default flow"
        read = set()
        for f in outgoing:
            assert f.get("name"), f"flow {f.get('id')} has no name"
            cond = f.find("bpmn:conditionExpression", NS)
            if f.get("id") == default:
                assert cond is None, f"default flow {f.get('id')} should carry no condition"
            else:
                assert cond is not None and cond.text.strip()
                read |= set(re.findall(r"\b([a-z_][a-z0-9_]*)\b\s*==", cond.text))
        assert read == GATEWAY_KEYS[pid][gid]
        assert read <= form_keys, f"{gid} reads {read - form_keys}, which no form writes"


def test_intake_service_task_operator():
    proc = process_el("intake")
    (svc,) = proc.findall("bpmn:serviceTask", NS)
    op = svc.find("bpmn:extensionElements/spiff:serviceTaskOperator", NS)
    assert op.get("id") == "register_client" and op.get("resultVariable") == "client"
    # SpiffWorkflow indexes every element of the process by @id: the operator must not share the task's id.
    assert svc.get("id") != op.get("id")
    assert lane_of("intake")[svc.get("id")] == ["caseworker"]


# ---------------------------------------------------------------- diagram

@pytest.mark.parametrize("pid", PIDS)
def test_every_node_has_a_shape_and_every_flow_an_edge(pid):
    proc = process_el(pid)
    sh, ed = shapes(pid), edges(pid)
    plane = tree(pid).find(".//bpmndi:BPMNPlane", NS)
    assert plane.get("bpmnElement") == tree(pid).find("bpmn:collaboration", NS).get("id")
    for n in all_flow_nodes(proc):
        assert n.get("id") in sh, f"no shape for {n.get('id')}"
        x, y, w, h = bounds(sh[n.get("id")])
        kind = etree.QName(n).localname
        if kind.endswith("Gateway"):
            assert (w, h) == (50, 50)
        elif kind.endswith("Event"):
            assert (w, h) == (36, 36)
        else:
            assert w >= 100 and h >= 80
    for f in sequence_flows(proc):
        assert f.get("id") in ed, f"no edge for {f.get('id')}"
        assert len(ed[f.get("id")].findall("di:waypoint", NS)) >= 2
    participant = tree(pid).find("bpmn:collaboration/bpmn:participant", NS).get("id")
    assert sh[participant].get("isHorizontal") == "true"
    for lane in proc.iterfind("bpmn:laneSet/bpmn:lane", NS):
        assert sh[lane.get("id")].get("isHorizontal") == "true"


@pytest.mark.parametrize("pid", PIDS)
def test_layout_lanes_stack_and_shapes_do_not_overlap(pid):
    proc = process_el(pid)
    sh = shapes(pid)
    participant = tree(pid).find("bpmn:collaboration/bpmn:participant", NS).get("id")
    px, py, pw, ph = bounds(sh[participant])
    lanes = [bounds(sh[lane.get("id")]) for lane in proc.iterfind("bpmn:laneSet/bpmn:lane", NS)]
    y = py
    for lx, ly, lw, lh in lanes:  # stacked top to bottom, spanning the pool right of its label band
        assert (lx, lx + lw) == (px + 30, px + pw)
        assert ly == y
        y += lh
    assert y == py + ph
    refs = lane_of(pid)
    lane_box = {lane.get("id"): bounds(sh[lane.get("id")]) for lane in proc.iterfind("bpmn:laneSet/bpmn:lane", NS)}
    boxes = {n.get("id"): bounds(sh[n.get("id")]) for n in flow_nodes(proc)}
    for nid, (x, y, w, h) in boxes.items():
        lx, ly, lw, lh = lane_box[refs[nid][0]]
        assert lx < x and x + w < lx + lw and ly < y and y + h < ly + lh, f"{nid} is outside its lane"
    attached = {(n.get("id"), n.get("attachedToRef")) for n in flow_nodes(proc)
                if etree.QName(n).localname == "boundaryEvent"}  # drawn on its task's border, as BPMN draws it
    ids = sorted(boxes)
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            if (a, b) in attached or (b, a) in attached:
                continue
            assert not overlaps(boxes[a], boxes[b]), f"{a} overlaps {b}"


@pytest.mark.parametrize("pid", PIDS)
def test_edges_are_orthogonal_and_touch_their_ends(pid):
    proc = process_el(pid)
    sh, ed = shapes(pid), edges(pid)
    kinds = {n.get("id"): etree.QName(n).localname for n in flow_nodes(proc)}
    for f in sequence_flows(proc):
        pts = [(float(p.get("x")), float(p.get("y"))) for p in ed[f.get("id")].findall("di:waypoint", NS)]
        for (x1, y1), (x2, y2) in pairwise(pts):
            assert x1 == x2 or y1 == y2, f"{f.get('id')} has a diagonal segment"
        for point, end in ((pts[0], f.get("sourceRef")), (pts[-1], f.get("targetRef"))):
            box = bounds(sh[end])
            if kinds[end].endswith("Gateway"):
                assert on_diamond(point, box), f"{f.get('id')} does not touch {end}"
            elif kinds[end].endswith("Event"):
                cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
                assert abs(((point[0] - cx) ** 2 + (point[1] - cy) ** 2) ** 0.5 - box[2] / 2) <= 1.5
            else:
                assert on_border(point, box), f"{f.get('id')} does not touch {end}"


# ---------------------------------------------------------------- walking the routes

def walk(pid, answers, script_engine=None):
    """Complete the ready user tasks in order; each answer is (expected task id, data it submits)."""
    spec, subprocess_specs = load(pid)
    wf = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine or WalkEngine())
    wf.do_engine_steps()
    seen = []
    answers = list(answers)
    while not wf.is_completed():
        ready = wf.get_tasks(state=TaskState.READY, manual=True)
        # In follow-up, the task for an extra contact or ending waits beside each scheduled contact.
        alone = [t for t in ready if t.task_spec.name != "step_3_10_manage"] if len(ready) > 1 else ready
        assert len(alone) == 1, f"after {seen}: ready {[t.task_spec.name for t in ready]}"
        assert answers, f"after {seen}: {ready[0].task_spec.name} is ready but the walk has ended"
        expected, data = answers.pop(0)
        named = [t for t in ready if t.task_spec.name == expected]
        task = named[0] if named else alone[0]
        assert task.task_spec.name == expected, f"after {seen}"
        seen.append(task.task_spec.name)
        task.data.update(data)
        task.run()
        wf.do_engine_steps()
    assert not answers, f"the workflow completed before {answers}"
    return wf, seen


def ended_at(wf):
    return {t.task_spec.name for t in wf.get_tasks(state=TaskState.COMPLETED)
            if getattr(t.task_spec, "bpmn_id", None) and t.task_spec.name.startswith("end_")}


START = [("step_3_1", {"household_size": 1}),
         ("step_3_2", {"agreement_date": "2024-01-10", "review_frequency": "monthly"})]
MET = {"commitments_met": True, "goal_reached": True, "review_date": "2024-01-20"}
NOT_MET = {"commitments_met": False, "review_date": "2024-01-20"}


def casework(next_step):
    return ("step_3_3", {"casework_next": next_step})


class WalkEngine(PythonScriptEngine):
    """Scripts see the calendar helpers, as in the engine's sandbox (engine/sandbox/calendar_helpers.py), and the
    engine's operation ``now`` answers ``now`` (by default the real clock: a review planned from it is still to
    come; the 3.10 contact of a closure two years back is due long ago, so its timer fires at once)."""

    def __init__(self, now: dt.datetime | None = None):
        super().__init__(environment=TaskDataEnvironment(dict(calendar_helpers.HELPERS)))
        self.now = now

    def call_service(self, task, operation_name=None, **kwargs):
        assert operation_name == "now", operation_name
        return json.dumps((self.now or dt.datetime.now(dt.timezone.utc)).isoformat())


def follow_up_engine():
    return WalkEngine()


def test_walk_successful_closure_with_follow_up():
    answers = START + [
        casework("continue"),
        casework("case_discussion"), ("step_3_4", {}),
        casework("case_conference"), ("step_3_5", {}),
        casework("review"),
        ("step_3_6", MET),
        ("step_3_8", {"closure_reason": "successful", "follow_up": True, "closure_date": "2024-05-01",
                      "follow_up_frequency": "monthly", "follow_up_months": 1}),
        ("agree_closure_success", {"closure_agreed": True}),
        ("step_3_10", {"follow_up_contacts": []}),
    ]
    wf, seen = walk("family_care", answers, script_engine=follow_up_engine())
    assert seen == ["step_3_1", "step_3_2", "step_3_3", "step_3_3", "step_3_4", "step_3_3", "step_3_5",
                    "step_3_3", "step_3_6", "step_3_8", "agree_closure_success", "step_3_10"]
    assert ended_at(wf) == {"end_closed"}


def test_walk_successful_closure_not_agreed_then_without_follow_up():
    answers = START + [
        casework("review"),
        ("step_3_6", MET),
        ("step_3_8", {"follow_up": False}),
        ("agree_closure_success", {"closure_agreed": False}),
        casework("review"),
        ("step_3_6", MET),
        ("step_3_8", {"follow_up": False}),
        ("agree_closure_success", {"closure_agreed": True}),
    ]
    wf, seen = walk("family_care", answers)
    assert seen == ["step_3_1", "step_3_2", "step_3_3", "step_3_6", "step_3_8", "agree_closure_success",
                    "step_3_3", "step_3_6", "step_3_8", "agree_closure_success"]
    assert ended_at(wf) == {"end_closed"}


def test_walk_further_service_then_closure_for_lack_of_cooperation():
    answers = START + [
        casework("review"),
        ("step_3_6", NOT_MET),
        ("step_3_9", {"further_service_available": True}),
        ("step_3_7", {"needs_other_helpers": True, "other_helpers": "adósságkezelő"}),
        casework("review"),
        ("step_3_6", NOT_MET),
        ("step_3_9", {"further_service_available": False}),
        ("step_3_11", {"closure_reason": "lack_of_cooperation"}),
        ("agree_closure_no_cooperation", {"closure_agreed": False}),
        casework("continue"),
        casework("review"),
        ("step_3_6", NOT_MET),
        ("step_3_9", {"further_service_available": False}),
        ("step_3_11", {"closure_reason": "lack_of_cooperation"}),
        ("agree_closure_no_cooperation", {"closure_agreed": True}),
    ]
    wf, seen = walk("family_care", answers)
    assert seen == ["step_3_1", "step_3_2", "step_3_3", "step_3_6", "step_3_9", "step_3_7",
                    "step_3_3", "step_3_6", "step_3_9", "step_3_11", "agree_closure_no_cooperation",
                    "step_3_3", "step_3_3", "step_3_6", "step_3_9", "step_3_11", "agree_closure_no_cooperation"]
    assert ended_at(wf) == {"end_closed_no_cooperation"}


def test_walk_unknown_casework_choice_falls_back_to_casework():
    answers = START + [casework("something else"), casework("review"),
                       ("step_3_6", MET), ("step_3_8", {"follow_up": False}),
                       ("agree_closure_success", {"closure_agreed": True})]
    wf, seen = walk("family_care", answers)
    assert seen[2:4] == ["step_3_3", "step_3_3"]
    assert ended_at(wf) == {"end_closed"}


class FakeServices(PythonScriptEngine):
    def __init__(self):
        super().__init__()
        self.calls = []

    def call_service(self, task, operation_name, operation_params, **kw):
        self.calls.append((task.task_spec.name, operation_name, operation_params))
        return '{"client_code": "K-1", "client_status": "returning"}'


def test_walk_intake_registers_the_client():
    engine = FakeServices()
    wf, seen = walk("intake", [("intake_registration", {
        "family_name": "Kovács", "given_name": "Anna", "birth_date": "1980-05-01", "birth_place": "Eger",
        "mother_name": "Nagy Éva", "intake_problem": "lakhatási gond"})], script_engine=engine)
    assert seen == ["intake_registration"]
    assert engine.calls == [("register_client_task", "register_client", {})]
    (end,) = wf.get_tasks(spec_name="end_intake", state=TaskState.COMPLETED)
    assert end.data["client"] == {"client_code": "K-1", "client_status": "returning"}
    # The registry's answer is the case's: a recognised person is "returning" whatever was typed at intake.
    assert end.data["client_status"] == "returning"
    assert end.data["family_name"] == "Kovács"
    assert ended_at(wf) == {"end_intake"}


def test_walk_the_review_comes_when_due_and_casework_goes_on_until_the_goal_is_reached():
    """The agreement (2024-01-10, monthly) was recorded on 2024-03-15: the first review is the rhythm's first day
    after that (2024-04-10). By then the timer on casework brings 3.6 in its place; commitments met but the goal
    not reached → casework again, the next review the first day of the rhythm after the review's day."""
    clock.install_into_spiffworkflow()
    engine = WalkEngine(now=dt.datetime(2024, 3, 15, 9, tzinfo=dt.timezone.utc))
    spec, subprocess_specs = load("family_care")
    with clock.as_of(engine.now):
        wf = BpmnWorkflow(spec, subprocess_specs, script_engine=engine)
        wf.do_engine_steps()
        for name, data in START:
            (task,) = wf.get_tasks(state=TaskState.READY, manual=True)
            assert task.task_spec.name == name
            task.data.update(data)
            task.run()
            wf.do_engine_steps()
        wf.refresh_waiting_tasks()
        (task,) = wf.get_tasks(state=TaskState.READY, manual=True)
    assert task.task_spec.name == "step_3_3" and task.data["review"] == {
        "n": 1, "date": "2024-04-10", "due_at": "2024-04-09T22:00:00+00:00"}
    engine.now = dt.datetime(2024, 4, 20, 9, tzinfo=dt.timezone.utc)
    with clock.as_of(engine.now):
        wf.refresh_waiting_tasks()
        wf.do_engine_steps()
        (task,) = wf.get_tasks(state=TaskState.READY, manual=True)
        assert task.task_spec.name == "step_3_6"
        task.data.update({"commitments_met": True, "goal_reached": False, "review_date": "2024-04-20"})
        task.run()
        wf.do_engine_steps()
        (task,) = wf.get_tasks(state=TaskState.READY, manual=True)
    assert task.task_spec.name == "step_3_3" and task.data["review"] == {
        "n": 2, "date": "2024-05-10", "due_at": "2024-05-09T22:00:00+00:00"}


def test_walk_follow_up_ended_early_closes_the_case_with_contacts_still_to_come():
    """Six monthly contacts agreed; one extra contact, then the caseworker ends the follow-up with a reason: the
    terminate end event closes the case, the scheduled contacts still waiting are cancelled."""
    answers = START + [
        casework("review"), ("step_3_6", MET),
        ("step_3_8", {"closure_reason": "successful", "follow_up": True, "closure_date": "2099-05-01",
                      "follow_up_frequency": "monthly", "follow_up_months": 6}),
        ("agree_closure_success", {"closure_agreed": True}),
        ("step_3_10_manage", {"follow_up_action": "contact", "follow_up_contacts": [{"date": "2099-05-03"}]}),
        ("step_3_10_manage", {"follow_up_action": "end", "follow_up_end_reason": "Elköltöztek."}),
    ]
    wf, seen = walk("family_care", answers)
    assert ended_at(wf) == {"end_follow_up_early"}
    assert len(wf.get_tasks(state=TaskState.CANCELLED, spec_name="step_3_10")) <= 6
    assert not wf.get_tasks(state=TaskState.WAITING)
