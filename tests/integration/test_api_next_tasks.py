"""The answers of a start and of a completion name the next tasks by id, to whoever may work on them
(docs/web.md, "JSON API"): a case stepped through with those ids alone, a step that goes to another lane or to
another person named without an id, both branches of a parallel gateway; every answer checked against the
OpenAPI document."""
from __future__ import annotations

import itertools
import json

import pytest
from sqlalchemy import select

from engine.definitions import definitions
from engine.store import clock
from engine.store.models import HumanTask
from tests import demo_data
from web.app import create_app

from .test_api import conforms, creds

FORM = json.dumps({"type": "object", "x-label": {"hu": "Lépés", "en": "Step"}, "properties": {
    "note": {"type": "string", "title": "Megjegyzés", "x-label": {"hu": "Megjegyzés", "en": "Note"}}}}).encode()
COMPLETE = "/api/tasks/{task_id}/complete"


def _upload(key: str, lanes: dict[str, list[str]], flows: list[tuple[str, str]], gateways: tuple[str, ...] = ()
            ) -> definitions.Upload:
    """A process of user tasks (every node but start, end and ``gateways``) with a one-field form, in
    ``lanes`` (lane id = role code → its nodes), joined by ``flows``."""
    incoming: dict[str, list[str]] = {}
    outgoing: dict[str, list[str]] = {}
    for n, (a, b) in enumerate(flows):
        outgoing.setdefault(a, []).append(f"f{n}")
        incoming.setdefault(b, []).append(f"f{n}")
    nodes = [n for nodes in lanes.values() for n in nodes]

    def wires(node: str) -> str:
        return ("".join(f"<bpmn:incoming>{f}</bpmn:incoming>" for f in incoming.get(node, []))
                + "".join(f"<bpmn:outgoing>{f}</bpmn:outgoing>" for f in outgoing.get(node, [])))

    body = []
    for node in nodes:
        if node == "start":
            body.append(f'<bpmn:startEvent id="start">{wires(node)}</bpmn:startEvent>')
        elif node == "end":
            body.append(f'<bpmn:endEvent id="end">{wires(node)}</bpmn:endEvent>')
        elif node in gateways:
            body.append(f'<bpmn:parallelGateway id="{node}">{wires(node)}</bpmn:parallelGateway>')
        else:
            body.append(f'<bpmn:userTask id="{node}" name="{node}"><bpmn:extensionElements><spiff:properties>'
                        f'<spiff:property name="formJsonSchemaFilename" value="note.json" />'
                        f'<spiff:property name="step" value="{node}" /></spiff:properties>'
                        f'</bpmn:extensionElements>{wires(node)}</bpmn:userTask>')
    body += [f'<bpmn:sequenceFlow id="f{n}" sourceRef="{a}" targetRef="{b}" />' for n, (a, b) in enumerate(flows)]
    lane_xml = "".join(f'<bpmn:lane id="{lane}" name="{lane}">'
                       + "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in members) + "</bpmn:lane>"
                       for lane, members in lanes.items())
    xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
           f'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
           f'xmlns:spiff="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d_{key}" '
           f'targetNamespace="http://segito.test"><bpmn:process id="{key}" name="{key}" isExecutable="true">'
           f'<bpmn:laneSet id="ls">{lane_xml}</bpmn:laneSet>{"".join(body)}</bpmn:process></bpmn:definitions>')
    return definitions.Upload(f"{key}.bpmn", xml.encode(), {"note.json": FORM})


def _deploy(runtime, upload: definitions.Upload) -> None:
    definitions.prevalidate(upload)
    with runtime.db.unit_of_work() as session:
        definitions.deploy(session, upload, "test", clock.now())


def _chain(key: str, steps: list[tuple[str, str]]) -> definitions.Upload:
    """start → each (node, lane) in a row → end; start and end in the first step's lane."""
    lanes: dict[str, list[str]] = {steps[0][1]: ["start"]}
    for node, lane in steps:
        lanes.setdefault(lane, []).append(node)
    lanes[steps[0][1]].append("end")
    nodes = ["start", *(n for n, _ in steps), "end"]
    return _upload(key, lanes, list(itertools.pairwise(nodes)))


@pytest.fixture
def client(runtime, people):
    return create_app(runtime, {"TESTING": True}).test_client()


def _start(client, username: str, key: str, code: str) -> dict:
    response = client.post("/api/cases", json={"process_key": key, "client_code": code}, auth=creds(username))
    assert response.status_code == 201, response.get_data(as_text=True)
    return conforms(response, "/api/cases", "post")


def _complete(client, username: str, task_id: int) -> dict:
    response = client.post(COMPLETE.format(task_id=task_id), json={"data": {"note": "x"}}, auth=creds(username))
    assert response.status_code == 200, response.get_data(as_text=True)
    return conforms(response, COMPLETE, "post")


def _ready(runtime, case_id: int) -> dict[str, HumanTask]:
    with runtime.db.reading() as session:
        return {t.bpmn_id: t for t in session.execute(select(HumanTask).where(
            HumanTask.case_id == case_id, HumanTask.state == "ready")).scalars()}


