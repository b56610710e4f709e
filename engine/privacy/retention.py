"""Retention: how long a closed case keeps its personal data, legal holds, and the job that erases what is due.

The policy is the process's ``retention`` in its service manifest (docs/services.md) — the newest deployed
version's, so a changed rule applies to cases closed before it too. A case is **due** when it is closed
(``completed``), its period has passed since it closed, it has no legal hold and was not erased yet. A case
without a policy is never erased by retention. ``plan`` lists what ``apply`` would erase (the dry run) and what
it keeps and why; ``apply`` erases the due cases, then the identity of every client no remaining case refers to,
in one transaction, each erasure an audit event (engine/privacy/erasure.py). The scheduler runs ``apply`` daily
(engine/timers/ticker.py, ``SEGITO_RETENTION_HOURS``).
"""
from __future__ import annotations

import calendar
import datetime as dt
import os

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import Conflict, ValidationFailed
from ..forms import input_check
from ..packages import settings as package_settings
from ..people import access
from ..people.users import Actor
from ..runtime.runtime import Runtime
from ..store import audit, clock
from ..store.models import Case, CaseMember, Client, ProcessDefinition
from . import erasure

CLOSED = "completed"
SYSTEM_ACTOR = "retention"  # the scheduled job acts as no person
MAX_REASON = 1000
DEFAULT_LIMIT = 200  # cases erased per run: a long backlog is taken in daily bites, never one endless transaction


def add_period(at: dt.datetime, years: int = 0, months: int = 0) -> dt.datetime:
    """``at`` plus whole years and months (a day past the month's end falls back to its last day)."""
    total = at.month - 1 + 12 * years + months
    year, month = at.year + total // 12, total % 12 + 1
    return at.replace(year=year, month=month, day=min(at.day, calendar.monthrange(year, month)[1]))


def policies(runtime: Runtime, session: Session) -> dict[str, dict | None]:
    """process key -> its retention (the newest deployed version's manifest), None without one."""
    newest = select(ProcessDefinition.process_key, func.max(ProcessDefinition.id).label("id")) \
        .group_by(ProcessDefinition.process_key)
    return {key: package_settings.retention(runtime.definition(session, def_id).manifest, key)
            for key, def_id in session.execute(newest).all()}


def _verdict(case: Case, policy: dict | None, now: dt.datetime) -> tuple[str, dt.datetime | None, str | None]:
    """("due" | "kept", the day it falls due, why it is kept)."""
    if case.erased_at is not None:
        return "kept", None, "erased"
    closed = case.status == CLOSED and case.completed_at is not None
    due = add_period(case.completed_at, policy.get("years") or 0, policy.get("months") or 0) \
        if closed and policy is not None and case.completed_at is not None else None
    if case.hold_reason:
        return "kept", due, "legal_hold"
    if not closed:
        return "kept", None, "not_closed"
    if policy is None or due is None:
        return "kept", None, "no_policy"
    if due > now:
        return "kept", due, "retention_running"
    return "due", due, None


def _item(case: Case, client_code: str | None, policy, due, why) -> dict:
    return {"case_id": case.id, "process_key": case.process_key, "client": client_code, "status": case.status,
            "closed_at": case.completed_at.isoformat() if case.completed_at else None,
            "retention": {k: policy[k] for k in ("years", "months") if policy and policy.get(k)} or None,
            "due_at": due.isoformat() if due else None, "kept_because": why,
            "hold": case.hold_reason, "erased_at": case.erased_at.isoformat() if case.erased_at else None}


def _plan(runtime: Runtime, session: Session, now: dt.datetime, client_id: int | None = None,
          limit: int | None = None) -> dict:
    rules = policies(runtime, session)
    query = select(Case, Client.client_code).outerjoin(Client, Client.id == Case.client_id).order_by(Case.id)
    if client_id is None:
        # Only what could be due: closed, not erased, of a process with a policy.
        query = query.where(Case.status == CLOSED, Case.erased_at.is_(None),
                            Case.process_key.in_([k for k, v in rules.items() if v]))
    else:
        in_group = select(CaseMember.case_id).where(CaseMember.client_id == client_id)
        query = query.where((Case.client_id == client_id) | Case.id.in_(in_group))
    due: list[tuple[Case, dict]] = []
    kept: list[dict] = []
    for case, code in session.execute(query).all():
        verdict, when, why = _verdict(case, rules.get(case.process_key), now)
        item = _item(case, code, rules.get(case.process_key), when, why)
        if verdict == "due" and (limit is None or len(due) < limit):
            due.append((case, item))
        elif verdict != "due" and (client_id is not None or why == "legal_hold"):
            kept.append(item)  # the general dry run lists the held cases it skips, a person's request all
    return {"due": due, "kept": kept}


