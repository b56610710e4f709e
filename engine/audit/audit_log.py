"""Reading the audit log, and logging who viewed a client's file.

``record_view`` is what every page or API route that shows a case or a task calls after it has authorised the
viewer: the view becomes an event of that case's hash chain, in its own small transaction (the case row is
locked like any command's, but its state and version are untouched, so no one's work is disturbed).
The whole log is for the manager: filtered by user, case, kind and period, newest first, paged.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from ..cases import masking
from ..errors import ValidationFailed
from ..forms import input_check
from ..people import access
from ..people.users import ADMINISTRATOR, MANAGER, Actor
from ..reports.request import FIRST_DAY, LAST_DAY, parse_request, period_instants
from ..runtime.runtime import Runtime
from ..store import audit, clock
from ..store.models import AuditEvent, Case

CASE_VIEWED = "case_viewed"
TASK_VIEWED = "task_viewed"
AUDIT_ROLES = (MANAGER, ADMINISTRATOR)


def record_view(runtime: Runtime, actor: Actor, case_id: int, task_id: int | None = None,
                via: str = "web", what: str | None = None) -> None:
    """Log that ``actor`` saw case ``case_id`` (or its task ``task_id``): call it after authorising the view."""
    at = clock.now()
    with runtime.db.unit_of_work() as session:
        case = runtime.lock_case(session, case_id)
        events = audit.CaseAudit(case, actor.username, at)
        payload = {"via": via}
        if what:
            payload["what"] = what
        events.add(TASK_VIEWED if task_id is not None else CASE_VIEWED, payload, task_id=task_id)
        events.flush(session)  # the new head is written to the case row when the transaction commits


def require_auditor(actor: Actor) -> None:
    access.require_role(actor, *AUDIT_ROLES)


def _event(session, e: AuditEvent) -> dict:
    return {"id": e.id, "seq": e.seq, "at": e.occurred_at.isoformat(), "actor": e.actor, "kind": e.kind,
            "case_id": e.case_id, "task_id": e.task_id, "payload": audit.readable(session, e.payload)}


def search(runtime: Runtime, actor: Actor, *, user: str | None = None, case_id: int | None = None,
           kind: str | None = None, process_key: str | None = None, date_from: str | dt.date | None = None,
           date_to: str | dt.date | None = None,
           page: int = 1, per_page: int = 50) -> dict:
    """The whole log, filtered; ``date_from``/``date_to``: days of the service's time zone (inclusive).
    Each event of a case carries its case's ``process_key`` and ``definition_id`` (to name its fields)."""
    require_auditor(actor)
    if page < 1 or not 1 <= per_page <= 500:
        raise ValidationFailed("'page' must be at least 1 and 'per_page' between 1 and 500",
                               [{"field": "page", "message": "out of range"}])
    input_check.check_offset("page", page)
    if case_id is not None:
        input_check.check_id_filter("case", case_id)
    where = []
    if user:
        where.append(AuditEvent.actor == user)
    if case_id is not None:
        where.append(AuditEvent.case_id == case_id)
    if kind:
        where.append(AuditEvent.kind == kind)
    if process_key:
        where.append(AuditEvent.case_id.in_(select(Case.id).where(Case.process_key == process_key)))
    if date_from or date_to:
        req = parse_request(date_from or FIRST_DAY, date_to or LAST_DAY, max_years=None)
        start, end = period_instants(req)
        where += [AuditEvent.occurred_at >= start, AuditEvent.occurred_at < end]
    with runtime.db.reading() as session:
        total = session.execute(select(func.count()).select_from(AuditEvent).where(*where)).scalar()
        rows = session.execute(select(AuditEvent).where(*where)
                               .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
                               .limit(per_page).offset((page - 1) * per_page)).scalars().all()
        items = [_event(session, e) for e in rows]
        case_ids = {e["case_id"] for e in items if e["case_id"] is not None}
        of_case = {r.id: r for r in session.execute(select(Case.id, Case.process_key, Case.definition_id)
                                                     .where(Case.id.in_(case_ids)))} if case_ids else {}
        for item in items:
            found = of_case.get(item["case_id"])
            item["process_key"] = found.process_key if found else None
            item["definition_id"] = found.definition_id if found else None
        if not masking.sees_names(actor):
            _mask(runtime, session, items)
        return {"total": total, "page": page, "per_page": per_page, "items": items, "names_masked":
                not masking.sees_names(actor)}


def _mask(runtime: Runtime, session, items: list[dict], definition_id: int | None = None) -> None:
    """Identifying values masked for an auditor who needs no names (engine/cases/masking.py): the process's
    identifying fields in a case's events, the register's columns everywhere."""
    for item in items:
        fields = set(masking.REGISTER_COLUMNS)
        definition = item.get("definition_id", definition_id)
        if definition is not None:
            fields |= masking.identifying_fields(runtime.definition(session, definition))
        item["payload"] = masking.mask_event(item, fields)["payload"]


def kinds(runtime: Runtime) -> list[str]:
    with runtime.db.reading() as session:
        return sorted(session.execute(select(AuditEvent.kind).distinct()).scalars())


def case_events(runtime: Runtime, actor: Actor, case_id: int, log_view: bool = True) -> dict:
    """A case's complete history, every event in chain order, with the chain's integrity; the look is logged."""
    from ..cases.cases import _case_row
    from . import audit_verify

    require_auditor(actor)
    with runtime.db.reading() as session:
        case = _case_row(session, case_id)
        rows = session.execute(select(AuditEvent).where(AuditEvent.case_id == case_id)
                               .order_by(AuditEvent.seq, AuditEvent.id)).scalars().all()
        problems = audit_verify.check_chain(f"case {case_id}", rows, case.audit_head or "", case.audit_seq or 0,
                                            session)
        events = [_event(session, e) for e in rows]
        if not masking.sees_names(actor):
            _mask(runtime, session, events, case.definition_id)
        result = {"case_id": case_id, "process_key": case.process_key, "status": case.status,
                  "definition_id": case.definition_id, "events": events,
                  "problems": [p.as_dict() for p in problems]}
        result["names_masked"] = not masking.sees_names(actor)
    if log_view:
        record_view(runtime, actor, case_id, via="audit", what="history")
    return result
