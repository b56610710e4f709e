"""Caseload of follow-up mentors: seed 000, 7.1 — one professional works with at most 30 clients at a time.

The mentor of a follow-up is the case's caseworker (the caseworker role does the mentoring; no role of its own).
A client is in active follow-up with a mentor when one of the mentor's running cases is a job-retention case,
or a family-care case whose follow-up visits (3.10) are scheduled or waiting to be recorded.
"""
from __future__ import annotations

from sqlalchemy import distinct, exists, func, or_, select

from . import access
from .models import Case, HumanTask, User, UserRole
from .timer_models import Timer
from .users import CASEWORKER, MANAGER, Actor

LIMIT = 30
CASELOAD_EXCEEDED = "caseload_limit_exceeded"
FOLLOW_UP_PROCESSES = ("job_retention",)
VISIT_TASKS = ("step_3_10", "jr_visit")


def _in_follow_up():
    visit_timer = exists().where(Timer.case_id == Case.id, Timer.state.in_(("scheduled", "incident")),
                                 Timer.purpose == "visit")
    visit_task = exists().where(HumanTask.case_id == Case.id, HumanTask.state == "ready",
                                HumanTask.bpmn_id.in_(VISIT_TASKS))
    return (Case.status == "running") & or_(Case.process_key.in_(FOLLOW_UP_PROCESSES), visit_timer, visit_task)


def active_follow_ups(session, caseworker_id: int, including_case: int | None = None) -> int:
    """Distinct clients in active follow-up with this mentor (``including_case`` counts a case just starting)."""
    cond = _in_follow_up()
    if including_case is not None:
        cond = or_(cond, Case.id == including_case)
    return session.execute(select(func.count(distinct(func.coalesce(Case.client_id, -Case.id))))
                           .where(Case.caseworker_id == caseworker_id, cond)).scalar() or 0


def overview(runtime, actor: Actor) -> list[dict]:
    """Every mentor's active follow-up clients, most loaded first; those over the limit are flagged."""
    access.require_role(actor, MANAGER, *access.OVERSEERS)
    with runtime.db.reading() as session:
        counts = dict(session.execute(
            select(Case.caseworker_id, func.count(distinct(func.coalesce(Case.client_id, -Case.id))))
            .where(Case.caseworker_id.is_not(None), _in_follow_up()).group_by(Case.caseworker_id)).all())
        mentors = session.execute(select(User.id, User.username, User.display_name)
                                  .join(UserRole, UserRole.user_id == User.id)
                                  .where(UserRole.role == CASEWORKER, User.active.is_(True))).all()
    rows = [{"user_id": m.id, "username": m.username, "display_name": m.display_name,
             "active": counts.get(m.id, 0), "limit": LIMIT, "over": counts.get(m.id, 0) > LIMIT} for m in mentors]
    return sorted(rows, key=lambda r: (-r["active"], r["username"]))
