"""Driving cases in tests: find the waiting task of a step, complete it, look at rows."""
from __future__ import annotations

from sqlalchemy import func, select

from engine.cases import cases, tasks
from engine.people import users
from engine.store import audit, clock
from engine.store.models import AuditEvent, Case, HumanTask
from tests import demo_data


def waiting(runtime, case_id: int) -> list[HumanTask]:
    with runtime.db.reading() as session:
        return session.execute(select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.state == "ready")
                               .order_by(HumanTask.id)).scalars().all()


def waiting_steps(runtime, case_id: int) -> list[str]:
    return [t.step or t.bpmn_id for t in waiting(runtime, case_id)]


def task_of(runtime, case_id: int, bpmn_id: str) -> int:
    found = [t.id for t in waiting(runtime, case_id) if t.bpmn_id == bpmn_id]
    assert found, f"no waiting '{bpmn_id}' in case {case_id}; waiting: {waiting_steps(runtime, case_id)}"
    return found[0]


def do(runtime, case_id: int, bpmn_id: str, data: dict, actor) -> dict:
    return tasks.complete(runtime, task_of(runtime, case_id, bpmn_id), data, actor)


def opened(session, payload):
    """An audit payload as written: a sealed one opened with the case's key (engine/store/keys.py)."""
    return audit.readable(session, payload)


def snapshot(runtime, case_id: int) -> tuple:
    """What a failed command must leave untouched: the case row, its task rows, its audit events."""
    with runtime.db.reading() as session:
        case = session.get(Case, case_id)
        rows = session.execute(select(HumanTask.id, HumanTask.state, HumanTask.draft)
                               .where(HumanTask.case_id == case_id).order_by(HumanTask.id)).all()
        events = session.execute(select(func.count(AuditEvent.id)).where(AuditEvent.case_id == case_id)).scalar()
        return case.lock_version, case.state, case.status, [tuple(r) for r in rows], events


def new_family_case(runtime, people, i: int = 0) -> int:
    code = demo_data.run_intake(runtime, people.anna, i)
    return cases.start_case(runtime, "family_care", people.anna, code)["case_id"]


def through_agreement(runtime, people, case_id: int, assessment: dict | None = None) -> None:
    do(runtime, case_id, "step_3_1", assessment or demo_data.assessment_data(), people.anna)
    do(runtime, case_id, "step_3_2", {"agreement_date": "2026-03-05", "review_frequency": "monthly"}, people.anna)


def review(runtime, case_id: int, met: bool, actor, goal_reached: bool = True) -> dict:
    """3.6 with this month's payments checked, the earlier reviews' rows sent back first (x-append-only)."""
    task_id = task_of(runtime, case_id, "step_3_6")
    carried = [e["row"] for e in tasks.get_task(runtime, task_id, actor)["carried"].get("review_checks", [])]
    return tasks.complete(runtime, task_id, demo_data.review_data(met, goal_reached, carried), actor)


def conference(runtime, case_id: int, actor, actions: list[dict]) -> dict:
    """3.5 with two participants and their tasks, the earlier conferences' rows sent back first (x-append-only);
    ``actions``: the case's whole action log, as the step sends it."""
    task_id = task_of(runtime, case_id, "step_3_5")
    carried = tasks.get_task(runtime, task_id, actor)["carried"]
    data = demo_data.conference_data(actions)
    for field in ("conference_participants", "conference_tasks"):
        data[field] = [e["row"] for e in carried.get(field, [])] + data[field]
    return tasks.complete(runtime, task_id, data, actor)


def new_case_management_case(runtime, people, i: int = 0) -> tuple[str, int]:
    """A demo intake's client (the i-th) and a case-management case started for her by anna: (code, case id)."""
    code = demo_data.run_intake(runtime, people.anna, i)
    return code, cases.start_case(runtime, "case_management", people.anna, code)["case_id"]


def add_dpo_and_administrator(runtime) -> None:
    """The data-protection officer `dpo` and the administrator `root`, beside the demo people."""
    with runtime.db.unit_of_work() as session:
        users.create_user(session, "dpo", "Dóra Adat", [users.DATA_PROTECTION_OFFICER], "pw-dpo", "test",
                          clock.now())
        users.create_user(session, "root", "Admin", [users.ADMINISTRATOR], "pw-root", "test", clock.now())
