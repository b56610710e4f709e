"""Driving timers in tests: small test-only processes, cheap real cases in bulk, follow-up cases, local times."""
from __future__ import annotations

import datetime as dt
import json
import re
import uuid

from sqlalchemy import func, select

from engine.cases import cases, tasks
from engine.definitions import definitions, serialization
from engine.people import users
from engine.sandbox import calendar_helpers
from engine.store import audit, clock
from engine.store.models import AuditEvent, Case, HumanTask
from engine.store.timer_models import Timer
from engine.timers import timers
from tests import demo_data

_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
         'xmlns:spiff="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d_{key}" targetNamespace="http://segito.test">\n'
         '<bpmn:process id="{key}" name="{key}" isExecutable="true">\n')
_TAIL = "</bpmn:process>\n</bpmn:definitions>\n"


def _lane(*nodes: str) -> str:
    refs = "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in nodes)
    return f'<bpmn:laneSet id="ls"><bpmn:lane id="caseworker" name="caseworker">{refs}</bpmn:lane></bpmn:laneSet>\n'


# start → a one-hour duration timer → end: the cheapest real case with a timer.
TIMER_ONLY = (_HEAD.format(key="timer_only") + _lane("start", "wait", "end") + """
<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:intermediateCatchEvent id="wait" name="One hour"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
  <bpmn:timerEventDefinition><bpmn:timeDuration>'PT1H'</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
<bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" /><bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end" />
""" + _TAIL)

# start → 10 minutes → a service that can be told to fail → a user task: a timer whose firing can fail.
TIMER_PROBE = (_HEAD.format(key="timer_probe") + _lane("start", "wait", "probe", "after", "end") + """
<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:intermediateCatchEvent id="wait" name="Ten minutes"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
  <bpmn:timerEventDefinition><bpmn:timeDuration>'PT10M'</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
<bpmn:serviceTask id="probe" name="Probe"><bpmn:extensionElements><spiff:serviceTaskOperator id="flaky" resultVariable="probe_result"><spiff:parameters /></spiff:serviceTaskOperator></bpmn:extensionElements>
  <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:serviceTask>
<bpmn:userTask id="after" name="After the timer"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>
<bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" /><bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="probe" />
<bpmn:sequenceFlow id="f3" sourceRef="probe" targetRef="after" /><bpmn:sequenceFlow id="f4" sourceRef="after" targetRef="end" />
""" + _TAIL)

# A user task with two non-interrupting hourly cycles (5 times): one catches up once, one each missed hour.
CYCLE_PROBE = (_HEAD.format(key="cycle_probe") + _lane("start", "hold", "end", "hourly", "hourly_end", "hourly_each",
                                                       "each_end") + """
<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:userTask id="hold" name="Hold"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
<bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
<bpmn:boundaryEvent id="hourly" name="Hourly" attachedToRef="hold" cancelActivity="false"><bpmn:outgoing>f3</bpmn:outgoing>
  <bpmn:timerEventDefinition><bpmn:timeCycle>'R5/PT1H'</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
<bpmn:endEvent id="hourly_end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
<bpmn:boundaryEvent id="hourly_each" name="Hourly, each" attachedToRef="hold" cancelActivity="false">
  <bpmn:extensionElements><spiff:properties><spiff:property name="catchUp" value="each" /></spiff:properties></bpmn:extensionElements>
  <bpmn:outgoing>f4</bpmn:outgoing>
  <bpmn:timerEventDefinition><bpmn:timeCycle>'R5/PT1H'</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
<bpmn:endEvent id="each_end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="hold" /><bpmn:sequenceFlow id="f2" sourceRef="hold" targetRef="end" />
<bpmn:sequenceFlow id="f3" sourceRef="hourly" targetRef="hourly_end" /><bpmn:sequenceFlow id="f4" sourceRef="hourly_each" targetRef="each_end" />
""" + _TAIL)


