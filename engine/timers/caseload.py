"""Caseloads: how many clients a person of a role works with at a time, and the limit a service sets.

What counts is declared by the service packages (``caseloads`` in service.yaml, docs/services.md): a client counts
toward a caseload of a person while one of the person's running cases (she is its caseworker) is of a counted
process, waits on a counted user task, or has a timer of a counted purpose scheduled. Every package that declares
a caseload of the same key adds what counts to it; the smallest limit declared is the limit.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, distinct, exists, false, func, or_, select

from ..packages import settings
from ..people import access
from ..people.users import MANAGER, Actor
from ..sandbox.calendar_helpers import local_date
from ..store import clock
from ..store.models import Case, HumanTask, PackageVersion, ProcessDefinition, User, UserRole
from ..store.timer_models import Timer
from . import time_limits

CASELOAD_EXCEEDED = "caseload_limit_exceeded"


def rules(session) -> dict[str, dict]:
    """caseload key -> rule (engine.packages.settings.caseload_rules) from the package of each process's latest
    version."""
    newest = (select(func.max(ProcessDefinition.id)).group_by(ProcessDefinition.process_key)).scalar_subquery()
    versions = (select(ProcessDefinition.package_version_id).where(ProcessDefinition.id.in_(newest))
                .scalar_subquery())
    manifests = session.execute(select(PackageVersion.manifest).where(PackageVersion.id.in_(versions))
                                .order_by(PackageVersion.id)).scalars().all()
    return settings.caseload_rules(list(manifests))


def counts_case(rule: dict):
    """The condition that a case counts toward a caseload under ``rule``."""
    timer = [and_(Case.process_key == p, Timer.purpose == t) for p, t in sorted(rule["timers"])]
    task = [and_(Case.process_key == p, HumanTask.bpmn_id == t) for p, t in sorted(rule["tasks"])]
    conditions: list = [Case.process_key.in_(sorted(rule["processes"]))] if rule["processes"] else []
    if timer:
        conditions.append(exists().where(Timer.case_id == Case.id, Timer.state.in_(("scheduled", "incident")),
                                         or_(*timer)))
    if task:
        conditions.append(exists().where(HumanTask.case_id == Case.id, HumanTask.state == "ready", or_(*task)))
    return (Case.status == "running") & (or_(*conditions) if conditions else false())


def starts_counting(rule: dict, process_key: str, started: bool, new_timer_purposes: set[str]) -> bool:
    """Whether a command on a case of ``process_key`` may have added it to a caseload: the case of a counted
    process was just started, or a timer of a counted purpose was just set."""
    return ((started and process_key in rule["processes"])
            or any((process_key, purpose) in rule["timers"] for purpose in new_timer_purposes))


def active_clients(session, rule: dict, caseworker_id: int, including_case: int | None = None) -> int:
    """Distinct clients counting toward this person's caseload (``including_case`` counts a case just starting)."""
    cond = counts_case(rule)
    if including_case is not None:
        cond = or_(cond, Case.id == including_case)
    return session.execute(select(func.count(distinct(func.coalesce(Case.client_id, -Case.id))))
                           .where(Case.caseworker_id == caseworker_id, cond)).scalar() or 0


def overview(runtime, actor: Actor, today: dt.date | None = None) -> list[dict]:
    """Every declared caseload: its key, role, limit and label, and every active person of its role with the
    clients counting toward it, most loaded first; those over the limit are flagged. A caseload with a weekly time
    per client lists, per person, the clients over it in the week of ``today`` (the service's today by default)."""
    access.require_role(actor, MANAGER, *access.OVERSEERS)
    found = []
    with runtime.db.reading() as session:
        for key, rule in sorted(rules(session).items()):
            counts = dict(session.execute(
                select(Case.caseworker_id, func.count(distinct(func.coalesce(Case.client_id, -Case.id))))
                .where(Case.caseworker_id.is_not(None), counts_case(rule)).group_by(Case.caseworker_id)).all())
            people = session.execute(select(User.id, User.username, User.display_name)
                                     .join(UserRole, UserRole.user_id == User.id)
                                     .where(UserRole.role == rule["role"], User.active.is_(True))).all()
            limit = rule["limit"]
            # The weekly time per client (caseloads.<key>.time): who is over it this week, by client code.
            week = time_limits.week_start(today or local_date(clock.now()))
            over_time = time_limits.over_the_limit(session, key, rule, week) if rule.get("time") else {}
            rows = [{"user_id": m.id, "username": m.username, "display_name": m.display_name,
                     "active": counts.get(m.id, 0), "limit": limit,
                     "over": limit is not None and counts.get(m.id, 0) > limit,
                     "over_time": over_time.get(m.id, [])} for m in people]
            found.append({"caseload": key, "role": rule["role"], "limit": limit, "label": rule["label"],
                          "time": ({**rule["time"], "week_start": week.isoformat()} if rule.get("time") else None),
                          "rows": sorted(rows, key=lambda r: (-r["active"], r["username"]))})
    return found