def _clients_freed(session: Session, cases: list[Case]) -> list[Client]:
    """Clients of the given cases (as client or member) that no other case still refers to."""
    ids = {c.client_id for c in cases if c.client_id}
    case_ids = [c.id for c in cases]
    if case_ids:
        ids |= set(session.execute(select(CaseMember.client_id).where(CaseMember.case_id.in_(case_ids))).scalars())
    pending = set(case_ids)
    freed = []
    for client in session.execute(select(Client).where(Client.id.in_(ids), Client.erased_at.is_(None))
                                  .order_by(Client.id)).scalars():
        others = session.execute(select(Case.id).where(Case.client_id == client.id, Case.erased_at.is_(None),
                                                       Case.id.not_in(pending))).first()
        member = session.execute(select(CaseMember.case_id).join(Case, Case.id == CaseMember.case_id)
                                 .where(CaseMember.client_id == client.id, Case.erased_at.is_(None),
                                        Case.id.not_in(pending))).first()
        if others is None and member is None:
            freed.append(client)
    return freed


def report(runtime: Runtime, actor: Actor | None, limit: int | None = None) -> dict:
    """The dry run: what ``apply`` would erase now (cases, then clients), and the held cases it would skip."""
    if actor is not None:
        access.require_role(actor, *access.RETENTION)
    now = clock.now()
    with runtime.db.reading() as session:
        found = _plan(runtime, session, now, limit=limit)
        clients = _clients_freed(session, [c for c, _ in found["due"]])
        return {"as_of": now.isoformat(), "cases": [item for _, item in found["due"]],
                "clients": [c.client_code for c in clients], "held": found["kept"]}


def apply(runtime: Runtime, actor: Actor | None, limit: int = DEFAULT_LIMIT) -> dict:
    """Erase what is due (at most ``limit`` cases), in one transaction; ``actor`` None: the scheduled job."""
    if actor is not None:
        access.require_role(actor, *access.RETENTION)
    who = actor.username if actor is not None else SYSTEM_ACTOR
    now = clock.now()
    with runtime.db.unit_of_work() as session:
        found = _plan(runtime, session, now, limit=limit)
        done = []
        cases = []
        rules = policies(runtime, session)
        for case, item in found["due"]:
            case = runtime.lock_case(session, case.id)
            verdict, _when, _why = _verdict(case, rules.get(case.process_key), now)
            if verdict != "due":  # held or erased by someone else since the plan was read
                continue
            reason = {"reason": "retention", "due_at": item["due_at"], "retention": item["retention"]}
            done.append(erasure.erase_case(session, case, now, who, reason))
            cases.append(case)
        clients = [erasure.erase_client(session, c, now, who, {"reason": "retention"})
                   for c in _clients_freed(session, cases)]
    for case in cases:
        runtime.workflows.evict(case.id)
    if cases or clients:
        runtime.db.scrub_log()  # the erased values out of the SQLite log's older frames too (engine/store/db.py)
    return {"as_of": now.isoformat(), "cases": done, "clients": clients}


def erase_for_client(runtime: Runtime, actor: Actor, client_code: str, dry_run: bool = True) -> dict:
    """A person's request to be erased: every case of theirs with why it can or cannot be erased now; with
    ``dry_run`` False, the erasable ones are erased (and the identity, when no case keeps it)."""
    access.require_role(actor, *access.PRIVACY_REQUESTS)
    now = clock.now()
    with (runtime.db.reading() if dry_run else runtime.db.unit_of_work()) as session:
        client = find_client(session, client_code)
        found = _plan(runtime, session, now, client_id=client.id)
        due_cases = [c for c, _ in found["due"]]
        result = {"client": client.client_code, "as_of": now.isoformat(), "dry_run": dry_run,
                  "erasable": [item for _, item in found["due"]], "kept": found["kept"]}
        identity_free = not found["kept"] or all(k["kept_because"] == "erased" for k in found["kept"])
        result["identity_erasable"] = identity_free and client.erased_at is None
        if dry_run:
            return result
        reason = {"reason": "request", "requested_by": actor.username}
        result["erased"] = [erasure.erase_case(session, runtime.lock_case(session, c.id), now, actor.username,
                                               reason) for c in due_cases]
        for c in due_cases:
            runtime.workflows.evict(c.id)
        session.flush()  # the erased cases' marks, before asking which cases still refer to the client
        if result["identity_erasable"] and not erasure.client_still_needed(session, client.id):
            result["identity"] = erasure.erase_client(session, client, now, actor.username, reason)
    runtime.db.scrub_log()  # the erased values out of the SQLite log's older frames too (engine/store/db.py)
    return result