def deploy(runtime, xml: str, name: str) -> None:
    with runtime.db.unit_of_work() as session:
        definitions.deploy(session, definitions.Upload(name, xml.encode(), {}), "test", clock.now())


def local(day: str, hour: int = 0, minute: int = 0) -> dt.datetime:
    """A wall-clock time in the service's zone (Europe/Budapest), as the UTC instant the engine stores."""
    return calendar_helpers.start_of_day(dt.date.fromisoformat(day)) + dt.timedelta(hours=hour, minutes=minute)


def end_of_local_day(day: str) -> dt.datetime:
    return calendar_helpers.start_of_day(dt.date.fromisoformat(day) + dt.timedelta(days=1)) - dt.timedelta(seconds=1)


def timer_rows(runtime, case_id: int | None = None, state: str | None = None) -> list[Timer]:
    with runtime.db.reading() as session:
        query = select(Timer).order_by(Timer.due_at, Timer.id)
        if case_id is not None:
            query = query.where(Timer.case_id == case_id)
        if state is not None:
            query = query.where(Timer.state == state)
        return list(session.execute(query).scalars())


def events(runtime, kind: str, case_id: int | None = None) -> list[AuditEvent]:
    with runtime.db.reading() as session:
        query = select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id)
        if case_id is not None:
            query = query.where(AuditEvent.case_id == case_id)
        found = list(session.execute(query).scalars())
        for e in found:  # detached, each with its payload as written (a sealed one opened with the case's key)
            session.expunge(e)
            e.payload = audit.readable(session, e.payload)
        return found


def count_events(runtime, kind: str) -> int:
    with runtime.db.reading() as session:
        return session.execute(select(func.count(AuditEvent.id)).where(AuditEvent.kind == kind)).scalar()


def ready_tasks(runtime, case_id: int, bpmn_id: str | None = None) -> list[HumanTask]:
    with runtime.db.reading() as session:
        query = select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.state == "ready")
        if bpmn_id:
            query = query.where(HumanTask.bpmn_id == bpmn_id)
        return list(session.execute(query.order_by(HumanTask.id)).scalars())


def administrator(runtime, username: str = "root"):
    with runtime.db.unit_of_work() as session:
        users.create_user(session, username, "Root", [users.ADMINISTRATOR], None, "test", clock.now())
    with runtime.db.reading() as session:
        return users.actor(session, username)


ENTRY = {"entry_route": "personal_consultation", "consultation_reasons": ["help_needed", "employer_problem"],
         "employer_name": "Példa Kft.", "employer_kind": "employer", "job_title": "raktáros"}
PLAN = {"employer_evaluation_agreed": True, "employer_evaluation_date": "2026-02-02",
        "employer_evaluation": "Pontos, a csapatmunkában bizonytalan.", "interventions": ["client_consultation",
                                                                                        "employer_consultation"],
        "self_assessments": [{"date": "2026-01-30", "analysis": "Szorong az első naptól."}]}
VISIT = {"contacts": ["client", "employer"], "client_notes": "Beilleszkedik.", "employer_persons": ["supervisor"],
         "employer_satisfaction": "satisfied", "still_employed": True}


def start_follow_up(runtime, mentor, start: str = "2026-01-31", months: int = 6, intensity: str = "standard",
                    i: int = 0) -> int:
    """A job-retention case through entry and plan: its visits and day-180 check are scheduled."""
    code = demo_data.run_intake(runtime, mentor, i)
    case_id = cases.start_case(runtime, "job_retention", mentor, code)["case_id"]
    complete(runtime, case_id, "jr_entry", {**ENTRY, "employment_start": start}, mentor)
    complete(runtime, case_id, "jr_plan", {**PLAN, "follow_up_months": months, "intensity": intensity}, mentor)
    return case_id