def test_a_case_is_stepped_through_its_ten_steps_with_the_returned_ids_alone(runtime, people, client):
    steps = [f"s{n:02d}" for n in range(1, 11)]
    _deploy(runtime, _chain("ten_steps", [(s, "caseworker") for s in steps]))
    code = demo_data.run_intake(runtime, people.anna)
    started = _start(client, "anna", "ten_steps", code)
    [first] = started["tasks"]
    assert first == {"bpmn_id": "s01", "step": "s01", "name": "s01", "can_complete": True,
                     "task_id": _ready(runtime, started["case_id"])["s01"].id, "role": "caseworker",
                     "assignee_id": people.anna.id}
    task_id, done = first["task_id"], []
    for step in steps:
        answer = _complete(client, "anna", task_id)
        done.append(task_id)
        if step != steps[-1]:
            [nxt] = answer["next_tasks"]
            assert answer["case_status"] == "running" and nxt["can_complete"] is True
            ready = _ready(runtime, started["case_id"])
            assert list(ready) == [nxt["bpmn_id"]] and ready[nxt["bpmn_id"]].id == nxt["task_id"]
            task_id = nxt["task_id"]
        else:
            assert answer["case_status"] == "completed" and answer["next_tasks"] == []
    with runtime.db.reading() as session:
        rows = session.execute(select(HumanTask.id, HumanTask.bpmn_id, HumanTask.state, HumanTask.completed_by)
                               .where(HumanTask.case_id == started["case_id"]).order_by(HumanTask.id)).all()
    assert [(r.id, r.bpmn_id, r.state, r.completed_by) for r in rows] == [
        (t, s, "completed", "anna") for t, s in zip(done, steps, strict=True)]


def test_a_step_handed_to_another_lane_or_person_comes_without_an_id(runtime, people, client):
    _deploy(runtime, _chain("hand_over", [("a", "caseworker"), ("b", "professional_lead"), ("c", "caseworker")]))
    code = demo_data.run_intake(runtime, people.anna)
    case_id = _start(client, "anna", "hand_over", code)["case_id"]
    answer = _complete(client, "anna", _ready(runtime, case_id)["a"].id)
    # The lead's step: in a lane anna does not hold, so no id, lane or assignee (her inbox would not show it).
    assert answer["next_tasks"] == [{"bpmn_id": "b", "step": "b", "name": "b", "can_complete": False}]
    lead_step = _ready(runtime, case_id)["b"]
    assert client.post(COMPLETE.format(task_id=lead_step.id), json={"data": {}},
                       auth=creds("anna")).status_code == 403  # and indeed not hers
    # The lead finds it in her queue (unclaimed: assignee null); completing it hands the case back to anna, whose
    # step the lead may not complete: named, no id.
    page = client.get("/api/inbox", auth=creds("lea")).get_json()
    assert [t["task_id"] for t in page["items"] if t["case_id"] == case_id] == [lead_step.id]
    answer = _complete(client, "lea", lead_step.id)
    assert answer["next_tasks"] == [{"bpmn_id": "c", "step": "c", "name": "c", "can_complete": False}]
    assert _ready(runtime, case_id)["c"].assignee_id == people.anna.id


def test_a_lead_completing_an_unclaimed_queue_step_gets_the_next_queue_step_with_its_id(runtime, people, client):
    _deploy(runtime, _chain("lead_twice", [("a", "caseworker"), ("b", "professional_lead"),
                                           ("c", "professional_lead")]))
    code = demo_data.run_intake(runtime, people.anna)
    case_id = _start(client, "anna", "lead_twice", code)["case_id"]
    _complete(client, "anna", _ready(runtime, case_id)["a"].id)
    [nxt] = _complete(client, "lea", _ready(runtime, case_id)["b"].id)["next_tasks"]
    # Unclaimed in the lead's queue: hers to complete, assignee null, as her inbox lists it.
    assert nxt == {"bpmn_id": "c", "step": "c", "name": "c", "can_complete": True,
                   "task_id": _ready(runtime, case_id)["c"].id, "role": "professional_lead", "assignee_id": None}
    assert _complete(client, "lea", nxt["task_id"])["case_status"] == "completed"


def test_a_parallel_gateway_returns_both_branches_with_their_ids(runtime, people, client):
    flows = [("start", "a"), ("a", "split"), ("split", "b"), ("split", "c"), ("b", "join"), ("c", "join"),
             ("join", "d"), ("d", "end")]
    _deploy(runtime, _upload("fork", {"caseworker": ["start", "a", "split", "b", "c", "join", "d", "end"]}, flows,
                             gateways=("split", "join")))
    code = demo_data.run_intake(runtime, people.anna)
    started = _start(client, "anna", "fork", code)
    answer = _complete(client, "anna", started["tasks"][0]["task_id"])
    branches = {t["bpmn_id"]: t for t in answer["next_tasks"]}
    ready = _ready(runtime, started["case_id"])
    assert set(branches) == {"b", "c"} == set(ready)
    assert {k: (t["task_id"], t["can_complete"]) for k, t in branches.items()} == {
        k: (ready[k].id, True) for k in ("b", "c")}
    assert _complete(client, "anna", branches["b"]["task_id"])["next_tasks"] == []  # the join waits for c
    [d] = _complete(client, "anna", branches["c"]["task_id"])["next_tasks"]
    assert d["bpmn_id"] == "d" and d["task_id"] == _ready(runtime, started["case_id"])["d"].id
    assert _complete(client, "anna", d["task_id"])["case_status"] == "completed"