def find_client(session: Session, client_code: str) -> Client:
    from ..errors import NotFound

    input_check.check_text("client", client_code)
    client = session.execute(select(Client).where(Client.client_code == (client_code or "").strip().upper())) \
        .scalar_one_or_none()
    if client is None:
        raise NotFound(f"no client with the code '{client_code}'")
    return client


def _hold_reason(reason) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed("a legal hold needs a reason (e.g. the court case or the request it keeps the file for)",
                               [{"field": "reason", "message": "required"}])
    input_check.check_text("reason", reason)
    if len(reason) > MAX_REASON:
        raise ValidationFailed(f"the reason is {len(reason)} characters long; at most {MAX_REASON}",
                               [{"field": "reason", "message": f"at most {MAX_REASON} characters"}])
    return reason.strip()


def set_hold(runtime: Runtime, actor: Actor, case_id: int, reason: str) -> dict:
    """Keep the case from erasure, whatever its retention, until the hold is cleared."""
    access.require_role(actor, *access.LEGAL_HOLDS)
    text = _hold_reason(reason)
    input_check.check_id("case", case_id)
    at = clock.now()
    with runtime.db.unit_of_work() as session:
        case = runtime.lock_case(session, case_id)
        if case.erased_at is not None:
            raise Conflict(f"case {case_id}'s personal data was erased on {case.erased_at.date()}: nothing to hold")
        if case.hold_reason:
            raise Conflict(f"case {case_id} is held already (by {case.hold_set_by}: {case.hold_reason})")
        case.hold_reason, case.hold_set_by, case.hold_set_at = text, actor.username, at
        events = audit.CaseAudit(case, actor.username, at)
        events.add(audit.LEGAL_HOLD_SET, {"reason": text})
        events.flush(session)
        return hold_of(case)


def clear_hold(runtime: Runtime, actor: Actor, case_id: int, reason: str) -> dict:
    """End a legal hold; the case's retention applies again (it may be due at once)."""
    access.require_role(actor, *access.LEGAL_HOLDS)
    text = _hold_reason(reason)
    input_check.check_id("case", case_id)
    at = clock.now()
    with runtime.db.unit_of_work() as session:
        case = runtime.lock_case(session, case_id)
        if not case.hold_reason:
            raise Conflict(f"case {case_id} has no legal hold to clear")
        events = audit.CaseAudit(case, actor.username, at)
        events.add(audit.LEGAL_HOLD_CLEARED, {"reason": text, "hold": case.hold_reason, "held_by": case.hold_set_by})
        case.hold_reason, case.hold_set_by, case.hold_set_at = None, None, None
        events.flush(session)
        return hold_of(case)


def hold_of(case: Case) -> dict:
    return {"case_id": case.id, "held": bool(case.hold_reason), "reason": case.hold_reason,
            "set_by": case.hold_set_by, "set_at": case.hold_set_at.isoformat() if case.hold_set_at else None}


def schedule_hours() -> float:
    """``SEGITO_RETENTION_HOURS``: hours between the scheduler's runs of ``apply`` (default 24; 0 switches the
    scheduled job off, leaving erasure to `segito retention apply`)."""
    raw = os.environ.get("SEGITO_RETENTION_HOURS", "").strip()
    try:
        hours = float(raw) if raw else 24.0
    except ValueError:
        raise ValueError(f"SEGITO_RETENTION_HOURS must be a number of hours (0: off); got {raw!r}") from None
    if hours < 0:
        raise ValueError(f"SEGITO_RETENTION_HOURS must be 0 or more; got {raw!r}")
    return hours


def scheduled(runtime: Runtime) -> dict:
    """What the scheduler runs: ``apply`` as the system."""
    return apply(runtime, None)