def complete(runtime, case_id: int, bpmn_id: str, data: dict, actor) -> dict:
    found = ready_tasks(runtime, case_id, bpmn_id)
    assert found, f"no {bpmn_id} waiting in case {case_id}"
    return tasks.complete(runtime, found[0].id, data, actor)


_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def clone_cases(runtime, template_case_id: int, n: int, chunk: int = 2000, due_for=None) -> list[int]:
    """``n`` real copies of a case waiting at its timers: the same state with fresh task ids, and their timer
    rows — inserted in bulk, as fast as the database takes rows (starting 10,000 cases one by one is slow).

    ``due_for(k)`` moves the k-th copy's (single) timer to another due time, in its state and in its row."""
    with runtime.db.reading() as session:
        template = session.get(Case, template_case_id)
        rows = list(session.execute(select(Timer).where(Timer.case_id == template_case_id,
                                                        Timer.state == "scheduled")).scalars())
    text = serialization.state_json(template.state)
    ids = sorted(set(_UUID.findall(text)))
    ids_created = []
    with runtime.db.unit_of_work() as session:
        next_id = (session.execute(select(func.max(Case.id))).scalar() or 0) + 1
        for start in range(0, n, chunk):
            case_rows, timer_values = [], []
            for k in range(start, min(n, start + chunk)):
                mapping = {old: str(uuid.uuid4()).encode() for old in ids}
                copy = _UUID.sub(lambda m, mapping=mapping: mapping[m.group(0)], text)
                due = None
                if due_for is not None:
                    [row] = rows
                    due = due_for(k)
                    copy = copy.replace(json.dumps(row.due_at.isoformat()).encode(),
                                        json.dumps(due.isoformat()).encode())
                state = serialization.pack_state(copy)
                case_id = next_id + k
                case_rows.append(dict(id=case_id, definition_id=template.definition_id,
                                      process_key=template.process_key, client_id=template.client_id,
                                      status="running", state=state, lock_version=1,
                                      caseworker_id=template.caseworker_id, started_at=template.started_at,
                                      started_by=template.started_by, completed_at=None, audit_head="", audit_seq=0))
                for r in rows:
                    timer_values.append(dict(case_id=case_id, spiff_task_id=mapping[r.spiff_task_id.encode()].decode(),
                                             bpmn_id=r.bpmn_id, label=r.label, purpose=r.purpose,
                                             event_kind=r.event_kind, due_at=due or r.due_at, run_at=due or r.run_at,
                                             state="scheduled", attempts=0, created_at=r.created_at))
                ids_created.append(case_id)
            session.execute(Case.__table__.insert(), case_rows)
            session.execute(Timer.__table__.insert(), timer_values)
        if session.get_bind().dialect.name == "postgresql":
            session.execute(select(func.setval("cases_id_seq", next_id + n)))
    return ids_created


def json_payloads(evts) -> list[dict]:
    """The payloads as written (sealed ones opened with the keys this process holds)."""
    return [audit.readable(None, e.payload if isinstance(e.payload, dict) else json.loads(e.payload)) for e in evts]


def family_case_follow_up_fired(runtime, people) -> int:
    """A family-care case closed with monthly follow-up for two months (54 = yes, 55), agreed by the lead, and
    its two follow-up contact timers fired on 2026-09-01: the case waits at two 3.10 contacts."""
    from .helpers import do, new_family_case, review, through_agreement

    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    do(runtime, case_id, "step_3_3", {"meetings": [demo_data.meeting(6)], "casework_next": "review"}, people.anna)
    review(runtime, case_id, True, people.anna)
    do(runtime, case_id, "step_3_8", {**demo_data.closure_data(True), "closure_date": "2026-06-30",
                                      "follow_up_frequency": "monthly", "follow_up_months": 2}, people.anna)
    do(runtime, case_id, "agree_closure_success", {"closure_agreed": True}, people.lea)
    clock.freeze(local("2026-09-01", 8))
    assert timers.fire_due(runtime, "w") == 2
    return case_id
